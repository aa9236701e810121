// APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), CATENATE (RFC 4469, catenate.ts),
// APPENDUID (RFC 4315 §3), the APPENDLIMIT (RFC 7889) and quota (RFC 9208 §4.3 OVERQUOTA).
// The messages are stored by the delivery stage (delivery/mailbox.ts), parsed once there like
// every delivered message.
import { deliverToMailbox } from '../../delivery/mailbox.js';
import { no, ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import { IMAP_LIMITS } from '../state.js';
import type { ArgCursor } from '../wire/parser.js';
import { sequenceSetToString } from '../wire/serializer.js';
import { assembleCatenate, type CatPart, parseCatenate } from './catenate.js';
import { AUTHED, command } from './types.js';
import { getMailboxOrFail } from './util.js';

/** One append-message (RFC 4466 §2.3): flags, date, and a literal or CATENATE parts. */
export interface AppendMessage {
  flags: string[];
  date: Date | undefined;
  /** The date-time's zone, minutes east of UTC: kept as INTERNALDATE's. */
  zone?: number;
  data: Buffer | CatPart[];
}

/** RFC 4466 append-message: [SP flag-list] [SP date-time] SP append-data. */
export function parseAppendMessage(c: ArgCursor): AppendMessage {
  c.space();
  let flags: string[] = [];
  let date: Date | undefined;
  let zone: number | undefined;
  if (c.peek() === 0x28) {
    flags = c.flagList();
    c.space();
  }
  if (c.peek() === 0x22) {
    ({ date, zone } = c.zonedDateTime());
    c.space();
  }
  let data: Buffer | CatPart[];
  const word = c.peekWord();
  if (word === 'UTF8') {
    // RFC 6855 §4: UTF8 (literal8) carries a message with UTF-8 headers.
    c.word();
    c.space();
    c.expect('(');
    data = c.literal().data;
    c.expect(')');
  } else if (word === 'CATENATE') {
    // RFC 4469 §5: append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")".
    c.word();
    c.space();
    data = parseCatenate(c);
  } else {
    // A literal8 (~{N}, RFC 3516 §4.4) is accepted as well: the bytes are stored as sent.
    data = c.literal().data;
  }
  return { flags, date, zone, data };
}

function parseAppend(c: ArgCursor): { mailbox: string; messages: AppendMessage[] } {
  c.space();
  const mailbox = c.mailbox();
  const messages: AppendMessage[] = [];
  do {
    messages.push(parseAppendMessage(c));
    if (messages.length > IMAP_LIMITS.maxAppendMessages) c.fail('Too many messages in one APPEND');
  } while (!c.atEnd());
  return { mailbox, messages };
}

/**
 * The messages' bytes, CATENATE ones assembled (RFC 4469 §3), each checked against the limits;
 * `held` is the message memory taken by the assembled ones (the caller gives it back).
 */
export async function appendData(
  s: ImapSession,
  messages: readonly AppendMessage[],
): Promise<{ data: Buffer[]; held: number }> {
  const limit = s.ctx.cfg.limits.max_message_size;
  const data: Buffer[] = [];
  let held = 0;
  try {
    for (const m of messages) {
      if (m.flags.some((f) => f.toLowerCase() === '\\recent'))
        throw no('CANNOT', 'The \\Recent flag cannot be set');
      let bytes: Buffer;
      if (Buffer.isBuffer(m.data)) bytes = m.data;
      else {
        const built = await assembleCatenate(s, m.data);
        held += built.held;
        bytes = built.data;
      }
      if (bytes.length > limit) throw no('TOOBIG', `Message is over the limit of ${limit} bytes`);
      if (bytes.length === 0) throw no('CANNOT', 'Empty message');
      data.push(bytes);
    }
  } catch (err) {
    s.ctx.memory.give(held);
    throw err;
  }
  return { data, held };
}

export const APPEND = command({
  name: 'APPEND',
  states: AUTHED,
  parse: parseAppend,
  // A missing target is said before the client sends the message (at its first literal).
  beforeLiteral(s, c, _cmd, literals) {
    if (literals > 0) return null;
    c.space();
    const mailbox = c.mailbox();
    return getMailboxOrFail(s, mailbox, 'TRYCREATE').then(() => null);
  },
  async run(s, a) {
    // RFC 9051 §6.3.12: a missing mailbox gets NO [TRYCREATE] so the client can create it.
    const mb = await getMailboxOrFail(s, a.mailbox, 'TRYCREATE');
    const { data, held } = await appendData(s, a.messages);
    // RFC 3501 §2.3.2, §6.3.11: a message appended to the mailbox this IMAP4rev1 session has
    // selected read-write is \Recent here, the first session told of it; the claim goes into
    // the append's transaction rather than a write of its own after it (issue 14 §4).
    const sel0 = s.selected;
    const claimRecent =
      sel0 !== null && sel0.mailbox.id === mb.id && !sel0.readOnly && !s.enabled.imap4rev2;
    try {
      // RFC 3502 §3: MULTIAPPEND is all or nothing (the delivery stage sees to it).
      const outcome = await deliverToMailbox(
        { store: s.ctx.store },
        mb.id,
        a.messages.map((m, i) => ({
          raw: data[i]!,
          flags: m.flags,
          internalDate: m.date,
          internalZone: m.zone,
          claimRecent,
        })),
      );
      if (outcome.status === 'refused') {
        if (outcome.refusal.reason === 'over-quota')
          throw no('OVERQUOTA', 'Mailbox quota exceeded');
        throw no('CANNOT', outcome.text);
      }
      // Anything else is answered as the error it was (store errors have their codes).
      if (outcome.status === 'temporary') throw outcome.error;
      const done = outcome.stored;
      const sel = s.selected;
      if (sel && sel.mailbox.id === mb.id) {
        sel.view.noteAppended(done.map((r) => r.uid));
        for (const r of done) {
          if (claimRecent && r.recentFrom !== undefined) sel.view.addRecent(r.recentFrom, r.uid);
        }
      }
      const uids = sequenceSetToString(done.map((r) => r.uid));
      return ok('APPEND completed', `APPENDUID ${done[0].uidValidity} ${uids}`);
    } finally {
      s.ctx.memory.give(held);
    }
  },
});
