// The outbound queue in SQLite: a message (blob by hash) and its remote recipients with
// their DSN parameters (RFC 3461), attempts and next attempt time. The worker comes later.

import type { FileBlobStore } from '../blobs/file-blobs.js';
import { fsyncDir, sha256 } from '../blobs/file-blobs.js';
import type { DsnNotify, NewOutbound, OutboundItem, OutboundState } from '../types.js';
import { type Db, stmt, tx } from './db.js';

interface OutboundRow {
  id: number;
  blob_hash: string;
  size: number;
  sender: string;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  account_id: number | null;
  created_at: number;
  next_attempt_at: number;
  attempts: number;
}

export class SqliteQueue {
  constructor(
    private readonly db: Db,
    private readonly blobs: FileBlobStore,
    private readonly holds: { hold(hash: string): void; release(hash: string): void },
  ) {}

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
    return rows.map((r) => {
      const rcpts = stmt(
        this.db,
        'SELECT address, notify, orcpt, state, last_error FROM outbound_recipients WHERE outbound_id = ? ORDER BY address',
      ).all(r.id) as Array<{
        address: string;
        notify: string | null;
        orcpt: string | null;
        state: OutboundState;
        last_error: string | null;
      }>;
      return {
        id: r.id,
        sender: r.sender,
        envid: r.envid,
        ret: r.ret,
        accountId: r.account_id,
        blobHash: r.blob_hash,
        size: r.size,
        createdAt: new Date(r.created_at),
        nextAttemptAt: new Date(r.next_attempt_at),
        attempts: r.attempts,
        recipients: rcpts.map((x) => ({
          address: x.address,
          ...(x.notify === null ? {} : { notify: JSON.parse(x.notify) as DsnNotify }),
          ...(x.orcpt === null ? {} : { orcpt: x.orcpt }),
          state: x.state,
          lastError: x.last_error,
        })),
      };
    });
  }
}
