// The end of a transaction: checks on the message, trace headers, then local delivery and the
// outbound queue. 250 is sent only after the store has committed (fsync included).
import { createResolver, type ResolveFn } from '../delivery/dns.js';
import { appendFields, hasField, stripForgedAuthResults } from '../delivery/headers.js';
import { prepend } from '../delivery/headroom.js';
import { verifyInbound } from '../delivery/inbound-auth.js';
import { deliverLocal, returnPathField } from '../delivery/local.js';
import { pin } from '../delivery/message-memory.js';
import { readOriginator } from '../delivery/originator.js';
import { newMessageId, receivedHeader, rfc5322Date, withProtocol } from '../delivery/trace.js';
import { isStoreError } from '../store/errors.js';
import type { Account, OutboundRecipientInput } from '../store/types.js';
import { ownsAddress } from './envelope.js';
import type { SmtpSession } from './session.js';
import type { Transaction } from './state.js';
import * as R from './wire/replies.js';

const resolvers = new WeakMap<object, ResolveFn>();

function resolverFor(s: SmtpSession): ResolveFn {
  let r = resolvers.get(s.cfg);
  if (!r) {
    r = createResolver({ servers: s.cfg.dns.servers, timeoutMs: s.cfg.dns.timeout_ms });
    resolvers.set(s.cfg, r);
  }
  return r;
}

/**
 * RFC 6409 §8: the submission server may add Message-ID and Date when missing, and Sender
 * (§8.1) where RFC 5322 §3.6.2 requires one: a From with several mailboxes.
 */
function completeSubmission(raw: Buffer, hostname: string, sender: string | null): Buffer {
  const add: string[] = [];
  if (sender !== null) add.push(`Sender: <${sender}>\r\n`);
  if (!hasField(raw, 'message-id')) add.push(`Message-ID: ${newMessageId(hostname)}\r\n`);
  if (!hasField(raw, 'date')) add.push(`Date: ${rfc5322Date()}\r\n`);
  return appendFields(raw, add.join(''));
}

export async function deliverTransaction(
  s: SmtpSession,
  tx: Transaction,
  body: Buffer,
): Promise<void> {
  const id = s.newId();
  const log = s.log.child({ msgId: id });
  let message = body;
  let authHeaders = '';

  if (s.mode === 'submission') {
    const account = s.state.account!;
    const who = readOriginator(message);
    if (!who.ok) {
      log.info({ problem: who.problem, why: who.text }, 'refused: originator fields');
      s.reply(
        who.problem === 'field-count'
          ? R.contentRejected(who.text)
          : R.badOriginatorAddress(who.text),
      );
      return;
    }
    // RFC 6409 §6.3: every From mailbox (group members too) and the Sender must be the
    // account's own address or one of its aliases.
    const owned = new Map<string, 'From' | 'Sender'>(who.from.map((a) => [a, 'From']));
    if (who.sender !== null && !owned.has(who.sender)) owned.set(who.sender, 'Sender');
    for (const [a, field] of owned) {
      if (!(await ownsAddress(s.ctx.store, account, a))) {
        log.info({ field, address: a }, 'refused: originator not owned');
        s.reply(R.originatorNotOwned(field, a));
        return;
      }
    }
    // RFC 5322 §3.6.2: several From mailboxes need a Sender; the submitting user is it.
    const addSender = who.from.length > 1 && who.sender === null ? account.address : null;
    message = completeSubmission(message, s.cfg.hostname, addSender);
  } else {
    message = stripForgedAuthResults(message, s.cfg.hostname);
    const auth = await verifyInbound({
      raw: message,
      ip: s.conn.remoteAddress,
      helo: s.state.helo ?? '',
      sender: tx.sender,
      hostname: s.cfg.hostname,
      resolver: resolverFor(s),
      timeoutMs: s.cfg.smtp.auth_checks_timeout_seconds * 1000,
    });
    log.info(
      { spf: auth.spf, dkim: auth.dkim, dmarc: auth.dmarc, timedOut: auth.timedOut },
      'inbound checks',
    );
    if (auth.dmarcReject && s.cfg.smtp.dmarc_reject) {
      s.reply(R.addressRefused('Message rejected by the DMARC policy of the sender domain'));
      return;
    }
    authHeaders = auth.headers;
    // The checks that timed out still run, reading the message: its memory is not reused.
    if (auth.timedOut) pin(body);
  }

  const received = receivedHeader({
    helo: s.state.helo ?? 'unknown',
    ip: s.conn.remoteAddress,
    hostname: s.cfg.hostname,
    protocol: withProtocol({
      esmtp: s.state.esmtp,
      tls: s.conn.secure,
      auth: s.state.account !== null,
      utf8: tx.params.smtputf8 === true,
    }),
    id,
    recipient: tx.recipients.length === 1 ? tx.recipients[0]!.address : undefined,
  });
  const trace = Buffer.from(received + authHeaders);

  const accounts = new Map<number, Account>();
  const remote: OutboundRecipientInput[] = [];
  for (const r of tx.recipients) {
    for (const a of r.accounts) accounts.set(a.id, a);
    for (const address of r.remote) {
      if (remote.some((x) => x.address === address)) continue;
      const orcpt = r.params.orcpt
        ? `${r.params.orcpt.type};${r.params.orcpt.addr}`
        : address === r.address
          ? undefined
          : `rfc822;${r.address}`;
      remote.push({ address, notify: r.params.notify, ...(orcpt ? { orcpt } : {}) });
    }
  }

  try {
    if (accounts.size > 0) {
      await deliverLocal(s.ctx.store, {
        // Every header we add, in front of the message without copying it (headroom.ts).
        raw: prepend(Buffer.concat([Buffer.from(returnPathField(tx.sender)), trace]), message),
        accounts: [...accounts.values()],
      });
    }
    if (remote.length > 0) {
      await s.ctx.store.enqueueOutbound({
        sender: tx.sender,
        recipients: remote,
        raw: Buffer.concat([trace, message]),
        envid: tx.params.envid,
        ret: tx.params.ret,
        accountId: s.state.account?.id,
      });
    }
  } catch (err) {
    if (isStoreError(err, 'OVERQUOTA')) {
      s.reply(R.overQuota([...accounts.values()].map((a) => a.address).join(', ')));
      return;
    }
    log.error({ err }, 'delivery failed');
    s.reply(R.localError());
    return;
  }
  log.info(
    {
      from: tx.sender,
      local: accounts.size,
      remote: remote.length,
      size: trace.length + message.length,
    },
    'message accepted',
  );
  s.reply(R.messageAccepted(id));
}
