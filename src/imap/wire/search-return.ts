/**
 * SEARCH / SORT return options (RFC 4466 §2.6 search-return-opts): ESEARCH's MIN, MAX, ALL,
 * COUNT (RFC 4731), SAVE (RFC 5182), CONTEXT, UPDATE and PARTIAL (RFC 5267 §4, RFC 9394 §3.1).
 * Readers throw ImapParseError (BAD); wrap in tryParse().
 *
 *   parseReturnOptions(c)   at `RETURN`: `RETURN (opts)` -> { options, partial }, else null
 *   parsePartialRange(c)    `1:500`, `-1:-100` (RFC 9394 §4 partial-range)
 */
import { type FetchAtt, parseFetchAtt } from './fetch-items.js';
import type { ArgCursor } from './parser.js';

export type SearchReturnOption =
  | 'MIN'
  | 'MAX'
  | 'ALL'
  | 'COUNT'
  | 'SAVE'
  | 'CONTEXT'
  | 'UPDATE'
  | 'PARTIAL';

/**
 * RFC 9394 §4: `partial-range-first = nz-number ":" nz-number` counts results from the first
 * (1 is the first); `partial-range-last = "-" nz-number ":" "-" nz-number` from the last (-1 is
 * the last). `from` <= `to` are the magnitudes ("500:400 is the same as 400:500"); `text` is the
 * range for the PARTIAL return data, in that canonical order (`2:3`, `-1:-100`), as Dovecot
 * writes it too.
 */
export interface PartialRange {
  readonly from: number;
  readonly to: number;
  readonly fromEnd: boolean;
  readonly text: string;
}

export interface ReturnSpec {
  /** Without duplicates; `RETURN ()` gives []. */
  readonly options: SearchReturnOption[];
  readonly partial: PartialRange | null;
  /** RFC 5465 §7 (NOTIFY): `UPDATE (fetch-att ...)`, sent for messages new to the result. */
  readonly updateFetch?: FetchAtt[];
}

const OPTIONS = new Set<string>(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE', 'CONTEXT', 'UPDATE']);

/**
 * Reads `RETURN (...)` when the cursor is at the word RETURN (the caller has read the space
 * before it); returns null, consuming nothing, otherwise.
 */
export function parseReturnOptions(c: ArgCursor): ReturnSpec | null {
  if (c.peekWord() !== 'RETURN') return null;
  c.word();
  c.space();
  const options: SearchReturnOption[] = [];
  const out: { partial: PartialRange | null; updateFetch: FetchAtt[] } = {
    partial: null,
    updateFetch: [],
  };
  c.list((l) => {
    const opt = l.word();
    if (opt === 'PARTIAL') {
      // RFC 5267 §4.4 / RFC 9394 §3.1: at most one PARTIAL.
      if (out.partial) l.fail('PARTIAL may be given only once');
      l.space();
      out.partial = parsePartialRange(l);
    } else if (opt === 'UPDATE') {
      // RFC 5465 §7: modifier-update = "UPDATE" ["(" fetch-att *(SP fetch-att) ")"].
      const mark = l.save();
      if (l.maybe(' ') && l.peek() === 0x28) out.updateFetch = l.list(parseFetchAtt, 1);
      else l.restore(mark);
    } else if (!OPTIONS.has(opt)) {
      l.fail(opt ? `Unknown return option ${opt}` : 'Expected a return option');
    }
    // One context per command (RFC 5267 §4.3); Dovecot refuses the repetition too.
    if (opt === 'UPDATE' && options.includes('UPDATE')) l.fail('UPDATE may be given only once');
    if (!options.includes(opt as SearchReturnOption)) options.push(opt as SearchReturnOption);
  });
  // RFC 5267 §4.4, RFC 9394 §3.1: "either one PARTIAL, one ALL, or neither".
  if (out.partial && options.includes('ALL')) c.fail('PARTIAL and ALL cannot be used together');
  const spec = { options, partial: out.partial };
  return out.updateFetch.length > 0 ? { ...spec, updateFetch: out.updateFetch } : spec;
}

/** RFC 9394 §4 partial-range: both ends positive or both negative, never `*` or 0. */
export function parsePartialRange(c: ArgCursor): PartialRange {
  const fromEnd = c.maybe('-');
  const a = c.nzNumber();
  c.expect(':', '":" in the PARTIAL range');
  if (c.maybe('-') !== fromEnd) c.fail('Both ends of a PARTIAL range must have the same sign');
  const b = c.nzNumber();
  const sign = fromEnd ? '-' : '';
  return {
    from: Math.min(a, b),
    to: Math.max(a, b),
    fromEnd,
    text: `${sign}${Math.min(a, b)}:${sign}${Math.max(a, b)}`,
  };
}

/**
 * The results a PARTIAL range selects from `list` (in the requested order), keeping that
 * order. RFC 9394 §3.1: a range past the end gives what exists (possibly nothing).
 */
export function partialSlice<T>(list: readonly T[], range: PartialRange): T[] {
  if (!range.fromEnd) return list.slice(range.from - 1, range.to);
  const n = list.length;
  return list.slice(Math.max(0, n - range.to), Math.max(0, n - range.from + 1));
}
