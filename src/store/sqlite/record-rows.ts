// A mailbox's rows as columns (typed arrays), not one object per message: what the record
// cache (record-cache.ts) keeps of each mailbox. 100,000 MessageRecord objects took some
// 30 MB of heap (about 300 bytes each: the object, its Date, its flags array, its hash
// string); as columns they take about 70 bytes a row, so a mailbox of 1,000,000 messages
// fits in the cache (issue 18 item 6) and SELECT, FETCH FLAGS and QRESYNC walk arrays of
// numbers. Flag lists are interned (FlagSets): each distinct list once, shared by its rows.
//
// Rows are never moved in place: an expunge builds new arrays, so a caller walking a Rows it
// took keeps a consistent picture (flag changes do land in place, each row's flags and modseq
// together).

import type { FlagColumns, MessageRecord } from '../types.js';
import type { ConcatColumns } from './message-reads.js';

/** One row as a SQLite query gives it raw: see SELECT_RECORD in message-reads.ts. */
export type RawRow = [
  uid: number,
  messageId: number,
  flags: string,
  modseq: number,
  size: number,
  internalDate: number,
  blobHash: string,
  internalZone: number | null,
];

/**
 * A row without its blob hash (LIGHT_RECORD in message-reads.ts): read from mailbox_messages
 * alone, without the join to each message's row in `messages` (some kilobytes each: a million
 * of them is more than a gigabyte of pages to read for the hashes of a first FETCH FLAGS).
 */
export type LightRow = [
  uid: number,
  messageId: number,
  flags: string,
  modseq: number,
  size: number,
  internalDate: number,
  internalZone: number | null,
];

const HASH_BYTES = 32;
const NO_HASHES = Buffer.alloc(0);
const ZERO_HASH = '0'.repeat(HASH_BYTES * 2);

/**
 * Distinct flag lists, by their stored text (space-separated, in stored order). The lists
 * are shared by every row (and record) that has the same ones, so never changed in place.
 * Not frozen: FETCH's loop over frozen arrays took three times the CPU (a 100,000-message
 * UID FETCH 1:* FLAGS, cpu profile of the server).
 */
export class FlagSets {
  private readonly byText = new Map<string, number>();
  readonly lists: (readonly string[])[] = [];
  /** 1 where the list has \Seen. */
  private seen = new Uint8Array(16);

  get size(): number {
    return this.lists.length;
  }

  /** The id of the list stored as `text`. */
  idOfText(text: string): number {
    let id = this.byText.get(text);
    if (id === undefined) id = this.add(text, text.length === 0 ? [] : text.split(' '));
    return id;
  }

  /** The id of a flag list as a record has it. */
  idOf(flags: readonly string[]): number {
    return this.idOfText(flags.join(' '));
  }

  hasSeen(id: number): boolean {
    return this.seen[id] === 1;
  }

  private add(text: string, flags: string[]): number {
    const id = this.lists.length;
    this.lists.push(flags);
    this.byText.set(text, id);
    if (id >= this.seen.length) {
      const grown = new Uint8Array(this.seen.length * 2);
      grown.set(this.seen);
      this.seen = grown;
    }
    this.seen[id] = flags.includes('\\Seen') ? 1 : 0;
    return id;
  }
}

export class Rows implements FlagColumns {
  n = 0;
  uid: Uint32Array;
  messageId: Float64Array;
  modseq: Float64Array;
  /** FlagSets id. */
  flags: Uint32Array;
  size: Float64Array;
  date: Float64Array;
  zone: Int16Array;
  /**
   * The blob hashes (SHA-256, lowercase hex as stored) as 32 bytes each; empty while no row
   * has one (rows over a kept copy, until their hashes are read: all zeros).
   */
  hash: Buffer;
  /** Hashes that are not 64 lowercase hex digits, by UID (none in a real store). */
  odd: Map<number, string> | null = null;
  /**
   * Set while rows loaded light (pushLight) lack their hashes: where to read every row's
   * (UID, hash), ascending by UID, the first time one is asked for (hashAt).
   */
  hashesFrom: (() => Iterable<[number, string]>) | null = null;

  constructor(
    readonly sets: FlagSets,
    capacity = 16,
  ) {
    this.uid = new Uint32Array(capacity);
    this.messageId = new Float64Array(capacity);
    this.modseq = new Float64Array(capacity);
    this.flags = new Uint32Array(capacity);
    this.size = new Float64Array(capacity);
    this.date = new Float64Array(capacity);
    this.zone = new Int16Array(capacity);
    this.hash = Buffer.alloc(capacity * HASH_BYTES);
  }

