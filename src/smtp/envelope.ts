// MAIL FROM and RCPT TO: the commands, their sequence and limits. Who may send and for whom
// we take mail is the delivery stage's decision (delivery/resolve.ts): on the MX only local
// domains (never an open relay), on submission the account's own addresses as sender and any
// recipient. Its refusals become replies here (outcome.ts).
import { checkSender, resolveRecipient } from '../delivery/resolve.js';
import { type DeliveryDeps, isRefusal, type Recipient } from '../delivery/types.js';
import { passwordsAllowed } from './auth.js';
import { refusalReply } from './outcome.js';
import type { SmtpSession } from './session.js';
import { newTransaction } from './state.js';
import type { Address, SmtpCommand } from './wire/command.js';
import * as R from './wire/replies.js';

/** The address as one string, or null when it cannot name a mailbox (e.g. `<>`). */
export function addressString(a: Address | null): string | null {
  if (a === null) return null;
  return a.domain === '' ? a.local : `${a.local}@${a.domain}`;
}

/** MAIL; a promise only on submission, where the sender is checked (the MX waits for nothing). */
export function mailCommand(
  s: SmtpSession,
  cmd: Extract<SmtpCommand, { kind: 'MAIL' }>,
): Promise<void> | undefined {
  if (s.state.helo === null) {
    s.reply(R.badSequence('Send EHLO or HELO first'));
    return undefined;
  }
  // RFC 4954 §6 / RFC 6409 §4.3: submission requires authentication first.
  if (s.mode === 'submission' && s.state.account === null) {
    s.reply(passwordsAllowed(s) ? R.authRequired() : R.mustStartTls());
    return s.countError();
  }
  if (s.state.transaction !== null) {
    s.reply(R.badSequence('Nested MAIL command'));
    return undefined;
  }
  // BINARYMIME is not offered (RFC 3030 §3 requires CHUNKING and a BINARYMIME keyword).
  if (cmd.params.body === 'BINARYMIME') {
    s.reply(R.unknownParameter('BODY=BINARYMIME'));
    return undefined;
  }
  // RFC 1870 §6.2: a declared size over the limit is refused at once.
  if (cmd.params.size !== undefined && cmd.params.size > s.cfg.limits.max_message_size) {
    s.reply(R.messageTooBig(s.cfg.limits.max_message_size));
    return undefined;
  }
  const sender = addressString(cmd.from) ?? '';
  if (s.mode === 'submission') return submissionSender(s, cmd, sender);
  openTransaction(s, cmd, sender);
  return undefined;
}

async function submissionSender(
  s: SmtpSession,
  cmd: Extract<SmtpCommand, { kind: 'MAIL' }>,
  sender: string,
): Promise<void> {
  const refusal = await checkSender(deliveryDeps(s), s.state.account!, sender);
  if (refusal) {
    s.reply(refusalReply(refusal));
    return;
  }
  openTransaction(s, cmd, sender);
}

function openTransaction(
  s: SmtpSession,
  cmd: Extract<SmtpCommand, { kind: 'MAIL' }>,
  sender: string,
): void {
  s.state.transaction = newTransaction(sender, cmd.from, cmd.params);
  s.reply(R.senderOk());
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
  const r = await resolveRecipient(deliveryDeps(s), cmd.to, {
    origin: s.mode,
    sender: tx.sender,
    declaredSize: tx.params.size ?? 0,
  });
  if (isRefusal(r)) {
    s.reply(refusalReply(r));
    // A recipient that does not parse is a mistake; the others are counted as probing.
    if (r.reason !== 'bad-address') await s.countError();
    return;
  }
  const { notify, orcpt } = cmd.params;
  const rcpt: Recipient = { ...r, ...(notify ? { notify } : {}), ...(orcpt ? { orcpt } : {}) };
  if (!tx.recipients.some((x) => x.address === rcpt.address)) tx.recipients.push(rcpt);
  s.reply(R.recipientOk());
}

/** The delivery stage's view of this session: the server's parts, the session's log. */
export function deliveryDeps(s: SmtpSession): DeliveryDeps {
  return { cfg: s.cfg, store: s.ctx.store, log: s.log, srs: s.ctx.srs, observer: s.ctx.metrics };
}
