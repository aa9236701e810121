// Reading stored messages from another process (a POP3 worker, src/pop3/workers/): a
// read-only connection to the mail database and the blob files, and nothing else of the
// store. WAL lets it read beside the server's writer; it sees every committed message.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FileBlobStore } from '../blobs/file-blobs.js';
import type { MessageReader } from '../types.js';
import { type Db, stmt } from './db.js';
import { BYTES_OF_HASH } from './message-bytes.js';

/**
 * Reads share one read transaction for up to this long: starting one per read (a lock on the
 * WAL index, and its release) cost 40% of reading a 10 KB row. A read that misses inside a
 * held transaction tries again in a fresh one, so a message committed since is still found.
 */
const HOLD_MS = 10;

/**
 * This process serves no IMAP, so its memory map does not weigh on the IDLE memory target
 * (see db.ts): mapped pages make a read of a small message cheaper.
 */
const READER_MMAP_BYTES = 256 * 1024 * 1024;

export class SqliteMessageReader implements MessageReader {
  private held: NodeJS.Timeout | undefined;

  private constructor(
    private readonly db: Db,
    private readonly blobs: FileBlobStore,
    private readonly inlineMax: number,
  ) {}

  /** `dir` is the store's data directory, as given to SqliteStore.open. */
  static open(dir: string, inlineMax: number): SqliteMessageReader {
    const db = new Database(join(dir, 'letterbox.db'), { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    db.pragma(`mmap_size = ${READER_MMAP_BYTES}`);
    return new SqliteMessageReader(db, new FileBlobStore(join(dir, 'blobs')), inlineMax);
  }

  async read(hash: string, size?: number): Promise<Buffer> {
    if (size === undefined || size <= this.inlineMax) {
      const fresh = this.held === undefined;
      this.hold();
      let data = this.inline(hash);
      if (!data && !fresh) {
        this.release();
        this.hold();
        data = this.inline(hash);
      }
      if (data) return data;
    }
    return this.blobs.read(hash, size);
  }

  /**
   * The store's own statement (message-bytes.ts): a POP3 maildrop is the INBOX as it stood at
   * login (RFC 1939 §3), and a message of it expunged since, by IMAP, is still retrieved until
   * the store collects it once quiet; then NOT_FOUND, as for a file unlinked then.
   */
  private inline(hash: string): Buffer | undefined {
    return (stmt(this.db, BYTES_OF_HASH).pluck().get(hash, hash) as Buffer | null) ?? undefined;
  }

  close(): void {
    this.release();
    this.db.close();
  }

  private hold(): void {
    if (this.held) return;
    stmt(this.db, 'BEGIN').run();
    this.held = setTimeout(() => this.release(), HOLD_MS);
    this.held.unref();
  }

  private release(): void {
    if (!this.held) return;
    clearTimeout(this.held);
    this.held = undefined;
    if (this.db.inTransaction) stmt(this.db, 'COMMIT').run();
  }
}
