// The outbound queue role in PostgreSQL. Items are claimed with SELECT ... FOR UPDATE SKIP
// LOCKED: claimants on any number of nodes never take the same item, and each claim leases
// its items (next_attempt_at moves to the lease's end) so an item whose node died falls due
// again. A lease names its node (lease_owner): resetOutboundLeases, run when a node's worker
// starts, ends only that node's own leases, never those of nodes still at work.
import { sha256 } from '../blobs/file-blobs.js';
import { StoreError } from '../errors.js';
import { type OutboundRow, outboundItem, type RecipientRow } from '../rows.js';
import type { NewOutbound, OutboundItem, OutboundQueueStore, OutboundUpdate } from '../types.js';
import { readBlob, writeBlob } from './blobs.js';
import { type PgDb, type Queryable, row, rows, run } from './db.js';
import { QUEUE_CHANNEL } from './events.js';

/** A recipient row with the item it belongs to (one query for several items). */
interface ItemRecipientRow extends RecipientRow {
  outbound_id: number;
}

const ITEM_COLUMNS = `id, blob_hash, size, sender, envid, ret, account_id, created_at,
  next_attempt_at, attempts, held, last_attempt_at, delay_notified`;

const CLAIMED_COLUMNS = ITEM_COLUMNS.replace(/(\w+)/g, 'o.$1');

export class PgQueue implements OutboundQueueStore {
  private readonly queuedListeners = new Set<() => void>();

  constructor(
    private readonly db: PgDb,
    /** This node's name in the leases it takes. */
    private readonly node: string,
    /** An item went: its bytes may have gone with it (the node's byte cache forgets them). */
    private readonly freed: (blobHash: string) => void = () => {},
  ) {}

  /** The items of these rows, with their recipients (one query for all). */
  private async items(q: Queryable, rs: OutboundRow[]): Promise<OutboundItem[]> {
    if (rs.length === 0) return [];
    const rcpts = await rows<ItemRecipientRow>(
      q,
      `SELECT outbound_id, address, notify, orcpt, state, last_error, status, remote_mta
       FROM outbound_recipients WHERE outbound_id = ANY($1) ORDER BY outbound_id, address`,
      [rs.map((r) => r.id)],
    );
    const byItem = new Map<number, ItemRecipientRow[]>();
    for (const x of rcpts) {
      const list = byItem.get(x.outbound_id);
      if (list) list.push(x);
      else byItem.set(x.outbound_id, [x]);
    }
    return rs.map((r) => outboundItem(r, byItem.get(r.id) ?? []));
  }

