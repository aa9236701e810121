// DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030): receive the message bytes with the size
// limit enforced while reading, then hand them to delivery.
import { deliverTransaction } from './deliver.js';
import { assemble } from './headroom.js';
import { give } from './message-memory.js';
import type { SmtpSession } from './session.js';
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
  if (tx.chunks !== null) {
    s.reply(R.badSequence('DATA after BDAT'));
    return;
  }
  if (tx.recipients.length === 0) {
    s.reply(R.noValidRecipients());
    return;
  }
  s.reply(R.startData());
  await s.flush();
  const chunks: Buffer[] = [];
  const decoder = new DataDecoder({
    maxSize: s.cfg.limits.max_message_size,
    bareLf: s.cfg.smtp.bare_lf,
    onData: (d) => chunks.push(d),
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
  const refusal = decoder.rejection();
  if (refusal) {
    s.log.info({ size: decoder.size, reply: refusal.toString() }, 'message refused');
    s.reply(refusal);
    return;
  }
  const message = assemble(chunks);
  await deliverTransaction(s, tx, message);
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
  const parts: Buffer[] = [];
  const reader = new BdatReader(cmd.size, {
    discard: refuse || overflow,
    onData: (d) => parts.push(d),
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
  tx.chunks ??= [];
  if (overflow) tx.tooBig = true;
  else tx.chunks.push(...parts);
  tx.chunkBytes += cmd.size;
  if (!cmd.last) {
    s.reply(R.chunkAccepted(cmd.size));
    return;
  }
  s.state.transaction = null;
  if (tx.tooBig) {
    s.reply(R.messageTooBig(max));
    return;
  }
  const message = assemble(tx.chunks);
  await deliverTransaction(s, tx, message);
  give(message);
}
