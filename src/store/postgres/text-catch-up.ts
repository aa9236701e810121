// The search text of a mailbox's messages made when the mailbox is searched, not at delivery
// ([search] full_text_index = "on-search", the default; as Dovecot's fts_autoindex = no).
// Delivery and APPEND then write a stored message with body_text and body_words NULL (not
// indexed yet, migration 17), and a SEARCH BODY / TEXT first brings its mailbox up to date:
// the rows past the mailbox's mark (text_marks: every row up to that UID has its text) whose
// message has none are read from their bytes, their text made as delivery makes it in
// "on-delivery" mode (body-text.ts), written in batches with the mark moved past them in the
// same statement, and then the search runs as it always did. So a search looks only at the
// rows that came since the mailbox's last search, by the primary key's range.
//
// UIDs of a mailbox are committed in the order they are given (the account's lock is held
// from the UID's allocation to the commit: messages.ts), so when a statement sees the row of
// UID n, it sees every row below n that will ever be there: a mark moved to the highest UID
// such a statement saw holds for every row under it.
//
// Several nodes (or searches) may catch up the same rows at once: each writes only rows still
// without text (`body_words IS NULL`, checked again under the row's lock), and a mark only
// grows. The writes commit without waiting for their flush: what a crash loses is made again
// by the next search (the mark with it: one statement). In "on-delivery" mode the node brings
// every mailbox up to date at start (a store that ran "on-search" before), and a search still
// catches its mailbox up first (another node may run "on-search"): one read, nothing to write.
import { StoreError } from '../errors.js';
import type { FullTextIndexMode } from '../types.js';
import { textArray } from './binary-array.js';
import { CHUNK_BYTES, readBlob, readSmallBlobs } from './blobs.js';
import { bodyTextFromBytes } from './body-text.js';
import { type PgDb, rows, UNFLUSHED_COMMIT } from './db.js';

/** `[search] full_text_index`: when a stored message's search text is made. */
export type FullTextIndex = FullTextIndexMode;

/** Messages made and written per statement. */
const BATCH = 64;
/** With nothing to make, a search moves the mark (a write) only past this many UIDs. */
const MARK_STEP = 64;

interface Pending {
  mark: number;
  hi: number | null;
  uid: number | null;
  id: number | null;
  blob_hash: string | null;
  size: number | null;
}

export class TextCatchUp {
  /** Each mailbox's catch-up on this node, in turn (a later search waits for an earlier one). */
  private readonly running = new Map<number, Promise<number>>();
  private reconciling: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly db: PgDb) {}

  /**
   * Makes the search text of the mailbox's messages that have none; how many it made. A
   * search calls it before it reads the text.
   */
  mailbox(mailboxId: number, markAlways = false): Promise<number> {
    const before = this.running.get(mailboxId);
    const p = (before ? before.catch(() => 0) : Promise.resolve(0)).then(() =>
      this.run(mailboxId, markAlways),
    );
    this.running.set(mailboxId, p);
    const done = () => {
      if (this.running.get(mailboxId) === p) this.running.delete(mailboxId);
    };
    p.then(done, done);
    return p;
  }

  /**
   * In "on-delivery" mode, at start: every mailbox whose mark is behind its last UID caught up
   * (what an "on-search" store left without text), one after the other, in the background.
   */
  reconcile(onError: (err: unknown) => void): void {
    this.reconciling = (async () => {
      const behind = await rows<{ id: number }>(
        this.db,
        `SELECT mb.id FROM mailboxes mb LEFT JOIN text_marks t ON t.mailbox_id = mb.id
         WHERE mb.uid_next - 1 > COALESCE(t.uid, 0) ORDER BY mb.id`,
      );
      for (const { id } of behind) {
        if (this.closed) return;
        await this.mailbox(id, true);
      }
    })().catch((err: unknown) => {
      if (!this.closed) onError(err);
    });
  }

  /** Waits for the catch-ups under way; no batch starts after. */
  async close(): Promise<void> {
    this.closed = true;
    await this.reconciling;
    await Promise.allSettled([...this.running.values()]);
  }

  private async run(mailboxId: number, markAlways: boolean): Promise<number> {
    let made = 0;
    while (!this.closed) {
      const rs = await rows<Pending>(this.db, PENDING, [mailboxId, BATCH]);
      const first = rs[0];
      if (!first || first.hi === null) return made;
      const pending = rs.filter((r) => r.id !== null);
      // All of the batch's rows past the mark were seen when fewer than BATCH were missing.
      const to = pending.length < BATCH ? first.hi : pending[pending.length - 1]!.uid!;
      if (pending.length === 0) {
        if (markAlways || first.hi - first.mark >= MARK_STEP) {
          await this.write(mailboxId, [], to);
        }
        return made;
      }
      made += await this.write(mailboxId, await this.texts(pending), to);
      if (pending.length < BATCH) return made;
    }
    return made;
  }

  /** The texts of the pending rows' messages, each once, made from their bytes. */
  private async texts(pending: Pending[]): Promise<Made[]> {
    const byId = new Map<number, { hash: string; size: number }>();
    for (const r of pending) byId.set(r.id!, { hash: r.blob_hash!, size: r.size! });
    const small = await readSmallBlobs(
      this.db,
      [...byId.values()].filter((m) => m.size <= CHUNK_BYTES).map((m) => m.hash),
    );
    const out: Made[] = [];
    for (const [id, m] of byId) {
      let raw = small.get(m.hash);
      if (raw === undefined && m.size > CHUNK_BYTES) {
        raw = await readBlob(this.db, m.hash).catch((err: unknown) => {
          if (err instanceof StoreError && err.code === 'NOT_FOUND') return undefined;
          throw err;
        });
      }
      // No bytes: the message was collected meanwhile (no row holds it any more).
      if (raw === undefined) continue;
      out.push({ id, ...bodyTextFromBytes(raw) });
    }
    return out;
  }

  /** Writes the texts (those still without) and moves the mark to `to`; how many it wrote. */
  private async write(mailboxId: number, made: Made[], to: number): Promise<number> {
    try {
      const r = await rows<{ n: string | number }>(this.db, WRITE, [
        mailboxId,
        made.map((m) => m.id),
        textArray(made.map((m) => m.folded)),
        made.map((m) => m.truncated),
        textArray(made.map((m) => m.words)),
        to,
      ]);
      return Number(r[0]?.n ?? 0);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // The mailbox was deleted meanwhile (its mark's foreign key): nothing to search.
      if (code === '23503') return 0;
      // A deadlock with another writer of the same rows (a collection): undone, tried again.
      if (code === '40P01') return this.write(mailboxId, made, to);
      throw err;
    }
  }
}

