// Durability for commits made with synchronous=NORMAL: the commit writes its frames to the WAL
// (page cache) and returns; before anyone is told the change is safe (250, OK, +OK), the WAL
// file is fsynced in the thread pool. The event loop goes on serving other sessions meanwhile,
// instead of standing still for every commit's fsync as synchronous=FULL makes it, and every
// commit made while one fsync runs shares the next (group commit for any write).
//
// Why this is as durable as FULL: a committed transaction is frames in the WAL file, and an
// fsync of that file makes them (and the WAL header) durable; a checkpoint under NORMAL syncs
// the WAL before copying frames into the database and syncs the database after. SQLite never
// replaces the WAL file while the database is open, so one descriptor serves for its lifetime.
import { closeSync, fsync, openSync } from 'node:fs';

export class WalSync {
  private fd: number | null = null;
  /** The fsync under way, if any. */
  private current: Promise<void> | null = null;
  /** The fsync that starts when `current` ends: it covers every commit made meanwhile. */
  private next: Promise<void> | null = null;
  /** Callers the fsync that starts next will cover, and when the first of them called. */
  private waiting = 0;
  private firstAt = 0;

  /**
   * `onGroup` (monitoring) hears of each fsync that succeeded: how many sync() calls it made
   * durable (the group commit's size) and the seconds since the first of them asked.
   */
  constructor(
    private readonly walFile: string | null,
    private readonly onGroup?: (commits: number, seconds: number) => void,
  ) {}

  /** For a database not in WAL mode: its commits sync themselves (synchronous=FULL). */
  static none(): WalSync {
    return new WalSync(null);
  }

  /** Resolves once every transaction committed before the call is on disk. */
  sync(): Promise<void> {
    if (this.walFile === null) return Promise.resolve();
    if (this.waiting++ === 0) this.firstAt = performance.now();
    // The running fsync may have started before the caller's commit: wait for the next one.
    if (this.next) return this.next;
    if (!this.current) return this.start();
    const after = this.current.then(
      () => {},
      () => {},
    );
    this.next = after.then(() => {
      this.next = null;
      return this.start();
    });
    return this.next;
  }

  /**
   * Closes the file once the fsyncs under way are done: closing it under a running fsync made
   * that fsync fail with EBADF (or, had the number been reused, sync another file).
   */
  async close(): Promise<void> {
    await Promise.allSettled([this.current, this.next].filter((p) => p !== null));
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private start(): Promise<void> {
    const commits = this.waiting;
    const firstAt = this.firstAt;
    this.waiting = 0;
    try {
      this.fd ??= openSync(this.walFile as string, 'r+');
    } catch (err) {
      return Promise.reject(err);
    }
    const fd = this.fd;
    const p = new Promise<void>((resolve, reject) =>
      fsync(fd, (err) => {
        if (err) return reject(err);
        resolve();
        this.onGroup?.(commits, (performance.now() - firstAt) / 1000);
      }),
    ).finally(() => {
      if (this.current === p) this.current = null;
    });
    this.current = p;
    return p;
  }
}
