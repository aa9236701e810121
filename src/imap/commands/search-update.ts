// RETURN (UPDATE) for SEARCH and SORT (RFC 5267 §4.3): the checks before the search runs and
// the context kept after it. The live part is ../contexts.ts; CANCELUPDATE is here too.

import { freezeKey, MAX_UPDATE_CONTEXTS, UpdateContexts } from '../contexts.js';
import { bad, no, ok } from '../responses.js';
import type { SortCriterion } from '../search/sort.js';
import type { ImapSession } from '../session.js';
import type { FetchAtt } from '../wire/fetch-items.js';
import type { ArgCursor, ParsedCommand } from '../wire/parser.js';
import type { SearchKey, SearchReturnOption } from '../wire/search-keys.js';
import { quoted } from '../wire/serializer.js';
import { command, SELECTED } from './types.js';
import { requireSelected } from './util.js';

export interface PendingUpdate {
  contexts: UpdateContexts;
  tag: string;
  uid: boolean;
  key: SearchKey;
  sort: readonly SortCriterion[] | null;
  fetch: readonly FetchAtt[];
  /** When the search started (WITHIN keys are evaluated against a later clock). */
  startedAt: number;
}

/**
 * Before the search: null unless RETURN has UPDATE. RFC 5267 §4.3: a tag already used by an
 * updating search is refused with BAD (and the command has no effect). The contexts record
 * changes from here on, so none is lost while the search runs; the program is frozen now
 * (sequence numbers and `$` mean what they mean when the command is received).
 */
export function startUpdate(
  s: ImapSession,
  cmd: ParsedCommand,
  options: readonly SearchReturnOption[] | null,
  key: SearchKey,
  sort: readonly SortCriterion[] | null = null,
  fetch: readonly FetchAtt[] = [],
): PendingUpdate | null {
  if (!options?.includes('UPDATE')) return null;
  if (UpdateContexts.of(s, false)?.has(cmd.tag)) {
    throw bad(`Tag ${cmd.tag} is in use by an updating search`);
  }
  const contexts = UpdateContexts.of(s, true)!;
  const view = requireSelected(s).view;
  const frozen = freezeKey(key, view, s.savedSearch);
  return {
    contexts,
    tag: cmd.tag,
    uid: cmd.uid,
    key: frozen,
    sort,
    fetch,
    startedAt: Date.now(),
  };
}

/**
 * After the result was sent: keeps it as a context, or, past the limit, says so with an
 * untagged `NO [NOUPDATE "tag"]` (RFC 5267 §4.3.1; the other return options were honoured).
 * `result`: UIDs in the requested order; `seenUid`: the largest UID the search looked at.
 */
export function finishUpdate(
  s: ImapSession,
  p: PendingUpdate | null,
  result: number[],
  seenUid: number,
): void {
  if (!p) return;
  if (p.contexts.size >= MAX_UPDATE_CONTEXTS) {
    s.untaggedStatus(
      'NO',
      `NOUPDATE ${quoted(p.tag).toString('latin1')}`,
      `No more than ${MAX_UPDATE_CONTEXTS} updating searches at once`,
    );
    return;
  }
  p.contexts.add({
    tag: p.tag,
    uid: p.uid,
    key: p.key,
    sort: p.sort,
    result,
    seenUid,
    fetch: p.fetch,
    agedTo: p.startedAt,
  });
}

/** RFC 5267 §4.3.5: `CANCELUPDATE 1*(SP quoted)`. */
function parseCancelUpdate(c: ArgCursor): string[] {
  const tags: string[] = [];
  do {
    c.space();
    if (c.peek() !== 0x22) c.fail('Expected a quoted tag');
    tags.push(c.string().toString('latin1'));
  } while (!c.atEnd());
  return tags;
}

export const CANCELUPDATE = command({
  name: 'CANCELUPDATE',
  states: SELECTED,
  parse: parseCancelUpdate,
  async run(s, tags) {
    const contexts = UpdateContexts.of(s, false);
    const unknown = tags.filter((t) => !contexts?.has(t));
    // Checked first, so that the command either cancels all it names or nothing. A tag that
    // names no updating search is a refusal, not a syntax error (NO, as Dovecot answers).
    if (unknown.length > 0) throw no(undefined, `No updating search with tag ${unknown[0]}`);
    for (const t of tags) contexts!.cancel(t);
    contexts!.releaseIfEmpty(s);
    return ok('CANCELUPDATE completed; no further updates');
  },
});
