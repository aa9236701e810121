// The frames SQLite appends to a database's WAL, and the b-tree each page belongs to: what a
// commit writes, counted rather than timed (bench/smtp/wal-pages.ts for deliveries,
// bench/imap/wal-pages.ts for the login mix's writes).
import { closeSync, openSync, readSync } from 'node:fs';
import Database from 'better-sqlite3';

/**
 * The WAL's frames as commits append them (https://sqlite.org/fileformat2.html#walformat):
 * a 32-byte header with the page size and two salts, then frames of a 24-byte header (page
 * number, the database's size in pages on a commit's last frame, else 0, and the salts) and
 * the page. A WAL that starts over after a checkpoint gets new salts and is written from its
 * start again; frames with other salts are a former run's.
 */
export class WalReader {
  private fd: number;
  private pos = 32;
  private salts = '';
  pageSize = 0;
  readonly pages: number[] = [];
  commits = 0;

  constructor(file: string) {
    this.fd = openSync(file, 'r');
  }

  /** Reads the frames written since the last call. */
  poll(): void {
    const head = Buffer.alloc(32);
    if (readSync(this.fd, head, 0, 32, 0) < 32) return;
    this.pageSize = head.readUInt32BE(8);
    const salts = head.subarray(16, 24).toString('hex');
    if (salts !== this.salts) {
      this.salts = salts;
      this.pos = 32;
    }
    const frame = Buffer.alloc(24);
    while (readSync(this.fd, frame, 0, 24, this.pos) === 24) {
      if (frame.subarray(8, 16).toString('hex') !== salts) break;
      this.pages.push(frame.readUInt32BE(0));
      if (frame.readUInt32BE(4) !== 0) this.commits++;
      this.pos += 24 + this.pageSize;
    }
  }

  /** Forgets what was read so far (a warm-up's frames): counts start from here. */
  reset(): void {
    this.poll();
    this.pages.length = 0;
    this.commits = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * How many of `pages` each b-tree of the database had, by name and page type (`dbstat`),
 * most first; a page no b-tree holds now is "free now".
 */
export function framesByBtree(dbFile: string, pages: readonly number[]): Array<[string, number]> {
  const names = new Map<number, string>();
  const ro = new Database(dbFile, { readonly: true });
  const rows = ro.prepare('SELECT name, pageno, pagetype FROM dbstat').all() as {
    name: string;
    pageno: number;
    pagetype: string;
  }[];
  ro.close();
  for (const r of rows)
    names.set(r.pageno, r.pageno === 1 ? 'page 1 (header)' : `${r.name} ${r.pagetype}`);
  const byName = new Map<string, number>();
  for (const p of pages) {
    const name = names.get(p) ?? 'free now';
    byName.set(name, (byName.get(name) ?? 0) + 1);
  }
  return [...byName].sort((a, b) => b[1] - a[1]);
}
