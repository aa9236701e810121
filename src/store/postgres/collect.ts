// Stored messages no mailbox row holds any more go, with their bytes, in the transaction that
// let go of them. An append of the same bytes on another node at the same moment keeps its
// row: it holds the row FOR KEY SHARE (see storedMessage in messages.ts), and the collection
// skips rows it cannot lock. A race the locks cannot see (the other append committed between
// this statement's snapshot and its lock) ends in a foreign-key violation, which only undoes
// the collection (its savepoint): such a message stays until a later collection of it.
import { type Queryable, rows } from './db.js';

/** Stored-message ids the mailboxes' rows hold (read before the mailboxes go). */
export async function messageIdsOf(q: Queryable, mailboxIds: number[]): Promise<number[]> {
  const rs = await rows<{ id: number }>(
    q,
    'SELECT DISTINCT message_id AS id FROM mailbox_messages WHERE mailbox_id = ANY($1)',
    [mailboxIds],
  );
  return rs.map((r) => r.id);
}

/**
 * Inside a transaction: deletes those of the stored messages no mailbox row refers to. The
 * savepoint, the statement and the release go out together (the connection pipelines): one
 * round trip.
 */
export async function collectMessages(q: Queryable, messageIds: number[]): Promise<void> {
  if (messageIds.length === 0) return;
  const [saved, collected, released] = await Promise.allSettled([
    q.query({ text: 'SAVEPOINT collect' }),
    rows(
      q,
      `WITH free AS (SELECT id FROM messages WHERE id = ANY($1) FOR UPDATE SKIP LOCKED)
       DELETE FROM messages m USING free WHERE m.id = free.id
         AND NOT EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = m.id)`,
      [[...new Set(messageIds)]],
    ),
    q.query({ text: 'RELEASE SAVEPOINT collect' }),
  ]);
  if (saved.status === 'rejected') throw saved.reason;
  if (collected.status === 'rejected') {
    if ((collected.reason as { code?: unknown }).code !== '23503') throw collected.reason;
    // The release failed too (the transaction was aborted): undone to the savepoint.
    await q.query({ text: 'ROLLBACK TO SAVEPOINT collect' });
    return;
  }
  if (released.status === 'rejected') throw released.reason;
}
