// Mailboxes and subscriptions in SQLite.
import { StoreError } from '../errors.js';
import { MAX_MAILBOX_DEPTH, normalizeMailboxName } from '../names.js';
import { MAX_MAILBOXES_PER_ACCOUNT, type MailboxRow, toMailbox } from '../rows.js';
import {
  type ExpectedMailbox,
  MAILBOX_DELIMITER,
  type Mailbox,
  type MailboxStatus,
  type SpecialUse,
} from '../types.js';
import { type Db, nextModseq, nextUidValidity, stmt, tx } from './db.js';
import { KeptGeneration, keepBounded } from './kept-generation.js';
import type { OpenRow } from './mailbox-summary.js';
import { newObjectId } from './threads.js';
import type { WalChanges } from './wal-changes.js';

/** A mailbox row with the \Recent mark this store keeps in memory. */
interface SqliteMailboxRow extends MailboxRow {
  first_recent_uid: number;
}

/**
 * What the message paths need of a mailbox: its owner and its UIDVALIDITY (which ties cached
 * rows to it). Every STORE, APPEND, EXPUNGE and cached read looks one up.
 */
export type MailboxKey = Pick<Mailbox, 'id' | 'accountId' | 'uidValidity'>;

/** Whether the account subscribes to mailbox `m`'s name, as a column of a read of `mailboxes m`. */
export const SUBSCRIBED = `EXISTS (SELECT 1 FROM subscriptions s
  WHERE s.account_id = m.account_id AND s.name = m.name)`;

const SELECT_MAILBOX = `SELECT m.*, ${SUBSCRIBED} AS subscribed FROM mailboxes m`;

/** Mailbox keys kept at most; then they start over. */
const KEPT_KEYS_MAX = 10_000;

/** A client's mailbox name as stored (names.ts), or null when no mailbox can have it. */
export function storedMailboxName(name: string): string | null {
  try {
    return normalizeMailboxName(name);
  } catch {
    return null;
  }
}

export class SqliteMailboxes {
  /**
   * first_recent_uid of mailboxes as last read or claimed here. It only grows while the row
   * lives, so a value above a claim's `upToUid` answers it without a read: every IMAP4rev1
   * session in IDLE claims on each delivery, and all but the first find nothing to take
   * (10,000 statements per delivery; issue 14 §4). Set again from each row read by get() and
   * getById(), which a session's SELECT does first, so a mailbox id reused after a delete
   * (even by another process) never answers from the old mailbox's value.
   */
  private readonly recentFrom = new Map<number, number>();
  /**
   * Keys read (key()), kept while nothing but this process's write batches commits
   * (wal-changes.ts): a key's owner and UIDVALIDITY change only when its mailbox is deleted
   * (its id may then be given again) or adopts a UIDVALIDITY, which no write batch does; this
   * store's own deletes and adoptions drop the key at once (forget, adoptUidValidity), and any
   * other commit starts a new generation.
   */
  private readonly keys = new Map<number, MailboxKey>();
  private readonly kept: KeptGeneration;

  /** `changes`: when mailboxes may have changed (wal-changes.ts); null keeps nothing. */
  constructor(
    private readonly db: Db,
    changes: WalChanges | null = null,
  ) {
    this.kept = new KeptGeneration(changes, [this.keys]);
  }

  list(accountId: number): Mailbox[] {
    const rows = stmt(
      this.db,
      `${SELECT_MAILBOX} WHERE m.account_id = ? ORDER BY m.name <> 'INBOX', m.name`,
    ).all(accountId) as SqliteMailboxRow[];
    return rows.map(toMailbox);
  }

  get(accountId: number, name: string): Mailbox | null {
    const n = storedMailboxName(name);
    if (n === null) return null;
    const r = stmt(this.db, `${SELECT_MAILBOX} WHERE m.account_id = ? AND m.name = ?`).get(
      accountId,
      n,
    ) as SqliteMailboxRow | undefined;
    return r ? this.fromRow(r) : null;
  }

  getById(id: number): Mailbox | null {
    const r = stmt(this.db, `${SELECT_MAILBOX} WHERE m.id = ?`).get(id) as
      | SqliteMailboxRow
      | undefined;
    return r ? this.fromRow(r) : null;
  }

  private fromRow(r: SqliteMailboxRow): Mailbox {
    this.recentFrom.set(r.id, r.first_recent_uid);
    return toMailbox(r);
  }

  /** The mailbox of SELECT's one read (mailbox-summary.ts OpenRow), named `name` as stored. */
  fromOpenRow(accountId: number, name: string, r: OpenRow): Mailbox {
    const [uidValidity, uidNext, , , , , id, highestModseq, specialUse, objectId, firstRecent] = r;
    this.recentFrom.set(id, firstRecent);
    return toMailbox({
      id,
      account_id: accountId,
      name,
      uid_validity: uidValidity,
      uid_next: uidNext,
      highest_modseq: highestModseq,
      special_use: specialUse,
      object_id: objectId,
      subscribed: r[11],
    });
  }

