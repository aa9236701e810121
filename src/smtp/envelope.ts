// MAIL FROM and RCPT TO: who may send, and for whom we accept mail. On the MX, only local
// domains (never an open relay); on submission, the authenticated account's own addresses
// as sender and any recipient.

import { isPostmaster, serverPostmaster } from '../delivery/postmaster.js';
import { normalizeAddress } from '../store/names.js';
import type { Account, MailStore } from '../store/types.js';
import type { SmtpSession } from './session.js';
import { newTransaction, type Recipient } from './state.js';
import type { Address, SmtpCommand } from './wire/command.js';
import * as R from './wire/replies.js';

/** The address as one string, or null when it cannot name a mailbox (e.g. `<>`). */
export function addressString(a: Address | null): string | null {
  if (a === null) return null;
  return a.domain === '' ? a.local : `${a.local}@${a.domain}`;
}

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

export async function mailCommand(
  s: SmtpSession,
  cmd: Extract<SmtpCommand, { kind: 'MAIL' }>,
): Promise<void> {
  if (s.state.helo === null) {
    s.reply(R.badSequence('Send EHLO or HELO first'));
    return;
  }
  // RFC 4954 §6 / RFC 6409 §4.3: submission requires authentication first.
  if (s.mode === 'submission' && s.state.account === null) {
    s.reply(s.conn.secure || s.cfg.auth.allow_plaintext ? R.authRequired() : R.mustStartTls());
    await s.countError();
    return;
  }
  if (s.state.transaction !== null) {
    s.reply(R.badSequence('Nested MAIL command'));
    return;
  }
  // BINARYMIME is not offered (RFC 3030 §3 requires CHUNKING and a BINARYMIME keyword).
  if (cmd.params.body === 'BINARYMIME') {
    s.reply(R.unknownParameter('BODY=BINARYMIME'));
    return;
  }
  // RFC 1870 §6.2: a declared size over the limit is refused at once.
  if (cmd.params.size !== undefined && cmd.params.size > s.cfg.limits.max_message_size) {
    s.reply(R.messageTooBig(s.cfg.limits.max_message_size));
    return;
  }
  const sender = addressString(cmd.from) ?? '';
  if (s.mode === 'submission') {
    // RFC 6409 §6.1: the submission server may check that the sender is the user's own.
    const account = s.state.account!;
    if (sender === '' || !(await ownsAddress(s.ctx.store, account, sender))) {
      s.log.info({ sender }, 'refused: sender not owned');
      s.reply(R.senderNotOwned());
      return;
    }
  }
  s.state.transaction = newTransaction(sender, cmd.from, cmd.params);
  s.reply(R.senderOk());
}

/** Local parts that try to route onwards (`a%b@us`, `a!b@us`, `"a@b"@us`) are not ours. */
const ROUTING_CHARS = /[%!@]/;

/**
 * A recipient we deliver: an account, alias or catch-all of a local domain, or for postmaster
 * (RFC 5321 §4.5.1) the server's postmaster when the directory has none (postmaster.ts).
 */
async function resolveLocal(
  s: SmtpSession,
  address: string,
  declaredSize: number,
  opts: { local: boolean; postmaster: boolean },
): Promise<Recipient | ReturnType<typeof R.noSuchUser>> {
  const store = s.ctx.store;
  let r = opts.local ? await store.resolveRecipient(address) : null;
  if (r === null && opts.postmaster)
    r = await serverPostmaster(store, s.cfg.smtp.postmaster, s.log);
  if (r === null) return R.noSuchUser(address);
  // Refuse at RCPT when the mailbox is already full: the sender learns it at once.
  for (const a of r.accounts) {
    if (a.quotaBytes !== null && a.usedBytes + declaredSize > a.quotaBytes)
      return R.overQuota(address);
  }
  return { address, params: {}, accounts: r.accounts, remote: r.remote };
}

export async function rcptCommand(
  s: SmtpSession,
  cmd: Extract<SmtpCommand, { kind: 'RCPT' }>,
): Promise<void> {
  const tx = s.state.transaction;
  if (tx === null) {
    s.reply(R.badSequence('Need MAIL command first'));
    return;
  }
  if (tx.recipients.length >= s.cfg.smtp.max_recipients) {
    s.reply(R.tooManyRecipients());
    return;
  }
  const to = cmd.to;
  // RFC 5321 §4.1.1.3: the parser lets only <Postmaster> through without a domain; it is
  // postmaster of our own name.
  const bare = to.domain === '';
  if (!bare && (ROUTING_CHARS.test(to.local) || to.literal)) {
    s.log.info({ rcpt: to.raw }, 'refused: routing attempt');
    s.reply(R.relayDenied());
    await s.countError();
    return;
  }
  const hostname = s.cfg.hostname.toLowerCase().replace(/\.$/, '');
  let address: string;
  try {
    address = bare ? `postmaster@${hostname}` : normalizeAddress(`${to.local}@${to.domain}`);
  } catch {
    s.reply(R.badRecipientSyntax());
    return;
  }
  const domain = address.slice(address.lastIndexOf('@') + 1);
  const local = await s.ctx.store.isLocalDomain(domain);
  // RFC 5321 §4.5.1: postmaster of every domain we serve, our host name included.
  const postmaster = isPostmaster(address) && (local || domain === hostname);
  let rcpt: Recipient;
  if (local || postmaster) {
    const r = await resolveLocal(s, address, tx.params.size ?? 0, { local, postmaster });
    if (!('accounts' in r)) {
      s.reply(r);
      await s.countError();
      return;
    }
    rcpt = r;
  } else if (s.mode === 'submission') {
    rcpt = { address, params: {}, accounts: [], remote: [address] };
  } else {
    // The MX never relays (RFC 5321 §3.6.2, §7.1).
    s.log.info({ rcpt: address }, 'refused: relay');
    s.reply(R.relayDenied());
    await s.countError();
    return;
  }
  rcpt.params = cmd.params;
  if (!tx.recipients.some((r) => r.address === rcpt.address)) tx.recipients.push(rcpt);
  s.reply(R.recipientOk());
}
