// EXPUNGE's statements in SQLite, in its write's transaction (messages.ts applyExpunge; issue
// 19). The rows go in one DELETE ... RETURNING, which tests `\Deleted` itself, where EXPUNGE
// used to read its candidates (a SELECT joined with `messages` for the blob hash it never
// used), test their flags in JavaScript and then delete them; and the account's modseq is
// taken in the UPDATE that gives back its bytes. Five statements instead of seven.
import type { Db } from './db.js';
import { stmt } from './db.js';
import type { MailboxKey } from './mailboxes.js';

/** A row EXPUNGE removed. */
export interface RemovedRow {
  uid: number;
  message_id: number;
  size: number;
}

/**
 * Stored flags are canonical (flags.ts) and space-separated: a row has `\Deleted` when its
 * flags, with a space on each side, hold ` \Deleted ` (decodeFlags(...).includes, in SQL).
 */
const HAS_DELETED = `instr(' ' || flags || ' ', ' \\Deleted ') > 0`;

/**
 * Deletes the mailbox's rows of these UIDs (those with `\Deleted` only, when `onlyDeleted`)
 * and, when `afterUid` is a number, every row above it with `\Deleted` (RecordCache.flagged:
 * rows the cache has not caught up with); returns them in UID order.
 */
export function deleteRows(
  db: Db,
  mailboxId: number,
  uids: readonly number[],
  afterUid: number | null,
  onlyDeleted: boolean,
): RemovedRow[] {
  let rows: RemovedRow[];
  if (afterUid === null) {
    if (uids.length === 0) return [];
    rows = stmt(
      db,
      `DELETE FROM mailbox_messages WHERE mailbox_id = ?
         AND uid IN (SELECT value FROM json_each(?))${onlyDeleted ? ` AND ${HAS_DELETED}` : ''}
       RETURNING uid, message_id, size`,
    ).all(mailboxId, JSON.stringify(uids)) as RemovedRow[];
  } else {
    if (!onlyDeleted) throw new Error('deleteRows: rows above a UID are taken for \\Deleted only');
    rows = stmt(
      db,
      `DELETE FROM mailbox_messages WHERE mailbox_id = ?
         AND uid IN (SELECT value FROM json_each(?)
           UNION ALL SELECT uid FROM mailbox_messages WHERE mailbox_id = ? AND uid > ?)
         AND ${HAS_DELETED}
       RETURNING uid, message_id, size`,
    ).all(mailboxId, JSON.stringify(uids), mailboxId, afterUid) as RemovedRow[];
  }
  // RETURNING gives rows in no promised order; UIDs are told (EXPUNGE, VANISHED) ascending.
  if (rows.length > 1) rows.sort((a, b) => a.uid - b.uid);
  return rows;
}

/**
 * After deleteRows: the account's next modseq, taken in the same UPDATE that gives back the
 * rows' bytes; the rows recorded as expunged at it (QRESYNC's VANISHED, RFC 7162 §3.2.10) and
 * the mailbox's HIGHESTMODSEQ raised to it.
 */
export function noteRemoved(
  db: Db,
  mb: MailboxKey,
  rows: readonly RemovedRow[],
): { modseq: number; removed: { uids: number[]; messageIds: number[] } } {
  let bytes = 0;
  for (const r of rows) bytes += r.size;
  const acc = stmt(
    db,
    'UPDATE accounts SET modseq = modseq + 1, used_bytes = used_bytes - ? WHERE id = ? RETURNING modseq',
  ).get(bytes, mb.accountId) as { modseq: number } | undefined;
  if (!acc) throw new Error(`account ${mb.accountId} vanished`);
  const uids = rows.map((r) => r.uid);
  markExpunged(db, mb.id, JSON.stringify(uids), acc.modseq);
  return { modseq: acc.modseq, removed: { uids, messageIds: rows.map((r) => r.message_id) } };
}

/** The UIDs (a JSON list) recorded as expunged at `modseq`, and HIGHESTMODSEQ raised to it. */
export function markExpunged(db: Db, mailboxId: number, uidsJson: string, modseq: number): void {
  stmt(
    db,
    `INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq)
     SELECT ?, value, ? FROM json_each(?)`,
  ).run(mailboxId, modseq, uidsJson);
  stmt(db, 'UPDATE mailboxes SET highest_modseq = ? WHERE id = ?').run(modseq, mailboxId);
}
