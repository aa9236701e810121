// Reclaims `message_data` rows (the bytes of small messages) that no message refers to any
// more. An expunge only deletes the message rows; the bytes go later, a chunk at a time once
// the store has been quiet for a moment, as Dovecot's mdbox leaves space to `doveadm purge`:
// deleting a thousand 10 KB rows inside a POP3 QUIT or an EXPUNGE would make the client wait
// for page frees it does not care about. A row waiting here is never read as a message (reads
// check that a message still has the hash), and a crash only leaves rows that the sweep at
// the next open finds.
import { type Db, stmt, tx } from './db.js';

/** Quiet time after the last expunge before purging starts. */
const PURGE_IDLE_MS = 1000;
/** Rows deleted per transaction (and per turn of the event loop). */
const PURGE_CHUNK = 500;
/** First sweep for rows left by a crash, after open. */
const SWEEP_DELAY_MS = 5000;

export class DataPurge {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastAdd = 0;
  private running = false;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly durable: () => Promise<void>,
  ) {
    const sweep = setTimeout(() => this.sweep(), SWEEP_DELAY_MS);
    sweep.unref();
  }

  /** Hashes whose last message row went in a commit made just now. */
  add(hashes: readonly string[]): void {
    if (this.closed || hashes.length === 0) return;
    for (const h of hashes) this.pending.add(h);
    this.lastAdd = Date.now();
    this.schedule(PURGE_IDLE_MS);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.timer || this.running || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, ms);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const quiet = Date.now() - this.lastAdd;
    if (quiet < PURGE_IDLE_MS) {
      this.schedule(PURGE_IDLE_MS - quiet);
      return;
    }
    this.running = true;
    try {
      while (this.pending.size > 0 && !this.closed) {
        const chunk = [...this.pending].slice(0, PURGE_CHUNK);
        for (const h of chunk) this.pending.delete(h);
        this.purge(chunk);
        await this.durable();
        await new Promise((r) => setImmediate(r));
        if (Date.now() - this.lastAdd < PURGE_IDLE_MS) break; // busy again: later
      }
    } catch {
      // The database is failing: the rows stay, and the sweep at the next open finds them.
    } finally {
      this.running = false;
    }
    if (this.pending.size > 0) this.schedule(PURGE_IDLE_MS);
  }

  /** Deletes the rows of these hashes that no message holds (a re-delivery may hold one). */
  private purge(hashes: string[]): void {
    tx(this.db, () => {
      stmt(
        this.db,
        `DELETE FROM message_data WHERE hash IN (SELECT value FROM json_each(?))
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_hash = message_data.hash)`,
      ).run(JSON.stringify(hashes));
    });
  }

  /** Rows no message refers to (left by a crash or a close before their purge). */
  private sweep(): void {
    if (this.closed) return;
    try {
      const orphans = stmt(
        this.db,
        `SELECT d.hash FROM message_data d
         WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_hash = d.hash)`,
      )
        .pluck()
        .all() as string[];
      this.add(orphans);
    } catch {
      // Closed meanwhile, or failing: the next open sweeps again.
    }
  }
}
