// REPLACE and UID REPLACE (RFC 8508): append a new message (to the selected mailbox or any
// other) and expunge one message of the selected mailbox, atomically: one store transaction
// does both (delivery/mailbox.ts -> store append with `replace`), so a failure leaves both
// mailboxes as they were, and the quota sees the room the old message frees.
import { deliverToMailbox } from '../../delivery/mailbox.js';
import { bad, ImapError, no, ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import type { ArgCursor } from '../wire/parser.js';
import type { SeqNumber } from '../wire/sequence.js';
import { type AppendMessage, appendData, parseAppendMessage } from './append.js';
import { command, SELECTED } from './types.js';
import { getMailboxOrFail, requireSelected } from './util.js';

interface ReplaceArgs {
  id: SeqNumber;
  mailbox: string;
  message: AppendMessage;
}

/** RFC 8508 §5: replace = "REPLACE" SP seq-number SP mailbox append-message. */
function parseReplace(c: ArgCursor): ReplaceArgs {
  c.space();
  const id: SeqNumber = c.maybe('*') ? '*' : c.nzNumber();
  c.space();
  const mailbox = c.mailbox();
  // append-message (RFC 4466): flags, date, literal / UTF8 / CATENATE (RFC 4469 works here too);
  // one message only, MULTIAPPEND does not apply.
  const message = parseAppendMessage(c);
  c.end();
  return { id, mailbox, message };
}

/**
 * The UID of the message to replace, or the refusal: the selected mailbox must be writable
 * (the old message is expunged, RFC 8508 §3.4), a sequence number must be one the client
 * knows (RFC 9051 §6.4: past the last message is a client error), a UID one that exists.
 * `early` (before the literal comes, no updates announced yet): a UID above the last one the
 * client was told of may be a message not announced yet, so it is not refused then.
 */
function replacedUid(s: ImapSession, id: SeqNumber, byUid: boolean, early: boolean): number {
  const sel = requireSelected(s);
  const view = sel.view;
  if (sel.readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
  if (byUid) {
    const all = view.allUids();
    const max = all[all.length - 1] ?? 0;
    const uid = id === '*' ? max : id;
    if (early && uid > max) return uid;
    if (!view.isLive(uid)) throw no('NONEXISTENT', 'No message with that UID to replace');
    return uid;
  }
  const seq = id === '*' ? view.exists : id;
  if (seq < 1 || seq > view.exists) throw bad('Invalid message sequence number');
  const uid = view.uidAt(seq)!;
  if (!view.isLive(uid)) throw no('EXPUNGEISSUED', 'The message to replace was expunged');
  return uid;
}

function replaceCommand(name: 'REPLACE' | 'UID REPLACE') {
  return command({
    name,
    // RFC 8508 §3.5: only in the selected state.
    states: SELECTED,
    parse: parseReplace,
    // Refused before the client sends its message when the old one cannot be replaced.
    beforeLiteral(s, c, cmd, literals) {
      c.space();
      const id: SeqNumber = c.maybe('*') ? '*' : c.nzNumber();
      try {
        replacedUid(s, id, cmd.uid, true);
      } catch (err) {
        if (err instanceof ImapError)
          return { status: err.status, code: err.code, text: err.message };
        throw err;
      }
      if (literals > 0) return null;
      c.space();
      const mailbox = c.mailbox();
      return getMailboxOrFail(s, mailbox, 'TRYCREATE').then(() => null);
    },
    async run(s, a, cmd) {
      const sel = requireSelected(s);
      const view = sel.view;
      const uid = replacedUid(s, a.id, cmd.uid, false);
      // RFC 8508 §3.4: as APPEND, a missing target gets NO [TRYCREATE].
      const dest = await getMailboxOrFail(s, a.mailbox, 'TRYCREATE');
      const { data, held } = await appendData(s, [a.message]);
      try {
        const outcome = await deliverToMailbox(
          { store: s.ctx.store },
          dest.id,
          [
            {
              raw: data[0]!,
              flags: a.message.flags,
              internalDate: a.message.date,
              internalZone: a.message.zone,
            },
          ],
          { replace: { mailboxId: sel.mailbox.id, uid } },
        );
        if (outcome.status === 'refused') {
          if (outcome.refusal.reason === 'over-quota')
            throw no('OVERQUOTA', 'Mailbox quota exceeded');
          throw no('CANNOT', outcome.text);
        }
        // The old message gone meanwhile is NOT_FOUND -> NO [NONEXISTENT]: nothing was stored.
        if (outcome.status === 'temporary') throw outcome.error;
        const r = outcome.stored[0]!;
        // RFC 8508 §3.4 (as RFC 6851 §4.3 for MOVE): APPENDUID goes in an untagged OK, as the
        // EXPUNGE (or VANISHED) responses come before the tagged OK.
        s.untaggedStatus('OK', `APPENDUID ${r.uidValidity} ${r.uid}`, 'Replacement Message ready');
        // Then, as in RFC 8508 §3.2's example, EXISTS for the new message (when it is in the
        // selected mailbox) before the EXPUNGE of the old one.
        if (dest.id === sel.mailbox.id) {
          view.noteAppended([r.uid]);
          await s.sendUpdates({ allowExpunge: false });
        }
        view.noteExpunged([uid]);
        await s.sendUpdates({ allowExpunge: true });
        return ok(`${name} completed`);
      } finally {
        s.ctx.memory.give(held);
      }
    },
  });
}

export const REPLACE = replaceCommand('REPLACE');
export const UID_REPLACE = replaceCommand('UID REPLACE');
