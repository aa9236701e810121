// Housekeeping after deletions, done once the store is quiet, a chunk at a time, as Dovecot's
// mdbox leaves space to `doveadm purge`: a client that expunged a thousand messages (a POP3
// QUIT, an IMAP EXPUNGE) waits for its messages to leave the mailbox, not for the rows and
// pages behind them to be freed. Both stores use it: SQLite's collection of unreferenced
// messages and purge of message bytes (sqlite/data-purge.ts), PostgreSQL's collection of the
// stored messages an EXPUNGE let go of (postgres/quiet-collect.ts). What a crash (or a close
// before the work) leaves, the sweep after the next open finds, a slice at a time.

export interface SweepSlice<K, C> {
  keys: K[];
  /** Where the next slice starts; null: none. */
  next: C | null;
}

export interface QuietWorkOptions<K, C> {
  /** Does one chunk, in one transaction. */
  run: (chunk: K[]) => void | Promise<void>;
  /** After each chunk: resolves once its commit is durable (when run's return does not). */
  durable?: () => Promise<void>;
  /**
   * The keys of the slice that starts after `from` (null: the first) and where the next one
   * starts. One sweep of a store of a million messages at once held the event loop for
   * seconds (issue 18 item 6): every command waited, and the first FETCH after a start paid
   * for it.
   */
  sweep: (from: C | null) => SweepSlice<K, C> | Promise<SweepSlice<K, C>>;
  /** Quiet time after the last add before work starts. */
  idleMs?: number;
  /** Work that waited this long is done even if the store is never quiet. */
  maxWaitMs?: number;
  /** Keys per transaction (and per turn of the event loop). */
  chunk?: number;
  /** When the sweep runs after open; negative: never. */
  sweepDelayMs?: number;
}

export class QuietWork<K, C = string> {
  private readonly pending = new Set<K>();
  private timer: NodeJS.Timeout | undefined;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private lastAdd = 0;
  /** When the oldest pending key was added (0: none pending). */
  private oldest = 0;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly idleMs: number;
  private readonly maxWaitMs: number;
  private readonly chunk: number;

  constructor(private readonly opts: QuietWorkOptions<K, C>) {
    this.idleMs = opts.idleMs ?? 1000;
    this.maxWaitMs = opts.maxWaitMs ?? 30_000;
    this.chunk = opts.chunk ?? 500;
    const delay = opts.sweepDelayMs ?? 5000;
    if (delay >= 0) {
      this.sweepTimer = setTimeout(() => void this.sweep(null), delay);
      this.sweepTimer.unref();
    }
  }

  /** Keys freed by a commit made just now. */
  add(keys: readonly K[]): void {
    if (this.closed || keys.length === 0) return;
    for (const k of keys) this.pending.add(k);
    this.lastAdd = Date.now();
    if (this.oldest === 0) this.oldest = this.lastAdd;
    this.schedule(this.idleMs);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Stops; what is pending stays for the sweep after the next open. Resolves once a chunk
   * under way is done. */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.sweepTimer);
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.running ?? Promise.resolve();
  }

  /** Does everything pending now, at close, with a synchronous run (SQLite's), not waiting
   * for durability. */
  finish(): void {
    while (this.pending.size > 0 && !this.closed) void this.opts.run(this.take());
  }

  /** Does everything pending now, quiet or not (tests). */
  async drain(): Promise<void> {
    await this.running;
    while (this.pending.size > 0) await this.runChunk();
  }

  private take(): K[] {
    const chunk: K[] = [];
    for (const k of this.pending) {
      if (chunk.length === this.chunk) break;
      chunk.push(k);
    }
    for (const k of chunk) this.pending.delete(k);
    return chunk;
  }

  private async runChunk(): Promise<void> {
    await this.opts.run(this.take());
    await this.opts.durable?.();
  }

  private schedule(ms: number): void {
    if (this.timer || this.running || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const wait = this.wait();
      if (wait > 0) {
        this.schedule(wait);
        return;
      }
      this.running = this.work().finally(() => {
        this.running = undefined;
        if (this.pending.size > 0) this.schedule(this.idleMs);
      });
    }, ms);
    this.timer.unref();
  }

  /** Quiet long enough, or waited too long: the time left to wait, 0 to go now. */
  private wait(): number {
    const now = Date.now();
    const quiet = now - this.lastAdd;
    if (quiet >= this.idleMs || (this.oldest > 0 && now - this.oldest >= this.maxWaitMs)) return 0;
    return this.idleMs - quiet;
  }

  private async work(): Promise<void> {
    // Run because the work waited too long, not because the store is quiet: all of it now,
    // or a store that is never quiet would fall ever further behind.
    const forced = Date.now() - this.lastAdd < this.idleMs;
    try {
      while (this.pending.size > 0 && !this.closed) {
        await this.runChunk();
        await new Promise((r) => setImmediate(r));
        if (!forced && this.wait() > 0) break; // busy again: later
      }
    } catch {
      // The database is failing: the rows stay, and the sweep at the next open finds them.
    }
    this.oldest = this.pending.size > 0 ? Date.now() : 0;
  }

  /** One slice of the sweep, then the next on a later turn of the event loop. */
  private async sweep(from: C | null): Promise<void> {
    if (this.closed) return;
    try {
      const { keys, next } = await this.opts.sweep(from);
      this.add(keys);
      if (next !== null) setImmediate(() => void this.sweep(next)).unref();
    } catch {
      // Closed meanwhile, or failing: the next open sweeps again.
    }
  }
}
