// `letterbox backup DIR`: a consistent copy of a data directory while the server runs.
//
// - Databases (every `*.db` of the data directory: the mail store, the full-text index) are
//   copied with SQLite's online backup through a connection of their own, so a snapshot is
//   one committed state, WAL included. The copy is made in one step after the first: SQLite
//   restarts a backup when another process writes meanwhile, and a single step cannot be
//   interrupted, so it ends after at most one restart however busy the server is.
// - Blobs are immutable once under their name (written, fsynced, renamed before the commit
//   that refers to them): they are hard-linked (copied across file systems) in two passes,
//   one before the snapshot and one after. A blob the snapshot refers to existed before it,
//   so the first pass has it, or, if it came later, the second one does; a removal by the
//   store's collector after the first pass cannot take it away. The snapshot's references
//   are then checked: a backup missing one fails instead of being written as good.
// - Every other file (config, TLS and DKIM keys, ACME account, SRS key) is copied with its
//   mode; the config file and certificate files kept outside the data dir go to external/.
// - manifest.json is written last (manifest.ts).
import { constants } from 'node:fs';
import { chmod, copyFile, link, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import Database from 'better-sqlite3';
import type { Config } from '../config/schema.js';
import { mkdirPrivate, preparePrivateFileSync } from '../private-files.js';
import { letterboxVersion } from '../version.js';
import { blobPath, referencedBlobs } from './blob-refs.js';
import {
  type ExternalFile,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Manifest,
  type ManifestFile,
  sha256File,
} from './manifest.js';

/** Files of the data directory that are not copied as files. */
function skipped(rel: string): boolean {
  if (!rel.includes('/')) {
    // The databases go through the online backup; their journals are part of it. The pid
    // file belongs to the running process, and so do the full-text index's lock and its
    // openers' marks (store/sqlite/fts-marks.ts).
    return (
      /\.db(-wal|-shm|-journal|-lock)?$/.test(rel) ||
      /\.db-open-/.test(rel) ||
      rel === 'letterbox.pid'
    );
  }
  return rel.startsWith('blobs/tmp/') || rel === 'blobs/tmp';
}

export class BackupError extends Error {}

/** Refuses a destination that has anything in it, or lies inside the data directory. */
async function prepareDestination(dest: string, dataDir: string): Promise<void> {
  const rel = relative(dataDir, dest);
  if (rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep))) {
    throw new BackupError(`${dest} is inside the data directory ${dataDir}`);
  }
  try {
    if ((await readdir(dest)).length > 0) throw new BackupError(`${dest} is not empty`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdirPrivate(dest);
}

async function* walk(root: string, rel = ''): AsyncGenerator<string> {
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (skipped(r)) continue;
    if (e.isDirectory()) yield* walk(root, r);
    else if (e.isFile()) yield r;
  }
}

async function ensureDir(dir: string, made: Set<string>): Promise<void> {
  if (made.has(dir)) return;
  await mkdirPrivate(dir);
  made.add(dir);
}