  /** Forgets what is known of deleted mailboxes. */
  forget(ids: readonly number[]): void {
    for (const id of ids) {
      this.recentFrom.delete(id);
      this.keys.delete(id);
    }
  }

  mustGet(id: number): Mailbox {
    const m = this.getById(id);
    if (!m) throw new StoreError('NOT_FOUND', 'no such mailbox');
    return m;
  }

  /**
   * See MailboxKey: one primary-key read of two columns, where getById reads the whole row
   * and looks up its subscription (3-4 times the cost, 13 times per cycle of bench/imap's
   * mix; issue 14 §4).
   */
  key(id: number): MailboxKey | null {
    // Read before the database is: a commit in between makes the key newer than the count it
    // is kept under, never older. Outside a transaction this one pread(2) stands for the
    // statement's read transaction (its locks' system calls on -shm): FETCH's `validity`.
    const now = this.kept.now();
    if (now !== null) {
      const k = this.keys.get(id);
      if (k !== undefined) return { id, accountId: k.accountId, uidValidity: k.uidValidity };
    }
    const r = stmt(this.db, 'SELECT account_id, uid_validity FROM mailboxes WHERE id = ?')
      .raw()
      .get(id) as [number, number] | undefined;
    if (!r) return null;
    if (now !== null)
      keepBounded(this.keys, KEPT_KEYS_MAX, id, { id, accountId: r[0], uidValidity: r[1] });
    return { id, accountId: r[0], uidValidity: r[1] };
  }

  mustGetKey(id: number): MailboxKey {
    const k = this.key(id);
    if (!k) throw new StoreError('NOT_FOUND', 'no such mailbox');
    return k;
  }

  /**
   * In an append's transaction: the mailbox's key, when it is still the one `expect` names
   * (AppendTarget.expect: owner, UIDVALIDITY and name); else NOT_FOUND.
   */
  mustGetExpected(id: number, expect: ExpectedMailbox): MailboxKey {
    const r = stmt(this.db, 'SELECT account_id, uid_validity, name FROM mailboxes WHERE id = ?')
      .raw()
      .get(id) as [number, number, string] | undefined;
    if (!r || r[0] !== expect.accountId || r[1] !== expect.uidValidity || r[2] !== expect.name)
      throw new StoreError('NOT_FOUND', 'no such mailbox');
    return { id, accountId: r[0], uidValidity: r[1] };
  }

  /**
   * A claim made in an append's transaction (MailStore AppendTarget.claimRecent) committed:
   * the mailbox's first recent UID is now `next`.
   */
  noteClaimed(id: number, next: number): void {
    if ((this.recentFrom.get(id) ?? 0) < next) this.recentFrom.set(id, next);
  }

