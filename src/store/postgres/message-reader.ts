// Reads stored messages from PostgreSQL for a process other than the server's (a POP3
// worker): a small pool of its own, the bytes of stored and queued messages by hash.
import { StoreError } from '../errors.js';
import type { MessageReader } from '../types.js';
import { PgDb, type PgOptions, row } from './db.js';

export class PgMessageReader implements MessageReader {
  private readonly db: Promise<PgDb>;

  constructor(opts: PgOptions) {
    // Opening checks the schema (and waits for a node applying a migration).
    this.db = PgDb.open({ ...opts, max: opts.max ?? 2 });
    this.db.catch(() => {});
  }

  async read(blobHash: string): Promise<Buffer> {
    const r = await row<{ data: Buffer }>(
      await this.db,
      `(SELECT data FROM messages WHERE blob_hash = $1)
       UNION ALL (SELECT data FROM outbound WHERE blob_hash = $1 LIMIT 1) LIMIT 1`,
      [blobHash],
    );
    if (!r) throw new StoreError('NOT_FOUND', 'message no longer exists');
    return r.data;
  }

  close(): void {
    this.db.then((db) => db.close()).catch(() => {});
  }
}
