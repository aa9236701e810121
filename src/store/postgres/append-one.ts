// The statement of one delivery or APPEND to one mailbox (issue 17). Its parameters are
// scalars and its plan has no window or unnest over the group's arrays: the group statement
// (append-batch.ts) made ready for one message cost PostgreSQL more to start at every call than
// this one, so a group of one goes through it too. Its rows are a group statement's (BatchRow).
import { expectedMailbox, MAILBOX_GUARD } from './append-conditions.js';
import { ACCOUNT_CHANNEL, noticeWanted } from './events.js';

/**
 * The commit column of an append statement ($n: whether the caller sends a FLUSH after it).
 * With one coming (the last statement of the mailbox's appends on this node sent a notice, or
 * none was sent yet) the commit does not wait for its flush (db.ts UNFLUSHED_COMMIT: a
 * notifying commit holds PostgreSQL's notify lock through its flush) and the FLUSH makes it
 * durable before anyone is answered. Without one, the commit is the session's own
 * (synchronous_commit as configured: on), durable when answered: an append that sends no
 * notice (no lease on the account: the SMTP deliveries to an account nobody reads) takes no
 * lock at commit and shares the WAL's flush with the other commits as any write does, so the
 * FLUSH, a transaction and a WAL record more, would be waste. A guess that was wrong either
 * way is safe: a notice sent by a synchronous commit only holds the lock through the flush
 * (for that one commit), and a FLUSH after a commit that sent none flushes as before.
 */
export function unflushedIf(param: number): string {
  return `CASE WHEN $${param}::boolean THEN set_config('synchronous_commit', 'off', true) END AS unflushed`;
}

/**
 * The statement of one append (messages.ts appendOne, and a group of one: append-batch.ts).
 * First the stored message (found, held FOR KEY SHARE, or inserted with its THREADID as
 * threadIdFor decides it: the first key in $19's order that names a stored message, its
 * oldest, each key one probe of messages_message_id) and, after its row, as writeBlob does,
 * its blob of one chunk; only then, under the account's row lock (so that other writers to
 * the account wait only for the counters, the row and the commit, as for a group), its modseq
 * and usage (quota checked again there), the mailbox's UIDNEXT and HIGHESTMODSEQ (and with
 * claimRecent its \Recent mark, read under the row's lock, moved past the new UID), the row,
 * the kept keywords, and the notice (events.ts) with the UID and modseq it got. Nothing is
 * written when the mailbox is gone (also when deleted while the statement waited for the
 * account's lock: MAILBOX_GUARD) or the quota would be passed; no row is added when the same
 * bytes were being inserted by another writer (`message_id` null: the caller tries again).
 * $32-$34: the mailbox the caller expects (AppendTarget.expect, expectedMailbox), else nulls:
 * another is as gone. One row, as a group statement's for a group of one (`n` 1, `room`).
 * The notice goes only while some node holds a lease on the account (`listened_until`, read
 * from the row's version under the lock: events.ts) other than this node alone (its holder,
 * events.ts noticeWanted); `notified` is null when none went.
 * $35: whether a FLUSH follows the statement (unflushedIf).
 */
