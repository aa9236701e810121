// `letterbox restore DIR`: puts a backup (snapshot.ts) back as a data directory, for a server
// that is stopped. The backup is verified first (verify.ts); the target must be empty unless
// forced, and then its old contents are removed first: a database left beside its old -wal
// file would be read through that journal. Files get their recorded modes back.
import { constants } from 'node:fs';
import { chmod, copyFile, readdir, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { runningServerPid } from '../cli/pid-file.js';
import { mkdirPrivate } from '../private-files.js';
import type { Manifest } from './manifest.js';
import { verifyBackup } from './verify.js';

export class RestoreError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

async function* tree(root: string, rel = ''): AsyncGenerator<string> {
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) yield* tree(root, r);
    else if (e.isFile()) yield r;
  }
}

export async function restoreBackup(
  dir: string,
  target: string,
  opts: { force?: boolean } = {},
): Promise<Manifest> {
  const inside = relative(target, dir);
  if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) {
    throw new RestoreError(
      `the backup ${dir} lies in the target ${target}: move it elsewhere first`,
    );
  }
  const pid = runningServerPid(target);
  if (pid !== null) {
    throw new RestoreError(`a server (pid ${pid}) runs on ${target}: stop it first`);
  }
  const verdict = await verifyBackup(dir);
  if (!verdict.ok) {
    throw new RestoreError(`${dir} is not a sound backup, nothing was changed`, verdict.problems);
  }
  let existing: string[] = [];
  try {
    existing = await readdir(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing.length > 0) {
    if (opts.force !== true) {
      throw new RestoreError(`${target} is not empty: use --force to replace what is in it`);
    }
    for (const name of existing) await rm(join(target, name), { recursive: true, force: true });
  }
  await mkdirPrivate(target);
  const modes = new Map<string, number>();
  for (const f of [...verdict.manifest.databases, ...verdict.manifest.files])
    modes.set(f.path, f.mode);
  const made = new Set<string>();
  const data = join(dir, 'data');
  for await (const rel of tree(data)) {
    const to = join(target, rel);
    const parent = dirname(to);
    if (!made.has(parent)) {
      await mkdirPrivate(parent);
      made.add(parent);
    }
    await copyFile(join(data, rel), to, constants.COPYFILE_EXCL);
    await chmod(to, modes.get(rel) ?? 0o600);
  }
  return verdict.manifest;
}
