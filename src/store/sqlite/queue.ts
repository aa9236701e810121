// The outbound queue in SQLite: a message (blob by hash) and its remote recipients with
// their DSN parameters (RFC 3461), attempts and next attempt time, and what the worker
// (queue/worker.ts) needs: due items claimed under a lease, each attempt's outcome recorded
// in one transaction, administrative hold / retry / delete.

import type { FileBlobStore } from '../blobs/file-blobs.js';
import { fsyncDir, sha256 } from '../blobs/file-blobs.js';
import { type OutboundRow, outboundItem, type RecipientRow } from '../rows.js';
import type { NewOutbound, OutboundItem, OutboundUpdate } from '../types.js';
import { type Db, stmt, tx } from './db.js';

export class SqliteQueue {
  constructor(
    private readonly db: Db,
    private readonly blobs: FileBlobStore,
    private readonly holds: { hold(hash: string): void; release(hash: string): void },
  ) {}

  get(id: number): OutboundItem | null {
    const r = stmt(this.db, 'SELECT * FROM outbound WHERE id = ?').get(id) as
      | OutboundRow
      | undefined;
    return r ? this.item(r) : null;
  }

  claim(now: number, limit: number, leaseMs: number): OutboundItem[] {
    return tx(this.db, () => {
      // A claimed item's next attempt is its lease's end: if nothing records an outcome (the
      // process died), it falls due again then. Both queries follow outbound_due, so a
      // queue of 100,000 costs the same as one of ten.
      const rows = stmt(
        this.db,
        `SELECT * FROM outbound WHERE held = 0 AND next_attempt_at <= ?
         ORDER BY next_attempt_at LIMIT ?`,
      ).all(now, limit) as OutboundRow[];
      const lease = stmt(
        this.db,
        'UPDATE outbound SET lease_until = ?, next_attempt_at = ? WHERE id = ?',
      );
      for (const r of rows) lease.run(now + leaseMs, now + leaseMs, r.id);
      return rows.map((r) => this.item(r));
    });
  }

  read(item: OutboundItem): Promise<Buffer> {
    return this.blobs.read(item.blobHash, item.size);
  }

  /** Records an attempt; the hashes whose bytes nothing holds any more (to remove after commit). */
  update(id: number, u: OutboundUpdate, now: number): string[] {
    return tx(this.db, () => {
      const set = stmt(
        this.db,
        `UPDATE outbound_recipients SET state = ?, last_error = ?,
           status = COALESCE(?, status), remote_mta = COALESCE(?, remote_mta), updated_at = ?
         WHERE outbound_id = ? AND address = ?`,
      );
      for (const r of u.recipients) {
        set.run(r.state, r.lastError, r.status ?? null, r.remoteMta ?? null, now, id, r.address);
      }
      stmt(
        this.db,
        `UPDATE outbound SET lease_until = 0, next_attempt_at = ?,
           attempts = attempts + ?, last_attempt_at = CASE WHEN ? THEN ? ELSE last_attempt_at END,
           delay_notified = MAX(delay_notified, ?)
         WHERE id = ?`,
      ).run(
        u.nextAttemptAt.getTime(),
        u.attempted ? 1 : 0,
        u.attempted ? 1 : 0,
        now,
        u.delayNotified ? 1 : 0,
        id,
      );
      const pending = stmt(
        this.db,
        `SELECT 1 FROM outbound_recipients WHERE outbound_id = ? AND state = 'pending' LIMIT 1`,
      ).get(id);
      return pending ? [] : this.remove(id);
    });
  }

  setHeld(id: number, held: boolean): boolean {
    const r = stmt(this.db, 'UPDATE outbound SET held = ? WHERE id = ?').run(held ? 1 : 0, id);
    return r.changes > 0;
  }

  retry(id: number | 'all', now: number): number {
    const r =
      id === 'all'
        ? stmt(this.db, 'UPDATE outbound SET next_attempt_at = ? WHERE held = 0').run(now)
        : stmt(this.db, 'UPDATE outbound SET next_attempt_at = ? WHERE id = ?').run(now, id);
    return r.changes;
  }

