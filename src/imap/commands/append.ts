// APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), CATENATE (RFC 4469, catenate.ts),
// APPENDUID (RFC 4315 §3), the APPENDLIMIT (RFC 7889) and quota (RFC 9208 §4.3 OVERQUOTA).
// The messages are stored by the delivery stage (delivery/mailbox.ts), parsed once there like
// every delivered message.
import { deliverToMailbox } from '../../delivery/mailbox.js';
import type { Outcome } from '../../delivery/types.js';
import { isStoreError } from '../../store/errors.js';
import { checkedTarget, type Mailbox } from '../../store/types.js';
import { no, ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import { IMAP_LIMITS } from '../state.js';
import type { ArgCursor } from '../wire/parser.js';
import { sequenceSetToString } from '../wire/serializer.js';
import { assembleCatenate, type CatPart, parseCatenate } from './catenate.js';
import { AUTHED, command } from './types.js';
import { clientMailboxName, getMailboxOrFail, requireAccount } from './util.js';

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

/**
 * The mailbox APPEND names: the one its check before the literal looked up (kept on the
 * session for this), or looked up now. Either may be out of date by the time the append
 * commits: the append checks it in its own transaction (AppendTarget.expect).
 */
async function appendTarget(s: ImapSession, clientName: string): Promise<Mailbox> {
  const kept = s.appendMailbox;
  s.appendMailbox = null;
  if (kept !== null && kept.clientName === clientName) return kept.mailbox;
  return findTarget(s, clientName);
}

/**
 * The mailbox named `clientName`: the selected one when that is its name and the session has
 * not been told of its delete or rename (the store's change events, view.ts), without a read;
 * else looked up. Either answer is checked again in the append's transaction.
 */
async function findTarget(s: ImapSession, clientName: string): Promise<Mailbox> {
  const sel = s.selected;
  if (sel !== null && !sel.view.gone && !sel.view.renamed) {
    if (clientMailboxName(s, clientName) === sel.mailbox.name) return sel.mailbox;
  }
  // RFC 9051 §6.3.12: a missing mailbox gets NO [TRYCREATE] so the client can create it.
  return getMailboxOrFail(s, clientName, 'TRYCREATE');
}

/** A store's NOT_FOUND, as an outcome or thrown: the mailbox is not what was looked up. */
function mailboxGone(outcome: Outcome | { status: 'threw'; error: unknown }): boolean {
  return (
    (outcome.status === 'temporary' || outcome.status === 'threw') &&
    isStoreError(outcome.error, 'NOT_FOUND')
  );
}

export const APPEND = command({
  name: 'APPEND',
  states: AUTHED,
  parse: parseAppend,
  // A missing target is said before the client sends the message (at its first literal); the
  // mailbox found is kept for run, which then need not look it up again.
  beforeLiteral(s, c, _cmd, literals) {
    if (literals > 0) return null;
    c.space();
    const clientName = c.mailbox();
    return findTarget(s, clientName).then((mailbox) => {
      s.appendMailbox = { clientName, mailbox };
      return null;
    });
  },
  async run(s, a) {
    let mb = await appendTarget(s, a.mailbox);
    const { data, held } = await appendData(s, a.messages);
    try {
      let outcome: Outcome | { status: 'threw'; error: unknown };
      // The mailbox looked up may have been deleted, renamed, or deleted and its id reused
      // (SQLite) since: then the append stores nothing and fails NOT_FOUND, and goes again
      // to the mailbox of that name now, if there is one.
      for (let attempt = 0; ; attempt++) {
        outcome = await appendTo(s, mb, a.messages, data).catch((error: unknown) => ({
          status: 'threw' as const,
          error,
        }));
        if (!mailboxGone(outcome) || attempt > 0) break;
        const now = await s.ctx.store.getMailbox(
          requireAccount(s).id,
          clientMailboxName(s, a.mailbox),
        );
        // RFC 9051 §6.3.12: NO [TRYCREATE] when the mailbox does not exist.
        if (now === null) throw no('TRYCREATE', 'The mailbox is gone');
        if (now.id === mb.id && now.uidValidity === mb.uidValidity && now.name === mb.name) break;
        mb = now;
      }
      if (outcome.status === 'threw') throw outcome.error;
      if (outcome.status === 'refused') {
        if (outcome.refusal.reason === 'over-quota')
          throw no('OVERQUOTA', 'Mailbox quota exceeded');
        throw no('CANNOT', outcome.text);
      }
      // Anything else is answered as the error it was (store errors have their codes).
      if (outcome.status === 'temporary') throw outcome.error;
      const done = outcome.stored;
      const uids = sequenceSetToString(done.map((r) => r.uid));
      return ok('APPEND completed', `APPENDUID ${done[0].uidValidity} ${uids}`);
    } finally {
      s.ctx.memory.give(held);
    }
  },
});

/** The same mailbox: an id of SQLite's is reused after a delete, its UIDVALIDITY never. */
function isSelected(selected: Mailbox, mb: Mailbox): boolean {
  return selected.id === mb.id && selected.uidValidity === mb.uidValidity;
}

/** The messages into `mb`, if it is still the mailbox looked up; the selected view told. */
async function appendTo(
  s: ImapSession,
  mb: Mailbox,
  messages: readonly AppendMessage[],
  data: readonly Buffer[],
): Promise<Outcome> {
  // RFC 3501 §2.3.2, §6.3.11: a message appended to the mailbox this IMAP4rev1 session has
  // selected read-write is \Recent here, the first session told of it; the claim goes into
  // the append's transaction rather than a write of its own after it (issue 14 §4).
  const sel0 = s.selected;
  const claimRecent =
    sel0 !== null && isSelected(sel0.mailbox, mb) && !sel0.readOnly && !s.enabled.imap4rev2;
  // RFC 3502 §3: MULTIAPPEND is all or nothing (the delivery stage sees to it).
  const outcome = await deliverToMailbox(
    { store: s.ctx.store },
    checkedTarget(mb),
    messages.map((m, i) => ({
      raw: data[i]!,
      flags: m.flags,
      internalDate: m.date,
      internalZone: m.zone,
      claimRecent,
    })),
  );
  if (outcome.status !== 'accepted') return outcome;
  const sel = s.selected;
  if (sel && isSelected(sel.mailbox, mb)) {
    const done = outcome.stored;
    sel.view.noteAppended(done.map((r) => r.uid));
    for (const r of done) {
      if (claimRecent && r.recentFrom !== undefined) sel.view.addRecent(r.recentFrom, r.uid);
    }
  }
  return outcome;
}
