// EXPUNGE's statement (issue 17): what migration 15's PL/pgSQL function `letterbox_expunge`
// does, as one statement of data-modifying CTEs whose plan PostgreSQL keeps, as
// set-flag-one.ts is for a one-row STORE. The function ran seven statements (the account's
// lock, the UIDs, the deletion, the account's modseq and usage, the VANISHED rows,
// HIGHESTMODSEQ, the notices), each with its own executor start and snapshot inside PL/pgSQL;
// the IMAP mix calls it 0.11 times an op at ~0.42 ms (twenty-third session).
import { unflushedIf } from './append-one.js';
import { ACCOUNT_CHANNEL, noticeWanted } from './events.js';

/** Which rows go: by `onlyDeleted` (RFC 9051 §6.4.3) and by whether UIDs are given. */
export type ExpungeKind = 'deleted' | 'deleted-uids' | 'uids' | 'all';

export function expungeKind(onlyDeleted: boolean, uids: boolean): ExpungeKind {
  if (onlyDeleted) return uids ? 'deleted-uids' : 'deleted';
  return uids ? 'uids' : 'all';
}

/**
 * $1 the mailbox, then ($2 the UIDs, for the kinds with UIDs) the notice's origin, sequence
 * and UIDs a notice (events.ts), and whether a FLUSH follows the commit (flush-guess.ts;
 * unflushedIf: else the commit is synchronous, durable when answered). In order:
 * - `a` locks the mailbox's account row (FOR UPDATE, as the function, as every writer of the
 *   account's modseq does first). The deletion waits for it: its `EXISTS (SELECT 1 FROM a)`
 *   is a one-time filter, evaluated before the deletion reads a row, so locks are taken in
 *   the writers' order (account, then rows).
 * - `d` deletes the rows. Where the \Deleted rows are wanted the predicate is the partial
 *   index's (migration 11), so the plan reads one index entry a \Deleted row. A row another
 *   writer changed or removed since the statement's snapshot is checked again on its newest
 *   version (READ COMMITTED's EvalPlanQual): one whose \Deleted was taken off stays, one
 *   already expunged is not counted twice.
 * - `u` takes the account's next modseq and frees the rows' bytes, only when a row went:
 *   nothing changes, not even the modseq, when none does (no gap, RFC 7162 §3.1). The row it
 *   updates is the one `a` locked (its newest version, by EvalPlanQual should the snapshot's be
 *   older).
 * - `x` records the UIDs for VANISHED (RFC 7162 §3.2.5.1) with that modseq, `h` raises
 *   HIGHESTMODSEQ to it.
 * - The notices on the account's channel, a notice per so many UIDs in UID order, the last
 *   without `m` (events.ts), as the function sent them; they go out at the commit. None
 *   (`notified` 0) when no other node than the writer's holds a lease on the account
 *   (events.ts noticeWanted: `tell`, read from the row `a` locked).
 * One row always: `account` NULL when there is no such mailbox.
 */
function expungeSql(kind: ExpungeKind): string {
  const withUids = kind === 'deleted-uids' || kind === 'uids';
  const origin = withUids ? '$3' : '$2';
  const seq = withUids ? '$4' : '$3';
  const per = withUids ? '$5' : '$4';
  const flush = withUids ? 6 : 5;
  const rows = [
    'mm.mailbox_id = $1',
    ...(withUids ? ['mm.uid = ANY($2::bigint[])'] : []),
    ...(kind === 'deleted' || kind === 'deleted-uids' ? ["'\\Deleted' = ANY(mm.flags)"] : []),
  ].join(' AND ');
  return `WITH a AS (
    SELECT mb.account_id AS account, mb.uid_validity AS validity,
      ${noticeWanted(`${origin}::text`, 'ac')} AS tell
    FROM mailboxes mb JOIN accounts ac ON ac.id = mb.account_id
    WHERE mb.id = $1 FOR UPDATE OF ac),
  d AS (
    DELETE FROM mailbox_messages mm USING messages m
    WHERE ${rows} AND m.id = mm.message_id AND EXISTS (SELECT 1 FROM a)
    RETURNING mm.uid, mm.size, m.blob_hash),
  g AS (
    SELECT array_agg(d.uid ORDER BY d.uid) AS gone, array_agg(d.blob_hash::text) AS hashes,
      COALESCE(SUM(d.size), 0)::bigint AS bytes
    FROM d),
  u AS (
    UPDATE accounts ac SET modseq = ac.modseq + 1, used_bytes = ac.used_bytes - g.bytes
    FROM a, g WHERE ac.id = a.account AND g.gone IS NOT NULL
    RETURNING ac.modseq),
  x AS (
    INSERT INTO expunged (mailbox_id, uid, modseq)
    SELECT $1, e, u.modseq FROM u, g, unnest(g.gone) e
    ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq),
  h AS (
    UPDATE mailboxes mb SET highest_modseq = GREATEST(mb.highest_modseq, u.modseq)
    FROM u WHERE mb.id = $1)
SELECT a.account, a.validity, u.modseq AS at_modseq, g.gone, g.hashes,
  (SELECT count(pg_notify('${ACCOUNT_CHANNEL}' || a.account, json_build_object(
      'o', ${origin}::text, 's', ${seq}::bigint,
      'e', json_build_object('accountId', a.account, 'mailboxId', $1::bigint,
        'modseq', u.modseq, 'kind', 'expunge',
        'uids', to_json(g.gone[i:i + ${per}::int - 1])),
      'm', CASE WHEN i + ${per}::int <= cardinality(g.gone) THEN true END)::text))
    FROM generate_series(1, cardinality(g.gone), ${per}::int) i
    WHERE u.modseq IS NOT NULL AND a.tell) AS notified,
  ${unflushedIf(flush)}
FROM (SELECT 1) one LEFT JOIN a ON true LEFT JOIN g ON true LEFT JOIN u ON true`;
}

/**
 * By kind; the caller runs it through `db.durable` (its commit flushed before it answers) when
 * its last parameter asks for a FLUSH, else as a statement whose commit is synchronous.
 */
export const EXPUNGE_SQL: Record<ExpungeKind, string> = {
  deleted: expungeSql('deleted'),
  'deleted-uids': expungeSql('deleted-uids'),
  uids: expungeSql('uids'),
  all: expungeSql('all'),
};
