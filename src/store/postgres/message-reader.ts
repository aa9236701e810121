// Reads stored messages from PostgreSQL for a process other than the server's (a POP3
// worker): a small pool of its own, the bytes of stored and queued messages by hash.
import type { MessageReader } from '../types.js';
import { readBlob } from './blobs.js';
import { PgDb, type PgOptions } from './db.js';

export class PgMessageReader implements MessageReader {
  private readonly db: Promise<PgDb>;

  constructor(opts: PgOptions) {
    // Opening checks the schema (and waits for a node applying a migration).
    this.db = PgDb.open({ ...opts, max: opts.max ?? 2 });
    this.db.catch(() => {});
  }

  async read(blobHash: string): Promise<Buffer> {
    return readBlob(await this.db, blobHash);
  }

  close(): void {
    this.db.then((db) => db.close()).catch(() => {});
  }
}
