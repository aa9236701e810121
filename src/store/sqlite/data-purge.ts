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
  /**
   * What a crash (or a close before the work) left, found after open a slice at a time: the
   * keys of the slice that starts after `from` (null: the first) and where the next one
   * starts (null: none). One sweep of a store of a million messages at once held the event
   * loop for seconds (issue 18 item 6): every command waited, and the first FETCH after a
   * start paid for it. See sliceSweep.
   */
  sweep: (from: string | null) => SweepSlice<K>;
  /** Quiet time after the last add before work starts. */
  idleMs?: number;
  /** Work that waited this long is done even if the store is never quiet. */
  maxWaitMs?: number;
  /** Keys per transaction (and per turn of the event loop). */
  chunk?: number;
  /** When the sweep runs after open. */
  sweepDelayMs?: number;
}

export interface SweepSlice<K> {
  keys: K[];
  next: string | null;
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

  /** One slice of the sweep, then the next on a later turn of the event loop. */
  private sweep(from: string | null = null): void {
    if (this.closed) return;
    try {
      const { keys, next } = this.opts.sweep(from);
      this.add(keys);
      if (next !== null) setImmediate(() => this.sweep(next)).unref();
    } catch {
      // Closed meanwhile, or failing: the next open sweeps again.
    }
  }
}

/** Index entries a sweep slice looks at: a few ms of work per turn of the event loop. */
export const SWEEP_SLICE = 2000;

/**
 * A sweep over `table` in slices of its unique text column `key` (through that column's
 * index, in its order): the values of `pick` (a column of the row aliased `x`) of the rows of
 * each slice for which `orphan` (an SQL condition on `x`) holds. A slice is a range of keys,
 * so rows written between slices are either in a later slice or not orphans: the work
 * checks again in its own transaction anyway.
 */
export function sliceSweep<K>(
  db: Db,
  q: { table: string; key: string; pick: string; orphan: string },
  slice = SWEEP_SLICE,
): (from: string | null) => SweepSlice<K> {
  const after = (from: string | null) => (from === null ? `x.${q.key} >= ?` : `x.${q.key} > ?`);
  return (from) => {
    const lo = from ?? '';
    // The key that ends this slice; none when fewer rows are left.
    const hi = stmt(
      db,
      `SELECT x.${q.key} FROM ${q.table} x WHERE ${after(from)} ORDER BY x.${q.key} LIMIT 1 OFFSET ?`,
    )
      .pluck()
      .get(lo, slice - 1) as string | undefined;
    const upTo = hi === undefined ? '' : ` AND x.${q.key} <= ?`;
    const keys = stmt(
      db,
      `SELECT x.${q.pick} FROM ${q.table} x WHERE ${after(from)}${upTo} AND ${q.orphan}`,
    )
      .pluck()
      .all(...(hi === undefined ? [lo] : [lo, hi])) as K[];
    return { keys, next: hi ?? null };
  };
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
    sweep: sliceSweep<string>(db, {
      table: 'message_data',
      key: 'hash',
      pick: 'hash',
      orphan: 'NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_hash = x.hash)',
    }),
  });
}
