// One budget for the message bytes every session holds in memory at once: DATA and BDAT being
// received, IMAP literals (APPEND). Each session's own caps (max_message_size, line limits)
// bound one client; this bounds all of them together, so a crowd of large uploads cannot grow
// the process past what the operator planned for. Past it, a new transaction gets a temporary
// refusal (SMTP 452 4.3.1, IMAP NO [LIMIT]) and the client tries again later.

export class MemoryBudget {
  private used = 0;
  private peak = 0;

  /** `limit` bytes held at once, all sessions together. */
  constructor(readonly limit: number) {}

  /** Bytes held now. */
  get inUse(): number {
    return this.used;
  }

  /** The most held at once since start (for tests and metrics). */
  get highWater(): number {
    return this.peak;
  }

  /** Counts `n` more bytes if they fit; false (and nothing counted) if they do not. */
  tryTake(n: number): boolean {
    if (n <= 0) return true;
    if (this.used + n > this.limit) return false;
    this.used += n;
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }

  /** Gives back `n` bytes that tryTake counted. */
  give(n: number): void {
    if (n <= 0) return;
    this.used = Math.max(0, this.used - n);
  }
}
