/**
 * SEARCH result responses: classic `SEARCH` (RFC 9051 §7.3.5 / RFC 3501 §7.2.5) and ESEARCH
 * (RFC 4731, RFC 9051 §7.3.4), with RFC 7162 §3.1.5 MODSEQ and RFC 5182 SAVE helpers.
 * Texts are the response without the leading `* ` and trailing CRLF.
 *
 *   searchResponse(numbers, modseq?)   `SEARCH 2 5 9` [` (MODSEQ 917)`]
 *   esearchResponse({ tag, uid, options, numbers, modseq }) -> string | null
 *       `ESEARCH (TAG "A1") UID MIN 2 MAX 9 COUNT 3 ALL 2,5,9`; null when SAVE is the only
 *       option (RFC 5182 §2.4: then no ESEARCH response is sent)
 *   savedResult(options, uids)         the UIDs SAVE keeps (RFC 5182 §2.4)
 *   highestModseq(uids, modseqOf)      for the MODSEQ data when the search used MODSEQ
 *
 * `numbers` are what the client asked for: sequence numbers for SEARCH, UIDs for UID SEARCH,
 * ascending. `options` is the parsed RETURN list; `RETURN ()` (empty) means ALL.
 */
import type { SearchKey, SearchReturnOption } from '../wire/search-keys.js';
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
}

export function esearchResponse(input: EsearchInput): string | null {
  const opts = new Set<SearchReturnOption>(input.options.length === 0 ? ['ALL'] : input.options);
  if (opts.size === 1 && opts.has('SAVE')) return null;
  const { numbers } = input;
  let text = `ESEARCH (TAG ${quoted(input.tag).toString('latin1')})`;
  if (input.uid) text += ' UID';
  // RFC 4731 §3.1: with no match, MIN, MAX and ALL are left out; COUNT is 0.
  if (numbers.length > 0) {
    if (opts.has('MIN')) text += ` MIN ${numbers[0]}`;
    if (opts.has('MAX')) text += ` MAX ${numbers[numbers.length - 1]}`;
  }
  if (opts.has('COUNT')) text += ` COUNT ${numbers.length}`;
  if (numbers.length > 0 && opts.has('ALL')) text += ` ALL ${sequenceSetToString(numbers)}`;
  if (input.modseq != null && numbers.length > 0) text += ` MODSEQ ${input.modseq}`;
  return text;
}

/**
 * RFC 5182 §2.4: SAVE with MIN and/or MAX (and neither ALL nor COUNT) saves only those
 * messages; otherwise the whole result. `uids` ascending.
 */
export function savedResult(
  options: readonly SearchReturnOption[],
  uids: readonly number[],
): number[] {
  const opts = new Set(options);
  if (uids.length === 0) return [];
  if (!opts.has('ALL') && !opts.has('COUNT') && (opts.has('MIN') || opts.has('MAX'))) {
    const out: number[] = [];
    if (opts.has('MIN')) out.push(uids[0]);
    if (opts.has('MAX') && (out.length === 0 || uids[uids.length - 1] !== out[0]))
      out.push(uids[uids.length - 1]);
    return out;
  }
  return [...uids];
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
