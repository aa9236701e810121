// The delivery stage's entry point: one message, from SMTP (MX or submission), a DSN of the
// queue, or (later) Sieve. The checks of its origin, the trace fields, then local delivery and
// the outbound queue; the Outcome is final only once the store has committed (fsync included),
// so a protocol that answers "accepted" from it never loses the message.
import { isStoreError } from '../store/errors.js';
import type { AppendResult } from '../store/types.js';
import { prepend } from './headroom.js';
import { checkInbound } from './inbound.js';
import { deliverLocal } from './local.js';
import { enqueue, splitRecipients } from './outbound.js';
import { pathOf, resolveRecipient } from './resolve.js';
import { checkSubmission } from './submission.js';
import { newDeliveryId, receivedHeader, returnPathField } from './trace.js';
import {
  type DeliveryDeps,
  type DeliveryInput,
  isRefusal,
  type Outcome,
  type Recipient,
  refused,
} from './types.js';

/**
 * Delivers `input.message` to its recipients: all of them or none (a refusal or a temporary
 * failure stores and queues nothing). Addresses given as strings are resolved here with the
 * rules of the origin; the first one refused refuses the message.
 */
export async function deliver(deps: DeliveryDeps, input: DeliveryInput): Promise<Outcome> {
  const outcome = await decide(deps, input);
  deps.observer?.messageOutcome(input.origin, outcome);
  return outcome;
}

async function decide(deps: DeliveryDeps, input: DeliveryInput): Promise<Outcome> {
  const id = input.id ?? newDeliveryId();
  const d: DeliveryDeps = { ...deps, log: deps.log.child({ msgId: id }) };
  const { log, store } = d;

  const recipients: Recipient[] = [];
  for (const r of input.recipients) {
    const got =
      typeof r === 'string'
        ? await resolveRecipient(d, pathOf(r), { origin: input.origin, sender: input.sender })
        : r;
    if (isRefusal(got)) return refused(got);
    if (!recipients.some((x) => x.address === got.address)) recipients.push(got);
  }

  let message = input.message;
  let authHeaders = '';
  if (input.origin === 'submission') {
    if (!input.account) return refused({ reason: 'sender-not-owned', address: input.sender });
    const r = await checkSubmission(d, input.account, message);
    if (isRefusal(r)) return refused(r);
    message = r.message;
  } else if (input.origin === 'mx') {
    const peer = input.peer ?? { ip: '', helo: null, protocol: 'SMTP' };
    const r = await checkInbound(d, { message, sender: input.sender, peer });
    if (isRefusal(r)) return refused(r);
    message = r.message;
    authHeaders = r.authHeaders;
  }

  const received = receivedHeader({
    helo: input.peer?.helo ?? 'unknown',
    ip: input.peer?.ip,
    hostname: d.cfg.hostname,
    protocol: input.peer?.protocol,
    id,
    recipient: recipients.length === 1 ? recipients[0]!.address : undefined,
  });
  const trace = Buffer.from(received + authHeaders);
  const { accounts, outbound } = splitRecipients(d, input.sender, recipients);

  let stored: AppendResult[] = [];
  const queued: number[] = [];
  try {
    if (accounts.length > 0) {
      stored = await deliverLocal(store, {
        // Every field we add, in front of the message without copying it (headroom.ts).
        raw: prepend(Buffer.concat([Buffer.from(returnPathField(input.sender)), trace]), message),
        accounts,
      });
    }
    if (outbound.length > 0) {
      // Return-Path is for final delivery only (RFC 5321 §4.4): the queue gets the trace.
      const raw = Buffer.concat([trace, message]);
      for (const group of outbound) {
        queued.push(
          await enqueue(d, group, raw, {
            envid: input.envid,
            ret: input.ret,
            accountId: input.account?.id,
          }),
        );
      }
    }
  } catch (err) {
    if (isStoreError(err, 'OVERQUOTA'))
      return refused({ reason: 'over-quota', address: accounts.map((a) => a.address).join(', ') });
    log.error({ err }, 'delivery failed');
    return { status: 'temporary', text: 'Local error in processing', error: err };
  }
  // The recipients as given (an alias as itself), and the outbound queue's ids as
  // `letterbox queue list` shows them (msgId is the id of the Received field and the reply).
  log.info(
    {
      from: input.sender,
      recipients: recipients.map((r) => r.address),
      local: accounts.length,
      remote: outbound.reduce((n, g) => n + g.recipients.length, 0),
      queueIds: queued,
      size: trace.length + message.length,
    },
    'message accepted',
  );
  return { status: 'accepted', id, stored, queued };
}
