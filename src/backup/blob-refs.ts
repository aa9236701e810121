// The blob files a mail database needs: messages and queued messages whose bytes are not kept
// inline as rows (store/sqlite/message-bytes.ts: only messages up to 64 KB are; `message_bytes`
// by the message's id, `message_data` by hash for those stored before schema 19).
import type Database from 'better-sqlite3';

export function referencedBlobs(db: Database.Database): string[] {
  // A backup made before schema 19 has no message_bytes (restore verifies it as it is).
  const keyed = db
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'message_bytes'`)
    .get();
  const rows = db
    .prepare(
      `SELECT blob_hash AS h FROM messages m
       ${keyed ? 'WHERE NOT EXISTS (SELECT 1 FROM message_bytes b WHERE b.id = m.id)' : ''}
       UNION SELECT blob_hash FROM outbound
       EXCEPT SELECT hash FROM message_data`,
    )
    .all() as Array<{ h: string }>;
  return rows.map((r) => r.h);
}

/** blobs/ab/cd/<hash>, as store/blobs/file-blobs.ts lays them out. */
export function blobPath(hash: string): string {
  return `blobs/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`;
}