  /**
   * Rows over columns made elsewhere (n entries each, used as they are: column-snapshot.ts),
   * without their hashes (the caller sets hashesFrom).
   */
  static over(
    sets: FlagSets,
    n: number,
    c: Pick<Rows, 'uid' | 'messageId' | 'modseq' | 'flags' | 'size' | 'date' | 'zone'>,
  ): Rows {
    const rows = new Rows(sets, 0);
    rows.uid = c.uid;
    rows.messageId = c.messageId;
    rows.modseq = c.modseq;
    rows.flags = c.flags;
    rows.size = c.size;
    rows.date = c.date;
    rows.zone = c.zone;
    // Made when the first hash is written: 32 MB of zeros at a million rows, which a FETCH
    // FLAGS never reads.
    rows.hash = NO_HASHES;
    rows.n = n;
    return rows;
  }

  get capacity(): number {
    return this.uid.length;
  }

  /** The flag lists `flags` numbers (FlagColumns). */
  get lists(): readonly (readonly string[])[] {
    return this.sets.lists;
  }

  pushRaw(r: RawRow): void {
    const i = this.pushFields(r[0], r[1], r[2], r[3], r[4], r[5], r[7]);
    this.setHash(i, r[0], r[6]);
  }

  /** A row's columns but its hash, appended; returns its index. */
  private pushFields(
    uid: number,
    messageId: number,
    flagsText: string,
    modseq: number,
    size: number,
    date: number,
    zone: number | null,
  ): number {
    if (this.n === this.capacity) this.grow(this.n + 1);
    const i = this.n++;
    this.uid[i] = uid;
    this.messageId[i] = messageId;
    this.flags[i] = this.sets.idOfText(flagsText);
    this.modseq[i] = modseq;
    this.size[i] = size;
    this.date[i] = date;
    this.zone[i] = zone ?? 0;
    return i;
  }

  /**
   * Rows without their hashes from their columns as texts (concatColumns in
   * message-reads.ts). False, with nothing stored, when a text is not what it should be (a
   * value that is not an integer, a count that does not match, UIDs not ascending): the
   * caller then reads the rows one by one.
   */
  pushColumns(c: ConcatColumns): boolean {
    const n = c.n;
    const at = this.n;
    if (this.capacity < at + n) this.resize(at + n);
    const ok =
      parseInts(c.uid, this.uid, at, n) &&
      parseInts(c.messageId, this.messageId, at, n) &&
      parseInts(c.modseq, this.modseq, at, n) &&
      parseInts(c.size, this.size, at, n) &&
      parseInts(c.date, this.date, at, n) &&
      parseInts(c.zone, this.zone, at, n) &&
      parseFlagLists(this.sets, c.flags, this.flags, at, n);
    if (!ok) return false;
    for (let i = at + 1; i < at + n; i++) if (this.uid[i - 1]! >= this.uid[i]!) return false;
    if (at > 0 && this.uid[at - 1]! >= this.uid[at]!) return false;
    this.n = at + n;
    return true;
  }

  /** A row without its hash (see LightRow, hashesFrom). */
  pushLight(r: LightRow): void {
    this.pushFields(r[0], r[1], r[2], r[3], r[4], r[5], r[6]);
  }

  push(r: MessageRecord): void {
    if (this.n === this.capacity) this.grow(this.n + 1);
    const i = this.n++;
    this.uid[i] = r.uid;
    this.messageId[i] = r.messageId;
    this.flags[i] = this.sets.idOf(r.flags);
    this.modseq[i] = r.modseq;
    this.size[i] = r.size;
    this.date[i] = r.internalDate.getTime();
    this.setHash(i, r.uid, r.blobHash);
    this.zone[i] = r.internalZone ?? 0;
  }

  /**
   * Row i as a record of its own (the caller may keep it; its flags are shared). The
   * fields a row never changes are read from the columns when asked for (RowRecord): a list
   * of 100,000 records made a Date and a hash string each, 150 ms, for callers that mostly
   * read UIDs and flags.
   */
  record(i: number): MessageRecord {
    return new RowRecord(
      this,
      i,
      this.uid[i]!,
      this.sets.lists[this.flags[i]!] as string[],
      this.modseq[i]!,
    );
  }

  /** Reads the hashes now if the rows lack them (see hashesFrom). */
  ensureHashes(): void {
    if (this.hashesFrom !== null) this.fillHashes(this.hashesFrom);
  }

