// COPY (RFC 9051 §6.4.7) and MOVE (RFC 6851), with COPYUID (RFC 4315 §3).
import type { CopyResult } from '../../store/types.js';
import { no, ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import type { ArgCursor } from '../wire/parser.js';
import type { SequenceSet } from '../wire/sequence.js';
import { sequenceSetToString } from '../wire/serializer.js';
import { command, SELECTED } from './types.js';
import { getMailboxOrFail, requireSelected, resolveSet } from './util.js';

function parseCopy(c: ArgCursor): { set: SequenceSet; mailbox: string } {
  c.space();
  const set = c.sequenceSet();
  c.space();
  const mailbox = c.mailbox();
  c.end();
  return { set, mailbox };
}

function copyUid(r: CopyResult): string {
  const src = sequenceSetToString(r.mapping.map((m) => m[0]));
  const dst = sequenceSetToString(r.mapping.map((m) => m[1]));
  return `COPYUID ${r.uidValidity} ${src} ${dst}`;
}

async function target(s: ImapSession, mailbox: string) {
  // RFC 9051 §6.4.7: a missing destination gets NO [TRYCREATE].
  return getMailboxOrFail(s, mailbox, 'TRYCREATE');
}

function copyCommand(name: 'COPY' | 'UID COPY') {
  return command({
    name,
    states: SELECTED,
    parse: parseCopy,
    async run(s, a, cmd) {
      const sel = requireSelected(s);
      const uids = resolveSet(s, a.set, cmd.uid).filter((u) => sel.view.isLive(u));
      const dest = await target(s, a.mailbox);
      if (uids.length === 0) return ok('No messages copied');
      const r = await s.ctx.store.copyMessages(sel.mailbox.id, uids, dest.id);
      if (dest.id === sel.mailbox.id) sel.view.noteAppended(r.mapping.map((m) => m[1]));
      return ok(`${name} completed`, r.mapping.length > 0 ? copyUid(r) : undefined);
    },
  });
}

function moveCommand(name: 'MOVE' | 'UID MOVE') {
  return command({
    name,
    states: SELECTED,
    parse: parseCopy,
    async run(s, a, cmd) {
      const sel = requireSelected(s);
      if (sel.readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
      const uids = resolveSet(s, a.set, cmd.uid).filter((u) => sel.view.isLive(u));
      const dest = await target(s, a.mailbox);
      if (uids.length === 0) return ok('No messages moved');
      const r = await s.ctx.store.moveMessages(sel.mailbox.id, uids, dest.id);
      // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGE (or VANISHED)
      // responses, which MOVE sends even in its non-UID form.
      if (r.mapping.length > 0) s.untaggedStatus('OK', copyUid(r), 'Moved');
      sel.view.noteExpunged(r.mapping.map((m) => m[0]));
      // RFC 6851 §3.3: a MOVE is a COPY, then the removal of the originals; into the selected
      // mailbox itself that is new messages with new UIDs (EXISTS) after the EXPUNGEs.
      if (dest.id === sel.mailbox.id) sel.view.noteAppended(r.mapping.map((m) => m[1]));
      await s.sendUpdates({ allowExpunge: true });
      return ok(`${name} completed`);
    },
  });
}

export const COPY = copyCommand('COPY');
export const UID_COPY = copyCommand('UID COPY');
export const MOVE = moveCommand('MOVE');
export const UID_MOVE = moveCommand('UID MOVE');