  /** Removes an item; the hashes to remove after commit (none if the item was not there). */
  delete(id: number): string[] | null {
    return tx(this.db, () => {
      const exists = stmt(this.db, 'SELECT 1 FROM outbound WHERE id = ?').get(id);
      return exists ? this.remove(id) : null;
    });
  }

  /** Leases of a process that is gone: their items are due now. */
  resetLeases(now: number): void {
    stmt(
      this.db,
      'UPDATE outbound SET lease_until = 0, next_attempt_at = MIN(next_attempt_at, ?) WHERE lease_until > 0',
    ).run(now);
  }

  nextDue(): number | null {
    const r = stmt(
      this.db,
      'SELECT next_attempt_at AS due FROM outbound WHERE held = 0 ORDER BY next_attempt_at LIMIT 1',
    ).get() as { due: number } | undefined;
    return r?.due ?? null;
  }

  /** How many items the queue holds and when the oldest was queued: two index reads. */
  summary(): { messages: number; oldest: number | null } {
    const r = stmt(
      this.db,
      'SELECT (SELECT count(*) FROM outbound) AS n, (SELECT created_at FROM outbound ORDER BY id LIMIT 1) AS oldest',
    ).get() as { n: number; oldest: number | null };
    return { messages: r.n, oldest: r.oldest };
  }

  /** Unlinks the queue's copies of `hashes` (after the transaction that let go committed). */
  removeBlobs(hashes: string[]): Promise<void> {
    return hashes.length === 0 ? Promise.resolve() : this.blobs.removeMany(hashes);
  }

  private remove(id: number): string[] {
    const row = stmt(this.db, 'SELECT blob_hash FROM outbound WHERE id = ?').get(id) as
      | { blob_hash: string }
      | undefined;
    stmt(this.db, 'DELETE FROM outbound WHERE id = ?').run(id);
    if (!row) return [];
    // The bytes stay while another queued item or a stored message holds the same hash.
    const held = stmt(
      this.db,
      `SELECT EXISTS (SELECT 1 FROM outbound WHERE blob_hash = ?)
           OR EXISTS (SELECT 1 FROM messages WHERE blob_hash = ?) AS held`,
    ).get(row.blob_hash, row.blob_hash) as { held: number };
    return held.held ? [] : [row.blob_hash];
  }

  async enqueue(m: NewOutbound): Promise<number> {
    const hash = sha256(m.raw);
    // Held until the row commits: an expunge of an identical message must not unlink it.
    this.holds.hold(hash);
    try {
      const dirs = await this.blobs.put(hash, m.raw);
      await Promise.all(dirs.map((d) => fsyncDir(d)));
      return this.insert(hash, m);
    } finally {
      this.holds.release(hash);
    }
  }

  private insert(hash: string, m: NewOutbound): number {
    const now = Date.now();
    return tx(this.db, () => {
      const r = stmt(
        this.db,
        `INSERT INTO outbound (blob_hash, size, sender, envid, ret, account_id, created_at,
           next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        hash,
        m.raw.length,
        m.sender,
        m.envid ?? null,
        m.ret ?? null,
        m.accountId ?? null,
        now,
        now,
      );
      const id = Number(r.lastInsertRowid);
      for (const rcpt of m.recipients) {
        stmt(
          this.db,
          `INSERT INTO outbound_recipients (outbound_id, address, notify, orcpt) VALUES (?, ?, ?, ?)
           ON CONFLICT DO NOTHING`,
        ).run(
          id,
          rcpt.address,
          rcpt.notify === undefined ? null : JSON.stringify(rcpt.notify),
          rcpt.orcpt ?? null,
        );
      }
      return id;
    });
  }

  list(): OutboundItem[] {
    const rows = stmt(this.db, 'SELECT * FROM outbound ORDER BY id').all() as OutboundRow[];
    return rows.map((r) => this.item(r));
  }

  private item(r: OutboundRow): OutboundItem {
    const rcpts = stmt(
      this.db,
      `SELECT address, notify, orcpt, state, last_error, status, remote_mta
       FROM outbound_recipients WHERE outbound_id = ? ORDER BY address`,
    ).all(r.id) as RecipientRow[];
    return outboundItem(r, rcpts);
  }
}
