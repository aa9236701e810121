// The bytes of messages in PostgreSQL (issue 17 item 3): content-addressed by SHA-256, one
// `blobs` row per distinct content whoever holds it (a stored message, queued items), the
// bytes in `blob_chunks` rows of CHUNK_BYTES each. A large message is written chunk by chunk
// from the caller's Buffer (no second copy of it is made to send) and read a few chunks per
// query into one Buffer of its size (no result set of all its rows beside it, no hex text of
// it whole), so it is held whole in memory once. A blob goes, chunks and all, when the last
// messages or outbound row with its hash does (the triggers of migration 6); its row lock
// orders that against a writer taking it at the same moment on another node.
import { StoreError } from '../errors.js';
import { type Queryable, row, rows, run } from './db.js';

/** Bytes per chunk row: 256 KiB (migration 6 cut the existing bytes the same way). */
export const CHUNK_BYTES = 256 * 1024;
/** Chunks read per query: a read holds at most this many beside the message's Buffer. */
const CHUNKS_PER_READ = 8;

/**
 * Inside the transaction that adds a holder of the bytes (a messages or outbound row): makes
 * sure the blob is there. Its row is taken (upserted) first, which waits for a collection of
 * the same hash on another node to commit; the chunks are written only when the row is new,
 * the first one in the same statement (most messages are one chunk: one round trip).
 */
export async function writeBlob(q: Queryable, hash: string, bytes: Buffer): Promise<void> {
  const r = await row<{ fresh: boolean }>(
    q,
    `WITH b AS (
       INSERT INTO blobs (hash, size) VALUES ($1, $2)
       ON CONFLICT (hash) DO UPDATE SET size = excluded.size RETURNING (xmax = 0) AS fresh),
     c AS (
       INSERT INTO blob_chunks (hash, seq, data) SELECT $1, 0, $3::bytea FROM b
       WHERE b.fresh AND $3::bytea IS NOT NULL)
     SELECT fresh FROM b`,
    [hash, bytes.length, bytes.length > 0 ? bytes.subarray(0, CHUNK_BYTES) : null],
  );
  if (!r?.fresh) return;
  for (let seq = 1; seq * CHUNK_BYTES < bytes.length; seq++) {
    // A view of the caller's bytes: the driver sends a Buffer parameter as it is.
    await run(q, 'INSERT INTO blob_chunks (hash, seq, data) VALUES ($1, $2, $3)', [
      hash,
      seq,
      bytes.subarray(seq * CHUNK_BYTES, (seq + 1) * CHUNK_BYTES),
    ]);
  }
}

interface ChunkRow {
  size: number;
  seq: number | null;
  data: Buffer | null;
}

/**
 * The bytes of a blob; StoreError NOT_FOUND when there is none (or it went while being read,
 * collected on another node). The first query reads its size with the first chunks, so a
 * message of up to CHUNKS_PER_READ chunks takes one round trip.
 */
export async function readBlob(q: Queryable, hash: string): Promise<Buffer> {
  const first = await rows<ChunkRow>(
    q,
    `SELECT b.size, c.seq, c.data FROM blobs b
     LEFT JOIN blob_chunks c ON c.hash = b.hash AND c.seq < $2
     WHERE b.hash = $1 ORDER BY c.seq`,
    [hash, CHUNKS_PER_READ],
  );
  const size = first[0]?.size;
  if (size === undefined) throw gone();
  const count = Math.ceil(size / CHUNK_BYTES);
  if (count === 0) return Buffer.alloc(0);
  if (count === 1) {
    const only = first[0]!.data;
    if (only === null || only.length !== size) throw gone();
    return only;
  }
  const out = Buffer.allocUnsafe(size);
  copyChunks(out, first, 0);
  first.length = 0;
  for (let seq = CHUNKS_PER_READ; seq < count; seq += CHUNKS_PER_READ) {
    const batch = await rows<ChunkRow>(
      q,
      `SELECT 0 AS size, seq, data FROM blob_chunks WHERE hash = $1 AND seq >= $2 AND seq < $3
       ORDER BY seq`,
      [hash, seq, seq + CHUNKS_PER_READ],
    );
    copyChunks(out, batch, seq);
  }
  return out;
}

/**
 * The bytes of several blobs of at most one chunk each, in one statement (FETCH's read ahead,
 * BlobStore.readMessages); one that is not there (collected), or larger, is left out.
 */
export async function readSmallBlobs(q: Queryable, hashes: string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (hashes.length === 0) return out;
  // One hash (a FETCH of one message's body) by equality: PostgreSQL keeps that statement's
  // plan after its first calls, where with `= ANY($1)` it found each call's own plan cheaper
  // than the kept one and planned every call again (0.12 ms of planning for 0.10 of work in
  // the IMAP mix, bench/scale --pg-statements).
  const rs = await rows<{ hash: string; size: number; data: Buffer | null }>(
    q,
    `SELECT b.hash, b.size, c.data FROM blobs b
     LEFT JOIN blob_chunks c ON c.hash = b.hash AND c.seq = 0
     WHERE b.hash ${hashes.length === 1 ? '= $1' : '= ANY($1)'} AND b.size <= $2`,
    [hashes.length === 1 ? hashes[0] : hashes, CHUNK_BYTES],
  );
  for (const r of rs) {
    if (r.size === 0) out.set(r.hash, Buffer.alloc(0));
    else if (r.data !== null && r.data.length === r.size) out.set(r.hash, r.data);
  }
  return out;
}

/**
 * Copies the chunk rows of chunks `from` .. `from + CHUNKS_PER_READ - 1` into `out`. Rows
 * missing (the blob went meanwhile) or of the wrong size are not these bytes: NOT_FOUND.
 */
function copyChunks(out: Buffer, rs: ChunkRow[], from: number): void {
  const want = Math.min(CHUNKS_PER_READ, Math.ceil(out.length / CHUNK_BYTES) - from);
  if (rs.length !== want) throw gone();
  for (const [i, r] of rs.entries()) {
    const at = (from + i) * CHUNK_BYTES;
    if (r.seq !== from + i || r.data === null) throw gone();
    if (r.data.length !== Math.min(CHUNK_BYTES, out.length - at)) throw gone();
    r.data.copy(out, at);
  }
}

function gone(): StoreError {
  return new StoreError('NOT_FOUND', 'message no longer exists');
}
