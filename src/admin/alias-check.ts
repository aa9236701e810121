// What `letterbox alias add` checks before storing an alias: each target is one valid address
// (RFC 5321 §4.1.2 Mailbox, as a server will be asked to send to it), and whether the new
// alias makes a loop through other aliases, which is worth a warning (delivery stops a loop,
// but mail then reaches fewer people than the operator meant).
import { parseMailbox } from '../smtp/wire/address.js';
import { normalizeAddress } from '../store/names.js';
import type { Alias } from '../store/types.js';

/** Why the target is refused, or null when it is a valid address. */
export function targetProblem(target: string, isLocal: (domain: string) => boolean): string | null {
  const t = target.trim();
  if (t.startsWith('@')) return 'a catch-all (@domain) is not a target';
  const mb = parseMailbox(t, 0);
  if (mb === null || mb.end !== t.length) return 'not an address (user@domain)';
  if (mb.value.literal) return 'an address literal ([ip]) is not a target';
  if (mb.value.quoted) return 'a quoted local part is not supported';
  try {
    normalizeAddress(t);
  } catch {
    return 'not an address (user@domain)';
  }
  const domain = mb.value.domain.toLowerCase();
  // A remote target is looked up in DNS: a name without a dot has no MX of its own.
  if (!isLocal(domain) && !domain.includes('.'))
    return `"${domain}" is not a local domain nor a domain name with a dot`;
  return null;
}

/**
 * A path from the alias back to itself through local alias targets (the alias first and
 * last), or null. `aliases` holds every alias, the new one included.
 */
export function aliasLoop(address: string, aliases: readonly Alias[]): string[] | null {
  const byAddress = new Map(aliases.map((a) => [a.address, a.targets]));
  const path: string[] = [address];
  const seen = new Set<string>();
  const walk = (at: string): boolean => {
    for (const t of byAddress.get(at) ?? []) {
      if (t === address) {
        path.push(t);
        return true;
      }
      // The catch-all of the target's domain stands in for a target with no alias of its own
      // only at delivery time, and never twice (store/sqlite/directory.ts): not followed here.
      if (seen.has(t) || !byAddress.has(t)) continue;
      seen.add(t);
      path.push(t);
      if (walk(t)) return true;
      path.pop();
    }
    return false;
  };
  return walk(address) ? path : null;
}
