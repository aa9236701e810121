// When and where the mail database's WAL is checkpointed. SQLite's own checkpoint runs inside
// the commit that crosses `wal_autocheckpoint` frames, on the committing connection: in this
// process, the main thread, where its fsyncs (the WAL's, then the database's) stood the event
// loop still for several milliseconds once per ~1,000 frames, every session's replies with it
// (smtp-source, 10 sessions, a connection per message: 43 commits of over 5 ms in 811, 61% of
// the commits' wall time; docs/design-notes.md, nineteenth session).
//
// Now the write batch (write-batch.ts) asks `due()` after each durable batch: when the WAL holds
// `everyFrames` frames not yet copied, the checkpoint runs in a worker thread (checkpoint-worker.ts)
// and the batch's next commit waits for it, so that it completes (a commit during a PASSIVE
// checkpoint leaves its frames uncopied, and only a complete one lets the next write start the
// WAL over). Writes queue meanwhile and go in one batch; every other command is served. The
// main connection's own autocheckpoint stays, at a bound ten times higher, for writes that do
// not pass through the batch and for a worker that fails.
//
// The count of frames is read from the WAL index's header in the -shm file (SQLite's
// documented wal-index format: mxFrame at byte 16, nBackfill at byte 96, native byte order):
// the write batch's own read of that header under its write lock (wal-changes.ts `hold`,
// passed in as `frames`) when there is one, so the count is one batch late (its own frames
// are seen by the next batch's check: a few dozen against the mark's thousand); else a
// pread(2) of 100 bytes here. It decides only when to checkpoint, never what is durable
// (WalSync fsyncs every commit's frames before it is answered, as before).
import { closeSync, openSync, readSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../worker-thread.js';
import type { CheckpointReply } from './checkpoint-worker.js';
import { framesNotCopied, READ_BYTES } from './wal-changes.js';

/** Frames past which a checkpoint is due: SQLite's default `wal_autocheckpoint`. */
export const CHECKPOINT_FRAMES = 1000;
/** The main connection's own autocheckpoint while the worker does them. */
export const MAIN_AUTOCHECKPOINT_FRAMES = 10 * CHECKPOINT_FRAMES;

export interface CheckpointerOptions {
  mailFile: string;
  everyFrames?: number;
  onError?: (err: unknown) => void;
  /** Each checkpoint done: frames in the WAL and frames copied (monitoring, tests). */
  onCheckpoint?: (log: number, checkpointed: number) => void;
  /** The worker cannot checkpoint: the main connection takes them back (its autocheckpoint). */
  fallBack: () => void;
  /**
   * Frames not yet copied as a read made since the last check saw them (WalChanges
   * `takeFrames`), null when none did: `due` then reads the header itself.
   */
  frames?: () => number | null;
}

export class WalCheckpointer {
  private shmFd: number | null = null;
  private readonly header = Buffer.alloc(READ_BYTES);
  private worker: Worker | null = null;
  private running: Promise<void> | null = null;
  private waiting: ((r: CheckpointReply | null) => void) | null = null;
  private q = 0;
  private stopped = false;
  private readonly everyFrames: number;
  /**
   * Frames not copied at which the next checkpoint is due: `everyFrames` past what the last
   * one had to leave (a reader's snapshot holds frames back; trying again at every batch
   * would copy nothing more).
   */
  private dueAt: number;

  constructor(private readonly opts: CheckpointerOptions) {
    this.everyFrames = opts.everyFrames ?? CHECKPOINT_FRAMES;
    this.dueAt = this.everyFrames;
  }

  /** Frames in the WAL not yet copied into the database (0 when the index cannot be read). */
  pendingFrames(): number {
    try {
      this.shmFd ??= openSync(`${this.opts.mailFile}-shm`, 'r');
      if (readSync(this.shmFd, this.header, 0, READ_BYTES, 0) < READ_BYTES) return 0;
    } catch {
      return 0;
    }
    return framesNotCopied(this.header);
  }

  /** A checkpoint when one is due (the promise ends with it), else undefined. */
  due(): Promise<void> | undefined {
    if (this.stopped) return undefined;
    if (this.running) return this.running;
    const pending = this.opts.frames?.() ?? this.pendingFrames();
    // The worker is started half way to the mark, so that no batch waits for its start.
    if (pending >= this.everyFrames / 2) this.worker ??= this.spawn();
    if (pending < this.dueAt) return undefined;
    const p = this.run().finally(() => {
      this.running = null;
    });
    this.running = p;
    return p;
  }

  /** Waits for a checkpoint under way, then stops the worker (before the main connection closes). */
  async close(): Promise<void> {
    this.stopped = true;
    await this.running;
    const w = this.worker;
    this.worker = null;
    if (w) {
      const exited = new Promise((r) => w.once('exit', r));
      // Held until it has exited: its connection must be gone before the main one closes.
      w.ref();
      w.postMessage('close');
      await exited;
    }
    if (this.shmFd !== null) closeSync(this.shmFd);
    this.shmFd = null;
  }

  private async run(): Promise<void> {
    let reply: CheckpointReply | null;
    try {
      this.worker ??= this.spawn();
      const w = this.worker;
      w.ref();
      reply = await new Promise<CheckpointReply | null>((resolve) => {
        this.waiting = resolve;
        w.postMessage({ q: ++this.q });
      });
      w.unref();
    } catch (err) {
      reply = { q: this.q, error: String(err) };
    }
    if (reply && 'log' in reply) {
      this.dueAt = this.everyFrames + Math.max(0, reply.log - reply.checkpointed);
      this.opts.onCheckpoint?.(reply.log, reply.checkpointed);
      return;
    }
    // The worker failed or is gone: SQLite's checkpoints on the main connection again.
    this.stopped = true;
    this.opts.onError?.(new Error(`WAL checkpoint worker: ${reply ? reply.error : 'exited'}`));
    this.opts.fallBack();
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
  }

  private answer(r: CheckpointReply | null): void {
    const resolve = this.waiting;
    this.waiting = null;
    resolve?.(r);
  }

  private spawn(): Worker {
    const w = startWorker(import.meta.url, 'checkpoint-worker', {
      workerData: { file: this.opts.mailFile },
    });
    w.on('message', (r: CheckpointReply) => this.answer(r));
    w.on('error', (err) => {
      this.opts.onError?.(err);
      this.answer(null);
    });
    w.on('exit', () => this.answer(null));
    w.unref();
    return w;
  }
}
