// Bytes received but not yet consumed by a protocol session, as a queue of socket chunks.
// No I/O here: Connection feeds it and waits; this only finds lines and hands out bytes.

const LF = 0x0a;
const CR = 0x0d;
/** Merge the chunk list before scanning when it gets this long (data arriving in tiny bits). */
const MAX_CHUNKS_BEFORE_MERGE = 32;
/**
 * Input piling up unconsumed in many small socket chunks (tiny TCP segments while the session
 * is busy) is copied into shared blocks: each chunk is a Buffer object of a hundred-odd bytes,
 * so 256 KB in 10-byte segments would cost 5 MB. Chunks below this size, once this many wait.
 */
const COALESCE_BELOW = 1024;
const COALESCE_AFTER = 16;
const BLOCK = 16 * 1024;

export type LineResult =
  /** `line` excludes the terminator; `crlf` is false when the line ended with a bare LF. */
  | { kind: 'line'; line: Buffer; crlf: boolean }
  | { kind: 'too-long' }
  | { kind: 'eof' }
  | { kind: 'timeout' };

export class InputBuffer {
  private chunks: Buffer[] = [];
  private total = 0;
  /** The first `scanned` bytes are known to hold no LF: never search them twice. */
  private scanned = 0;
  /** After a too-long line whose LF has not arrived: drop input up to and including it. */
  private discarding = false;
  /** Memory small chunks are copied into; [blockUsed, length) is free. */
  private block: Buffer | null = null;
  private blockUsed = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.discarding) {
      const lf = data.indexOf(LF);
      if (lf < 0) return; // still inside the over-long line: never buffered
      this.discarding = false;
      data = data.subarray(lf + 1);
    }
    if (data.length === 0) return;
    this.total += data.length;
    if (data.length < COALESCE_BELOW && this.chunks.length >= COALESCE_AFTER) {
      this.append(data);
      return;
    }
    this.chunks.push(data);
  }

  /** Copies `data` into the block, extending the last chunk when it ends where the block's free part starts. */
  private append(data: Buffer): void {
    let block = this.block;
    if (block === null || block.length - this.blockUsed < data.length) {
      block = this.block = Buffer.allocUnsafeSlow(BLOCK);
      this.blockUsed = 0;
    }
    const at = this.blockUsed;
    data.copy(block, at);
    this.blockUsed += data.length;
    const last = this.chunks[this.chunks.length - 1];
    if (
      last !== undefined &&
      last.buffer === block.buffer &&
      last.byteOffset + last.length === block.byteOffset + at
    ) {
      const from = last.byteOffset - block.byteOffset;
      this.chunks[this.chunks.length - 1] = block.subarray(from, this.blockUsed);
    } else {
      this.chunks.push(block.subarray(at, this.blockUsed));
    }
  }

  /** Put bytes back in front of everything buffered (a parser read too far). */
  unshift(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.unshift(data);
    this.total += data.length;
    this.scanned = 0;
  }

  /** Drop everything buffered; returns how many bytes were dropped. */
  clear(): number {
    const n = this.total;
    this.chunks = [];
    this.total = 0;
    this.scanned = 0;
    this.discarding = false;
    this.block = null;
    return n;
  }

  /** Remove and return the first `n` bytes (n <= length). */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      for (const c of this.chunks) {
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (off === n) break;
      }
    }
    this.skip(n);
    return out;
  }

  /** Remove and return everything buffered (one chunk without copying when possible). */
  takeAll(): Buffer {
    const out = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.total);
    this.clear();
    return out;
  }

  /** Drop the first `n` bytes (n <= length). */
  skip(n: number): void {
    let left = n;
    while (left > 0) {
      const first = this.chunks[0];
      if (first.length <= left) {
        this.chunks.shift();
        left -= first.length;
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.total -= n;
    this.scanned = Math.max(0, this.scanned - n);
    // Nothing waits: an idle connection keeps no block.
    if (this.total === 0) this.block = null;
  }

  /**
   * Take one line of at most `maxLength` bytes (not counting CRLF or LF), or report it too
   * long, or return undefined when more input is needed. A too-long line is reported once:
   * what is buffered of it is dropped now and the rest is dropped as it arrives, up to its LF.
   */
  takeLine(maxLength: number): LineResult | undefined {
    // content + CR + LF: if no LF is within this many bytes the line is too long.
    const limit = maxLength + 2;
    const lf = this.indexOfLF(limit);
    if (lf >= 0) {
      const crlf = lf > 0 && this.byteAt(lf - 1) === CR;
      const len = crlf ? lf - 1 : lf;
      if (len > maxLength) {
        this.skip(lf + 1);
        return { kind: 'too-long' };
      }
      const line = this.take(len);
      this.skip(crlf ? 2 : 1);
      return { kind: 'line', line, crlf };
    }
    if (this.total < limit) return undefined;
    const later = this.indexOfLF(Number.POSITIVE_INFINITY);
    if (later >= 0) {
      this.skip(later + 1);
    } else {
      this.clear();
      this.discarding = true;
    }
    return { kind: 'too-long' };
  }

  /** Index of the first LF within the first `limit` bytes, or -1. */
  private indexOfLF(limit: number): number {
    const end = Math.min(limit, this.total);
    if (this.scanned >= end) return -1;
    if (this.chunks.length > MAX_CHUNKS_BEFORE_MERGE) {
      this.chunks = [Buffer.concat(this.chunks, this.total)];
    }
    let base = 0;
    for (const c of this.chunks) {
      if (base >= end) break;
      if (base + c.length > this.scanned) {
        const from = Math.max(0, this.scanned - base);
        const to = Math.min(c.length, end - base);
        const i = c.subarray(0, to).indexOf(LF, from);
        if (i >= 0) return base + i;
      }
      base += c.length;
    }
    this.scanned = end;
    return -1;
  }

  private byteAt(i: number): number {
    let base = 0;
    for (const c of this.chunks) {
      if (i < base + c.length) return c[i - base];
      base += c.length;
    }
    return -1;
  }
}
