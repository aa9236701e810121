// The DNS lookups outbound routing needs, with the failures told apart: routing must bounce at
// once on a name that does not exist (NXDOMAIN), fall back to the implicit MX on a name without
// MX records (NODATA), and try again later on SERVFAIL or a timeout (RFC 5321 §5.1). Node's
// resolver (c-ares) reports these as ENOTFOUND, ENODATA and ESERVFAIL / ETIMEOUT / others.
// A CNAME is followed by the recursive resolver, which puts the chain and the target's records
// in one answer (RFC 1034 §3.6.2); c-ares returns the target's records.
import { promises as dns } from 'node:dns';

/** The lookups routing and MTA-STS make; node's `dns.promises.Resolver` is one. */
export interface Resolver {
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveTxt(name: string): Promise<string[][]>;
}

/** A resolver on the configured servers (`[dns] servers`, "ip" or "ip:port"; empty: system). */
export function createOutboundResolver(opts: {
  servers: readonly string[];
  timeoutMs: number;
}): Resolver {
  // Two tries: a lost UDP packet should not cost a whole retry interval of the queue.
  const r = new dns.Resolver({ timeout: opts.timeoutMs, tries: 2 });
  if (opts.servers.length > 0) r.setServers([...opts.servers]);
  return r;
}

/** What a failed lookup means for routing. */
export type LookupFailure =
  /** The name does not exist (RCODE 3): final. */
  | 'nxdomain'
  /** The name exists without records of this type. */
  | 'nodata'
  /** SERVFAIL, REFUSED, timeout, no server reachable: try again later. */
  | 'temporary';

export function classifyDnsError(err: unknown): LookupFailure {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  // EBADNAME: a name that cannot be asked (bad syntax) never will be: as final as NXDOMAIN.
  if (code === dns.NOTFOUND || code === dns.BADNAME) return 'nxdomain';
  if (code === dns.NODATA) return 'nodata';
  return 'temporary';
}

/** One lookup's outcome without exceptions: the records, or why there are none. */
export type Lookup<T> = { ok: true; records: T[] } | { ok: false; failure: LookupFailure };

/** Run a lookup; an empty answer counts as NODATA (a CNAME to a name without the type). */
export async function lookup<T>(query: () => Promise<T[]>): Promise<Lookup<T>> {
  try {
    const records = await query();
    return records.length > 0 ? { ok: true, records } : { ok: false, failure: 'nodata' };
  } catch (err) {
    return { ok: false, failure: classifyDnsError(err) };
  }
}

/** A short phrase for a failure, for Route reasons and logs. */
export function describeFailure(f: LookupFailure): string {
  return f === 'nxdomain' ? 'no such domain' : f === 'nodata' ? 'no records' : 'DNS failure';
}
