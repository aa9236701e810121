// Content-addressed message files: blobs/ab/cd/<sha256>. A file under its final name is always
// complete: it is written to tmp/, fsynced, renamed into place, and its directory fsynced
// before the transaction that references it commits. Identical messages are stored once.
import { createHash, randomBytes } from 'node:crypto';
import { constants, readFileSync, unlink } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mkdirPrivate } from '../../private-files.js';
import { StoreError } from '../errors.js';

/** Blobs up to this size are read on the event loop (see FileBlobStore.read). */
export const SYNC_READ_MAX = 128 * 1024;

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export class FileBlobStore {
  private readonly tmpDir: string;
  /** Unlinks under way: a put of the same hash waits for them, so it never loses its file. */
  private readonly removing = new Map<string, Promise<void>>();
  /**
   * Fan-out directories known to exist: a mkdir per message is a syscall (and a thread-pool
   * round trip) for nothing once the 65,536 directories exist. Nothing removes them.
   */
  private readonly madeDirs = new Set<string>();

  constructor(readonly root: string) {
    this.tmpDir = join(root, 'tmp');
  }

  /** Creates the directories and removes leftovers of writes interrupted by a crash. */
  async init(): Promise<void> {
    // 0700 (and the files 0600): the text of all mail, whatever the umask.
    await mkdirPrivate(this.tmpDir);
    for (const name of await readdir(this.tmpDir))
      await rm(join(this.tmpDir, name), { force: true });
  }

  dirOf(hash: string): string {
    return join(this.root, hash.slice(0, 2), hash.slice(2, 4));
  }

  pathOf(hash: string): string {
    return join(this.dirOf(hash), hash);
  }

  async exists(hash: string): Promise<boolean> {
    try {
      await stat(this.pathOf(hash));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Writes the blob durably unless it is already there. Returns the directories that must be
   * fsynced before commit (none when nothing new was written), so a batch syncs each once.
   */
  async put(hash: string, data: Buffer): Promise<string[]> {
    await this.removing.get(hash);
    if (await this.exists(hash)) return [];
    const dir = this.dirOf(hash);
    let dirs = [dir];
    if (!this.madeDirs.has(dir)) {
      const created = await mkdirPrivate(dir);
      // A newly created directory is itself an entry of its parent: sync those too.
      if (created) dirs = [dir, dirname(dir), this.root];
      this.madeDirs.add(dir);
    }
    const tmp = join(this.tmpDir, `${hash}.${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.pathOf(hash));
    return dirs;
  }

  /**
   * The blob's bytes; NOT_FOUND once it was collected (its last message expunged). A blob
   * known (`size`) to be at most SYNC_READ_MAX is read synchronously: from the page cache that
   * takes a few microseconds, where the thread pool's open + fstat + read + close costs
   * about five times the CPU in round trips; a cold read of that much blocks well under a
   * millisecond. Larger blobs go through the thread pool.
   */
  async read(hash: string, size?: number): Promise<Buffer> {
    try {
      if (size === undefined) return await readFile(this.pathOf(hash));
      if (size <= SYNC_READ_MAX) return readFileSync(this.pathOf(hash));
      return await readSized(this.pathOf(hash), size);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new StoreError('NOT_FOUND', 'message no longer exists', { cause: err });
      }
      throw err;
    }
  }

  /**
   * Unlinks blobs whose last message is gone, in the thread pool: an unlink costs tens of
   * microseconds of kernel time on ext4, which must not hold the event loop when an expunge
   * frees thousands. Plain callbacks, one promise per batch (not per file). A put of one of
   * these hashes meanwhile (from now on, also while `after` is pending) waits for the batch,
   * so it never loses its new file.
   */
  removeMany(hashes: string[], after: Promise<void> = Promise.resolve()): Promise<void> {
    if (hashes.length === 0) return Promise.resolve();
    // `after`: the commit that dropped their rows is durable; if it cannot be made so, the
    // files stay (an orphan file is harmless, a row without its file is not).
    const batch = after.then(
      () =>
        new Promise<void>((resolve) => {
          let left = hashes.length;
          // An error is a file already gone (never written, or removed by an earlier batch).
          const done = () => {
            if (--left === 0) resolve();
          };
          for (const h of hashes) unlink(this.pathOf(h), done);
        }),
      () => {},
    );
    for (const h of hashes) this.removing.set(h, batch);
    return batch.finally(() => {
      for (const h of hashes) if (this.removing.get(h) === batch) this.removing.delete(h);
    });
  }
}

/**
 * A file whose size is known: open, one read, close (readFile adds an fstat and reads in
 * 512 KiB pieces: each a thread-pool round trip). One byte more is asked for, so a file that
 * is not the expected size is noticed and read whole instead.
 */
async function readSized(path: string, size: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafeSlow(size + 1);
    const { bytesRead } = await fh.read(buf, 0, size + 1, 0);
    if (bytesRead === size) return buf.subarray(0, size);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** fsync a directory so a rename into it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
