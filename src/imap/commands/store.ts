// STORE and UID STORE (RFC 9051 §6.4.6) with .SILENT and UNCHANGEDSINCE (RFC 7162 §3.1.3).
import type { FlagMode } from '../../store/types.js';
import { bad, no, ok } from '../responses.js';
import { parseStoreArgs } from '../wire/args.js';
import { sequenceSetToString } from '../wire/serializer.js';
import { command, SELECTED } from './types.js';
import { formatFlags, requireSelected, resolveSet } from './util.js';

const MODES: Record<'set' | 'add' | 'remove', FlagMode> = {
  set: 'replace',
  add: 'add',
  remove: 'remove',
};

function storeCommand(name: 'STORE' | 'UID STORE') {
  return command({
    name,
    states: SELECTED,
    noExpunge: true,
    parse: parseStoreArgs,
    async run(s, a, cmd) {
      const sel = requireSelected(s);
      // RFC 3501 §2.3.2: \Recent "can not be altered by the client".
      if (a.flags.some((f) => f.toLowerCase() === '\\recent')) {
        throw bad('\\Recent cannot be stored');
      }
      if (sel.readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
      // RFC 7162 §3.1.3: UNCHANGEDSINCE turns CONDSTORE on for the session.
      if (a.unchangedSince !== null) s.enableCondstore();
      const view = sel.view;
      const uids = resolveSet(s, a.set, cmd.uid).filter((u) => view.isLive(u));
      if (uids.length === 0) return ok(`${name} completed`);
      const result = await s.ctx.store.setFlags(
        sel.mailbox.id,
        uids,
        MODES[a.op],
        a.flags,
        a.unchangedSince === null ? undefined : { unchangedSince: a.unchangedSince },
      );
      // Our own change: reported here, not again as an update from the store's event.
      view.ackFlags(result.updated);
      // RFC 3501 §7.2.6: keywords new to the mailbox go out in FLAGS before the FETCHes.
      if (result.updated.length > 0) s.announceKeywords(a.op === 'remove' ? undefined : a.flags);
      const condstore = s.enabled.condstore;
      for (const u of result.updated) {
        const seq = view.seqOf(u.uid);
        if (seq === 0) continue;
        view.highestModseq = Math.max(view.highestModseq, u.modseq);
        const parts: string[] = [];
        // RFC 9051 §6.4.9: UID STORE answers with UID; RFC 7162 §3.1: once CONDSTORE is
        // enabled every untagged FETCH a STORE causes carries UID and MODSEQ.
        if (cmd.uid || condstore) parts.push(`UID ${u.uid}`);
        if (!a.silent) parts.push(`FLAGS ${formatFlags(view.withRecent(u.uid, u.flags))}`);
        // RFC 7162 §3.1.3: with CONDSTORE the new MODSEQ is reported even for .SILENT.
        if (condstore) parts.push(`MODSEQ (${u.modseq})`);
        if (!a.silent || condstore) s.untagged(`${seq} FETCH (${parts.join(' ')})`);
      }
      if (result.modified.length > 0) {
        // RFC 7162 §3.1.3: [MODIFIED set] names what failed the UNCHANGEDSINCE test, as UIDs
        // for UID STORE and as sequence numbers for STORE.
        const set = cmd.uid ? result.modified : result.modified.map((u) => view.seqOf(u));
        return ok(
          'Conditional STORE failed for some messages',
          `MODIFIED ${sequenceSetToString(set)}`,
        );
      }
      return ok(`${name} completed`);
    },
  });
}

export const STORE = storeCommand('STORE');
export const UID_STORE = storeCommand('UID STORE');