  hashAt(i: number): string {
    this.ensureHashes();
    const odd = this.odd?.get(this.uid[i]!);
    if (odd !== undefined) return odd;
    if (this.hash.length === 0) return ZERO_HASH;
    return this.hash.toString('hex', i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  /**
   * Every row's hash, from (UID, hash) pairs ascending by UID (both walk up together). A row
   * the source no longer has (expunged since, not yet caught up) keeps zeros: its bytes are
   * gone or going, and a read of them fails as for an expunged message.
   */
  private fillHashes(from: () => Iterable<[number, string]>): void {
    this.hashesFrom = null;
    let i = 0;
    for (const [uid, hex] of from()) {
      while (i < this.n && this.uid[i]! < uid) i++;
      if (i >= this.n) break;
      if (this.uid[i] === uid) this.setHash(i, uid, hex);
    }
  }

  /** Index of the row with this UID, or -1. */
  indexOf(uid: number): number {
    const u = this.uid;
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const x = u[mid]!;
      if (x === uid) return mid;
      if (x < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The row's flags and modseq from a fresh record of it (a flag change). */
  update(i: number, r: MessageRecord): void {
    this.flags[i] = this.sets.idOf(r.flags);
    this.modseq[i] = r.modseq;
  }

  /** A row's flags (stored text) and modseq, from the database (column-snapshot.ts). */
  setFlags(i: number, flagsText: string, modseq: number): void {
    this.flags[i] = this.sets.idOfText(flagsText);
    this.modseq[i] = modseq;
  }

  /**
   * The same rows without the UIDs in `gone`, in new arrays (see the file comment). Each gone
   * row is found by its UID and the rows kept are copied a run at a time, not one by one.
   * UIDs in `gone` the rows do not have (appended and expunged since the rows were caught
   * up) take no room.
   */
  without(gone: ReadonlySet<number>): Rows {
    const at: number[] = [];
    for (const uid of gone) {
      const i = this.indexOf(uid);
      if (i >= 0) at.push(i);
    }
    at.sort((a, b) => a - b);
    // The room the rows had, up to twice what is kept: a mailbox that takes one message and
    // loses one (the login mix's APPEND and EXPUNGE, issue 19) grew its arrays again at
    // every append when this was the rows kept alone; one that shrank a lot lets go of it.
    const kept = this.n - at.length;
    const out = new Rows(this.sets, Math.max(16, Math.min(this.capacity, 2 * kept + 16)));
    // Hashes not read yet (or none written) are all zeros: nothing to copy.
    const hashes = this.hashesFrom === null && this.hash.length > 0;
    let j = 0;
    const copy = (from: number, to: number) => {
      if (to <= from) return;
      out.uid.set(this.uid.subarray(from, to), j);
      out.messageId.set(this.messageId.subarray(from, to), j);
      out.modseq.set(this.modseq.subarray(from, to), j);
      out.flags.set(this.flags.subarray(from, to), j);
      out.size.set(this.size.subarray(from, to), j);
      out.date.set(this.date.subarray(from, to), j);
      out.zone.set(this.zone.subarray(from, to), j);
      if (hashes) this.hash.copy(out.hash, j * HASH_BYTES, from * HASH_BYTES, to * HASH_BYTES);
      j += to - from;
    };
    let run = 0;
    for (const i of at) {
      copy(run, i);
      run = i + 1;
    }
    copy(run, this.n);
    out.n = j;
    out.hashesFrom = this.hashesFrom;
    if (this.odd) {
      for (const [uid, h] of this.odd) {
        if (gone.has(uid)) continue;
        out.odd ??= new Map();
        out.odd.set(uid, h);
      }
    }
    return out;
  }

  /** Room for `capacity` rows without a copy per growth. */
  reserve(capacity: number): void {
    if (capacity > this.capacity) this.resize(capacity);
  }

  /** Fits the arrays to the rows (after a load): no slack kept for appends that may not come. */
  trim(): void {
    if (this.capacity > Math.max(16, this.n)) this.resize(Math.max(16, this.n));
  }

  private setHash(i: number, uid: number, hex: string): void {
    const at = i * HASH_BYTES;
    if (this.hash.length === 0) this.hash = Buffer.alloc(this.capacity * HASH_BYTES);
    if (
      hex.length !== HASH_BYTES * 2 ||
      this.hash.write(hex, at, HASH_BYTES, 'hex') !== HASH_BYTES ||
      hex.toLowerCase() !== hex
    ) {
      this.odd ??= new Map();
      this.odd.set(uid, hex);
    } else if (this.odd?.has(uid)) this.odd.delete(uid);
  }

  private grow(min: number): void {
    this.resize(Math.max(min, Math.ceil(this.capacity * 1.5), 16));
  }

  private resize(capacity: number): void {
    const n = this.n;
    const copy = <T extends { subarray(a: number, b: number): T; set(a: T): void }>(
      from: T,
      to: T,
    ): T => {
      to.set(from.subarray(0, n));
      return to;
    };
    this.uid = copy(this.uid, new Uint32Array(capacity));
    this.messageId = copy(this.messageId, new Float64Array(capacity));
    this.modseq = copy(this.modseq, new Float64Array(capacity));
    this.flags = copy(this.flags, new Uint32Array(capacity));
    this.size = copy(this.size, new Float64Array(capacity));
    this.date = copy(this.date, new Float64Array(capacity));
    this.zone = copy(this.zone, new Int16Array(capacity));
    if (this.hash.length === 0) return;
    const hash = Buffer.alloc(capacity * HASH_BYTES);
    this.hash.copy(hash, 0, 0, n * HASH_BYTES);
    this.hash = hash;
  }
}

/**
 * n flag lists separated by newlines (concatColumns) as their ids in `sets` into `out` from
 * `at`; false when the text holds another count.
 */
export function parseFlagLists(
  sets: FlagSets,
  text: string,
  out: Uint32Array,
  at: number,
  n: number,
): boolean {
  let start = 0;
  let prev = '';
  let prevId = sets.idOfText('');
  for (let k = 0; k < n; k++) {
    // The last list runs to the end of the text; every other one ends at a newline.
    const nl = text.indexOf('\n', start);
    if (nl < 0 !== (k === n - 1)) return false;
    const end = nl < 0 ? text.length : nl;
    // Neighbours mostly share a list: compare before a lookup.
    const len = end - start;
    if (len !== prev.length || !text.startsWith(prev, start)) {
      prev = text.slice(start, end);
      prevId = sets.idOfText(prev);
    }
    out[at + k] = prevId;
    start = end + 1;
  }
  return true;
}

/**
 * n comma-separated decimal integers (an optional minus sign, digits) into `out` from `at`;
 * false when the text holds anything else or another count.
 */
export function parseInts(
  text: string,
  out: { [i: number]: number },
  at: number,
  n: number,
): boolean {
  let k = 0;
  let v = 0;
  let neg = false;
  let digits = 0;
  for (let p = 0; p <= text.length; p++) {
    const ch = p < text.length ? text.charCodeAt(p) : 44;
    if (ch >= 48 && ch <= 57) {
      v = v * 10 + (ch - 48);
      digits++;
    } else if (ch === 44) {
      if (digits === 0 || k >= n) return false;
      out[at + k++] = neg ? -v : v;
      v = 0;
      neg = false;
      digits = 0;
    } else if (ch === 45 && digits === 0 && !neg) neg = true;
    else return false;
  }
  return k === n;
}

/**
 * A row as a MessageRecord: UID, flags and modseq as they were when it was made, the rest
 * (which a row never changes) read from the columns, which keep their index for it: appends
 * only grow them, expunges make new ones (Rows.without).
 */
class RowRecord implements MessageRecord {
  private date: Date | undefined = undefined;

  constructor(
    private readonly rows: Rows,
    private readonly i: number,
    readonly uid: number,
    readonly flags: string[],
    readonly modseq: number,
  ) {}

  get messageId(): number {
    return this.rows.messageId[this.i]!;
  }

  get size(): number {
    return this.rows.size[this.i]!;
  }

  /** Made on first use and kept (shared, like the rest of a kept record): SEARCH reads it. */
  get internalDate(): Date {
    this.date ??= new Date(this.rows.date[this.i]!);
    return this.date;
  }

  get internalZone(): number {
    return this.rows.zone[this.i]!;
  }

  get blobHash(): string {
    return this.rows.hashAt(this.i);
  }

  /** As a plain record (for JSON and for tests that compare objects). */
  toJSON(): MessageRecord {
    return {
      uid: this.uid,
      messageId: this.messageId,
      flags: this.flags,
      modseq: this.modseq,
      size: this.size,
      internalDate: this.internalDate,
      internalZone: this.internalZone,
      blobHash: this.blobHash,
    };
  }
}