function appendOneSql(keywords: boolean, claimRecent: boolean): string {
  const event = `json_build_object('accountId', mb.account_id, 'mailboxId', $23::bigint,
    'modseq', i.modseq, 'kind', 'append', 'uids', json_build_array(i.uid)
    ${keywords ? ", 'keywords', $28::text[]" : ''})`;
  return `WITH mb AS (SELECT id, account_id FROM mailboxes WHERE id = $23 AND ${expectedMailbox(32)}),
  room AS (
    SELECT quota_bytes IS NULL OR used_bytes + $2::bigint <= quota_bytes AS ok
    FROM accounts WHERE id = (SELECT account_id FROM mb)),
  found AS (SELECT id FROM messages WHERE blob_hash = $1 FOR KEY SHARE),
  thread AS (
    SELECT t.thread_id FROM unnest($19::text[]) WITH ORDINALITY k(key, pos),
      LATERAL (SELECT thread_id FROM messages WHERE s_message_id = k.key AND s_message_id <> ''
        ORDER BY id LIMIT 1) t
    ORDER BY k.pos LIMIT 1),
  ins AS (
    INSERT INTO messages (blob_hash, size, structure, envelope, s_from, s_to, s_cc,
      s_bcc, s_subject, s_message_id, sent_at, s_references, e_from, e_to, e_cc, e_bcc,
      email_id, thread_id, body_text, text_truncated, body_words)
    SELECT $1::text, $2::bigint, $4::text, $5::text, $6::text, $7::text, $8::text,
      $9::text, $10::text, $11::text, $12::bigint, $13::text[], $14::text, $15::text,
      $16::text, $17::text, $18::text, COALESCE((SELECT thread_id FROM thread), $20::text),
      $21::text, $22::boolean, $31::text
    WHERE NOT EXISTS (SELECT 1 FROM found) AND (SELECT ok FROM room)
    ON CONFLICT (blob_hash) DO NOTHING RETURNING id),
  b AS (
    INSERT INTO blobs (hash, size) SELECT $1, $2 FROM ins
    ON CONFLICT (hash) DO UPDATE SET size = excluded.size RETURNING (xmax = 0) AS fresh),
  c AS (
    INSERT INTO blob_chunks (hash, seq, data) SELECT $1, 0, $3::bytea FROM b
    WHERE b.fresh AND length($3::bytea) > 0 RETURNING 1),
  msg AS (SELECT id, false AS inserted FROM found UNION ALL SELECT id, true FROM ins),
  a AS (
    UPDATE accounts SET used_bytes = used_bytes + $2::bigint, modseq = modseq + 1
    WHERE id = (SELECT account_id FROM mb)
      AND (SELECT count(*) FROM c) + (SELECT count(*) FROM msg) > 0
      AND (quota_bytes IS NULL OR used_bytes + $2::bigint <= quota_bytes)
    RETURNING modseq, ${noticeWanted('$29::text')} AS listened),
  m AS (${
    claimRecent
      ? `
    UPDATE mailboxes mm SET uid_next = mm.uid_next + 1,
      highest_modseq = GREATEST(mm.highest_modseq, (SELECT modseq FROM a)),
      first_recent_uid = mm.uid_next + 1
    FROM (SELECT id, first_recent_uid FROM mailboxes
          WHERE id = $23 AND EXISTS (SELECT 1 FROM a) FOR UPDATE) old
    WHERE mm.id = old.id
    RETURNING mm.uid_next - 1 AS uid, mm.uid_validity, old.first_recent_uid AS recent_from`
      : `
    UPDATE mailboxes SET uid_next = uid_next + 1,
      highest_modseq = GREATEST(highest_modseq, (SELECT modseq FROM a))
    WHERE id = $23 AND EXISTS (SELECT 1 FROM a)
    RETURNING uid_next - 1 AS uid, uid_validity, NULL::bigint AS recent_from`
  }),
  i AS (
    INSERT INTO mailbox_messages (mailbox_id, uid, message_id, flags, modseq, internal_date,
      internal_zone, save_date, size)
    SELECT $23::bigint, m.uid, (SELECT id FROM msg LIMIT 1), $24::text[], a.modseq,
      $25::bigint, $26::integer, $27::bigint, $2::bigint FROM a, m RETURNING uid, modseq),
  k AS (
    INSERT INTO mailbox_keywords (mailbox_id, keyword)
    SELECT $23, kw FROM unnest($28::text[]) kw WHERE EXISTS (SELECT 1 FROM i)
    ON CONFLICT DO NOTHING)
SELECT 1 AS n, mb.account_id, (SELECT ok FROM room) AS room, msg.id AS message_id,
  COALESCE(msg.inserted, false) AS inserted, i.uid, i.modseq, m.uid_validity, m.recent_from,
  ${MAILBOX_GUARD},
  CASE WHEN i.uid IS NOT NULL AND (SELECT listened FROM a) THEN pg_notify('${ACCOUNT_CHANNEL}' || mb.account_id,
    json_build_object('o', $29::text, 's', $30::bigint, 'e', ${event})::text) END AS notified,
  ${unflushedIf(35)}
FROM (SELECT 1) one LEFT JOIN mb ON true LEFT JOIN (SELECT * FROM msg LIMIT 1) msg ON true
  LEFT JOIN i ON true LEFT JOIN m ON true`;
}

/** By [keywords][claimRecent]. */
export const APPEND_ONE = [
  [appendOneSql(false, false), appendOneSql(false, true)],
  [appendOneSql(true, false), appendOneSql(true, true)],
];
