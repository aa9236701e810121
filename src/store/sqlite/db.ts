// Opening the SQLite database: WAL for concurrent readers, synchronous=NORMAL with the WAL
// fsynced by WalSync (wal-sync.ts) before the store answers any write (250/OK only after
// that), foreign keys on.
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { mkdirPrivateSync, preparePrivateFileSync } from '../../private-files.js';
import { migrate } from './migrations.js';

export type Db = Database.Database;

/** The database's own files: 0600, like it (SQLite gives new ones the database's mode). */
export function sqliteCompanions(file: string): string[] {
  return [`${file}-wal`, `${file}-shm`, `${file}-journal`];
}

/** `cacheKiB`: SQLite's page cache for this connection (better-sqlite3's default: 16,000). */
export function openDatabase(file: string, cacheKiB?: number): Db {
  mkdirPrivateSync(dirname(file));
  // Password hashes and mail: 0600 whatever the umask (SQLite itself would make it 0644).
  preparePrivateFileSync(file, sqliteCompanions(file));
  const db = new Database(file);
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  // WalSync makes NORMAL as durable as FULL; without a WAL (a file system that cannot hold
  // one) there is nothing for it to sync, so each commit syncs itself.
  db.pragma(mode === 'wal' ? 'synchronous = NORMAL' : 'synchronous = FULL');
  // No memory map (mmap_size): it made POP3 RETR of small messages ~15% faster, but every
  // page it touches counts in the server's RSS (the 10,000-IDLE memory target).
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  if (cacheKiB !== undefined) db.pragma(`cache_size = ${-Math.max(64, Math.floor(cacheKiB))}`);
  migrate(db);
  // Statement journals in memory. Inside a transaction, every statement that may abort half
  // way (foreign keys are on) and every savepoint (each append of a group commit's batch has
  // one) copies the pages it changes into a sub-journal, which SQLite moves to a temporary
  // file past 64 KiB: with a few 10 KB messages per batch most batches did, and each then cost
  // a temp file's open and unlink and about 8 more pwrite(2)s per message on the main thread.
  // Nothing durable is in it (the WAL holds the commits; a crash drops an open transaction
  // either way). Set after the migrations, whose index builds may sort a whole table.
  db.pragma('temp_store = MEMORY');
  return db;
}

/**
 * One transaction function per database, running what it is given: better-sqlite3's
 * `db.transaction(fn)` makes four wrappers and defines their properties on each call.
 */
const runners = new WeakMap<Db, Database.Transaction<(fn: () => unknown) => unknown>>();

function runner(db: Db): Database.Transaction<(fn: () => unknown) => unknown> {
  let run = runners.get(db);
  if (!run) {
    run = db.transaction((f: () => unknown) => f());
    runners.set(db, run);
  }
  return run;
}

/** Runs fn in an immediate transaction (a nested call becomes a savepoint). */
export function tx<T>(db: Db, fn: () => T): T {
  return runner(db).immediate(fn) as T;
}

/** Runs fn in a deferred transaction: its reads see one snapshot of the database. */
export function readTx<T>(db: Db, fn: () => T): T {
  return runner(db).deferred(fn) as T;
}

/** UIDVALIDITY: unique for the store's lifetime so a re-created mailbox never reuses one. */
export function nextUidValidity(db: Db): number {
  const row = db.prepare(`SELECT value FROM meta WHERE key = 'last_uidvalidity'`).get() as
    | { value: string }
    | undefined;
  const last = row ? Number(row.value) : 0;
  // Seconds since the epoch fit in 32 bits (RFC 9051 nz-number) until 2106.
  const next = Math.max(last + 1, Math.floor(Date.now() / 1000));
  db.prepare(
    `INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  ).run(String(next));
  return next;
}

/** Bumps and returns the account's change counter: the MODSEQ of the change being made. */
export function nextModseq(db: Db, accountId: number): number {
  const row = stmt(db, 'UPDATE accounts SET modseq = modseq + 1 WHERE id = ? RETURNING modseq').get(
    accountId,
  ) as { modseq: number } | undefined;
  if (!row) throw new Error(`account ${accountId} vanished`);
  return row.modseq;
}

const statementCache = new WeakMap<Db, Map<string, Database.Statement>>();

/** A prepared statement, compiled once per database and reused (hot paths run thousands). */
export function stmt(db: Db, sql: string): Database.Statement {
  let cache = statementCache.get(db);
  if (!cache) {
    cache = new Map();
    statementCache.set(db, cache);
  }
  let s = cache.get(sql);
  if (!s) {
    s = db.prepare(sql);
    cache.set(sql, s);
  }
  return s;
}
