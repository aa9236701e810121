// The statement of one STORE's change of one row that goes alone (flag-groups.ts; issue 17).
// Migration 13's PL/pgSQL function ran its five statements each with its own executor start
// and snapshot; as one statement with scalar parameters, whose plan PostgreSQL keeps, a
// one-row STORE cost its backend ~40 us less (/tmp/pgm23/setone-loop.mts: 157-188 against
// 113-142 us a STORE, twenty-third session). What it does is the function's for one row.
import { unflushedIf } from './append-one.js';
import { ACCOUNT_CHANNEL, noticeWanted } from './events.js';

/**
 * The account's next modseq under its row lock (`a`, taken before the row is written), the
 * row's new flags and modseq where it still has the modseq it was read with (`u`: the row as
 * committed when it is written, since an UPDATE re-checks its condition on a row another
 * writer changed meanwhile), HIGHESTMODSEQ, the kept keywords (with keywords) and the notice,
 * unless no other node than the writer's holds a lease on the account (events.ts
 * noticeWanted, read from the row under its lock): `notified` null then.
 * A row that no longer matches (changed or expunged since it was read, or its mailbox gone)
 * fails the statement with SQLSTATE 22012 (the division below), which undoes the modseq taken:
 * the caller reads again, and modseqs have no gap. No row when there is no such account.
 * $1 account, $2 mailbox, $3 UID, $4 its modseq as read, $5 its new flags, $6 and $7 the
 * notice's origin and sequence (events.ts), $8 the keywords to keep and announce (with
 * keywords), then whether a FLUSH follows the commit (flush-guess.ts; unflushedIf: else the
 * commit is synchronous, durable when answered).
 */
function setFlagOneSql(keywords: boolean): string {
  const event = `json_build_object('accountId', $1::bigint, 'mailboxId', $2::bigint,
    'modseq', a.modseq, 'kind', 'flags', 'uids', json_build_array($3::bigint)
    ${keywords ? ", 'keywords', $8::text[]" : ''})`;
  const keep = keywords
    ? `,
  k AS (
    INSERT INTO mailbox_keywords (mailbox_id, keyword)
    SELECT $2, kw FROM unnest($8::text[]) kw WHERE EXISTS (SELECT 1 FROM u)
    ON CONFLICT DO NOTHING)`
    : '';
  return `WITH a AS (
    UPDATE accounts SET modseq = modseq + 1 WHERE id = $1
    RETURNING modseq, ${noticeWanted('$6::text')} AS tell),
  u AS (
    UPDATE mailbox_messages mm SET flags = $5::text[], modseq = (SELECT modseq FROM a)
    WHERE mm.mailbox_id = $2 AND mm.uid = $3 AND mm.modseq = $4 AND EXISTS (SELECT 1 FROM a)
    RETURNING mm.modseq),
  h AS (
    UPDATE mailboxes SET highest_modseq = GREATEST(highest_modseq, (SELECT modseq FROM u))
    WHERE id = $2 AND EXISTS (SELECT 1 FROM u))${keep}
SELECT a.modseq AS at_modseq,
  1 / CASE WHEN u.modseq IS NULL THEN 0 ELSE 1 END AS matched,
  CASE WHEN a.tell THEN pg_notify('${ACCOUNT_CHANNEL}' || $1::bigint, json_build_object(
    'o', $6::text, 's', $7::bigint, 'e', ${event})::text) END AS notified,
  ${unflushedIf(keywords ? 9 : 8)}
FROM a LEFT JOIN u ON true`;
}

/** By whether the write has keywords to keep. */
export const SET_FLAG_ONE = [setFlagOneSql(false), setFlagOneSql(true)] as const;
