// Reads the octets of one BDAT chunk (RFC 3030 §2): exactly `size` bytes follow the command
// line, with no dot-stuffing and no terminator. Whatever follows them is the next command.
// The session checks the message size limit when it sees the BDAT line (the size is known in
// advance) and, when over it, still reads the chunk with `discard` before answering 552.

export interface BdatReaderOptions {
  /** Count and skip the bytes instead of passing them on. */
  discard?: boolean;
  /** Receives the chunk's bytes, as views into the pushed Buffers. */
  onData?: (data: Buffer) => void;
}

export type BdatPushResult = { done: false } | { done: true; rest: Buffer };

export class BdatReader {
  private left: number;
  private readonly onData: ((data: Buffer) => void) | undefined;

  constructor(size: number, opts: BdatReaderOptions = {}) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad BDAT size ${size}`);
    this.left = size;
    this.onData = opts.discard ? undefined : opts.onData;
  }

  /** Octets still expected. */
  get remaining(): number {
    return this.left;
  }

  /** True once all octets arrived (at once for BDAT 0). */
  get done(): boolean {
    return this.left === 0;
  }

  push(chunk: Buffer): BdatPushResult {
    const take = Math.min(this.left, chunk.length);
    if (take > 0) {
      this.left -= take;
      this.onData?.(chunk.subarray(0, take));
    }
    return this.left === 0 ? { done: true, rest: chunk.subarray(take) } : { done: false };
  }
}
