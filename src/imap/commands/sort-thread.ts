// SORT and THREAD with their UID forms (RFC 5256 §3); criteria, ordering and the threading
// algorithms are in search/sort.ts and search/thread.ts.

import { ok } from '../responses.js';
import { searchMessages } from '../search/evaluate.js';
import { parseSortArgs, sortMessages, sortResponse } from '../search/sort.js';
import { parseThreadArgs, threadMessages, threadResponse } from '../search/thread.js';
import { searchContext } from './search-context.js';
import { command, SELECTED } from './types.js';
import { requireSelected } from './util.js';

function sortCommand(name: 'SORT' | 'UID SORT') {
  return command({
    name,
    states: SELECTED,
    noExpunge: true,
    parse: parseSortArgs,
    async run(s, a, cmd) {
      const view = requireSelected(s).view;
      const ctx = await searchContext(s);
      const sorted = await sortMessages(a.criteria, ctx, await searchMessages(a.key, ctx));
      s.untagged(sortResponse(cmd.uid ? sorted : sorted.map((u) => view.seqOf(u))));
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
