// One connection that the node's short, frequent reads share (issue 17): RCPT's recipient
// look-up, one statement of ~30 us in PostgreSQL per recipient. Through the pool each such
// read checked out a connection (pg-pool's queue and callbacks), and each woke a backend of
// its own for its one statement; on this connection they go out as they come, pipelined
// (clientConfig's `pipeline`: each its own Sync, so one that fails fails alone), and those of
// several sessions that come together are read and answered by one backend in one wake-up.
// A loop of ten callers (RECIPIENT_LOOKUP, 4,000 a round, six rounds alternated, load ~9):
// through the pool 52-62 us of this process and 47-52 us of PostgreSQL a look-up, on one
// pipelined connection 31-48 and 22-30.
//
// Only statements that are short whatever the data (an index look-up or two): what waits in
// PostgreSQL (a lock, a large read, a FLUSH's fsync) would hold up every read behind it on the
// one connection, and such statements stay on the pool. Besides RCPT's look-up they are (the
// twenty-eighth session, after `bench/scale/run.ts --pg-statements` found them the only reads
// the IMAP mix still sent, 0.10 and 0.02 an op): the bytes of messages of one chunk up to
// SHARED_READ_BYTES in all (messages.ts: FETCH BODY's read of one message, FETCH's read ahead
// of a few), a larger read going through the pool; and a one-UID STORE's read of its row
// (FLAG_ROW, no lock taken). None is inside a transaction. A session's read comes after its
// own writes were answered, so after their commits, which a statement started later on any
// connection sees (READ COMMITTED takes its snapshot at the statement's start). The connection is made at the first
// read and again after it breaks (a restart, a partition: the reads then out fail as the
// pool's would, UNAVAILABLE, and the next makes a new one); a read that times out drops it.
import type pg from 'pg';
import { isTimeout, type Queryable, unavailable } from './db.js';

export class SharedReads implements Queryable {
  /** The connection, once made (or being made); null when there is none. */
  private conn: Promise<pg.Client> | null = null;
  private closed = false;

  /** `connect` makes a new, unconnected client with the node's settings (PgDb.client). */
  constructor(private readonly connect: () => pg.Client) {}

  async query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    const conn = this.connection();
    let client: pg.Client;
    try {
      client = await conn;
    } catch (err) {
      throw unavailable(err);
    }
    try {
      return await client.query<R>(config);
    } catch (err) {
      // The driver ends a pipelined connection whose statement timed out (the ones behind it
      // could not be answered): the next read makes another.
      if (isTimeout(err)) this.drop(conn, client);
      throw unavailable(err);
    }
  }

  /** The connection, made now if there is none. */
  private connection(): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error('Connection terminated: the store is closed'));
    if (this.conn) return this.conn;
    const client = this.connect();
    const conn = client.connect().then(
      () => client,
      (err: unknown) => {
        this.drop(conn, client);
        throw err;
      },
    );
    // A connection that breaks (while idle too) emits its error here; unheard, it would end
    // the process. The statements out on it fail by themselves.
    client.on('error', () => this.drop(conn, client));
    client.on('end', () => this.drop(conn, client));
    // Its rejection is handled by whoever awaits it; none is left unhandled meanwhile.
    conn.catch(() => {});
    this.conn = conn;
    return conn;
  }

  /** Forgets the connection (if it is still the current one) and ends it. */
  private drop(conn: Promise<pg.Client>, client: pg.Client): void {
    if (this.conn === conn) this.conn = null;
    client.end().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const conn = this.conn;
    this.conn = null;
    if (!conn) return;
    try {
      await (await conn).end();
    } catch {
      // Not made, or already gone.
    }
  }
}
