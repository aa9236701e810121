// A submitted message (RFC 6409): its originator fields must name the authenticated account,
// and the fields the server may add are added. Who may send as whom is delivery policy: any
// way in for an account's own mail (SMTP submission today) asks the same question here.
import type { Account } from '../store/types.js';
import { appendFields, hasField } from './headers.js';
import { readOriginator } from './originator.js';
import { ownsAddress } from './resolve.js';
import { newMessageId, rfc5322Date } from './trace.js';
import type { DeliveryDeps, Refusal } from './types.js';

/**
 * RFC 6409 §8: the submission server may add Message-ID and Date when missing, and Sender
 * (§8.1) where RFC 5322 §3.6.2 requires one: a From with several mailboxes.
 */
function completeSubmission(raw: Buffer, hostname: string, sender: string | null): Buffer {
  const add: string[] = [];
  if (sender !== null) add.push(`Sender: <${sender}>\r\n`);
  if (!hasField(raw, 'message-id')) add.push(`Message-ID: ${newMessageId(hostname)}\r\n`);
  if (!hasField(raw, 'date')) add.push(`Date: ${rfc5322Date()}\r\n`);
  // Added at the end of the header block, where a reader expects them after the trace fields.
  return appendFields(raw, add.join(''));
}

/** The message as it goes on (fields added), or why it is refused. */
export async function checkSubmission(
  deps: DeliveryDeps,
  account: Account,
  message: Buffer,
): Promise<{ message: Buffer } | Refusal> {
  const who = readOriginator(message);
  if (!who.ok) {
    deps.log.info({ problem: who.problem, why: who.text }, 'refused: originator fields');
    return who.problem === 'field-count'
      ? { reason: 'originator-fields', text: who.text }
      : { reason: 'originator-address', text: who.text };
  }
  // RFC 6409 §6.3: every From mailbox (group members too) and the Sender must be the
  // account's own address or one of its aliases.
  const owned = new Map<string, 'From' | 'Sender'>(who.from.map((a) => [a, 'From']));
  if (who.sender !== null && !owned.has(who.sender)) owned.set(who.sender, 'Sender');
  for (const [address, field] of owned) {
    if (!(await ownsAddress(deps.store, account, address))) {
      deps.log.info({ field, address }, 'refused: originator not owned');
      return { reason: 'originator-not-owned', field, address };
    }
  }
  // RFC 5322 §3.6.2: several From mailboxes need a Sender; the submitting user is it.
  const addSender = who.from.length > 1 && who.sender === null ? account.address : null;
  return { message: completeSubmission(message, deps.cfg.hostname, addSender) };
}