interface Made {
  id: number;
  folded: Buffer;
  truncated: boolean;
  words: Buffer;
}

/**
 * The mailbox $1's mark, its highest UID when past the mark (hi; null when none), and the
 * first $2 rows past the mark, in UID order, whose message has no search text yet (one row of
 * nulls but for mark and hi when none). Each part by the primary key: the highest UID from its
 * end, the rows from the mark on until $2 are found (not every row past the mark at each
 * batch, which made a catch-up of n rows cost n * n / $2 row visits).
 */
const PENDING = `WITH mark AS (
    SELECT COALESCE((SELECT uid FROM text_marks WHERE mailbox_id = $1), 0) AS uid),
  top AS (SELECT max(uid) AS uid FROM mailbox_messages WHERE mailbox_id = $1),
  missing AS (
    SELECT mm.uid, m.id, m.blob_hash, m.size
    FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
    WHERE mm.mailbox_id = $1 AND mm.uid > (SELECT uid FROM mark) AND m.body_words IS NULL
    ORDER BY mm.uid LIMIT $2)
SELECT (SELECT uid FROM mark) AS mark,
  CASE WHEN (SELECT uid FROM top) > (SELECT uid FROM mark) THEN (SELECT uid FROM top) END AS hi,
  s.uid, s.id, s.blob_hash, s.size
FROM (SELECT 1) one LEFT JOIN missing s ON true ORDER BY s.uid`;

/**
 * The texts of messages $2 (those still without one: locked in id order first, so that two
 * catch-ups of the same messages wait for each other rather than in a cycle, and checked
 * again under the lock), and the mailbox $1's mark moved up to $6 (never down), in one
 * statement committed without waiting for its flush.
 */
const WRITE = `WITH t AS (
    SELECT * FROM unnest($2::bigint[], $3::text[], $4::boolean[], $5::text[])
      AS t(id, body, cut, words)),
  l AS (
    SELECT m.id FROM messages m WHERE m.id IN (SELECT id FROM t) AND m.body_words IS NULL
    ORDER BY m.id FOR NO KEY UPDATE),
  u AS (
    UPDATE messages m SET body_text = t.body, text_truncated = t.cut, body_words = t.words
    FROM t WHERE m.id = t.id AND m.id IN (SELECT id FROM l) RETURNING 1),
  k AS (
    INSERT INTO text_marks (mailbox_id, uid)
    SELECT $1, $6 WHERE EXISTS (SELECT 1 FROM mailboxes WHERE id = $1)
    ON CONFLICT (mailbox_id) DO UPDATE SET uid = GREATEST(text_marks.uid, excluded.uid))
SELECT (SELECT count(*) FROM u) AS n, ${UNFLUSHED_COMMIT}`;
