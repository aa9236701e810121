// SQLite's housekeeping after deletions, done once the store is quiet (../quiet-work.ts).
//
// Two queues of this kind run in the store (messages.ts): the collection of `messages` rows
// no mailbox refers to any more (and then their index entries and blob files), and the purge
// of `message_data` rows (the bytes of small messages stored before schema 19; since then they
// are keyed by the message and deleted with it, message-bytes.ts) no `messages` row refers to. Work that
// waits is invisible to clients: a mailbox lists only its own rows, a search joins the index
// with them, and a read of message bytes checks that a `messages` row still has them. A crash
// only leaves rows that the sweep after the next open finds.
import { QuietWork, type SweepSlice } from '../quiet-work.js';
import { type Db, stmt, tx } from './db.js';

/** Index entries a sweep slice looks at: a few ms of work per turn of the event loop. */
export const SWEEP_SLICE = 2000;

/**
 * A sweep over `table` in slices of its unique text column `key` (through that column's
 * index, in its order): the values of `pick` (a column of the row aliased `x`) of the rows of
 * each slice for which `orphan` (an SQL condition on `x`) holds. A slice is a range of keys,
 * so rows written between slices are either in a later slice or not orphans: the work
 * checks again in its own transaction anyway.
 */
export function sliceSweep<K>(
  db: Db,
  q: { table: string; key: string; pick: string; orphan: string },
  slice = SWEEP_SLICE,
): (from: string | null) => SweepSlice<K, string> {
  const after = (from: string | null) => (from === null ? `x.${q.key} >= ?` : `x.${q.key} > ?`);
  return (from) => {
    const lo = from ?? '';
    // The key that ends this slice; none when fewer rows are left.
    const hi = stmt(
      db,
      `SELECT x.${q.key} FROM ${q.table} x WHERE ${after(from)} ORDER BY x.${q.key} LIMIT 1 OFFSET ?`,
    )
      .pluck()
      .get(lo, slice - 1) as string | undefined;
    const upTo = hi === undefined ? '' : ` AND x.${q.key} <= ?`;
    const keys = stmt(
      db,
      `SELECT x.${q.pick} FROM ${q.table} x WHERE ${after(from)}${upTo} AND ${q.orphan}`,
    )
      .pluck()
      .all(...(hi === undefined ? [lo] : [lo, hi])) as K[];
    return { keys, next: hi ?? null };
  };
}

/** The purge of `message_data` rows no message refers to (a re-delivery may hold one). */
export function dataPurge(db: Db, durable: () => Promise<void>): QuietWork<string> {
  return new QuietWork<string>({
    durable,
    run: (hashes) =>
      tx(db, () => {
        stmt(
          db,
          `DELETE FROM message_data WHERE hash IN (SELECT value FROM json_each(?))
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_hash = message_data.hash)`,
        ).run(JSON.stringify(hashes));
      }),
    sweep: sliceSweep<string>(db, {
      table: 'message_data',
      key: 'hash',
      pick: 'hash',
      orphan: 'NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_hash = x.hash)',
    }),
  });
}
