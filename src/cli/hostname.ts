// The name a new server gives itself when the operator names none: LETTERBOX_HOSTNAME, else
// the machine's fully qualified name, else its short name; "localhost" only when the machine
// has no usable name at all.
import { promises as dns } from 'node:dns';
import os from 'node:os';
import { normalizeDomain } from '../store/names.js';

export interface DefaultHostname {
  name: string;
  /** Where it came from, for the line init prints. */
  source:
    | 'LETTERBOX_HOSTNAME'
    | "the machine's FQDN"
    | "the machine's name (it has no FQDN)"
    | 'a fallback (the machine has no usable name)';
}

/** A name as the config takes it, or null when it is not a host name. */
function valid(name: string | undefined): string | null {
  if (!name) return null;
  try {
    return normalizeDomain(name);
  } catch {
    return null;
  }
}

/**
 * The FQDN of a short system name, as `hostname -f` finds it: the name its address resolves
 * back to (getnameinfo: /etc/hosts, then DNS) when that one extends it. (A name with a dot is
 * taken as it is.)
 */
async function machineFqdn(short: string): Promise<string | null> {
  try {
    const { address } = await dns.lookup(short);
    const { hostname } = await dns.lookupService(address, 0);
    const h = hostname.toLowerCase();
    if (h.startsWith(`${short.toLowerCase()}.`)) return h;
  } catch {
    // No address or no reverse name: the short name will do.
  }
  return null;
}

export async function defaultHostname(
  env: NodeJS.ProcessEnv = process.env,
  systemName: string = os.hostname(),
  fqdnOf: (short: string) => Promise<string | null> = machineFqdn,
): Promise<DefaultHostname> {
  const fromEnv = env.LETTERBOX_HOSTNAME?.trim();
  if (fromEnv) return { name: fromEnv, source: 'LETTERBOX_HOSTNAME' }; // init validates it
  const short = valid(systemName);
  if (short && short !== 'localhost') {
    const fqdn = short.includes('.') ? short : valid((await fqdnOf(short)) ?? undefined);
    if (fqdn && fqdn !== 'localhost' && !fqdn.startsWith('localhost.')) {
      return { name: fqdn, source: "the machine's FQDN" };
    }
    return { name: short, source: "the machine's name (it has no FQDN)" };
  }
  return { name: 'localhost', source: 'a fallback (the machine has no usable name)' };
}
