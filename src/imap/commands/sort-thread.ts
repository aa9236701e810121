// SORT and THREAD with their UID forms (RFC 5256 §3); criteria, ordering and the threading
// algorithms are in search/sort.ts and search/thread.ts. SORT takes RETURN options (ESORT and
// CONTEXT=SORT, RFC 5267 §3, §4): the answer is then an ESEARCH in sort order.

import { ok } from '../responses.js';
import { esearchResponse, highestModseq, savedResult, usesModseq } from '../search/esearch.js';
import { searchMessages } from '../search/evaluate.js';
import { parseSortArgs, sortMessages, sortResponse } from '../search/sort.js';
import { parseThreadArgs, threadMessages, threadResponse } from '../search/thread.js';
import type { ArgCursor } from '../wire/parser.js';
import { parseReturnOptions, type ReturnSpec } from '../wire/search-return.js';
import { searchContext } from './search-context.js';
import { finishUpdate, startUpdate } from './search-update.js';
import { command, SELECTED } from './types.js';
import { requireSelected } from './util.js';

/** RFC 5267 §5: `["UID" SP] "SORT" search-return-opts SP sort-criteria SP search-criteria`. */
function parseExtendedSortArgs(c: ArgCursor) {
  const start = c.save();
  c.space();
  const ret: ReturnSpec | null = parseReturnOptions(c);
  if (!ret) c.restore(start);
  return { ret, ...parseSortArgs(c) };
}

function sortCommand(name: 'SORT' | 'UID SORT') {
  return command({
    name,
    states: SELECTED,
    noExpunge: true,
    parse: parseExtendedSortArgs,
    async run(s, a, cmd) {
      const view = requireSelected(s).view;
      const options = a.ret?.options ?? null;
      const update = startUpdate(s, cmd, options, a.key, a.criteria, a.ret?.updateFetch);
      try {
        // RFC 7162 §3.1.5: MODSEQ in the key enables CONDSTORE (OK [HIGHESTMODSEQ] first).
        const withModseq = usesModseq(a.key);
        if (withModseq) s.enableCondstore();
        const ctx = await searchContext(s);
        const sorted = await sortMessages(a.criteria, ctx, await searchMessages(a.key, ctx));
        const numbers = cmd.uid ? sorted : sorted.map((u) => view.seqOf(u));
        const modseqs = withModseq ? new Map(ctx.messages.map((m) => [m.uid, m.modseq])) : null;
        const modseq = modseqs ? highestModseq(sorted, (u) => modseqs.get(u) ?? 0) : null;
        if (options === null) {
          // RFC 7162 §7 sort-data: `SORT 2 3 (MODSEQ n)`, when something matched.
          const tail = modseq !== null && numbers.length > 0 ? ` (MODSEQ ${modseq})` : '';
          s.untagged(sortResponse(numbers) + tail);
        } else {
          if (options.includes('SAVE'))
            s.savedSearch = savedResult(options, sorted, a.ret!.partial);
          const text = esearchResponse({
            tag: cmd.tag,
            uid: cmd.uid,
            options,
            numbers,
            modseq,
            partial: a.ret!.partial,
            sorted: true,
          });
          if (text) s.untagged(text);
        }
        finishUpdate(s, update, sorted, ctx.maxUid);
      } finally {
        update?.contexts.releaseIfEmpty(s);
      }
      return ok(`${name} completed`);
    },
  });
}

function threadCommand(name: 'THREAD' | 'UID THREAD') {
  return command({
    name,
    states: SELECTED,
    noExpunge: true,
    parse: parseThreadArgs,
    async run(s, a, cmd) {
      const view = requireSelected(s).view;
      const ctx = await searchContext(s);
      const threads = await threadMessages(a.algorithm, ctx, await searchMessages(a.key, ctx));
      s.untagged(threadResponse(threads, cmd.uid ? undefined : (u) => view.seqOf(u)));
      return ok(`${name} completed`);
    },
  });
}

export const SORT = sortCommand('SORT');
export const UID_SORT = sortCommand('UID SORT');
export const THREAD = threadCommand('THREAD');
export const UID_THREAD = threadCommand('UID THREAD');
