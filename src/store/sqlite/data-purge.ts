// Housekeeping after deletions, done once the store is quiet, a chunk at a time, as Dovecot's
// mdbox leaves space to `doveadm purge`: a client that expunged a thousand messages (a POP3
// QUIT, an IMAP EXPUNGE) waits for its messages to leave the mailbox, not for the rows and
// pages behind them to be freed.
//
// Two queues of this kind run in the store (messages.ts): the collection of `messages` rows
// no mailbox refers to any more (and then their index entries and blob files), and the purge
// of `message_data` rows (the bytes of small messages) no `messages` row refers to. Work that
// waits is invisible to clients: a mailbox lists only its own rows, a search joins the index
// with them, and a read of message bytes checks that a `messages` row still has them. A crash
// only leaves rows that the sweep after the next open finds.
import { type Db, stmt, tx } from './db.js';

export interface QuietWorkOptions<K> {
  /** Does one chunk, in one transaction. */
  run: (chunk: K[]) => void;
  /** After each chunk: resolves once its commit is durable. */
  durable: () => Promise<void>;
  /** What a crash (or a close before the work) left, found after open. */
  sweep: () => K[];
  /** Quiet time after the last add before work starts. */
  idleMs?: number;
  /** Work that waited this long is done even if the store is never quiet. */
  maxWaitMs?: number;
  /** Keys per transaction (and per turn of the event loop). */
  chunk?: number;
  /** When the sweep runs after open. */
  sweepDelayMs?: number;
}

export class QuietWork<K> {
  private readonly pending = new Set<K>();
  private timer: NodeJS.Timeout | undefined;
  private lastAdd = 0;
  /** When the oldest pending key was added (0: none pending). */
  private oldest = 0;
  private running = false;
  private closed = false;
  private readonly idleMs: number;
  private readonly maxWaitMs: number;
  private readonly chunk: number;

  constructor(private readonly opts: QuietWorkOptions<K>) {
    this.idleMs = opts.idleMs ?? 1000;
    this.maxWaitMs = opts.maxWaitMs ?? 30_000;
    this.chunk = opts.chunk ?? 500;
    const sweep = setTimeout(() => this.sweep(), opts.sweepDelayMs ?? 5000);
    sweep.unref();
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

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** Does everything pending now (at close), without waiting for durability. */
  finish(): void {
    while (this.pending.size > 0 && !this.closed) {
      const chunk = [...this.pending].slice(0, this.chunk);
      for (const k of chunk) this.pending.delete(k);
      this.opts.run(chunk);
    }
  }

  private schedule(ms: number): void {
    if (this.timer || this.running || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.work();
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
    const wait = this.wait();
    if (wait > 0) {
      this.schedule(wait);
      return;
    }
    // Run because the work waited too long, not because the store is quiet: all of it now,
    // or a store that is never quiet would fall ever further behind.
    const forced = Date.now() - this.lastAdd < this.idleMs;
    this.running = true;
    try {
      while (this.pending.size > 0 && !this.closed) {
        const chunk = [...this.pending].slice(0, this.chunk);
        for (const k of chunk) this.pending.delete(k);
        this.opts.run(chunk);
        await this.opts.durable();
        await new Promise((r) => setImmediate(r));
        if (!forced && this.wait() > 0) break; // busy again: later
      }
    } catch {
      // The database is failing: the rows stay, and the sweep at the next open finds them.
    } finally {
      this.running = false;
    }
    this.oldest = this.pending.size > 0 ? Date.now() : 0;
    if (this.pending.size > 0) this.schedule(this.idleMs);
  }

  private sweep(): void {
    if (this.closed) return;
    try {
      this.add(this.opts.sweep());
    } catch {
      // Closed meanwhile, or failing: the next open sweeps again.
    }
  }
}

/** The purge of `message_data` rows no message refers to (a re-delivery may hold one). */
export function dataPurge(db: Db, durable: () => Promise<void>): QuietWork<string> {
  return new QuietWork<string>({
    durable,
    run: (hashes) =>
      tx(db, () => {
        stmt(
          db,
          `DELETE FROM message_data WHERE hash IN (SELECT value FROM json_each(?))
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_hash = message_data.hash)`,
        ).run(JSON.stringify(hashes));
      }),
    sweep: () =>
      stmt(
        db,
        `SELECT d.hash FROM message_data d
         WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_hash = d.hash)`,
      )
        .pluck()
        .all() as string[],
  });
}
