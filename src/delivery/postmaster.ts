// Where mail to postmaster goes. RFC 5321 §4.5.1: a server that delivers mail "MUST support
// the reserved mailbox 'postmaster' as a case-insensitive local name", for "any of the domains
// for which the SMTP server provides mail service, as well as the special case of
// 'RCPT TO:<Postmaster>' (with no domain specification)". So it must be accepted even when the
// directory has no postmaster account or alias:
//
// 1. postmaster@<domain> as the directory resolves it (account, alias, catch-all); the bare
//    <Postmaster> is postmaster@<hostname>;
// 2. else `[smtp] postmaster` (an address: local ones go through the directory, others are
//    forwarded);
// 3. else the oldest enabled account (the lowest id: the first one created, normally the
//    administrator's own).
import type { Logger } from '../log.js';
import type { MailStore, Resolution } from '../store/types.js';

/** True for the reserved local part, in any case (RFC 5321 §4.5.1). */
export function isPostmaster(address: string): boolean {
  const at = address.lastIndexOf('@');
  return (at < 0 ? address : address.slice(0, at)).toLowerCase() === 'postmaster';
}

/** Per store: the id of the oldest enabled account, re-checked at each use. */
const oldest = new WeakMap<MailStore, number>();

async function oldestAccount(store: MailStore): Promise<Resolution | null> {
  const known = oldest.get(store);
  if (known !== undefined) {
    // Ids only grow: the cached account stays the oldest until it is removed or disabled.
    const a = await store.getAccountById(known);
    if (a !== null && !a.disabled) return { accounts: [a], remote: [] };
  }
  let best = null;
  for (const a of await store.listAccounts()) {
    if (!a.disabled && (best === null || a.id < best.id)) best = a;
  }
  if (best === null) {
    oldest.delete(store);
    return null;
  }
  oldest.set(store, best.id);
  return { accounts: [best], remote: [] };
}

/**
 * The fallback target for postmaster mail (steps 2 and 3 above); null when the server has no
 * account at all.
 */
export async function serverPostmaster(
  store: MailStore,
  configured: string,
  log: Logger,
): Promise<Resolution | null> {
  if (configured !== '') {
    const domain = configured.slice(configured.lastIndexOf('@') + 1);
    if (!(await store.isLocalDomain(domain))) return { accounts: [], remote: [configured] };
    const r = await store.resolveRecipient(configured);
    if (r !== null) return r;
    log.warn(
      { postmaster: configured },
      '[smtp] postmaster resolves to nothing; using the oldest account',
    );
  }
  return oldestAccount(store);
}
