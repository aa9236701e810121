// Trigram signatures of the texts a search read past a mailbox's mark (on-search) and could
// not keep (fts-kept.ts: KEPT_CHARS of text in all): a bit set per text, each of the folded
// text's trigrams (three UTF-16 code units in a row) setting one bit. A needle contained in a
// text has every one of its trigrams among the text's, so a text whose signature lacks one of
// the needle's bits cannot hold it; only the others are read from their bytes and tested
// (a Bloom filter of one hash: false hits are read, never a text skipped that holds it).
//
// Without them every later search of a mailbox far behind read each of those texts from its
// bytes again until the catch-up indexed it: bench/imap's big phase (100,000 texts of 2 KB,
// ~20,000 kept) paid ~80,000 parses, 1.7 s a search on a machine where the catch-up takes
// 15-20 s of the worker's CPU, and those searches left it little of that (issue 19). A
// signature costs an eighth of its text's characters in bytes (one bit per character, to a
// power of two) and a loop over the folded text the search made anyway.

/** Texts per chunk: a chunk is dropped once the catch-up indexed all of its texts. */
const CHUNK_TEXTS = 1024;
/** Bits of the smallest and largest signature (log2): a text's length rounded up between. */
const MIN_BITS_LOG2 = 6;
const MAX_BITS_LOG2 = 17;

/**
 * The 32-bit hash of a trigram, its three code units `a`, `b`, `c`: a signature's bit is its
 * top bits (a multiply's best mixed).
 */
function trigramHash(a: number, b: number, c: number): number {
  return Math.imul(((a << 16) | b) ^ Math.imul(c, 0x9e3779b1), 0x85ebca6b) >>> 0;
}

/** The hashes of the trigrams of `s`, in order. */
function trigramHashes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i + 3 <= s.length; i++) {
    out.push(trigramHash(s.charCodeAt(i), s.charCodeAt(i + 1), s.charCodeAt(i + 2)));
  }
  return out;
}

/** log2 of a signature's bits for a text of `length` code units: at least one bit each. */
function bitsLog2(length: number): number {
  let lb = MIN_BITS_LOG2;
  while (lb < MAX_BITS_LOG2 && 1 << lb < length) lb++;
  return lb;
}

/**
 * Bytes of the signature of a text of `length` code units; 0 for a text too long for one (its
 * largest signature would have most bits set: it is read at every search instead).
 */
export function signatureBytes(length: number): number {
  return length > 1 << MAX_BITS_LOG2 ? 0 : (1 << bitsLog2(length)) >>> 3;
}

interface Chunk {
  readonly uids: Int32Array;
  /** Where each signature starts in `words` (32-bit words); one more entry past the last. */
  readonly starts: Uint32Array;
  readonly lb: Uint8Array;
  readonly words: Uint32Array;
  /** The highest UID of the chunk (UIDs are added ascending). */
  readonly last: number;
}

/** The signatures of one mailbox's texts not kept, by UID, added in ascending UID order. */
export class TrigramSignatures {
  private readonly chunks: Chunk[] = [];
  private pendingUids: number[] = [];
  private pendingLb: number[] = [];
  private pendingWords = new Uint32Array(1 << 12);
  private pendingUsed = 0;
  /** Bytes of every signature held (sealed or not). */
  bytes = 0;

  get size(): number {
    let n = this.pendingUids.length;
    for (const c of this.chunks) n += c.uids.length;
    return n;
  }

  /** Adds the signature of `folded` (a text as searchFold makes it) for `uid`. */
  add(uid: number, folded: string): void {
    const lb = bitsLog2(folded.length);
    const nWords = 1 << (lb - 5);
    if (this.pendingUsed + nWords > this.pendingWords.length) {
      let size = this.pendingWords.length * 2;
      while (size < this.pendingUsed + nWords) size *= 2;
      const grown = new Uint32Array(size);
      grown.set(this.pendingWords.subarray(0, this.pendingUsed));
      this.pendingWords = grown;
    }
    const at = this.pendingUsed;
    const words = this.pendingWords;
    const shift = 32 - lb;
    const n = folded.length;
    if (n >= 3) {
      let a = folded.charCodeAt(0);
      let b = folded.charCodeAt(1);
      for (let i = 2; i < n; i++) {
        const c = folded.charCodeAt(i);
        const bit = trigramHash(a, b, c) >>> shift;
        words[at + (bit >>> 5)]! |= 1 << (bit & 31);
        a = b;
        b = c;
      }
    }
    this.pendingUsed += nWords;
    this.pendingUids.push(uid);
    this.pendingLb.push(lb);
    this.bytes += nWords * 4;
    if (this.pendingUids.length >= CHUNK_TEXTS) this.seal();
  }

  /** Makes the signatures added since the last call a chunk of their own. */
  seal(): void {
    const n = this.pendingUids.length;
    if (n === 0) return;
    const starts = new Uint32Array(n + 1);
    let at = 0;
    for (let i = 0; i < n; i++) {
      starts[i] = at;
      at += 1 << (this.pendingLb[i]! - 5);
    }
    starts[n] = at;
    this.chunks.push({
      uids: Int32Array.from(this.pendingUids),
      starts,
      lb: Uint8Array.from(this.pendingLb),
      words: this.pendingWords.slice(0, at),
      last: this.pendingUids[n - 1]!,
    });
    this.pendingUids = [];
    this.pendingLb = [];
    this.pendingWords = new Uint32Array(1 << 12);
    this.pendingUsed = 0;
  }

  /**
   * Drops the chunks whose texts are all at or under `uid` (indexed by the catch-up now);
   * returns the bytes given back.
   */
  dropUpTo(uid: number): number {
    let freed = 0;
    while (this.chunks.length > 0 && this.chunks[0]!.last <= uid) {
      const c = this.chunks.shift()!;
      freed += c.words.length * 4;
    }
    this.bytes -= freed;
    return freed;
  }

  /**
   * Calls `each` with every UID over `after` whose signature may hold `folded` (a needle as
   * searchFold makes it), ascending; with every one when the needle has no trigram.
   */
  candidates(folded: string, after: number, each: (uid: number) => void): void {
    this.seal();
    const hashes = trigramHashes(folded);
    for (const c of this.chunks) {
      if (c.last <= after) continue;
      const { uids, starts, lb, words } = c;
      for (let k = 0; k < uids.length; k++) {
        if (uids[k]! <= after) continue;
        const shift = 32 - lb[k]!;
        const base = starts[k]!;
        let may = true;
        for (let j = 0; j < hashes.length; j++) {
          const bit = hashes[j]! >>> shift;
          if ((words[base + (bit >>> 5)]! & (1 << (bit & 31))) === 0) {
            may = false;
            break;
          }
        }
        if (may) each(uids[k]!);
      }
    }
  }
}
