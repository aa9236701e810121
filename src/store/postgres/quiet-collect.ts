// The stored messages an EXPUNGE let go of, collected by the node that ran it once it is
// quiet, a chunk at a time (../quiet-work.ts, as the SQLite store's): the client waits
// for its messages to leave the mailbox, not for their rows, text and bytes to be freed (a
// third of EXPUNGE's statement in the IMAP mix). A collection checks again, under the rows'
// locks, that no mailbox row holds the message (as collect.ts), so an append or a copy that took
// it back meanwhile, on any node, keeps it. What a crash (or a node stopped before its work)
// leaves, the sweep after the next start finds, a slice of the table at a time. Until then an
// expunged message's bytes stay readable, which the blob contract allows ("freed after the
// commit, maybe once the store is quiet").
import { QuietWork } from '../quiet-work.js';
import { type PgDb, rows, run } from './db.js';

/**
 * The stored messages of these blob hashes that no mailbox row holds, with their bytes (the
 * trigger of migration 6), committed on its own: rows another writer holds are skipped, and
 * one whose row another writer added after this statement began fails it (23503), as in
 * collect.ts.
 */
const COLLECT = `WITH free AS (SELECT id FROM messages WHERE blob_hash = ANY($1) FOR UPDATE SKIP LOCKED)
  DELETE FROM messages m USING free WHERE m.id = free.id
    AND NOT EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = m.id)`;

export interface QuietCollectOptions {
  /** Quiet time after the last expunge before work starts. */
  idleMs?: number;
  /** Work that waited this long is done even if the node is never quiet. */
  maxWaitMs?: number;
  /** Stored messages per transaction. */
  chunk?: number;
  /** When the sweep starts after the node opens its store (10 s); negative: never. */
  sweepDelayMs?: number;
  /** Stored messages the sweep reads per statement. */
  sweepSlice?: number;
}

/** Blob hashes of stored messages that lost a mailbox row, collected once the node is quiet;
 * the sweep's cursor is the messages' id. Closing leaves what is pending to the next start's
 * sweep: collecting it then could hold a stopping node for a statement timeout per chunk
 * while the database does not answer. */
export type QuietCollect = QuietWork<string, number>;

export function quietCollect(db: PgDb, opts: QuietCollectOptions = {}): QuietCollect {
  const slice = opts.sweepSlice ?? 2000;
  return new QuietWork<string, number>({
    idleMs: opts.idleMs,
    maxWaitMs: opts.maxWaitMs,
    chunk: opts.chunk,
    sweepDelayMs: opts.sweepDelayMs ?? 10_000,
    run: async (chunk) => {
      try {
        await run(db, COLLECT, [chunk]);
      } catch (err) {
        if ((err as { code?: unknown }).code !== '23503') throw err;
        // An append or copy on another node took one of them back between this statement's
        // snapshot and its locks: the rest go one at a time, that one stays.
        for (const h of chunk) await run(db, COLLECT, [[h]]).catch(() => {});
      }
    },
    /*
     * The stored messages after id `from` that no mailbox row holds, a slice of the primary
     * key per statement. A message an append on another node holds (FOR KEY SHARE) before its
     * row commits may look unheld here: the collection skips what it cannot lock and checks
     * again.
     */
    sweep: async (from) => {
      const r = await rows<{ last: number | null; orphans: string[] }>(
        db,
        `WITH s AS (SELECT id, blob_hash FROM messages WHERE id > $1 ORDER BY id LIMIT $2)
         SELECT (SELECT max(id) FROM s) AS last,
           ARRAY(SELECT s.blob_hash FROM s WHERE NOT EXISTS (
             SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = s.id)) AS orphans`,
        [from ?? 0, slice],
      );
      return { keys: r[0]?.orphans ?? [], next: r[0]?.last ?? null };
    },
  });
}
