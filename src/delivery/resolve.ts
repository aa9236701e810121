// Who may send, and for whom we take mail: address ownership, and each recipient resolved to
// local accounts (account, alias, catch-all, postmaster) or to addresses outside. The MX takes
// mail for local domains only (never an open relay); submission and DSNs may go anywhere.
import { normalizeAddress } from '../store/names.js';
import type { Account, MailStore } from '../store/types.js';
import { isPostmaster, serverPostmaster } from './postmaster.js';
import {
  type DeliveryDeps,
  isRefusal,
  type Origin,
  type PathAddress,
  type Recipient,
  type Refusal,
} from './types.js';

/** True when `address` is the account's own address or one of its aliases. */
export async function ownsAddress(
  store: MailStore,
  account: Account,
  address: string,
): Promise<boolean> {
  let norm: string;
  try {
    norm = normalizeAddress(address);
  } catch {
    return false;
  }
  if (norm === account.address) return true;
  // An alias counts when it delivers to this account (and only to local accounts).
  const r = await store.resolveRecipient(norm);
  if (r === null || (await store.getAccount(norm)) !== null) return false;
  return r.accounts.some((a) => a.id === account.id);
}

/**
 * The envelope sender of a submission (RFC 6409 §6.1: the server may check that it is the
 * user's own): the account's address or one of its aliases; never the null sender.
 */
export async function checkSender(
  deps: DeliveryDeps,
  account: Account,
  sender: string,
): Promise<Refusal | null> {
  if (sender !== '' && (await ownsAddress(deps.store, account, sender))) return null;
  deps.log.info({ sender }, 'refused: sender not owned');
  return { reason: 'sender-not-owned', address: sender };
}

/** Local parts that try to route onwards (`a%b@us`, `a!b@us`, `"a@b"@us`) are not ours. */
const ROUTING_CHARS = /[%!@]/;

export interface ResolveOptions {
  origin: Origin;
  /** The envelope sender ('' for a bounce): an SRS address takes only bounces. */
  sender?: string;
  /** RFC 1870 SIZE declared with MAIL: a mailbox already too full for it refuses at once. */
  declaredSize?: number;
}

/** An address string ("local@domain", or "Postmaster") as a path's parts. */
export function pathOf(address: string): PathAddress {
  const at = address.lastIndexOf('@');
  return at < 0
    ? { local: address, domain: '' }
    : { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/**
 * A bounce to an address SRS wrote when we forwarded (delivery/outbound.ts): it goes on to the
 * original sender, wherever that is. Only bounces (the null sender) are taken: anything else
 * sent to such an address would make us a relay for whoever learned it. A forged or expired
 * address is no user.
 */
async function bounceToSrs(
  deps: DeliveryDeps,
  address: string,
  opts: ResolveOptions,
): Promise<Recipient | Refusal> {
  const original = deps.srs!.reverse(address);
  if (original === null || (opts.sender !== undefined && opts.sender !== '')) {
    deps.log.info(
      { rcpt: address, valid: original !== null },
      'refused: SRS address (forged, expired, or not a bounce)',
    );
    return { reason: 'no-such-user', address };
  }
  const back = await resolveRecipient(deps, pathOf(original), { ...opts, origin: 'dsn' });
  if (isRefusal(back)) return back;
  deps.log.info({ rcpt: address, to: original }, 'bounce to an SRS address: sent on');
  return { ...back, address };
}

/**
 * A recipient resolved, or why it is refused. RFC 5321 §4.1.1.3: a path without a domain can
 * only be <Postmaster> (the SMTP parser lets no other through); it is postmaster of our own
 * name.
 */
export async function resolveRecipient(
  deps: DeliveryDeps,
  to: PathAddress,
  opts: ResolveOptions,
): Promise<Recipient | Refusal> {
  const { store, log, cfg } = deps;
  const bare = to.domain === '';
  const shown = bare ? to.local : `${to.local}@${to.domain}`;
  if (!bare && (ROUTING_CHARS.test(to.local) || to.literal === true)) {
    log.info({ rcpt: shown }, 'refused: routing attempt');
    return { reason: 'relay-denied', address: shown };
  }
  // Only postmaster may come without a domain (an address string from elsewhere may not).
  if (bare && !isPostmaster(to.local)) return { reason: 'bad-address', address: shown };
  const hostname = cfg.hostname.toLowerCase().replace(/\.$/, '');
  let address: string;
  try {
    address = bare ? `postmaster@${hostname}` : normalizeAddress(`${to.local}@${to.domain}`);
  } catch {
    return { reason: 'bad-address', address: shown };
  }
  const domain = address.slice(address.lastIndexOf('@') + 1);
  if (deps.srs?.isSrs(address) && (await store.isLocalDomain(domain))) {
    return bounceToSrs(deps, address, opts);
  }
  // Only a local domain's address resolves (MailStore.resolveRecipient): a local recipient,
  // the common case, takes this one look-up; the domain is asked about only when it is null.
  let r = await store.resolveRecipient(address);
  const local = r !== null || (await store.isLocalDomain(domain));
  // RFC 5321 §4.5.1: postmaster of every domain we serve, our host name included.
  const postmaster = isPostmaster(address) && (local || domain === hostname);
  if (local || postmaster) {
    if (r === null && postmaster) r = await serverPostmaster(store, cfg.smtp.postmaster, log);
    if (r === null) return { reason: 'no-such-user', address };
    // Refuse at once when the mailbox is already full: the sender learns it now.
    const size = opts.declaredSize ?? 0;
    for (const a of r.accounts) {
      if (a.quotaBytes !== null && a.usedBytes + size > a.quotaBytes)
        return { reason: 'over-quota', address };
    }
    return { address, accounts: r.accounts, remote: r.remote };
  }
  if (opts.origin !== 'mx') return { address, accounts: [], remote: [address] };
  // The MX never relays (RFC 5321 §3.6.2, §7.1).
  log.info({ rcpt: address }, 'refused: relay');
  return { reason: 'relay-denied', address };
}
