// IMAP METADATA annotations (RFC 5464) in SQLite: one row per entry of an account's server
// annotations (mailbox_id NULL) or of a mailbox. Limits (METADATA_LIMITS) are checked in the
// same transaction as the change, so two sessions cannot pass them together.
import { METADATA_LIMITS, type MetadataEntry, type MetadataSetResult } from '../types.js';
import { type Db, stmt, tx } from './db.js';

interface Row {
  name: string;
  value: Buffer;
}

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

export class SqliteMetadata {
  constructor(private readonly db: Db) {}

  get(
    accountId: number,
    mailboxId: number | null,
    names: string[],
    depth: 0 | 1 | 'infinity',
  ): MetadataEntry[] {
    const out: MetadataEntry[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      const rows = stmt(
        this.db,
        `SELECT name, value FROM metadata WHERE account_id = ? AND IFNULL(mailbox_id, 0) = ?
         AND (name = ? OR substr(name, 1, ?) = ?) ORDER BY name`,
      ).all(accountId, mailboxId ?? 0, name, name.length + 1, `${name}/`) as Row[];
      for (const r of rows) {
        if (!within(name, r.name, depth) || seen.has(r.name)) continue;
        seen.add(r.name);
        out.push({ name: r.name, value: r.value });
      }
    }
    return out;
  }

  set(
    accountId: number,
    mailboxId: number | null,
    changes: Array<{ name: string; value: Buffer | null }>,
  ): MetadataSetResult {
    const L = METADATA_LIMITS;
    for (const c of changes) {
      if (c.value !== null && c.value.length > L.maxValueSize)
        return { ok: false, reason: 'maxsize', max: L.maxValueSize };
    }
    try {
      return this.apply(accountId, mailboxId, changes);
    } catch (err) {
      if (err instanceof Refusal) return err.result;
      throw err;
    }
  }

  private apply(
    accountId: number,
    mailboxId: number | null,
    changes: Array<{ name: string; value: Buffer | null }>,
  ): MetadataSetResult {
    const L = METADATA_LIMITS;
    return tx(this.db, () => {
      const box = mailboxId ?? 0;
      // The last change of a name wins, as if they were applied in order.
      const last = new Map<string, Buffer | null>();
      for (const c of changes) last.set(c.name, c.value);
      for (const [name, value] of last) {
        stmt(
          this.db,
          'DELETE FROM metadata WHERE account_id = ? AND IFNULL(mailbox_id, 0) = ? AND name = ?',
        ).run(accountId, box, name);
        if (value !== null) {
          stmt(
            this.db,
            'INSERT INTO metadata (account_id, mailbox_id, name, value) VALUES (?, ?, ?, ?)',
          ).run(accountId, mailboxId, name, value);
        }
      }
      const count = stmt(
        this.db,
        'SELECT COUNT(*) FROM metadata WHERE account_id = ? AND IFNULL(mailbox_id, 0) = ?',
      )
        .pluck()
        .get(accountId, box) as number;
      const bytes = stmt(
        this.db,
        'SELECT COALESCE(SUM(length(name) + length(value)), 0) FROM metadata WHERE account_id = ?',
      )
        .pluck()
        .get(accountId) as number;
      // RFC 5464 §4.3: any failure leaves every entry as it was (tx rolls back on throw).
      if (count > L.maxEntries) throw new Refusal({ ok: false, reason: 'toomany' });
      if (bytes > L.maxAccountBytes) {
        // The largest value that would have fit: what is left of the account's room.
        let added = 0;
        for (const [name, value] of last) if (value !== null) added += name.length + value.length;
        const room = Math.max(0, L.maxAccountBytes - (bytes - added));
        throw new Refusal({ ok: false, reason: 'maxsize', max: Math.min(room, L.maxValueSize) });
      }
      return { ok: true } as const;
    });
  }
}
