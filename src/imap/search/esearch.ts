/**
 * SEARCH result responses: classic `SEARCH` (RFC 9051 §7.3.5 / RFC 3501 §7.2.5) and ESEARCH
 * (RFC 4731, RFC 9051 §7.3.4), for SEARCH and for SORT (ESORT, RFC 5267 §3), with PARTIAL
 * (RFC 5267 §4.4, RFC 9394 §3.1), RFC 7162 §3.1.5 MODSEQ and RFC 5182 SAVE helpers. Texts are
 * the response without the leading `* ` and trailing CRLF.
 *
 *   searchResponse(numbers, modseq?)   `SEARCH 2 5 9` [` (MODSEQ 917)`]
 *   esearchResponse({ tag, uid, options, numbers, modseq, partial }) -> string | null
 *       `ESEARCH (TAG "A1") UID MIN 2 MAX 9 ALL 2,5,9 COUNT 3`; null when SAVE is the only
 *       option (RFC 5182 §2.4: then no ESEARCH response is sent)
 *   orderedSetToString(numbers)        a sequence-set that keeps the given order (ESORT)
 *   savedResult(options, uids, partial?) the UIDs SAVE keeps (RFC 5182 §2.4, RFC 9394 §3.2)
 *   highestModseq(uids, modseqOf)      for the MODSEQ data when the search used MODSEQ
 *
 * `numbers` are what the client asked for: sequence numbers for SEARCH / SORT, UIDs for the UID
 * forms, in the requested order (ascending for SEARCH, the sort order for SORT). `options` is
 * the parsed RETURN list; `RETURN ()` (empty) means ALL.
 */
import type { SearchKey } from '../wire/search-keys.js';
import { type PartialRange, partialSlice, type SearchReturnOption } from '../wire/search-return.js';
import { quoted, sequenceSetToString } from '../wire/serializer.js';

export function searchResponse(numbers: readonly number[], modseq: number | null = null): string {
  let text = 'SEARCH';
  for (const n of numbers) text += ` ${n}`;
  // RFC 7162 §3.1.5: MODSEQ only when something matched.
  if (modseq !== null && numbers.length > 0) text += ` (MODSEQ ${modseq})`;
  return text;
}

export interface EsearchInput {
  /** The command's tag (RFC 4731 §3.1 search-correlator). */
  tag: string;
  uid: boolean;
  options: readonly SearchReturnOption[];
  numbers: readonly number[];
  modseq?: number | null;
  /** RFC 9394 §3.1: the PARTIAL range asked for (options then hold 'PARTIAL'). */
  partial?: PartialRange | null;
  /** ESORT (RFC 5267 §3.1): numbers are in sort order, which ALL and PARTIAL keep. */
  sorted?: boolean;
}

/** The tagged part of every ESEARCH response: `ESEARCH (TAG "A1")` [` UID`]. */
export function esearchPrefix(tag: string, uid: boolean): string {
  return `ESEARCH (TAG ${quoted(tag).toString('latin1')})${uid ? ' UID' : ''}`;
}

/**
 * A sequence-set listing numbers in the given order. RFC 5267 §3.2: a range in an ESORT result
 * still expands in increasing order, so only ascending runs become `a:b` (10,11,12 -> 10:12;
 * 12,11,10 stays 12,11,10).
 */
export function orderedSetToString(numbers: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(j > i ? `${numbers[i]}:${numbers[j]}` : `${numbers[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function esearchResponse(input: EsearchInput): string | null {
  // RFC 5267 §4.2: CONTEXT is only a hint, so `RETURN (CONTEXT)` is `RETURN ()`, i.e. ALL.
  const given = input.options.filter((o) => o !== 'CONTEXT');
  const opts = new Set<SearchReturnOption>(given.length === 0 ? ['ALL'] : given);
  if (opts.size === 1 && opts.has('SAVE')) return null;
  const { numbers } = input;
  const setText = input.sorted ? orderedSetToString : sequenceSetToString;
  let text = esearchPrefix(input.tag, input.uid);
  // RFC 4731 §3.1: with no match, MIN, MAX and ALL are left out; COUNT is 0. RFC 5267 §3.1:
  // for SORT, MIN and MAX are the first and last in sort order. RFC 9394 §3.2: they (and
  // COUNT) describe the whole result, also with PARTIAL.
  if (numbers.length > 0) {
    if (opts.has('MIN')) text += ` MIN ${numbers[0]}`;
    if (opts.has('MAX')) text += ` MAX ${numbers[numbers.length - 1]}`;
  }
  if (numbers.length > 0 && opts.has('ALL')) text += ` ALL ${setText(numbers)}`;
  if (input.partial) {
    // RFC 9394 §3.1: the range asked for, then the results in it, or NIL when there are none.
    const page = partialSlice(numbers, input.partial);
    text += ` PARTIAL (${input.partial.text} ${page.length > 0 ? setText(page) : 'NIL'})`;
  }
  // The order of the items is free (RFC 4731 §3.1); this is Dovecot's: MIN MAX ALL PARTIAL
  // COUNT MODSEQ, so that a client or a script written against it reads the same line.
  if (opts.has('COUNT')) text += ` COUNT ${numbers.length}`;
  if (input.modseq != null && numbers.length > 0) text += ` MODSEQ ${input.modseq}`;
  return text;
}

/**
 * RFC 5182 §2.4: SAVE with MIN and/or MAX (and neither ALL nor COUNT) saves only those
 * messages; otherwise the whole result. RFC 9394 §3.2 (Table 1): with PARTIAL and without
 * COUNT, the messages PARTIAL returned, plus the MIN / MAX message when asked. `uids` in the
 * requested order (ascending for SEARCH); the saved set is ascending.
 */
export function savedResult(
  options: readonly SearchReturnOption[],
  uids: readonly number[],
  partial: PartialRange | null = null,
): number[] {
  const opts = new Set(options);
  if (uids.length === 0) return [];
  if (!opts.has('ALL') && !opts.has('COUNT') && (partial || opts.has('MIN') || opts.has('MAX'))) {
    const out = new Set<number>(partial ? partialSlice(uids, partial) : []);
    if (opts.has('MIN')) out.add(uids[0]!);
    if (opts.has('MAX')) out.add(uids[uids.length - 1]!);
    return [...out].sort((a, b) => a - b);
  }
  return [...uids].sort((a, b) => a - b);
}

/** Whether the key tree uses MODSEQ (RFC 7162 §3.1.5: then the response carries MODSEQ). */
export function usesModseq(key: SearchKey): boolean {
  switch (key.key) {
    case 'modseq':
      return true;
    case 'not':
      return usesModseq(key.inner);
    case 'or':
      return usesModseq(key.left) || usesModseq(key.right);
    case 'and':
      return key.keys.some(usesModseq);
    default:
      return false;
  }
}

/** The highest mod-sequence among the matched messages (RFC 7162 §3.1.5). */
export function highestModseq(uids: readonly number[], modseqOf: (uid: number) => number): number {
  let max = 0;
  for (const u of uids) max = Math.max(max, modseqOf(u));
  return max;
}
