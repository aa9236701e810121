// The outcomes of queue attempts, recorded together: every updateOutbound asked for in one
// turn of the event loop is one transaction, one WAL fsync and one batch of blob unlinks.
// Attempts end in bursts (the replies of several sessions are read in one poll phase); a
// commit each rewrote the pages they share (the queue's table and index leaves) once per
// message: ~30 KiB of WAL per message (measured), and a COMMIT's cost on the event loop each.
// Each item's update runs in its own savepoint, so one that fails is undone alone and only
// its caller hears of it. Nobody is answered before the commit is on disk (as durable()).
import type { OutboundUpdate } from '../types.js';
import { type Db, tx } from './db.js';
import type { SqliteQueue } from './queue.js';

interface Pending {
  id: number;
  update: OutboundUpdate;
  resolve(): void;
  reject(err: unknown): void;
}

export class OutcomeBatch {
  private pending: Pending[] = [];
  /** The flush of the batch under way, for close(). */
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly queue: SqliteQueue,
    /** Resolves once every commit made before the call is on disk. */
    private readonly sync: () => Promise<void>,
  ) {}

  /** Records an attempt's outcome with the others of this turn; resolves once durable. */
  record(id: number, update: OutboundUpdate): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ id, update, resolve, reject });
      // After the poll phase's other callbacks: the outcomes read with this one join it.
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  /** Commits what is pending now (also called by the store's close); resolves when done. */
  flush(): Promise<void> {
    const batch = this.pending;
    if (batch.length === 0) return this.flushing;
    this.pending = [];
    const now = Date.now();
    const failed = new Map<Pending, unknown>();
    const gone: string[] = [];
    try {
      tx(this.db, () => {
        for (const p of batch) {
          try {
            // A nested transaction is a savepoint: a failing item is rolled back alone.
            gone.push(...this.queue.update(p.id, p.update, now));
          } catch (err) {
            failed.set(p, err);
          }
        }
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
      return this.flushing;
    }
    const done = this.sync()
      .then(() => this.queue.removeBlobs(gone))
      .then(
        () => {
          for (const p of batch) {
            if (failed.has(p)) p.reject(failed.get(p));
            else p.resolve();
          }
        },
        (err) => {
          for (const p of batch) p.reject(failed.get(p) ?? err);
        },
      );
    this.flushing = done;
    return done;
  }
}
