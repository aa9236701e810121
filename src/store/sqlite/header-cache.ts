// The header blocks of recently read messages, by blob hash, one cache per store (issue 19):
// a mail client that logs in asks for a few header fields of every message of the mailbox
// (FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])), again at each login,
// and each time the message's whole bytes were read from SQLite (overflow pages, a Buffer of
// the message) for a header of a few hundred bytes. A stored message's bytes never change (the
// hash names them), so a header kept here is never stale and needs no invalidation; the cache
// is bounded in bytes and drops the least recently used first. A message stored here puts
// its block in at once (messages.ts, after the commit): new mail is read next.
import { headerBounds } from '../../mime/header-scan.js';
import { ByteLru } from '../byte-lru.js';

/**
 * What an entry costs besides its bytes: the hash string, the Map entry, the Buffer and its
 * ArrayBuffer.
 */
const ENTRY_OVERHEAD = 256;

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
