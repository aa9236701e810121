// The PARTIAL modifier of UID FETCH (RFC 9394 §3.3): only the messages at the given positions
// of what the command would return (1:100 the first hundred, -1:-100 the last hundred), which
// helps when the UID set holds an unknown number of messages. With CHANGEDSINCE (§3.4) the
// positions count the messages that changed, the ones the command returns.
import { bad } from '../responses.js';
import type { ImapSession } from '../session.js';
import { type PartialRange, partialSlice } from '../wire/search-return.js';
import { requireSelected } from './util.js';

/** Above this many UIDs the mailbox's row list is read once instead of row by row. */
const ROWS_ONE_BY_ONE = 200;

/** BAD unless the command is UID FETCH: §3.3 extends UID FETCH only. */
export function checkFetchPartial(partial: PartialRange | null, uid: boolean): void {
  if (partial && !uid) throw bad('The PARTIAL modifier needs UID FETCH');
}

/** The UIDs (ascending) the page selects from `uids` (ascending, live). */
export async function fetchPage(
  s: ImapSession,
  partial: PartialRange,
  changedSince: number | null,
  uids: number[],
): Promise<number[]> {
  if (changedSince === null) return partialSlice(uids, partial);
  const sel = requireSelected(s);
  const store = s.ctx.store;
  const wanted = new Set(uids);
  const rows =
    uids.length > ROWS_ONE_BY_ONE
      ? await store.listMessages(sel.mailbox.id, { changedSince })
      : await store.getRecords(sel.mailbox.id, uids);
  const changed = rows
    .filter((r) => r.modseq > changedSince && wanted.has(r.uid))
    .map((r) => r.uid)
    .sort((x, y) => x - y);
  return partialSlice(changed, partial);
}
