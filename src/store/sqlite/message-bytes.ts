// Where a small message's bytes are in the mail database, and the statements that read them.
//
// Since schema 19 they are a row of `message_bytes`, keyed by the id of the `messages` row they
// belong to (one row per stored message, written in the append's transaction, deleted with
// its `messages` row when that is collected). Before, they were `message_data` rows keyed by
// the blob hash, whose unique index put every delivery's insert on a random leaf: with the
// unique index of `messages.blob_hash` two random leaves per delivery for one key, each a WAL
// frame and most of them a page the next checkpoint copies again (docs/design-notes.md,
// eleventh and thirteenth sessions, "Which pages a delivery writes"). The rows stored before
// stay where they are (moving them would rewrite every small message in one migration) and
// are read from there, through the same statements, until their messages are collected and
// the purge (data-purge.ts) drops them. Readers name a message by its blob hash, as before:
// the hash leads to the `messages` row through its index, and the id to the bytes.

/** `schema`: '' for the main database, 'mail.' where it is attached under that name. */
function bytesOfHash(schema: string): string {
  return `SELECT coalesce(
  (SELECT b.data FROM ${schema}messages m JOIN ${schema}message_bytes b ON b.id = m.id
   WHERE m.blob_hash = ?),
  (SELECT d.data FROM ${schema}message_data d WHERE d.hash = ?
   AND EXISTS (SELECT 1 FROM ${schema}messages m WHERE m.blob_hash = d.hash)))`;
}

/**
 * One message's bytes by its blob hash, given twice (better-sqlite3 binds no numbered
 * parameters); pluck: a Buffer, or null when it is no row: a file,
 * or no message holds it any more). A `message_data` row whose last message is gone only
 * waits for the purge: it is not returned.
 */
export const BYTES_OF_HASH = bytesOfHash('');

/** BYTES_OF_HASH for a connection that has the mail database attached as `mail`. */
export const BYTES_OF_HASH_ATTACHED = bytesOfHash('mail.');

/**
 * The bytes of the messages whose hashes are in a JSON array, given twice, as [hash, data]
 * rows.
 */
export const BYTES_OF_HASHES = `SELECT m.blob_hash, b.data FROM messages m
  JOIN message_bytes b ON b.id = m.id WHERE m.blob_hash IN (SELECT value FROM json_each(?))
UNION ALL
SELECT d.hash, d.data FROM message_data d WHERE d.hash IN (SELECT value FROM json_each(?))
  AND EXISTS (SELECT 1 FROM messages m WHERE m.blob_hash = d.hash)`;

/**
 * A stored message's bytes (its `messages` id, then the bytes). OR REPLACE: a row left by a
 * collected message whose id SQLite gives again cannot stand in the new one's way (collection
 * deletes it with the message, so none is expected).
 */
export const INSERT_BYTES = 'INSERT OR REPLACE INTO message_bytes (id, data) VALUES (?, ?)';

/**
 * In collection's transaction: deletes the bytes rows of the collected messages whose ids are
 * in the JSON array given, returning their ids (those messages have no file).
 */
export const DELETE_BYTES =
  'DELETE FROM message_bytes WHERE id IN (SELECT value FROM json_each(?)) RETURNING id';
