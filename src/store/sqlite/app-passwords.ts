// App passwords in SQLite: one row per (account, id), the name unique within the account.
// Only the hash is stored (auth/app-password.ts makes and checks it).
import { StoreError } from '../errors.js';
import { type AppPasswordRow, toAppPassword } from '../rows.js';
import type { AppPassword, AppPasswordRecord } from '../types.js';
import { type Db, stmt } from './db.js';

function withoutHash(r: AppPasswordRecord): AppPassword {
  const { hash: _hash, ...rest } = r;
  return rest;
}

/** Names are what an operator types to remove one: printable, one line, bounded. */
const NAME = /^[^\p{Cc}]{1,64}$/u;
const ID = /^[a-z2-7]{1,32}$/;

export class SqliteAppPasswords {
  constructor(private readonly db: Db) {}

  add(accountId: number, input: { id: string; name: string; hash: string }): AppPassword {
    const name = input.name.trim();
    if (!NAME.test(name)) {
      throw new StoreError('INVALID', 'an app password name is 1 to 64 printable characters');
    }
    if (!ID.test(input.id)) throw new StoreError('INVALID', 'invalid app password id');
    const taken = stmt(
      this.db,
      'SELECT name FROM app_passwords WHERE account_id = ? AND (name = ? OR id = ?)',
    ).get(accountId, name, input.id) as { name: string } | undefined;
    if (taken !== undefined) {
      throw new StoreError(
        'EXISTS',
        taken.name === name
          ? `an app password named "${name}" exists`
          : 'app password id in use, try again',
      );
    }
    const now = Date.now();
    stmt(
      this.db,
      `INSERT INTO app_passwords (account_id, id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
    ).run(accountId, input.id, name, input.hash, now);
    return { id: input.id, name, createdAt: new Date(now), lastUsedAt: null };
  }

  list(accountId: number): AppPassword[] {
    const rows = stmt(
      this.db,
      'SELECT * FROM app_passwords WHERE account_id = ? ORDER BY created_at, rowid',
    ).all(accountId) as AppPasswordRow[];
    return rows.map((r) => withoutHash(toAppPassword(r)));
  }

  remove(accountId: number, name: string): void {
    const r = stmt(this.db, 'DELETE FROM app_passwords WHERE account_id = ? AND name = ?').run(
      accountId,
      name.trim(),
    );
    if (r.changes === 0) throw new StoreError('NOT_FOUND', `no app password named "${name}"`);
  }

  get(accountId: number, id: string): AppPasswordRecord | null {
    const r = stmt(this.db, 'SELECT * FROM app_passwords WHERE account_id = ? AND id = ?').get(
      accountId,
      id,
    ) as AppPasswordRow | undefined;
    return r === undefined ? null : toAppPassword(r);
  }

  touch(accountId: number, id: string, at: number): void {
    stmt(this.db, 'UPDATE app_passwords SET last_used_at = ? WHERE account_id = ? AND id = ?').run(
      at,
      accountId,
      id,
    );
  }
}
