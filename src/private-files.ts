// Everything Letterbox creates under its data directory holds secrets (password hashes, the
// text of all mail, the TLS key): directories are made 0700 and files 0600 whatever the
// process umask. A mode given at creation can only be narrowed by the umask, never widened;
// a chmod after creation makes it exact. Where a library creates the file itself (SQLite makes
// a database 0644), the file is created empty first: SQLite opens it as an empty database and
// gives its -wal and -shm files the database file's mode.
import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs';
import { chmod, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * `mkdir -p` where every directory it creates is 0700. Returns the first directory it
 * created, undefined when `dir` existed (an existing directory is left as it is).
 */
export async function mkdirPrivate(dir: string): Promise<string | undefined> {
  const first = await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first !== undefined) for (const d of created(first, dir)) await chmod(d, PRIVATE_DIR_MODE);
  return first;
}

/** mkdirPrivate, synchronously. */
export function mkdirPrivateSync(dir: string): string | undefined {
  const first = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first !== undefined) for (const d of created(first, dir)) chmodSync(d, PRIVATE_DIR_MODE);
  return first;
}

/** Create `file` (it must not exist) 0600 whatever the umask, holding `data`. */
export async function writePrivateFile(file: string, data: string | Buffer): Promise<void> {
  const fh = await open(file, 'wx', PRIVATE_FILE_MODE);
  try {
    await fh.chmod(PRIVATE_FILE_MODE);
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

/** The directories from `first` down to `dir`, which mkdir -p just created. */
function created(first: string, dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    out.push(d);
    if (d === first || dirname(d) === d) break;
  }
  return out;
}

/**
 * Before a library opens `file` (SQLite): create it empty and 0600 if it is missing; take the
 * group and other bits off one that exists (a database made by an older version, 0644).
 * Companion files that exist already (`-wal`, `-shm`) are narrowed the same way; new ones
 * copy the database's mode.
 */
export function preparePrivateFileSync(file: string, companions: string[] = []): void {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'wx', PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (fd === undefined) narrowIfExists(file);
  else {
    try {
      fchmodSync(fd, PRIVATE_FILE_MODE);
    } finally {
      closeSync(fd);
    }
  }
  for (const c of companions) narrowIfExists(c);
}

function narrowIfExists(file: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return; // not there: SQLite creates it with the database's mode
  }
  if ((mode & 0o077) === 0) return;
  try {
    chmodSync(file, mode & 0o700);
  } catch (err) {
    // Another user's file (an old CLI run as root): opening it decides what happens.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
}
