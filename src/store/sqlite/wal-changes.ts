// Whether anything but this process's write batches has committed to the mail database since a
// moment, told without a read transaction: what lets RCPT's look-up of an address (directory.ts)
// be answered from memory. That look-up was one autocommit read per recipient, ~20 us of the
// main thread (its read lock's fcntl(2)s on the -shm file, the statement), and its answer
// changes only when a domain, account or alias does, which no write batch does.
//
// SQLite's wal-index header (its documented format, walformat.html: two copies of 48 bytes at
// the start of the -shm file, native byte order) holds iChange at byte 8, a counter that every
// commit of any connection raises by one. A write batch (write-batch.ts) reads it inside its
// transaction before the COMMIT, while it holds the write lock, so no other connection's commit
// can come between that read and its own; when the batch changed rows, its commit takes exactly
// the next count. So the counts this process's batches took are known, and any other count seen
// (another process's commit, `letterbox` commands, this process's own directory writes, which
// do not pass through the batch) starts a new generation: every answer kept from before is
// dropped. Any doubt (the header mid-write, a batch that may have written nothing, a failed
// commit) counts as a change: the look-up reads the database, as it always did.
//
// The same read gives the checkpointer its count of frames not yet copied (mxFrame at byte 16
// of the header, nBackfill at byte 96, the checkpoint information after the two copies): the
// write batch's read under its write lock is the one a checkpoint's due check after that
// batch uses (checkpointer.ts `due`), instead of a pread(2) of its own per batch.
import { closeSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';

const LE = endianness() === 'LE';
/** Both copies of the wal-index header. */
const HEADER_BYTES = 96;
/** The header and the checkpoint information's nBackfill, which one read takes. */
export const READ_BYTES = 100;
const COPY_BYTES = 48;
const MX_FRAME_AT = 16;
const BACKFILL_AT = 96;
/** isInit: 1 once the header is valid. */
const IS_INIT_AT = 12;
const CHANGE_AT = 8;

/** What a read made now sees: the generation, and the commit count. */
/**
 * The WAL's frames not yet copied into the database, from the first READ_BYTES of the -shm
 * file (mxFrame less nBackfill).
 */
export function framesNotCopied(h: Buffer): number {
  const mx = LE ? h.readUInt32LE(MX_FRAME_AT) : h.readUInt32BE(MX_FRAME_AT);
  const backfilled = LE ? h.readUInt32LE(BACKFILL_AT) : h.readUInt32BE(BACKFILL_AT);
  return mx > backfilled ? mx - backfilled : 0;
}

export interface WalMoment {
  generation: number;
  counter: number;
}

export class WalChanges {
  private fd: number | null = null;
  private readonly header = Buffer.alloc(READ_BYTES);
  private generation = 0;
  /** Frames not yet copied into the database, as the last whole read saw them; null once taken. */
  private frames: number | null = null;
  /** The last count this process's batches are known to have taken, null when not known. */
  private ownUpTo: number | null = null;
  /**
   * The count a write batch read under the write lock (`hold`), answered by counter() until
   * `release`; undefined when none is held.
   */
  private held: number | null | undefined = undefined;

  /** `shmFile`: the mail database's -shm file; null (no WAL) tells nothing, always. */
  constructor(private readonly shmFile: string | null) {}

  /** The commit counter now, or null when the header cannot be read whole. */
  counter(): number | null {
    if (this.held !== undefined) return this.held;
    return this.read();
  }

  /**
   * In a write transaction begun IMMEDIATE (the write lock held), before its first statement:
   * the counter, read once. No other connection can commit until this one's COMMIT, and this
   * connection's own statements move the count only at its COMMIT, so until `release` every
   * counter() (each write's mailbox key, messages.ts through mailboxes.ts `key`) is answered
   * with this reading instead of a pread(2) of its own (~5-10 us of the main thread each on
   * this machine; the login mix's APPEND, STORE and EXPUNGE each made one).
   */
  hold(): number | null {
    this.held = this.read();
    return this.held;
  }

  /** The transaction of `hold` is over (committed or not): counter() reads again. */
  release(): void {
    this.held = undefined;
  }

  private read(): number | null {
    if (this.shmFile === null) return null;
    try {
      this.fd ??= openSync(this.shmFile, 'r');
      const n = readSync(this.fd, this.header, 0, READ_BYTES, 0);
      if (n < HEADER_BYTES) return null;
      const h = this.header;
      // SQLite writes the second copy, then the first: a read between them sees two that differ.
      if (h[IS_INIT_AT] !== 1 || h.compare(h, COPY_BYTES, HEADER_BYTES, 0, COPY_BYTES) !== 0)
        return null;
      if (n === READ_BYTES) this.frames = framesNotCopied(h);
      return LE ? h.readUInt32LE(CHANGE_AT) : h.readUInt32BE(CHANGE_AT);
    } catch {
      return null;
    }
  }

  /**
   * The WAL's frames not yet copied into the database as the last read saw them (a write
   * batch's `hold`, before its COMMIT: its own frames are counted by the next batch's), once:
   * null when no read gave them since the last call, and the caller reads the file itself.
   */
  takeFrames(): number | null {
    const f = this.frames;
    this.frames = null;
    return f;
  }

  /**
   * The generation a read made now belongs to, null when not known (read the database, keep
   * nothing). A count that is not the last one this process's batches took is a commit by
   * someone else: a new generation.
   */
  now(): WalMoment | null {
    const counter = this.counter();
    if (counter === null) return null;
    if (counter !== this.ownUpTo) {
      this.generation++;
      this.ownUpTo = counter;
    }
    return { generation: this.generation, counter };
  }

  /**
   * After a write batch's transaction: `before`, the counter read in it before its COMMIT;
   * `wrote`, true only when it committed having changed rows (its commit took one count).
   */
  committed(before: number | null, wrote: boolean): void {
    if (before === null || !wrote) {
      this.ownUpTo = null;
      return;
    }
    if (before !== this.ownUpTo) this.generation++;
    this.ownUpTo = (before + 1) >>> 0;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
