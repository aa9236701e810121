// The stored messages an EXPUNGE let go of, collected by the node that ran it once it is
// quiet, a chunk at a time, as the SQLite store does (sqlite/data-purge.ts): the client waits
// for its messages to leave the mailbox, not for their rows, text and bytes to be freed (a
// third of EXPUNGE's statement in the IMAP mix). A collection checks again, under the rows'
// locks, that no mailbox row holds the message (as collect.ts), so an append or a copy that took
// it back meanwhile, on any node, keeps it. What a crash (or a node stopped before its work)
// leaves, the sweep after the next start finds, a slice of the table at a time. Until then an
// expunged message's bytes stay readable, which the blob contract allows ("freed after the
// commit, maybe once the store is quiet").
import { type PgDb, rows, run } from './db.js';

/**
 * The stored messages of these blob hashes that no mailbox row holds, with their bytes (the
 * trigger of migration 6), committed on its own: rows another writer holds are skipped, and
 * one whose row another writer added after this statement began fails it (23503), as in
 * collect.ts.
 */
const COLLECT = `WITH free AS (SELECT id FROM messages WHERE blob_hash = ANY($1) FOR UPDATE SKIP LOCKED)
  DELETE FROM messages m USING free WHERE m.id = free.id
    AND NOT EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = m.id)`;

export interface QuietCollectOptions {
  /** Quiet time after the last expunge before work starts. */
  idleMs?: number;
  /** Work that waited this long is done even if the node is never quiet. */
  maxWaitMs?: number;
  /** Stored messages per transaction. */
  chunk?: number;
  /** When the sweep starts after the node opens its store; negative: never. */
  sweepDelayMs?: number;
  /** Stored messages the sweep reads per statement. */
  sweepSlice?: number;
}

export class QuietCollect {
  /** Blob hashes of stored messages that lost a mailbox row. */
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastAdd = 0;
  /** When the oldest pending hash was added (0: none pending). */
  private oldest = 0;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly idleMs: number;
  private readonly maxWaitMs: number;
  private readonly chunk: number;
  private readonly slice: number;
  private readonly sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: PgDb,
    opts: QuietCollectOptions = {},
  ) {
    this.idleMs = opts.idleMs ?? 1000;
    this.maxWaitMs = opts.maxWaitMs ?? 30_000;
    this.chunk = opts.chunk ?? 500;
    this.slice = opts.sweepSlice ?? 2000;
    const delay = opts.sweepDelayMs ?? 10_000;
    if (delay >= 0) {
      this.sweepTimer = setTimeout(() => void this.sweep(0), delay);
      this.sweepTimer.unref();
    }
  }

  /** Blob hashes of stored messages whose rows a commit made just now removed. */
  add(hashes: readonly string[]): void {
    if (this.closed || hashes.length === 0) return;
    for (const h of hashes) this.pending.add(h);
    this.lastAdd = Date.now();
    if (this.oldest === 0) this.oldest = this.lastAdd;
    this.schedule(this.idleMs);
  }

  /**
   * Stops. What is pending stays for the sweep after the next start: collecting it here
   * could hold a stopping node for a statement timeout per chunk while the database does not
   * answer.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.sweepTimer);
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Collects everything pending now, quiet or not (tests). */
  async collectNow(): Promise<void> {
    await this.running;
    while (this.pending.size > 0) await this.runChunk();
  }

  private schedule(ms: number): void {
    if (this.timer || this.running || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.work().finally(() => {
        this.running = undefined;
        if (this.pending.size > 0 && !this.closed) this.schedule(this.idleMs);
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
    const wait = this.wait();
    if (wait > 0) {
      this.schedule(wait);
      return;
    }
    // Run because the work waited too long, not because the node is quiet: all of it now, or
    // a node that is never quiet would fall ever further behind.
    const forced = Date.now() - this.lastAdd < this.idleMs;
    try {
      while (this.pending.size > 0 && !this.closed) {
        await this.runChunk();
        if (!forced && this.wait() > 0) break; // busy again: later
      }
    } catch {
      // The database is failing: what was taken stays stored until the sweep after a start.
    }
    this.oldest = this.pending.size > 0 ? Date.now() : 0;
  }

  private async runChunk(): Promise<void> {
    const chunk = [...this.pending].slice(0, this.chunk);
    for (const h of chunk) this.pending.delete(h);
    try {
      await run(this.db, COLLECT, [chunk]);
    } catch (err) {
      if ((err as { code?: unknown }).code !== '23503') throw err;
      // An append or copy on another node took one of them back between this statement's
      // snapshot and its locks: the rest go one at a time, that one stays.
      for (const h of chunk) await run(this.db, COLLECT, [[h]]).catch(() => {});
    }
  }

  /**
   * The stored messages after id `from` that no mailbox row holds, a slice of the primary
   * key per statement, each slice on a later turn of the event loop; they join the pending
   * work. A message an append on another node holds (FOR KEY SHARE) before its row commits
   * may look unheld here: the collection skips what it cannot lock and checks again.
   */
  private async sweep(from: number): Promise<void> {
    if (this.closed) return;
    try {
      const r = await rows<{ last: number | null; orphans: string[] }>(
        this.db,
        `WITH s AS (SELECT id, blob_hash FROM messages WHERE id > $1 ORDER BY id LIMIT $2)
         SELECT (SELECT max(id) FROM s) AS last,
           ARRAY(SELECT s.blob_hash FROM s WHERE NOT EXISTS (
             SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = s.id)) AS orphans`,
        [from, this.slice],
      );
      const x = r[0];
      if (!x) return;
      this.add(x.orphans);
      if (x.last !== null) setImmediate(() => void this.sweep(x.last!)).unref();
    } catch {
      // The database is failing: the next start sweeps again.
    }
  }
}
