// APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), APPENDUID (RFC 4315 §3), the
// APPENDLIMIT (RFC 7889) and quota (RFC 9208 §4.3 OVERQUOTA). The messages are stored by the
// delivery stage (delivery/mailbox.ts), parsed once there like every delivered message.
import { deliverToMailbox } from '../../delivery/mailbox.js';
import { no, ok } from '../responses.js';
import { IMAP_LIMITS } from '../state.js';
import type { ArgCursor } from '../wire/parser.js';
import { sequenceSetToString } from '../wire/serializer.js';
import { AUTHED, command } from './types.js';
import { getMailboxOrFail } from './util.js';

interface AppendMessage {
  flags: string[];
  date: Date | undefined;
  data: Buffer;
}

function parseAppend(c: ArgCursor): { mailbox: string; messages: AppendMessage[] } {
  c.space();
  const mailbox = c.mailbox();
  const messages: AppendMessage[] = [];
  do {
    c.space();
    let flags: string[] = [];
    let date: Date | undefined;
    if (c.peek() === 0x28) {
      flags = c.flagList();
      c.space();
    }
    if (c.peek() === 0x22) {
      date = c.dateTime();
      c.space();
    }
    let data: Buffer;
    if (c.peekWord() === 'UTF8') {
      // RFC 6855 §4: UTF8 (literal8) carries a message with UTF-8 headers.
      c.word();
      c.space();
      c.expect('(');
      data = c.literal().data;
      c.expect(')');
    } else {
      // A literal8 (~{N}, RFC 3516 §4.4) is accepted as well: the bytes are stored as sent.
      data = c.literal().data;
    }
    messages.push({ flags, date, data });
    if (messages.length > IMAP_LIMITS.maxAppendMessages) c.fail('Too many messages in one APPEND');
  } while (!c.atEnd());
  return { mailbox, messages };
}

export const APPEND = command({
  name: 'APPEND',
  states: AUTHED,
  parse: parseAppend,
  async run(s, a) {
    // RFC 9051 §6.3.12: a missing mailbox gets NO [TRYCREATE] so the client can create it.
    const mb = await getMailboxOrFail(s, a.mailbox, 'TRYCREATE');
    const limit = s.ctx.cfg.limits.max_message_size;
    for (const m of a.messages) {
      if (m.data.length > limit) throw no('TOOBIG', `Message is over the limit of ${limit} bytes`);
      if (m.data.length === 0) throw no('CANNOT', 'Empty message');
      if (m.flags.some((f) => f.toLowerCase() === '\\recent'))
        throw no('CANNOT', 'The \\Recent flag cannot be set');
    }
    // RFC 3502 §3: MULTIAPPEND is all or nothing (the delivery stage sees to it).
    const outcome = await deliverToMailbox(
      { store: s.ctx.store },
      mb.id,
      a.messages.map((m) => ({ raw: m.data, flags: m.flags, internalDate: m.date })),
    );
    if (outcome.status === 'refused') {
      if (outcome.refusal.reason === 'over-quota') throw no('OVERQUOTA', 'Mailbox quota exceeded');
      throw no('CANNOT', outcome.text);
    }
    // Anything else is answered as the error it was (store errors have their codes).
    if (outcome.status === 'temporary') throw outcome.error;
    const done = outcome.stored;
    const sel = s.selected;
    if (sel && sel.mailbox.id === mb.id) sel.view.noteAppended(done.map((r) => r.uid));
    const uids = sequenceSetToString(done.map((r) => r.uid));
    return ok('APPEND completed', `APPENDUID ${done[0].uidValidity} ${uids}`);
  },
});
