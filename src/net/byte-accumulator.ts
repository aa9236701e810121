// Message bytes arriving in pieces (DATA, BDAT), kept until the message is complete. A client
// that sends its message in tiny TCP segments gets a socket chunk, and so a Buffer object of
// a hundred-odd bytes, per segment: kept as they came, 10 MB in 10-byte segments cost 18 times
// their size. Small pieces are therefore copied into shared blocks; large ones are kept as
// they are. What is held (blocks whole, large pieces) is counted against the memory budget.
import type { MemoryBudget } from './memory-budget.js';

/** Pieces below this size are copied into a block. */
const SMALL = 8 * 1024;
/** Size of a block that small pieces are copied into. */
const BLOCK = 64 * 1024;

export class ByteAccumulator {
  private parts: Buffer[] = [];
  private block: Buffer | null = null;
  /** block[start, used) holds bytes not yet in parts; block[used, length) is free. */
  private start = 0;
  private used = 0;
  private size = 0;
  private held = 0;
  private refused = false;

  constructor(private readonly budget?: MemoryBudget) {}

  /** Message bytes held. */
  get length(): number {
    return this.size;
  }

  /** Memory counted against the budget (at least length). */
  get heldBytes(): number {
    return this.held;
  }

  /** The budget refused memory: everything is dropped and further bytes are ignored. */
  get overBudget(): boolean {
    return this.refused;
  }

  /** Keeps `data` (a view of it, or a copy); false once the budget refused. */
  push(data: Buffer): boolean {
    if (this.refused) return false;
    if (data.length === 0) return true;
    if (data.length >= SMALL) {
      if (!this.count(data.length)) return false;
      this.seal();
      this.parts.push(data);
    } else {
      if (this.block === null || this.block.length - this.used < data.length) {
        this.seal();
        if (!this.count(BLOCK)) return false;
        this.block = Buffer.allocUnsafeSlow(BLOCK);
        this.start = 0;
        this.used = 0;
      }
      data.copy(this.block, this.used);
      this.used += data.length;
    }
    this.size += data.length;
    return true;
  }

  /** Everything kept, in order. The accumulator stays as it is (and keeps its count). */
  pieces(): Buffer[] {
    this.seal();
    return this.parts;
  }

  /** Drops everything and gives the memory back to the budget; ready for a new message. */
  reset(): void {
    this.budget?.give(this.held);
    this.parts = [];
    this.block = null;
    this.start = 0;
    this.used = 0;
    this.size = 0;
    this.held = 0;
    this.refused = false;
  }

  private count(n: number): boolean {
    if (!this.budget || this.budget.tryTake(n)) {
      this.held += n;
      return true;
    }
    this.reset();
    this.refused = true;
    return false;
  }

  /** Moves the block's filled part into parts; the block's free rest is used on. */
  private seal(): void {
    if (this.block === null || this.used === this.start) return;
    this.parts.push(this.block.subarray(this.start, this.used));
    this.start = this.used;
  }
}
