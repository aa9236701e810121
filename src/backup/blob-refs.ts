// The blob files a mail database needs: messages and queued messages whose bytes are not kept
// inline in `message_data` (store/sqlite/messages.ts: only messages up to 64 KB are).
import type Database from 'better-sqlite3';

export function referencedBlobs(db: Database.Database): string[] {
  const rows = db
    .prepare(
      `SELECT blob_hash AS h FROM messages
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
