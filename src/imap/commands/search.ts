// SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH return options (RFC 4731), SEARCHRES
// (RFC 5182), MODSEQ (RFC 7162 §3.1.5), PARTIAL (RFC 9394) and UPDATE (RFC 5267 §4.3, the
// live result: ../contexts.ts). Evaluation is search/evaluate.ts.

import { ok } from '../responses.js';
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
        // A BODY every match needs: the full-text hits are the only candidates.
        const needle = requiredBody(a.key);
        const ctx =
          needle === null
            ? await searchContext(s)
            : await searchContextAmong(
                s,
                needle,
                await textHits(s.ctx.store, view.mailboxId, needle),
              );
        // RFC 5182 §2.1: a SEARCH that saves and fails leaves `$` empty (the search itself
        // still sees the previous `$`: ctx holds it).
        if (wantsSave) s.savedSearch = [];
        const uids = await searchMessages(a.key, ctx);
        // Only a search with MODSEQ reports one: a map of every message's is no cost to pay
        // otherwise (a million entries in a large mailbox, issue 18 item 6).
        let modseq: number | null = null;
        if (withModseq) {
          const modseqs = new Map(ctx.messages.map((m) => [m.uid, m.modseq]));
          modseq = highestModseq(uids, (u) => modseqs.get(u) ?? 0);
        }
        const numbers = cmd.uid ? uids : uids.map((u) => view.seqOf(u)).sort((x, y) => x - y);
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
        finishUpdate(s, update, uids, ctx.maxUid);
      } finally {
        update?.contexts.releaseIfEmpty(s);
      }
      return ok(`${name} completed`);
    },
  });
}

export const SEARCH = searchCommand('SEARCH');
export const UID_SEARCH = searchCommand('UID SEARCH');
