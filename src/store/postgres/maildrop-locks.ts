// RFC 1939 §8 across nodes: a POP3 session's maildrop lock is this process's lock table (two
// sessions of one node) and a PostgreSQL advisory lock (sessions of other nodes), held on a
// connection of its own. A node that dies takes its connection, and so its locks, with it.
// Should that connection drop while the node lives, its sessions keep their maildrops but
// other nodes may lock them too until those sessions end (docs/scaling.md).
import type pg from 'pg';
import { MaildropLocks } from '../maildrop-locks.js';
import { isTimeout, unavailable } from './db.js';

/** The advisory lock space of maildrops: (LOCK_CLASS, account id). */
const LOCK_CLASS = 0x4c42_0001;

export class PgMaildropLocks {
  private readonly local = new MaildropLocks();
  private client: Promise<pg.Client> | null = null;
  /** Drops the connection (a new one is made for the next lock). */
  private lost: () => void = () => {};

  constructor(private readonly connect: () => pg.Client) {}

  private connection(): Promise<pg.Client> {
    if (!this.client) {
      const c = this.connect();
      const lost = () => {
        if (this.client === opened) this.client = null;
        // Ends a connection that still answers; destroys one waiting for an answer.
        c.end().catch(() => {});
      };
      c.on('error', lost);
      c.on('end', lost);
      const opened = c.connect().then(() => c);
      opened.catch(lost);
      this.client = opened;
      this.lost = lost;
    }
    return this.client;
  }

  async lockMaildrop(accountId: number): Promise<(() => void) | null> {
    const releaseLocal = this.local.tryAcquire(accountId);
    if (!releaseLocal) return null;
    let client: pg.Client;
    const opened = this.connection();
    const lost = this.lost;
    try {
      client = await opened;
      const r = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock($1::int, $2::int) AS ok',
        [LOCK_CLASS, accountId],
      );
      if (r.rows[0]?.ok !== true) {
        releaseLocal();
        return null;
      }
    } catch (err) {
      releaseLocal();
      // Not answered in time: the connection stopped carrying packets (a partition without
      // a reset), so it is not asked again; the locks of this node's other sessions go with it
      // on the server's side (once the server sees it gone), as when a connection drops.
      if (isTimeout(err)) lost();
      throw unavailable(err);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      releaseLocal();
      // A lock of a connection that has gone went with it.
      client
        .query('SELECT pg_advisory_unlock($1::int, $2::int)', [LOCK_CLASS, accountId])
        .catch(() => {});
    };
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) await (await c.catch(() => null))?.end().catch(() => {});
  }
}
