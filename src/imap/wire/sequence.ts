/**
 * IMAP sequence sets (RFC 9051 §9 `sequence-set`), as parsed from commands and as resolved
 * against a mailbox.
 *
 *   SequenceSet = { kind: 'saved' }                 // `$`: the saved result (RFC 5182 SEARCHRES)
 *               | { kind: 'ranges', ranges }        // `1,3:5,7:*`
 *   SeqRange    = [start, end], start/end a number or '*' (the largest number in use)
 *
 * Parsed ranges are normalized: `5:2` becomes [2, 5], `*:4` becomes [4, '*'] (RFC 9051 §9: "the
 * range 2:4 and 4:2 are equivalent"). Since the value of `*` is only known against a mailbox,
 * resolveSequenceSet(set, max) substitutes it, sorts and merges into disjoint intervals.
 */

export type SeqNumber = number | '*';
export type SeqRange = readonly [SeqNumber, SeqNumber];
export type SequenceSet = { kind: 'saved' } | { kind: 'ranges'; ranges: SeqRange[] };

/** An inclusive interval [from, to] of resolved numbers. */
export type Interval = readonly [number, number];

/** Puts a range in canonical order: numbers ascending, `*` last. */
export function normalizeRange(a: SeqNumber, b: SeqNumber): SeqRange {
  if (a === '*') return [b, '*'];
  if (b === '*') return [a, '*'];
  return a <= b ? [a, b] : [b, a];
}

/**
 * The numbers of `set` within 1..max as sorted, disjoint, non-adjacent intervals. `*` stands
 * for `max`; RFC 9051 §9: a number larger than `max` in a range like `3:999` is clipped. With
 * max = 0 the result is empty. The saved set (`$`) cannot be resolved here: the session holds it.
 */
export function resolveSequenceSet(
  set: { kind: 'ranges'; ranges: readonly SeqRange[] },
  max: number,
): Interval[] {
  const raw: [number, number][] = [];
  for (const [a, b] of set.ranges) {
    let lo = a === '*' ? max : a;
    let hi = b === '*' ? max : b;
    if (lo > hi) [lo, hi] = [hi, lo];
    hi = Math.min(hi, max);
    if (lo <= hi && lo >= 1) raw.push([lo, hi]);
  }
  return mergeIntervals(raw);
}

/** Sorts and merges intervals, joining those that overlap or touch. */
export function mergeIntervals(intervals: [number, number][]): Interval[] {
  const sorted = [...intervals].sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/** Whether n lies in sorted disjoint intervals (binary search). */
export function intervalsContain(intervals: readonly Interval[], n: number): boolean {
  let lo = 0;
  let hi = intervals.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = intervals[mid];
    if (n < a) hi = mid - 1;
    else if (n > b) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Compresses sorted or unsorted numbers into intervals (for COPYUID, ESEARCH ALL, VANISHED). */
export function numbersToIntervals(numbers: Iterable<number>): Interval[] {
  const pairs: [number, number][] = [];
  for (const n of numbers) pairs.push([n, n]);
  return mergeIntervals(pairs);
}
