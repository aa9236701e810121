// What lets fts.db go without syncing its writes (issue 19), and how an index a power loss
// may have torn is found and dropped before anyone reads it.
//
// fts.db is derived data (rebuilt from the messages when lost), but a wrong index would make
// SEARCH answer wrongly, so it must never be used torn. It is written with a rollback journal
// and synchronous=OFF: SQLite writes each transaction's pages without fsync(2). A process that
// crashes (or is killed) loses nothing: its writes are in the kernel's page cache, which the
// next opener reads, and a transaction cut short is rolled back from its journal, also read
// from the page cache (SQLite's atomic commit needs the syncs only against an OS crash or a
// power loss). So only a crash of the machine can leave the file torn, and that is what is
// recorded: each opener leaves a mark (a file beside the index naming this boot,
// /proc/sys/kernel/random/boot_id, and its pid) made durable before its first write, and
// removes it at a clean close once the index file and journal are synced. An index that has
// the mark of another boot was open, not synced, when the machine went down: it is deleted
// (the worker's reconciliation then indexes every message again, and searches read what it
// has not reached yet). Marks of this boot whose process is gone are dropped after a sync of
// the index (their writes are in the page cache, so the sync makes them durable).
//
// Several processes may open the index at once (the server's worker, a CLI command's): the
// check and the deletion run under a lock they all take (an exclusive transaction on a small
// SQLite file, `fts.db-lock`, which the kernel releases if its holder dies), so a torn index
// is deleted before anyone of this boot has opened it, and never under a live opener.
import {
  closeSync,
  constants,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { PRIVATE_FILE_MODE, preparePrivateFileSync } from '../../private-files.js';
import { sqliteCompanions } from './db.js';

/** This boot of the machine (Linux), or null where it cannot be told. */
export function currentBootId(): string | null {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
    return id === '' ? null : id;
  } catch {
    return null;
  }
}

/** An opener's mark: `release` after the index is closed, for a clean close. */
export interface OpenMark {
  release(): void;
}

/** The index file and its companions (journal, WAL). */
function indexFiles(ftsFile: string): string[] {
  return [ftsFile, ...sqliteCompanions(ftsFile)];
}

/**
 * Before `ftsFile` is opened: deletes it when a mark of another boot says a machine crash may
 * have torn it, drops the marks of dead processes of this boot, and leaves this opener's own
 * mark, durable. `bootId`: currentBootId() (a parameter so that tests can stand for a boot).
 */
export function markOpen(ftsFile: string, bootId: string): OpenMark {
  const dir = dirname(ftsFile);
  const prefix = `${basename(ftsFile)}-open-`;
  const own = join(dir, `${prefix}${process.pid}-${threadId}-${Date.now().toString(36)}`);
  withLock(`${ftsFile}-lock`, () => {
    const marks = readdirSync(dir).filter((n) => n.startsWith(prefix));
    const others: string[] = [];
    const dead: string[] = [];
    for (const name of marks) {
      const mark = readMark(join(dir, name));
      if (mark === null || mark.boot !== bootId) others.push(name);
      else if (!alive(mark.pid)) dead.push(name);
    }
    if (others.length > 0) {
      // Open when another boot ended: possibly torn. Nobody of this boot has it open (each
      // opener passes here first), so it goes, with every mark but this boot's live ones.
      for (const f of indexFiles(ftsFile)) rmSync(f, { force: true });
      for (const name of [...others, ...dead]) rmSync(join(dir, name), { force: true });
    } else if (dead.length > 0) {
      // A crashed process of this boot: its writes are whole in the page cache.
      syncFiles(indexFiles(ftsFile));
      for (const name of dead) rmSync(join(dir, name), { force: true });
    }
    writeMark(own, `${bootId}\n${process.pid}\n`);
    syncDir(dir);
  });
  return {
    release() {
      syncFiles(indexFiles(ftsFile));
      rmSync(own, { force: true });
      syncDir(dir);
    },
  };
}

function readMark(file: string): { boot: string; pid: number } | null {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return null;
  }
  const [boot, pid] = text.split('\n');
  const n = Number(pid);
  // A mark cut short (its write not durable when the machine went down) counts as another boot's.
  return boot && Number.isInteger(n) && n > 0 ? { boot, pid: n } : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, another user's.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function writeMark(file: string, text: string): void {
  const fd = openSync(file, 'wx', PRIVATE_FILE_MODE);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsync(2) of each file that exists. */
function syncFiles(files: string[]): void {
  for (const f of files) {
    let fd: number;
    try {
      fd = openSync(f, 'r+');
    } catch {
      continue;
    }
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Runs `fn` holding an exclusive lock on `file` (an SQLite database used only for it). */
function withLock(file: string, fn: () => void): void {
  preparePrivateFileSync(file, sqliteCompanions(file));
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 30000');
    db.exec('BEGIN EXCLUSIVE');
    try {
      fn();
    } finally {
      db.exec('COMMIT');
    }
  } finally {
    db.close();
  }
}