  create(accountId: number, name: string, specialUse: SpecialUse | null): Mailbox {
    const n = normalizeMailboxName(name);
    return tx(this.db, () => {
      if (this.get(accountId, n)) throw new StoreError('EXISTS', `mailbox ${n} already exists`);
      const count = stmt(this.db, 'SELECT COUNT(*) AS n FROM mailboxes WHERE account_id = ?').get(
        accountId,
      ) as { n: number };
      if (count.n >= MAX_MAILBOXES_PER_ACCOUNT) {
        throw new StoreError('LIMIT', `too many mailboxes (limit ${MAX_MAILBOXES_PER_ACCOUNT})`);
      }
      const r = stmt(
        this.db,
        `INSERT INTO mailboxes (account_id, name, uid_validity, highest_modseq, special_use,
           object_id) VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(
        accountId,
        n,
        nextUidValidity(this.db),
        nextModseq(this.db, accountId),
        specialUse,
        // RFC 8474 §4: a new MAILBOXID for every mailbox created (also one re-created under
        // an old name); RENAME keeps it.
        newObjectId('F'),
      );
      return this.getById(Number(r.lastInsertRowid))!;
    });
  }

  /** Mailboxes whose name is `name` or below it. */
  private withInferiors(accountId: number, name: string): SqliteMailboxRow[] {
    return stmt(
      this.db,
      `SELECT * FROM mailboxes WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)`,
    ).all(accountId, name, name.length + 1, name + MAILBOX_DELIMITER) as SqliteMailboxRow[];
  }

  /**
   * RFC 9051 §6.3.6: renaming renames every inferior; RENAME INBOX is handled by the IMAP
   * layer (it moves the messages and leaves INBOX in place), so the store refuses it.
   */
  rename(id: number, newName: string): Mailbox[] {
    const mb = this.mustGet(id);
    if (mb.name === 'INBOX') throw new StoreError('NOT_ALLOWED', 'INBOX cannot be renamed here');
    const target = normalizeMailboxName(newName);
    if (target === 'INBOX') throw new StoreError('EXISTS', 'INBOX already exists');
    if (target === mb.name) throw new StoreError('EXISTS', `mailbox ${target} already exists`);
    if (target.startsWith(mb.name + MAILBOX_DELIMITER)) {
      throw new StoreError('INVALID', 'cannot rename a mailbox into itself');
    }
    return tx(this.db, () => {
      const moving = this.withInferiors(mb.accountId, mb.name);
      const renamed: Mailbox[] = [];
      for (const row of moving) {
        const name = target + row.name.slice(mb.name.length);
        if (name.split(MAILBOX_DELIMITER).length > MAX_MAILBOX_DEPTH) {
          throw new StoreError('LIMIT', 'mailbox nesting too deep');
        }
        if (this.get(mb.accountId, name)) throw new StoreError('EXISTS', `mailbox ${name} exists`);
        const modseq = nextModseq(this.db, mb.accountId);
        stmt(this.db, 'UPDATE mailboxes SET name = ?, highest_modseq = ? WHERE id = ?').run(
          name,
          modseq,
          row.id,
        );
        // The subscription moves with the mailbox; when the new name is subscribed already
        // (subscriptions may name mailboxes that do not exist), the old one just goes.
        stmt(
          this.db,
          'UPDATE OR IGNORE subscriptions SET name = ? WHERE account_id = ? AND name = ?',
        ).run(name, mb.accountId, row.name);
        stmt(this.db, 'DELETE FROM subscriptions WHERE account_id = ? AND name = ?').run(
          mb.accountId,
          row.name,
        );
        renamed.push(this.getById(row.id)!);
      }
      return renamed;
    });
  }

  /** See MailStore.adoptUidValidity. */
  adoptUidValidity(id: number, uidValidity: number): boolean {
    this.keys.delete(id);
    return (
      stmt(this.db, 'UPDATE mailboxes SET uid_validity = ? WHERE id = ? AND uid_next = 1').run(
        uidValidity,
        id,
      ).changes > 0
    );
  }

  setSpecialUse(id: number, specialUse: SpecialUse | null): Mailbox {
    const mb = this.mustGet(id);
    stmt(this.db, 'UPDATE mailboxes SET special_use = ? WHERE id = ?').run(specialUse, id);
    return { ...mb, specialUse };
  }

  /** Whether anything changed (a name subscribed twice is one subscription). */
  setSubscribed(accountId: number, name: string, subscribed: boolean): boolean {
    const n = normalizeMailboxName(name);
    if (subscribed) {
      return (
        stmt(
          this.db,
          'INSERT INTO subscriptions (account_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING',
        ).run(accountId, n).changes > 0
      );
    }
    return (
      stmt(this.db, 'DELETE FROM subscriptions WHERE account_id = ? AND name = ?').run(accountId, n)
        .changes > 0
    );
  }

  /**
   * See MailStore.claimRecent. Usually there is nothing to take (one read). A claim is a
   * compare-and-set on the value read, so two claimants (even in two processes) never both
   * take a UID: the one that lost reads again.
   */
  claimRecent(id: number, upToUid: number, claim: boolean): number {
    // Known to be past upToUid: nothing to take, and nothing recent up to it (the caller
    // marks first..upToUid recent, an empty range either way).
    const known = this.recentFrom.get(id);
    if (known !== undefined && known > upToUid) return known;
    for (;;) {
      const first = stmt(this.db, 'SELECT first_recent_uid FROM mailboxes WHERE id = ?')
        .pluck()
        .get(id) as number | undefined;
      if (first === undefined) {
        this.recentFrom.delete(id);
        return Number.MAX_SAFE_INTEGER;
      }
      this.recentFrom.set(id, first);
      if (!claim || first > upToUid) return first;
      const r = stmt(
        this.db,
        'UPDATE mailboxes SET first_recent_uid = ? WHERE id = ? AND first_recent_uid = ?',
      ).run(upToUid + 1, id, first);
      if (r.changes === 1) {
        this.recentFrom.set(id, upToUid + 1);
        return first;
      }
    }
  }

  listSubscriptions(accountId: number): string[] {
    const rows = stmt(
      this.db,
      'SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name',
    ).all(accountId) as { name: string }[];
    return rows.map((r) => r.name);
  }

  status(id: number): MailboxStatus {
    const mb = this.mustGet(id);
    const r = stmt(
      this.db,
      `SELECT COUNT(*) AS messages,
           COALESCE(SUM(CASE WHEN (' ' || flags || ' ') LIKE '% \\Seen %' THEN 0 ELSE 1 END), 0) AS unseen,
           COALESCE(SUM(CASE WHEN (' ' || flags || ' ') LIKE '% \\Deleted %' THEN 1 ELSE 0 END), 0) AS deleted,
           COALESCE(SUM(size), 0) AS size,
           COALESCE(SUM(uid >= (SELECT first_recent_uid FROM mailboxes WHERE id = ?)), 0) AS recent
         FROM mailbox_messages WHERE mailbox_id = ?`,
    ).get(id, id) as {
      messages: number;
      unseen: number;
      deleted: number;
      size: number;
      recent: number;
    };
    return {
      ...r,
      uidNext: mb.uidNext,
      uidValidity: mb.uidValidity,
      highestModseq: mb.highestModseq,
    };
  }
}
