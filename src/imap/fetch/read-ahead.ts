// The bytes of the next few messages of a FETCH read in one step (issue 19): a client that
// logs in and fetches the header fields of the whole mailbox asked the store for each
// message's bytes on its own, one statement (and one SQLite read transaction, with its lock
// calls) per message. When the store can read many at once (BlobStore.readMessages), the
// handler reads a chunk of the messages to come, bounded in count and bytes, and renders
// from it; a message the chunk lacks (large, expunged meanwhile) is read alone as before.
// When the FETCH reads no more than each message's header (`headersOnly`: HEADER,
// HEADER.FIELDS, RFC822.HEADER) and the store has BlobStore.readHeaders, the chunk holds the
// header blocks alone, which the store may keep in memory.
import type { BlobStore } from '../../store/types.js';

/** Messages per read ahead. */
export const READ_AHEAD_COUNT = 64;
/** Their stored sizes together at most this (the first message is taken whatever its size). */
export const READ_AHEAD_BYTES = 256 * 1024;

export interface ReadAheadRow {
  blobHash: string;
  size: number;
}

export class ReadAhead {
  /** The bytes of rows [start, end) by position (undefined: left out of the chunk). */
  private chunk: Array<Buffer | undefined> = [];
  /** The chunk read last holds rows [start, end); rows before end were in one already. */
  private start = 0;
  private end = 0;

  constructor(
    private readonly store: BlobStore,
    private readonly rows: readonly ReadAheadRow[],
    /** Only the header of each is used: the chunk may hold the header blocks alone. */
    private readonly headersOnly = false,
  ) {}

  /**
   * The bytes of rows[i] (or, when headersOnly, maybe only its header block): from the chunk
   * holding it, read together with those after it.
   */
  async read(i: number): Promise<Buffer> {
    const row = this.rows[i]!;
    const headers = this.headersOnly ? this.store.readHeaders : undefined;
    const many = this.store.readMessages;
    if (headers === undefined && many === undefined)
      return this.store.readMessage(row.blobHash, row.size);
    if (i >= this.end) {
      let j = i;
      let bytes = 0;
      while (j < this.rows.length && j - i < READ_AHEAD_COUNT) {
        bytes += this.rows[j]!.size;
        if (j > i && bytes > READ_AHEAD_BYTES) break;
        j++;
      }
      this.chunk = []; // the last chunk's bytes are not held while this one is read
      const rows = this.rows.slice(i, j);
      if (headers !== undefined) {
        this.chunk = await headers.call(this.store, rows);
      } else {
        const found = await many!.call(this.store, rows);
        this.chunk = rows.map((r) => found.get(r.blobHash));
      }
      this.start = i;
      this.end = j;
    }
    return this.ready(i) ?? this.store.readMessage(row.blobHash, row.size);
  }

  /** The bytes of rows[i] when the chunk read last holds them (no read, no promise). */
  ready(i: number): Buffer | undefined {
    return i >= this.start && i < this.end ? this.chunk[i - this.start] : undefined;
  }

  /**
   * Whether `bytes`, as ready(i) or read(i) gave them, are the header block of rows[i] (from
   * BlobStore.readHeaders) rather than the whole message (read alone, or read ahead whole).
   */
  isBlock(i: number, bytes: Buffer): boolean {
    return this.headersOnly && this.store.readHeaders !== undefined && this.ready(i) === bytes;
  }
}
