// A mailbox's UIDs in ascending order, as SELECT's summary gives them and a session's view
// numbers its messages by (RFC 9051 §2.3.1.2: sequence number i is the i-th UID in ascending
// order), without an array of every UID where the UIDs are a range: `lo..hi` without the
// `gone` UIDs, then the `tail` UIDs (all above hi). A mailbox of a million messages whose
// UIDs run without a hole, or whose holes are its expunged UIDs, is a few numbers; building
// the array of its million UIDs was nearly all of its first SELECT (issue 18 item 6). Any
// ascending list fits (an empty range and the list as tail), so a store that has the array
// passes it (UidList.of).
//
// Never changed: without() and with() make new lists (a view shares its list with the store's
// summary and with other sessions' views). The one mutable part is a hint for at() that makes
// a walk in sequence order cost O(1) a step, which no caller can observe.
import { lowerBound } from '../sorted.js';

/** Past this many gone UIDs per live one in the range, the list is kept as a plain array. */
const MAX_GONE_PER_LIVE = 1;

export class UidList {
  /** Live UIDs of the range (hi - lo + 1 - gone.length; 0 when the range is empty). */
  private readonly inRange: number;
  /** at()'s last answer in the range: index and how many gone UIDs lie below it. */
  private hintI = 0;
  private hintJ = 0;

  private constructor(
    private readonly lo: number,
    private readonly hi: number,
    /** Ascending, each within [lo, hi]. */
    private readonly gone: readonly number[],
    /** Ascending, each above hi. */
    private readonly tail: readonly number[],
  ) {
    this.inRange = hi >= lo ? hi - lo + 1 - gone.length : 0;
  }

  static readonly EMPTY = new UidList(1, 0, [], []);

  /** An ascending list of UIDs as it is (kept, not copied: never change it after). */
  static of(uids: readonly number[]): UidList {
    return uids.length === 0 ? UidList.EMPTY : new UidList(1, 0, [], uids);
  }

  /** lo..hi without `gone` (ascending, each within lo..hi). */
  static range(lo: number, hi: number, gone: readonly number[] = []): UidList {
    if (hi < lo || hi - lo + 1 === gone.length) return UidList.EMPTY;
    return new UidList(lo, hi, gone, []);
  }

  get length(): number {
    return this.inRange + this.tail.length;
  }

  /** Numbers held besides the range's ends (what the list costs in memory). */
  get stored(): number {
    return this.gone.length + this.tail.length;
  }

  /** The highest UID, undefined when empty. */
  get last(): number | undefined {
    return this.at(this.length - 1);
  }

  /** The i-th UID (from 0), undefined outside the list. */
  at(i: number): number | undefined {
    if (i >= this.inRange)
      return i < this.inRange + this.tail.length ? this.tail[i - this.inRange] : undefined;
    if (!(i >= 0)) return undefined;
    const gone = this.gone;
    if (gone.length === 0) return this.lo + i;
    // j = how many gone UIDs lie below the answer: the first j with gone[j] - lo - j > i
    // (gone[j] - lo - j live UIDs of the range lie below gone[j]).
    let j: number;
    if (i >= this.hintI && i - this.hintI < 64) {
      j = this.hintJ;
      while (j < gone.length && gone[j]! - this.lo - j <= i) j++;
    } else {
      let a = 0;
      let b = gone.length;
      while (a < b) {
        const mid = (a + b) >> 1;
        if (gone[mid]! - this.lo - mid <= i) a = mid + 1;
        else b = mid;
      }
      j = a;
    }
    this.hintI = i;
    this.hintJ = j;
    return this.lo + i + j;
  }

  /** How many UIDs of the list are below `uid`. */
  lowerBound(uid: number): number {
    let n = 0;
    if (this.inRange > 0 && uid > this.lo) {
      n = uid > this.hi ? this.inRange : uid - this.lo - lowerBound(this.gone, uid);
    }
    if (this.tail.length > 0 && uid > this.tail[0]!) n += lowerBound(this.tail, uid);
    return n;
  }

  /** The index of `uid`, -1 when the list lacks it. */
  indexOf(uid: number): number {
    const i = this.lowerBound(uid);
    return this.at(i) === uid ? i : -1;
  }

  toArray(): number[] {
    const out = new Array<number>(this.length);
    for (let i = 0; i < out.length; i++) out[i] = this.at(i)!;
    return out;
  }

  /** The list without the UIDs of `drop` (those it holds). */
  without(drop: ReadonlySet<number>): UidList {
    if (drop.size === 0) return this;
    const fromRange: number[] = [];
    for (const u of drop)
      if (u >= this.lo && u <= this.hi && this.indexOf(u) >= 0) fromRange.push(u);
    const tail = this.tail.some((u) => drop.has(u))
      ? this.tail.filter((u) => !drop.has(u))
      : this.tail;
    if (fromRange.length === 0 && tail === this.tail) return this;
    fromRange.sort((a, b) => a - b);
    const gone = merge(this.gone, fromRange);
    const live = this.hi - this.lo + 1 - gone.length;
    if (live === 0) return UidList.of(tail);
    if (gone.length > live * MAX_GONE_PER_LIVE) {
      // Mostly holes now: the plain array is smaller.
      const kept = new UidList(this.lo, this.hi, gone, tail);
      return UidList.of(kept.toArray());
    }
    return new UidList(this.lo, this.hi, gone, tail);
  }

  /** The list with `fresh` added (ascending, none of them in the list). */
  with(fresh: readonly number[]): UidList {
    if (fresh.length === 0) return this;
    const last = this.last;
    // Below the list's end, or inside the range (never, for UIDs a mailbox gives anew): merged.
    if ((last !== undefined && fresh[0]! <= last) || (this.inRange > 0 && fresh[0]! <= this.hi)) {
      return UidList.of(merge(this.toArray(), fresh));
    }
    if (this.length === 0) {
      // Start a range at the first one.
      let hi = fresh[0]!;
      let k = 1;
      while (k < fresh.length && fresh[k] === hi + 1) hi = fresh[k++]!;
      return new UidList(fresh[0]!, hi, [], fresh.slice(k));
    }
    if (this.tail.length === 0) {
      // New UIDs that continue the range extend it (deliveries to a selected mailbox).
      let hi = this.hi;
      let k = 0;
      while (k < fresh.length && fresh[k] === hi + 1) hi = fresh[k++]!;
      return new UidList(this.lo, hi, this.gone, k === 0 ? fresh.slice() : fresh.slice(k));
    }
    return new UidList(this.lo, this.hi, this.gone, this.tail.concat(fresh));
  }
}

/** Two ascending lists as one (no value in both). */
function merge(a: readonly number[], b: readonly number[]): number[] {
  if (b.length === 0) return a.slice();
  if (a.length === 0) return b.slice();
  const out = new Array<number>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i]! < b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}
