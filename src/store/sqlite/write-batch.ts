// Group commit for the store's writes of messages: appends (IMAP APPEND, every delivery),
// STORE's flag changes, EXPUNGE, COPY and MOVE. All of them pass here, so their change events
// go out in commit order (a session's view drops an expunge of a UID it was not yet told of).
// The writes that arrive together, from any session, are done in one SQLite transaction, each
// in a savepoint of its own so that one failing (over quota, its mailbox gone) does not fail
// the others, and answered once that one commit is durable.
//
// A commit costs about the same whatever it holds: it writes every page its writes touched to
// the WAL (the accounts' and mailboxes' rows share pages, so do the index leaves of small
// mailboxes) with their checksums and the WAL's locks. Ten IMAP clients' STOREs and EXPUNGEs
// arrive within the same milliseconds, and each one used to commit on its own.
//
// Why no one waits longer for it: a write is answered only after the WAL fsync that follows
// its commit (wal-sync.ts), and while one fsync runs, every commit made meanwhile waits for
// the next one anyway. So the writes that arrive during a batch's fsync are the next batch,
// done as soon as that fsync ends, and answered after the next, as they would have been.
// The first write after a quiet moment is done at once (with the writes its caller makes in
// the same step, a microtask later). Holding it to the end of the event loop's turn, so that
// other sessions' commands read in that turn would join, delayed its fsync and the answers
// behind it: SMTP's 10 sessions delivered fewer messages a second than before in 3 rounds of
// 4 that way, and more in 3 of 4 this way (docs/design-notes.md, eleventh session).
import { fsyncDir } from '../blobs/file-blobs.js';
import { type Db, stmt, tx } from './db.js';
import type { IndexItem } from './fts-db.js';
import type { WalChanges } from './wal-changes.js';

export interface BatchedWrite {
  /** Blob directories to fsync before the transaction (an append's file). */
  dirs: readonly string[];
  /**
   * In the batch's transaction (in a savepoint of its own when the batch holds others): does
   * the write, puts the stored message it made (if any) into `fresh`, and returns what is
   * done once the commit is durable (events, the caller's answer).
   */
  apply: (fresh: IndexItem[]) => () => void;
  /** The write is not done: it failed, or the transaction or its fsync did. */
  reject: (error: unknown) => void;
}

export class WriteBatch {
  private queue: BatchedWrite[] = [];
  private flushing = false;

  constructor(
    private readonly db: Db,
    /** Resolves once every commit made so far is on disk (WalSync). */
    private readonly durable: () => Promise<void>,
    /**
     * After the commit is durable, before any write is answered: the messages stored, for
     * the full-text index (so a search after an append's answer is queued behind it).
     */
    private readonly stored: (fresh: IndexItem[]) => void,
    /**
     * After each durable batch: the WAL's checkpoint when one is due (checkpointer.ts), run off
     * the main thread; the next batch's commit waits for it (writes queue meanwhile).
     */
    private readonly checkpoint: () => Promise<void> | undefined = () => undefined,
    /** Told of each batch's commit count, so that it is known as this process's (wal-changes.ts). */
    private readonly changes: WalChanges | null = null,
  ) {}

  add(write: BatchedWrite): void {
    this.queue.push(write);
    if (!this.flushing) void this.flush();
  }

  /** A batch is waiting or under way. */
  get busy(): boolean {
    return this.flushing || this.queue.length > 0;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      // The writes made in the same step as the first (a MULTIAPPEND's, a test's) join it.
      await Promise.resolve();
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        await this.commit(batch);
        const copying = this.checkpoint();
        if (copying) await copying;
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commit(batch: BatchedWrite[]): Promise<void> {
    const done: Array<(() => void) | { error: unknown }> = [];
    const fresh: IndexItem[] = [];
    let before: number | null = null;
    let wrote = false;
    try {
      await Promise.all([...new Set(batch.flatMap((w) => w.dirs))].map((d) => fsyncDir(d)));
      // A write alone in its batch needs no savepoint: its failure rolls the transaction
      // back. A savepoint copies each page the write changes to the statement journal first.
      const alone = batch.length === 1;
      let failed = false;
      tx(this.db, () => {
        // The write lock is held: no other connection commits before this transaction does,
        // so the count read now stands for every write's reads of it until the COMMIT.
        before = this.changes?.hold() ?? null;
        try {
          const rows = this.changes ? changedRows(this.db) : 0;
          for (const w of batch) {
            // A failed write's savepoint is rolled back: what it put into `fresh` goes too.
            const mark = fresh.length;
            try {
              done.push(alone ? w.apply(fresh) : tx(this.db, () => w.apply(fresh)));
            } catch (error) {
              if (alone) throw error;
              fresh.length = mark;
              done.push({ error });
              failed = true;
            }
          }
          // Rows changed: the COMMIT writes frames, and takes exactly one count.
          wrote = !failed && this.changes !== null && changedRows(this.db) > rows;
        } finally {
          this.changes?.release();
        }
      });
    } catch (error) {
      this.changes?.committed(null, false);
      for (const w of batch) w.reject(error);
      return;
    }
    this.changes?.committed(before, wrote);
    try {
      await this.durable();
    } catch (error) {
      // Committed but maybe not durable (the WAL could not be synced): never say "done".
      for (const w of batch) w.reject(error);
      return;
    }
    this.stored(fresh);
    // In the order they were done in the transaction: events stay in commit order.
    batch.forEach((w, i) => {
      const d = done[i]!;
      if (typeof d === 'function') d();
      else w.reject(d.error);
    });
  }
}

/** Rows this connection has inserted, changed or deleted since it opened. */
function changedRows(db: Db): number {
  return stmt(db, 'SELECT total_changes()').pluck().get() as number;
}
