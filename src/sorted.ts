// Binary search in an ascending list of numbers (UIDs, offsets): the one copy the store's and
// IMAP's lists use.

/** How many of `sorted` (ascending) are below `x`: the index of the first that is >= x. */
export function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `sorted` (ascending) holds `x`. */
export function hasSorted(sorted: readonly number[], x: number): boolean {
  return sorted[lowerBound(sorted, x)] === x;
}