  async enqueueOutbound(m: NewOutbound): Promise<number> {
    const now = Date.now();
    const hash = sha256(m.raw);
    const id = await this.db.tx(async (q) => {
      // The blob first: its row lock orders this against a collection of the same bytes.
      await writeBlob(q, hash, m.raw);
      const r = await row<{ id: number }>(
        q,
        `INSERT INTO outbound (blob_hash, size, sender, envid, ret, account_id, created_at,
           next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id`,
        [hash, m.raw.length, m.sender, m.envid ?? null, m.ret ?? null, m.accountId ?? null, now],
      );
      if (!r) throw new Error('the queued item is not there');
      for (const rcpt of m.recipients) {
        await run(
          q,
          `INSERT INTO outbound_recipients (outbound_id, address, notify, orcpt)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
          [
            r.id,
            rcpt.address,
            rcpt.notify === undefined ? null : JSON.stringify(rcpt.notify),
            rcpt.orcpt ?? null,
          ],
        );
      }
      return r.id;
    });
    this.queued();
    return id;
  }

  onOutboundQueued(listener: () => void): () => void {
    this.queuedListeners.add(listener);
    return () => this.queuedListeners.delete(listener);
  }

  async listOutbound(): Promise<OutboundItem[]> {
    return this.items(
      this.db,
      await rows<OutboundRow>(this.db, `SELECT ${ITEM_COLUMNS} FROM outbound ORDER BY id`),
    );
  }

  async getOutbound(id: number): Promise<OutboundItem | null> {
    const r = await row<OutboundRow>(
      this.db,
      `SELECT ${ITEM_COLUMNS} FROM outbound WHERE id = $1`,
      [id],
    );
    return r ? ((await this.items(this.db, [r]))[0] ?? null) : null;
  }

  async claimOutbound(opts: {
    now: Date;
    limit: number;
    leaseMs: number;
  }): Promise<OutboundItem[]> {
    const now = opts.now.getTime();
    const until = now + opts.leaseMs;
    return this.db.tx(async (q) => {
      // A claimed item's next attempt is its lease's end: if nothing records an outcome (the
      // node died), it falls due again then. Rows another claimant holds are skipped; one it
      // committed meanwhile is checked again against the condition, and is no longer due.
      const rs = await rows<OutboundRow>(
        q,
        `WITH due AS (
           SELECT id FROM outbound WHERE NOT held AND next_attempt_at <= $1
           ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE outbound o SET lease_until = $3, next_attempt_at = $3, lease_owner = $4
         FROM due WHERE o.id = due.id
         RETURNING ${CLAIMED_COLUMNS}`,
        [now, opts.limit, until, this.node],
      );
      rs.sort((a, b) => a.id - b.id);
      return this.items(q, rs);
    });
  }

  async readOutbound(item: OutboundItem): Promise<Buffer> {
    // Even once the item is gone (delivered, deleted) its bytes may still be a stored
    // message's: they are one blob.
    try {
      return await readBlob(this.db, item.blobHash);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NOT_FOUND') {
        throw new Error(`queued message ${item.id} is gone`);
      }
      throw err;
    }
  }

  async updateOutbound(id: number, u: OutboundUpdate): Promise<void> {
    const now = Date.now();
    await this.db.tx(async (q) => {
      for (const r of u.recipients) {
        await run(
          q,
          `UPDATE outbound_recipients SET state = $1, last_error = $2,
             status = COALESCE($3, status), remote_mta = COALESCE($4, remote_mta), updated_at = $5
           WHERE outbound_id = $6 AND address = $7`,
          [r.state, r.lastError, r.status ?? null, r.remoteMta ?? null, now, id, r.address],
        );
      }
      await run(
        q,
        `UPDATE outbound SET lease_until = 0, lease_owner = NULL, next_attempt_at = $1,
           attempts = attempts + $2,
           last_attempt_at = CASE WHEN $3 THEN $4 ELSE last_attempt_at END,
           delay_notified = delay_notified OR $5
         WHERE id = $6`,
        [
          u.nextAttemptAt.getTime(),
          u.attempted ? 1 : 0,
          u.attempted,
          now,
          u.delayNotified === true,
          id,
        ],
      );
      // An item none of whose recipients is pending any more is done: it goes, bytes and all.
      const gone = await rows<{ blob_hash: string }>(
        q,
        `DELETE FROM outbound WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM outbound_recipients
           WHERE outbound_id = $1 AND state = 'pending') RETURNING blob_hash`,
        [id],
      );
      for (const g of gone) this.freed(g.blob_hash);
    });
  }

  async holdOutbound(id: number, held: boolean): Promise<boolean> {
    const n = await run(this.db, 'UPDATE outbound SET held = $1 WHERE id = $2', [held, id]);
    if (!held) await this.announce();
    return n > 0;
  }

  async retryOutbound(id: number | 'all'): Promise<number> {
    const now = Date.now();
    const n = await (id === 'all'
      ? run(this.db, 'UPDATE outbound SET next_attempt_at = $1 WHERE NOT held', [now])
      : run(this.db, 'UPDATE outbound SET next_attempt_at = $1 WHERE id = $2', [now, id]));
    await this.announce();
    return n;
  }

  /**
   * Items made due by hand: this process's worker is woken, and every node's through
   * QUEUE_CHANNEL (their workers otherwise look only at their slow sweep).
   */
  private async announce(): Promise<void> {
    await run(this.db, 'SELECT pg_notify($1, $2)', [QUEUE_CHANNEL, '']);
    this.queued();
  }

  /** Calls the onOutboundQueued listeners (a notice heard on QUEUE_CHANNEL). */
  queued(): void {
    for (const l of this.queuedListeners) l();
  }

  async deleteOutbound(id: number): Promise<boolean> {
    const gone = await rows<{ blob_hash: string }>(
      this.db,
      'DELETE FROM outbound WHERE id = $1 RETURNING blob_hash',
      [id],
    );
    for (const g of gone) this.freed(g.blob_hash);
    return gone.length > 0;
  }

  async resetOutboundLeases(): Promise<void> {
    await run(
      this.db,
      `UPDATE outbound SET lease_until = 0, lease_owner = NULL,
         next_attempt_at = LEAST(next_attempt_at, $1)
       WHERE lease_until > 0 AND lease_owner = $2`,
      [Date.now(), this.node],
    );
  }

  async nextOutboundDue(): Promise<Date | null> {
    const r = await row<{ due: number }>(
      this.db,
      'SELECT next_attempt_at AS due FROM outbound WHERE NOT held ORDER BY next_attempt_at LIMIT 1',
    );
    return r ? new Date(r.due) : null;
  }

  async outboundSummary(): Promise<{ messages: number; oldest: Date | null }> {
    const r = await row<{ n: number; oldest: number | null }>(
      this.db,
      `SELECT (SELECT count(*) FROM outbound) AS n,
         (SELECT created_at FROM outbound ORDER BY id LIMIT 1) AS oldest`,
    );
    return {
      messages: r?.n ?? 0,
      oldest: r?.oldest === null || r?.oldest === undefined ? null : new Date(r.oldest),
    };
  }
}
