// The annotation role in PostgreSQL: IMAP METADATA (RFC 5464), one row per entry of an
// account's server annotations (mailbox_id 0) or of a mailbox. Limits (METADATA_LIMITS) are
// checked in the transaction of the change, under the account's row lock, so two sessions
// (on any nodes) cannot pass them together.

import {
  METADATA_LIMITS,
  type MetadataEntry,
  type MetadataSetResult,
  type MetadataStore,
} from '../types.js';
import { type PgDb, row, rows, run } from './db.js';
import type { PgEvents } from './events.js';

/** `name` or below it, `depth` levels at most (RFC 5464 §4.2.2). */
function within(name: string, candidate: string, depth: 0 | 1 | 'infinity'): boolean {
  if (candidate === name) return true;
  if (depth === 0 || !candidate.startsWith(`${name}/`)) return false;
  return depth === 'infinity' || !candidate.slice(name.length + 1).includes('/');
}

/** Carries a refusal out of the transaction, which then rolls back. */
class Refusal {
  constructor(readonly result: MetadataSetResult) {}
}

export class PgMetadata implements MetadataStore {
  constructor(
    private readonly db: PgDb,
    private readonly events: PgEvents,
  ) {}

  async getMetadata(
    accountId: number,
    mailboxId: number | null,
    names: string[],
    depth: 0 | 1 | 'infinity',
  ): Promise<MetadataEntry[]> {
    const out: MetadataEntry[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      const rs = await rows<{ name: string; value: Buffer }>(
        this.db,
        `SELECT name, value FROM metadata WHERE account_id = $1 AND COALESCE(mailbox_id, 0) = $2
         AND (name = $3 OR left(name, $4) = $5) ORDER BY name`,
        [accountId, mailboxId ?? 0, name, name.length + 1, `${name}/`],
      );
      for (const r of rs) {
        if (!within(name, r.name, depth) || seen.has(r.name)) continue;
        seen.add(r.name);
        out.push({ name: r.name, value: r.value });
      }
    }
    return out;
  }

  async setMetadata(
    accountId: number,
    mailboxId: number | null,
    changes: Array<{ name: string; value: Buffer | null }>,
  ): Promise<MetadataSetResult> {
    const L = METADATA_LIMITS;
    for (const c of changes) {
      if (c.value !== null && c.value.length > L.maxValueSize) {
        return { ok: false, reason: 'maxsize', max: L.maxValueSize };
      }
    }
    let result: MetadataSetResult;
    try {
      result = await this.events.tx(async (q, emit) => {
        await run(q, 'SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId]);
        const box = mailboxId ?? 0;
        // The last change of a name wins, as if they were applied in order.
        const last = new Map<string, Buffer | null>();
        for (const c of changes) last.set(c.name, c.value);
        for (const [name, value] of last) {
          await run(
            q,
            'DELETE FROM metadata WHERE account_id = $1 AND COALESCE(mailbox_id, 0) = $2 AND name = $3',
            [accountId, box, name],
          );
          if (value !== null) {
            await run(
              q,
              'INSERT INTO metadata (account_id, mailbox_id, name, value) VALUES ($1, $2, $3, $4)',
              [accountId, mailboxId, name, value],
            );
          }
        }
        const usage = await row<{ count: number; bytes: number }>(
          q,
          `SELECT count(*) FILTER (WHERE COALESCE(mailbox_id, 0) = $2) AS count,
             COALESCE(SUM(length(name) + octet_length(value)), 0)::bigint AS bytes
           FROM metadata WHERE account_id = $1`,
          [accountId, box],
        );
        const count = usage?.count ?? 0;
        const bytes = usage?.bytes ?? 0;
        // RFC 5464 §4.3: any failure leaves every entry as it was (the transaction rolls back).
        if (count > L.maxEntries) throw new Refusal({ ok: false, reason: 'toomany' });
        if (bytes > L.maxAccountBytes) {
          // The largest value that would have fit: what is left of the account's room.
          let added = 0;
          for (const [name, value] of last) if (value !== null) added += name.length + value.length;
          const room = Math.max(0, L.maxAccountBytes - (bytes - added));
          throw new Refusal({ ok: false, reason: 'maxsize', max: Math.min(room, L.maxValueSize) });
        }
        emit({
          accountId,
          mailboxId: mailboxId ?? 0,
          modseq: 0,
          kind: 'metadata',
          uids: [],
          entries: [...last.keys()],
        });
        return { ok: true } as const;
      });
    } catch (err) {
      if (err instanceof Refusal) return err.result;
      throw err;
    }
    return result;
  }
}
