// The header blocks of recently read messages, by blob hash, one cache per store (issue 19;
// both backends): a mail client that logs in asks for a few header fields of every message of
// the mailbox (FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])), again at
// each login, and each time the message's whole bytes were read (from SQLite: overflow pages, a
// Buffer of the message; over PostgreSQL: a round trip once the node's byte cache let them go,
// 2 s after it read them) for a header of a few hundred bytes. A stored message's bytes never
// change (the hash names them), so a header kept here is never stale and needs no
// invalidation, also across nodes; the cache is bounded in bytes and drops the least recently
// used first. A message stored by the store puts its block in at once (each backend's
// messages.ts, after the commit): new mail is read next.
import { headerBounds } from '../mime/header-scan.js';
import { ByteLru } from './byte-lru.js';

/**
 * Header blocks kept in memory for FETCH of header fields: at ~1 KiB a header, those of a few
 * thousand messages.
 */
export const HEADER_CACHE_BYTES = 4 * 1024 * 1024;

/**
 * What an entry costs besides its bytes: the hash string, the Map entry, the Buffer and its
 * ArrayBuffer.
 */
const ENTRY_OVERHEAD = 256;

/** See HeaderCache.lookup. */
export interface HeaderLookup {
  blocks: Array<Buffer | undefined>;
  missing: Array<{ blobHash: string; size: number }>;
  /** The position in `blocks` of each of `missing`. */
  at: number[];
}

export class HeaderCache {
  private readonly blocks: ByteLru<Buffer>;

  constructor(maxBytes: number) {
    this.blocks = new ByteLru(maxBytes, (block) => block.length + ENTRY_OVERHEAD);
  }

  /** The header block of the message named `hash`, if kept; it becomes the most recent. */
  get(hash: string): Buffer | undefined {
    return this.blocks.get(hash);
  }

  /**
   * BlobStore.readHeaders' answer as far as kept: the block of each row by position (undefined
   * where not kept; each found becomes the most recent), and the rows not kept with their
   * positions, for the store to read and `fill` in. One lookup per row, by the row's hash
   * string as given (a map by hash would hash each again: issue 19).
   */
  lookup(rows: ReadonlyArray<{ blobHash: string; size: number }>): HeaderLookup {
    const blocks = new Array<Buffer | undefined>(rows.length);
    const missing: Array<{ blobHash: string; size: number }> = [];
    const at: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const hash = r.blobHash;
      const block = this.blocks.get(hash);
      blocks[i] = block;
      if (block !== undefined) continue;
      missing.push({ blobHash: hash, size: r.size });
      at.push(i);
    }
    return { blocks, missing, at };
  }

  /** Keeps the blocks of the messages read for `l.missing` and puts them at their places. */
  fill(l: HeaderLookup, read: ReadonlyMap<string, Buffer>): void {
    for (let k = 0; k < l.missing.length; k++) {
      const hash = l.missing[k]!.blobHash;
      const data = read.get(hash);
      if (data !== undefined) l.blocks[l.at[k]!] = this.put(hash, data);
    }
  }

  /**
   * Keeps the header block of `raw` (the message named `hash`) and returns it: the bytes up to
   * and with the empty line that ends the header, as headerBounds reads it (the whole message
   * when it has none), copied so that the message's bytes are not held.
   */
  put(hash: string, raw: Buffer): Buffer {
    const kept = this.blocks.get(hash);
    if (kept !== undefined) return kept;
    const end = headerBounds(raw).bodyStart;
    // A memory of its own (not a slice of Node's shared pool, which one kept block would hold
    // whole), so that the bound counts what is held.
    const block = Buffer.allocUnsafeSlow(end);
    raw.copy(block, 0, 0, end);
    this.blocks.set(hash, block);
    return block;
  }

  /** Bytes held, counting each entry's overhead. */
  get size(): number {
    return this.blocks.size;
  }
}