/** Links every blob not yet in the backup; returns how many were added. */
async function linkBlobs(
  dataDir: string,
  out: string,
  made: Set<string>,
  copy: boolean,
): Promise<number> {
  let added = 0;
  const root = join(dataDir, 'blobs');
  try {
    await stat(root);
  } catch {
    return 0;
  }
  for await (const rel of walk(dataDir, 'blobs')) {
    const to = join(out, rel);
    await ensureDir(dirname(to), made);
    try {
      if (copy) throw Object.assign(new Error('copy asked'), { code: 'EXDEV' });
      await link(join(dataDir, rel), to);
      added++;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      // Gone since the listing (collected): the snapshot check below decides if it mattered.
      if (code === 'ENOENT') continue;
      if (code !== 'EXDEV' && code !== 'EPERM') throw err;
      try {
        await copyFile(join(dataDir, rel), to, constants.COPYFILE_EXCL);
        added++;
      } catch (e) {
        const c = (e as NodeJS.ErrnoException).code;
        if (c !== 'ENOENT' && c !== 'EEXIST') throw e;
      }
    }
  }
  return added;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function describe(path: string, rel: string): Promise<ManifestFile> {
  const st = await stat(path);
  return { path: rel, size: st.size, sha256: await sha256File(path), mode: st.mode & 0o777 };
}

/** Copies one regular file with its mode. */
async function copyKeepingMode(from: string, to: string): Promise<void> {
  const st = await stat(from);
  await copyFile(from, to, constants.COPYFILE_EXCL);
  await chmod(to, st.mode & 0o777);
}

async function snapshotDatabase(from: string, to: string): Promise<void> {
  preparePrivateFileSync(to);
  const db = new Database(from, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    // After the first step of 100 pages, the rest in one step (see the top of this file).
    await db.backup(to, { progress: () => 2_000_000_000 });
  } finally {
    db.close();
  }
  // The copy keeps the source's WAL mode in its header; a backup is one self-contained file
  // (the server turns WAL on again when it opens the restored database).
  const copy = new Database(to, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}

export interface BackupSummary {
  manifest: Manifest;
  dest: string;
}

export interface BackupOptions {
  /**
   * Copy the blobs instead of hard-linking them. A link shares the file with the live store:
   * cheap, and enough against losing the store, but not against damage to the file itself.
   * Across file systems they are copied anyway.
   */
  copy?: boolean;
}

export async function createBackup(
  cfg: Config,
  dest: string,
  opts: BackupOptions = {},
): Promise<BackupSummary> {
  // The mail of a PostgreSQL store is in the database, not under data_dir: a snapshot of the
  // directory alone would look like a backup and hold no mail.
  if (cfg.store.kind !== 'sqlite') {
    throw new BackupError(
      `the ${cfg.store.kind} store's mail is in its database: back it up with its own tools (pg_dump)`,
    );
  }
  const copy = opts.copy === true;
  const dataDir = cfg.dataDir;
  await prepareDestination(dest, dataDir);
  const out = join(dest, 'data');
  await mkdirPrivate(out);
  const made = new Set<string>([out]);

  await linkBlobs(dataDir, out, made, copy);

  // The mail database first: the full-text index taken after it may only be ahead, and its
  // start-up pass drops entries of messages the mail database does not have.
  const names = (await readdir(dataDir)).filter((n) => n.endsWith('.db'));
  names.sort((a, b) => (a === 'letterbox.db' ? -1 : b === 'letterbox.db' ? 1 : a.localeCompare(b)));
  const databases: ManifestFile[] = [];
  for (const name of names) {
    await snapshotDatabase(join(dataDir, name), join(out, name));
  }

  await linkBlobs(dataDir, out, made, copy);

  const mail = join(out, 'letterbox.db');
  if (names.includes('letterbox.db')) {
    const db = new Database(mail, { readonly: true, fileMustExist: true });
    try {
      const missing = [];
      for (const h of referencedBlobs(db)) {
        try {
          await stat(join(out, blobPath(h)));
        } catch {
          missing.push(h);
        }
      }
      if (missing.length > 0) {
        throw new BackupError(
          `${missing.length} message files the snapshot refers to were removed during the ` +
            `backup (first: ${missing[0]}); run the backup again`,
        );
      }
    } finally {
      db.close();
    }
  }
  for (const name of names) databases.push(await describe(join(out, name), name));

  const files: ManifestFile[] = [];
  let blobs = 0;
  for await (const rel of walk(dataDir)) {
    if (rel.startsWith('blobs/')) continue;
    const to = join(out, rel);
    await ensureDir(dirname(to), made);
    await copyKeepingMode(join(dataDir, rel), to);
    files.push(await describe(to, rel));
  }
  if (await exists(join(out, 'blobs'))) {
    for await (const _ of walk(out, 'blobs')) blobs++;
  }

  const external: ExternalFile[] = [];
  const outside = [cfg.file, cfg.tlsFiles.cert, cfg.tlsFiles.key];
  for (const s of cfg.tlsFiles.sni) outside.push(s.cert, s.key);
  for (const original of [...new Set(outside)]) {
    const rel = relative(dataDir, original);
    if (!rel.startsWith('..') && !rel.startsWith(sep)) continue; // inside: copied above
    try {
      await stat(original);
    } catch {
      continue; // a TLS file the config names but no listener needs
    }
    const path = `external/${external.length}-${basename(original)}`;
    await mkdirPrivate(join(dest, 'external'));
    await copyKeepingMode(original, join(dest, path));
    external.push({ ...(await describe(join(dest, path), path)), original });
  }

  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    createdAt: new Date().toISOString(),
    letterbox: letterboxVersion(),
    dataDir,
    databases,
    files,
    blobs,
    external,
  };
  await writeFile(join(dest, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, {
    mode: 0o600,
  });
  return { manifest, dest };
}
