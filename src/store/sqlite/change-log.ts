// Changes made by another process on the same database: `letterbox import` stores mail while
// the server runs. Change events live in one process's memory (events.ts), so the importing
// store writes each of its events into `change_log` (migration 16), and every other store
// looks for new rows when SQLite says another connection committed (PRAGMA data_version, a
// read of a counter in shared memory, four times a second) and emits them on its own bus as
// if they were its own: the row cache re-reads, and selected and IDLE sessions announce the
// new mail (EXISTS, FETCH FLAGS, NOTIFY's STATUS and LIST).
import type { ChangeEvent } from '../types.js';
import { type Db, stmt, tx } from './db.js';

/** Rows older than this are dropped by the writer: a server that was not running then has nothing to tell. */
const KEEP_MS = 10 * 60 * 1000;

/** Buffers a store's events and writes them in batches (one transaction per 50 ms). */
export class ChangeLogWriter {
  private pending: ChangeEvent[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly db: Db) {}

  record(ev: ChangeEvent): void {
    this.pending.push(ev);
    if (this.pending.length >= 1000) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 50);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const now = Date.now();
    tx(this.db, () => {
      const insert = stmt(this.db, 'INSERT INTO change_log (at, event) VALUES (?, ?)');
      for (const ev of batch) insert.run(now, JSON.stringify(ev));
      stmt(this.db, 'DELETE FROM change_log WHERE at < ?').run(now - KEEP_MS);
    });
  }
}

/** Emits the events other processes logged, from the rows after the last one seen. */
export class ChangeLogReader {
  private last: number;
  private version: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly emit: (ev: ChangeEvent) => void,
    /** Another connection committed something (whatever it was): called once per look that sees it. */
    private readonly committed: () => void = () => {},
    intervalMs = 250,
  ) {
    this.last = stmt(db, 'SELECT COALESCE(MAX(seq), 0) FROM change_log').pluck().get() as number;
    this.version = this.dataVersion();
    this.timer = setInterval(() => this.poll(), intervalMs);
    this.timer.unref();
  }

  /**
   * A kept statement (db.ts stmt): better-sqlite3's `pragma()` prepares its statement at
   * each call, four times a second for as long as the server runs.
   */
  private dataVersion(): number {
    return stmt(this.db, 'PRAGMA data_version').pluck().get() as number;
  }

  /** Emits what was logged since the last look; nothing to read unless another connection committed. */
  poll(): void {
    if (!this.db.open) return;
    const v = this.dataVersion();
    if (v === this.version) return;
    this.version = v;
    this.committed();
    const rows = stmt(
      this.db,
      'SELECT seq, event FROM change_log WHERE seq > ? ORDER BY seq LIMIT 10000',
    ).all(this.last) as Array<{ seq: number; event: string }>;
    for (const r of rows) {
      this.last = r.seq;
      let ev: ChangeEvent;
      try {
        ev = JSON.parse(r.event) as ChangeEvent;
      } catch {
        continue;
      }
      this.emit(ev);
    }
    // More than one read's worth: the next tick goes on even if nothing else is committed.
    if (rows.length === 10000) this.version = -1;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
