// Changes made by another process on the same database: `letterbox import` stores mail while
// the server runs. Change events live in one process's memory (events.ts), so the importing
// store writes each of its events into `change_log` (migration 16), and every other store
// looks for new rows when SQLite says another connection committed (PRAGMA data_version, a
// read of a counter in shared memory, four times a second) and emits them on its own bus as
// if they were its own: the row cache re-reads, and selected and IDLE sessions announce the
// new mail (EXISTS, FETCH FLAGS, NOTIFY's STATUS and LIST).
//
// A quiet store does not look four times a second. Every commit of every connection (another
// process's, and this one's own and its worker threads') writes frames to the WAL file, so
// once the WAL has not changed for QUIET_MS the reader stops its timer and watches the file
// instead (fs.watch: inotify on Linux, no wake-up while nothing writes); the first write wakes
// it, it looks at once and goes back to its timer. A busy store keeps the timer, which costs
// it nothing beyond the look (its loop is awake anyway), and no per-commit callback. Without
// a WAL (a file system that cannot hold one) or where the file cannot be watched, the timer
// runs always, as before.
import { type FSWatcher, statSync, watch } from 'node:fs';
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

/** How long the WAL must stay unchanged before the reader watches it instead of looking. */
export const QUIET_MS = 5000;

/** Emits the events other processes logged, from the rows after the last one seen. */
export class ChangeLogReader {
  private last: number;
  private version: number;
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  /** The WAL's file, or null: looks on the timer only. */
  private readonly wal: string | null;
  /** The WAL's size and change time at the last look, and since when it has not moved. */
  private walStamp = '';
  private quietSince = 0;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly emit: (ev: ChangeEvent) => void,
    /** Another connection committed something (whatever it was): called once per look that sees it. */
    private readonly committed: () => void = () => {},
    private readonly intervalMs = 250,
    private readonly quietMs = QUIET_MS,
  ) {
    this.last = stmt(db, 'SELECT COALESCE(MAX(seq), 0) FROM change_log').pluck().get() as number;
    this.version = this.dataVersion();
    const mode = stmt(db, 'PRAGMA journal_mode').pluck().get() as string;
    this.wal = !db.memory && mode === 'wal' ? `${db.name}-wal` : null;
    this.startTimer();
  }

  /** Whether the reader is watching the WAL (quiet) rather than looking on its timer. */
  get watching(): boolean {
    return this.watcher !== null;
  }

  /**
   * A kept statement (db.ts stmt): better-sqlite3's `pragma()` prepares its statement at
   * each call, four times a second for as long as the server runs.
   */
  private dataVersion(): number {
    return stmt(this.db, 'PRAGMA data_version').pluck().get() as number;
  }

  private startTimer(): void {
    this.walStamp = this.stampOfWal();
    this.quietSince = performance.now();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private stampOfWal(): string {
    if (this.wal === null) return '';
    try {
      const st = statSync(this.wal, { bigint: true });
      return `${st.size}:${st.mtimeNs}:${st.ino}`;
    } catch {
      return 'none';
    }
  }

  private tick(): void {
    this.poll();
    if (this.wal === null || this.version === -1 || this.closed) return;
    const now = performance.now();
    const stamp = this.stampOfWal();
    if (stamp !== this.walStamp || stamp === 'none') {
      this.walStamp = stamp;
      this.quietSince = now;
    } else if (now - this.quietSince >= this.quietMs) this.watchWal(this.wal);
  }

  /** Quiet: the timer stops, the first write to the WAL (anyone's commit) wakes the reader. */
  private watchWal(wal: string): void {
    let w: FSWatcher;
    try {
      w = watch(wal, { persistent: false }, () => this.wake());
    } catch {
      this.quietSince = performance.now(); // cannot watch it now: keep looking on the timer
      return;
    }
    // Gone (a rename or a delete ends the watch) or failed: back to the timer.
    w.on('error', () => this.wake());
    this.watcher = w;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // A commit between the last look and the watch's start made no event: looked at now.
    this.poll();
  }

  private wake(): void {
    if (this.watcher === null || this.closed) return;
    this.watcher.close();
    this.watcher = null;
    this.poll();
    this.startTimer();
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
    if (rows.length === 10000) {
      this.version = -1;
      if (this.watcher) this.wake();
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
  }
}
