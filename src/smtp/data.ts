// DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030): receive the message bytes with the size
// limit enforced while reading, then hand them to the delivery stage (delivery/deliver.ts).

import { deliver } from '../delivery/deliver.js';
import { assemble } from '../delivery/headroom.js';
import { give } from '../delivery/message-memory.js';
import { withProtocol } from '../delivery/trace.js';
import { deliveryDeps } from './envelope.js';
import { outcomeReply } from './outcome.js';
import type { SmtpSession } from './session.js';
import type { Transaction } from './state.js';
import { BdatReader } from './wire/bdat-reader.js';
import type { SmtpCommand } from './wire/command.js';
import { DataDecoder } from './wire/data-reader.js';
import * as R from './wire/replies.js';

export async function dataCommand(s: SmtpSession): Promise<void> {
  const tx = s.state.transaction;
  if (tx === null) {
    s.reply(R.badSequence('Need MAIL command first'));
    return;
  }
  if (tx.bdat) {
    s.reply(R.badSequence('DATA after BDAT'));
    return;
  }
  if (tx.recipients.length === 0) {
    s.reply(R.noValidRecipients());
    return;
  }
  s.reply(R.startData());
  const written = s.flush();
  if (written) await written;
  const inbound = s.inbound;
  inbound.reset();
  const decoder = new DataDecoder({
    maxSize: s.cfg.limits.max_message_size,
    bareLf: s.cfg.smtp.bare_lf,
    // Over the memory budget, the rest is read and dropped; the answer is 452 at the end.
    onData: (d) => inbound.push(d),
  });
  for (;;) {
    const chunk = await s.conn.readChunk();
    if (chunk === null) {
      if (s.conn.timedOut) await s.closeWith(R.timeout());
      else s.close();
      return;
    }
    const r = decoder.push(chunk);
    if (r.done) {
      if (r.rest.length > 0) s.conn.unread(r.rest);
      break;
    }
  }
  s.state.transaction = null;
  const refusal = decoder.rejection() ?? (inbound.overBudget ? R.memoryBusy() : null);
  if (refusal) {
    inbound.reset();
    s.log.info({ size: decoder.size, reply: refusal.toString() }, 'message refused');
    s.reply(refusal);
    return;
  }
  await deliverReceived(s, tx);
}

/**
 * Hands what `s.inbound` holds to the delivery stage and answers with its outcome (250 only
 * once the store has committed), then gives the message's memory back.
 */
async function deliverReceived(s: SmtpSession, tx: Transaction): Promise<void> {
  const message = assemble(s.inbound.pieces());
  try {
    const outcome = await deliver(deliveryDeps(s), {
      origin: s.mode,
      sender: tx.sender,
      recipients: tx.recipients,
      message,
      peer: {
        ip: s.conn.remoteAddress,
        helo: s.state.helo,
        protocol: withProtocol({
          esmtp: s.state.esmtp,
          tls: s.conn.secure,
          auth: s.state.account !== null,
          utf8: tx.params.smtputf8 === true,
        }),
      },
      account: s.state.account,
      envid: tx.params.envid,
      ret: tx.params.ret,
    });
    s.reply(outcomeReply(outcome));
  } finally {
    s.inbound.reset();
  }
  // Delivery answered: the store copied what it keeps (file, rows, index text).
  give(message);
}

export async function bdatCommand(
  s: SmtpSession,
  cmd: Extract<SmtpCommand, { kind: 'BDAT' }>,
): Promise<void> {
  const tx = s.state.transaction;
  const max = s.cfg.limits.max_message_size;
  // RFC 3030 §2: the chunk's octets follow the command whatever the answer: read them.
  const refuse = tx === null || tx.recipients.length === 0;
  const overflow = !refuse && (tx.tooBig || tx.chunkBytes + cmd.size > max);
  // A transaction's first chunk starts the message afresh.
  if (!refuse && !tx.bdat) s.inbound.reset();
  const reader = new BdatReader(cmd.size, {
    discard: refuse || overflow,
    onData: (d) => s.inbound.push(d),
  });
  while (!reader.done) {
    const chunk = await s.conn.readChunk();
    if (chunk === null) {
      if (s.conn.timedOut) await s.closeWith(R.timeout());
      else s.close();
      return;
    }
    const r = reader.push(chunk);
    if (r.done && r.rest.length > 0) s.conn.unread(r.rest);
  }
  if (tx === null) {
    s.reply(R.badSequence('Need MAIL command first'));
    return;
  }
  if (tx.recipients.length === 0) {
    s.reply(R.noValidRecipients());
    return;
  }
  tx.bdat = true;
  if (overflow) tx.tooBig = true;
  tx.chunkBytes += cmd.size;
  if (s.inbound.overBudget) {
    // RFC 3030 §2: after a 4xx to a chunk the client sends no more; the transaction is over.
    s.state.transaction = null;
    s.inbound.reset();
    s.reply(R.memoryBusy());
    return;
  }
  if (!cmd.last) {
    s.reply(R.chunkAccepted(cmd.size));
    return;
  }
  s.state.transaction = null;
  if (tx.tooBig) {
    s.inbound.reset();
    s.reply(R.messageTooBig(max));
    return;
  }
  await deliverReceived(s, tx);
}
