// Bytes of recently read messages, kept in this node's memory for a short time: each IMAP
// FETCH of a header or body section reads the whole message, and a client (or several
// devices of one user) fetches the same new messages' headers and bodies within moments. A
// stored message's bytes are addressed by their SHA-256, so an entry is never wrong; but a
// message whose last copy was expunged must stop being readable (the blob contract), also
// when another node expunged it: so an entry lives TTL_MS after it was read from the
// database, and this node's own expunges drop theirs at once. Large messages are not kept.

import { ByteLru } from '../byte-lru.js';

/** Bytes kept over all messages; the least recently used go first. */
export const MAX_CACHED_BYTES = 16 * 1024 * 1024;
/** Messages larger than this are read from the database each time. */
export const MAX_CACHED_MESSAGE = 256 * 1024;
/** How long bytes read from the database are served from memory. */
export const TTL_MS = 2000;

interface Entry {
  data: Buffer;
  /** When it was read from the database (performance.now()). */
  at: number;
}

export class ByteCache {
  private readonly entries: ByteLru<Entry>;

  constructor(
    max = MAX_CACHED_BYTES,
    private readonly largest = MAX_CACHED_MESSAGE,
    private readonly ttlMs = TTL_MS,
  ) {
    this.entries = new ByteLru(max, (e) => e.data.length);
  }

  get(hash: string): Buffer | undefined {
    const e = this.entries.get(hash);
    if (e === undefined) return undefined;
    if (performance.now() - e.at > this.ttlMs) {
      this.entries.delete(hash);
      return undefined;
    }
    return e.data;
  }

  set(hash: string, data: Buffer): void {
    if (data.length > this.largest) return;
    this.entries.set(hash, { data, at: performance.now() });
  }

  /** Drops these messages' bytes, or all (their last copy may be going). */
  forget(hashes?: Iterable<string>): void {
    if (hashes === undefined) {
      this.entries.clear();
      return;
    }
    for (const h of hashes) this.entries.delete(h);
  }
}
