// SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH return options (RFC 4731), SEARCHRES
// (RFC 5182), MODSEQ (RFC 7162 §3.1.5), PARTIAL (RFC 9394) and UPDATE (RFC 5267 §4.3, the
// live result: ../contexts.ts). Evaluation is search/evaluate.ts.

import { lowerBound } from '../../sorted.js';
import { ok } from '../responses.js';
import { columnKey, columnSearch } from '../search/columns.js';
import {
  esearchResponse,
  highestModseq,
  savedResult,
  searchResponse,
  usesModseq,
} from '../search/esearch.js';
import { requiredBody, searchMessages, textHits } from '../search/evaluate.js';
import { parseSearchArgs } from '../wire/search-keys.js';
import { searchContext, searchContextAmong } from './search-context.js';
import { finishUpdate, startUpdate } from './search-update.js';
import { command, SELECTED } from './types.js';
import { requireSelected } from './util.js';

function searchCommand(name: 'SEARCH' | 'UID SEARCH') {
  return command({
    name,
    states: SELECTED,
    noExpunge: true,
    parse: parseSearchArgs,
    async run(s, a, cmd) {
      const view = requireSelected(s).view;
      const options = a.returnOptions;
      const update = startUpdate(s, cmd, options, a.key, null, a.updateFetch);
      try {
        const wantsSave = options?.includes('SAVE') ?? false;
        const withModseq = usesModseq(a.key);
        // RFC 7162 §3.1: SEARCH MODSEQ enables CONDSTORE; OK [HIGHESTMODSEQ] comes first.
        if (withModseq) s.enableCondstore();
        // A BODY every match needs: the full-text hits are the only candidates. Keys of
        // flags, sets and modseqs alone: the mailbox's columns, no entry per message.
        const store = s.ctx.store;
        const needle = requiredBody(a.key);
        const byColumns = needle === null && store.flagColumns !== undefined && columnKey(a.key);
        let uids: number[];
        let seqs: number[] | null = null;
        let modseqOf: (uid: number) => number;
        let maxUid: number;
        if (byColumns) {
          const cols = await store.flagColumns!(view.mailboxId);
          // RFC 5182 §2.1: the search sees the `$` from before; a SAVE that fails leaves it
          // empty.
          const saved = s.savedSearch;
          if (wantsSave) s.savedSearch = [];
          const r = columnSearch(a.key, cols, view, saved);
          uids = r.uids;
          seqs = r.seqs;
          modseqOf = (u) => r.modseqs[lowerBound(r.uids, u)] ?? 0;
          maxUid = view.uidAt(view.exists) ?? 0;
        } else {
          const ctx =
            needle === null
              ? await searchContext(s)
              : await searchContextAmong(s, needle, await textHits(store, view.mailboxId, needle));
          // RFC 5182 §2.1: a SEARCH that saves and fails leaves `$` empty (the search itself
          // still sees the previous `$`: ctx holds it).
          if (wantsSave) s.savedSearch = [];
          uids = await searchMessages(a.key, ctx);
          const messages = ctx.messages;
          let modseqs: Map<number, number> | null = null;
          modseqOf = (u) => {
            // Made only for a search with MODSEQ (a million entries in a large mailbox).
            modseqs ??= new Map(messages.map((m) => [m.uid, m.modseq]));
            return modseqs.get(u) ?? 0;
          };
          maxUid = ctx.maxUid;
        }
        // Only a search with MODSEQ reports one.
        const modseq = withModseq ? highestModseq(uids, modseqOf) : null;
        const numbers = cmd.uid
          ? uids
          : (seqs ?? uids.map((u) => view.seqOf(u)).sort((x, y) => x - y));
        // RFC 9051 §6.4.4: an IMAP4rev2 client gets ESEARCH even without RETURN.
        if (options !== null || s.enabled.imap4rev2) {
          const opts = options ?? ['ALL'];
          if (wantsSave) s.savedSearch = savedResult(opts, uids, a.partial);
          const text = esearchResponse({
            tag: cmd.tag,
            uid: cmd.uid,
            options: opts,
            numbers,
            modseq,
            partial: a.partial,
          });
          if (text) s.untagged(text);
        } else {
          s.untagged(searchResponse(numbers, modseq));
        }
        finishUpdate(s, update, uids, maxUid);
      } finally {
        update?.contexts.releaseIfEmpty(s);
      }
      return ok(`${name} completed`);
    },
  });
}

export const SEARCH = searchCommand('SEARCH');
export const UID_SEARCH = searchCommand('UID SEARCH');
