// Domains, accounts and aliases in SQLite.
import { StoreError } from '../errors.js';
import {
  domainOf,
  normalizeAddress,
  normalizeAliasAddress,
  normalizeDomain,
  normalizeMailboxName,
} from '../names.js';
import {
  type Account,
  type Alias,
  DEFAULT_MAILBOXES,
  type Domain,
  type LoginAccount,
  type Pop3Policy,
  type Resolution,
} from '../types.js';
import { type Db, nextModseq, nextUidValidity, stmt, tx } from './db.js';
import { KeptGeneration, keepBounded } from './kept-generation.js';
import { newObjectId } from './threads.js';
import type { WalChanges } from './wal-changes.js';

/**
 * An account's columns as a row read as an array (`raw`), from `at`: a row object with named
 * columns costs a V8 string-table look-up per name, about a quarter of LOGIN's read of the
 * account (5.5 against 4.1 us in a loop; twelfth session). ACCOUNT_COLUMNS names them.
 */
function accountAt(r: readonly unknown[], at: number): Account {
  const unlockedAt = r[at + 8] as number | null;
  return {
    id: r[at] as number,
    address: r[at + 1] as string,
    passwordHash: r[at + 2] as string,
    quotaBytes: r[at + 3] as number | null,
    usedBytes: r[at + 4] as number,
    pop3Policy: r[at + 5] as Pop3Policy,
    disabled: r[at + 6] !== 0,
    createdAt: new Date(r[at + 7] as number),
    unlockedAt: unlockedAt === null ? null : new Date(unlockedAt),
    admin: r[at + 9] !== 0,
  };
}

/** One address as a recipient's walk sees it (SqliteDirectory.lookUp). */
type AddressLookup = { local: false } | LocalAddress;
type LocalAddress = { local: true; account: Account | null; targets: string[] | null };

const NOT_LOCAL: AddressLookup = { local: false };

/** The columns accountAt reads, in its order. */
const ACCOUNT_COLUMNS = `accounts.id, accounts.address, accounts.password_hash, accounts.quota_bytes,
  accounts.used_bytes, accounts.pop3_policy, accounts.disabled, accounts.created_at,
  accounts.unlocked_at, accounts.admin`;

/** lookUp's row: is_local, the account's columns (all null without one), alias_targets. */
type LookupRow = [
  number,
  number | null,
  string | null,
  string | null,
  number | null,
  number | null,
  string | null,
  number | null,
  number | null,
  number | null,
  number | null,
  string | null,
];

/** Alias chains are followed this deep at most (a loop or a long chain ends there). */
const MAX_ALIAS_DEPTH = 8;

/** Look-ups kept at most; then they start over. */
const KEPT_LOOKUPS_MAX = 10_000;

/** A look-up's answer, kept while nothing but this process's write batches commits. */
interface KeptLookup {
  found: AddressLookup;
  /** The commit count before it was read (wal-changes.ts). */
  counter: number;
  /**
   * Its account has a quota: RCPT refuses a full mailbox by its used_bytes, which every
   * delivery changes, so it holds only while nothing at all has committed since.
   */
  quota: boolean;
}

export class SqliteDirectory {
  /** RCPT's look-ups by address (`1` in front with the catch-all), of one generation. */
  private readonly kept = new Map<string, KeptLookup>();
  /**
   * LOGIN's accounts by address (null: none), of the same generation: what a login reads of
   * an account (its password hash, disabled, unlocked_at) changes only with the account's own
   * writes, which no write batch makes (its used_bytes, which every delivery changes, is not
   * part of it).
   */
  private readonly keptLogins = new Map<string, LoginAccount | null>();
  private readonly generation: KeptGeneration;

  /** `changes`: when domains, accounts and aliases may have changed (wal-changes.ts). */
  constructor(
    private readonly db: Db,
    changes: WalChanges | null = null,
  ) {
    this.generation = new KeptGeneration(changes, [this.kept, this.keptLogins]);
  }

  addDomain(input: string): Domain {
    const name = normalizeDomain(input);
    const now = Date.now();
    const r = stmt(
      this.db,
      'INSERT INTO domains (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING',
    ).run(name, now);
    if (r.changes === 0) throw new StoreError('EXISTS', `domain ${name} already exists`);
    return { name, createdAt: new Date(now) };
  }

  listDomains(): Domain[] {
    const rows = stmt(this.db, 'SELECT name, created_at FROM domains ORDER BY name').all() as {
      name: string;
      created_at: number;
    }[];
    return rows.map((r) => ({ name: r.name, createdAt: new Date(r.created_at) }));
  }

  isLocalDomain(input: string): boolean {
    let name: string;
    try {
      name = normalizeDomain(input);
    } catch {
      return false;
    }
    return stmt(this.db, 'SELECT 1 FROM domains WHERE name = ?').get(name) !== undefined;
  }

  removeDomain(input: string, force: boolean, removeAccount: (address: string) => void): void {
    const name = normalizeDomain(input);
    if (!this.isLocalDomain(name)) throw new StoreError('NOT_FOUND', `no domain ${name}`);
    const accounts = stmt(this.db, 'SELECT address FROM accounts WHERE domain = ?').all(name) as {
      address: string;
    }[];
    const aliases = stmt(this.db, 'SELECT COUNT(*) AS n FROM aliases WHERE domain = ?').get(
      name,
    ) as {
      n: number;
    };
    if (!force && (accounts.length > 0 || aliases.n > 0)) {
      throw new StoreError(
        'IN_USE',
        `domain ${name} still has ${accounts.length} account(s) and ${aliases.n} alias(es)`,
      );
    }
    for (const a of accounts) removeAccount(a.address);
    tx(this.db, () => {
      stmt(this.db, 'DELETE FROM aliases WHERE domain = ?').run(name);
      stmt(this.db, 'DELETE FROM domains WHERE name = ?').run(name);
    });
  }

  createAccount(input: {
    address: string;
    passwordHash: string;
    quotaBytes?: number | null;
    admin?: boolean;
  }): Account {
    const address = normalizeAddress(input.address);
    const domain = domainOf(address);
    return tx(this.db, () => {
      if (!this.isLocalDomain(domain)) {
        throw new StoreError('NOT_FOUND', `domain ${domain} does not exist; add it first`);
      }
      if (this.getAccount(address)) throw new StoreError('EXISTS', `account ${address} exists`);
      if (stmt(this.db, 'SELECT 1 FROM aliases WHERE address = ?').get(address)) {
        throw new StoreError('EXISTS', `${address} is already an alias`);
      }
      const r = stmt(
        this.db,
        `INSERT INTO accounts (address, domain, password_hash, quota_bytes, created_at, admin)
           VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(
        address,
        domain,
        input.passwordHash,
        input.quotaBytes ?? null,
        Date.now(),
        input.admin === true ? 1 : 0,
      );
      const id = Number(r.lastInsertRowid);
      for (const mb of DEFAULT_MAILBOXES) {
        stmt(
          this.db,
          `INSERT INTO mailboxes (account_id, name, uid_validity, highest_modseq, special_use,
             object_id) VALUES (?, ?, ?, ?, ?, ?)`,
        ).run(
          id,
          normalizeMailboxName(mb.name),
          nextUidValidity(this.db),
          nextModseq(this.db, id),
          mb.specialUse,
          newObjectId('F'), // RFC 8474 §4 MAILBOXID
        );
        stmt(this.db, 'INSERT INTO subscriptions (account_id, name) VALUES (?, ?)').run(
          id,
          mb.name,
        );
      }
      return this.getAccountById(id)!;
    });
  }

  getAccount(input: string): Account | null {
    let address: string;
    try {
      address = normalizeAddress(input);
    } catch {
      return null;
    }
    return this.readAccount(address);
  }

  /** The account of an address already normalized. */
  private readAccount(address: string): Account | null {
    const r = stmt(this.db, `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE address = ?`)
      .raw(true)
      .get(address) as unknown[] | undefined;
    return r ? accountAt(r, 0) : null;
  }

  /**
   * What LOGIN needs of an account (MailStore.loginAccount), from memory while only this
   * process's write batches have committed since it was read (wal-changes.ts), as RCPT's
   * look-ups are: a LOGIN's autocommit read of the row was ~20 us of the main thread in the
   * login mix's profile (its read lock's system calls, the statement), one pread(2) now.
   */
  loginAccount(input: string): LoginAccount | null {
    let address: string;
    try {
      address = normalizeAddress(input);
    } catch {
      return null;
    }
    const now = this.generation.now();
    if (now !== null) {
      const k = this.keptLogins.get(address);
      if (k !== undefined) return k && copyLogin(k);
    }
    const a = this.readAccount(address);
    const found: LoginAccount | null = a && {
      id: a.id,
      address: a.address,
      passwordHash: a.passwordHash,
      disabled: a.disabled,
      unlockedAt: a.unlockedAt,
    };
    if (now !== null)
      keepBounded(this.keptLogins, KEPT_LOOKUPS_MAX, address, found && copyLogin(found));
    return found;
  }

  getAccountById(id: number): Account | null {
    const r = stmt(this.db, `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`)
      .raw(true)
      .get(id) as unknown[] | undefined;
    return r ? accountAt(r, 0) : null;
  }

  listAccounts(domain?: string): Account[] {
    const rows = (
      domain === undefined
        ? stmt(this.db, `SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY address`).raw(true).all()
        : stmt(this.db, `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE domain = ? ORDER BY address`)
            .raw(true)
            .all(normalizeDomain(domain))
    ) as unknown[][];
    return rows.map((r) => accountAt(r, 0));
  }

  private mustAccount(address: string): Account {
    const a = this.getAccount(address);
    if (!a) throw new StoreError('NOT_FOUND', `no account ${address}`);
    return a;
  }

  setPassword(address: string, hash: string): void {
    const a = this.mustAccount(address);
    stmt(this.db, 'UPDATE accounts SET password_hash = ? WHERE id = ?').run(hash, a.id);
  }

  replacePasswordHash(accountId: number, expected: string, next: string): boolean {
    const r = stmt(
      this.db,
      'UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?',
    ).run(next, accountId, expected);
    return r.changes === 1;
  }

  setQuota(address: string, quotaBytes: number | null): void {
    if (quotaBytes !== null && (!Number.isSafeInteger(quotaBytes) || quotaBytes < 0)) {
      throw new StoreError('INVALID', `invalid quota: ${quotaBytes}`);
    }
    const a = this.mustAccount(address);
    stmt(this.db, 'UPDATE accounts SET quota_bytes = ? WHERE id = ?').run(quotaBytes, a.id);
  }

  setPop3Policy(address: string, policy: Pop3Policy): void {
    if (!['delete', 'keep', 'trash'].includes(policy)) {
      throw new StoreError('INVALID', `invalid POP3 policy: ${policy}`);
    }
    const a = this.mustAccount(address);
    stmt(this.db, 'UPDATE accounts SET pop3_policy = ? WHERE id = ?').run(policy, a.id);
  }

  /** Returns the account's id. */
  setDisabled(address: string, disabled: boolean): number {
    const a = this.mustAccount(address);
    stmt(this.db, 'UPDATE accounts SET disabled = ? WHERE id = ?').run(disabled ? 1 : 0, a.id);
    return a.id;
  }

  setAdmin(address: string, admin: boolean): void {
    const a = this.mustAccount(address);
    stmt(this.db, 'UPDATE accounts SET admin = ? WHERE id = ?').run(admin ? 1 : 0, a.id);
  }

  unlockAccount(address: string, at: number): void {
    const a = this.mustAccount(address);
    stmt(this.db, 'UPDATE accounts SET unlocked_at = ? WHERE id = ?').run(at, a.id);
  }

  /** The account of that address, or NOT_FOUND. */
  accountOf(address: string): Account {
    return this.mustAccount(address);
  }

  addAlias(input: string, targetsIn: string[]): Alias {
    const address = normalizeAliasAddress(input);
    const domain = address.startsWith('@') ? address.slice(1) : domainOf(address);
    if (targetsIn.length === 0)
      throw new StoreError('INVALID', 'an alias needs at least one target');
    const targets = [...new Set(targetsIn.map((t) => normalizeAddress(t)))];
    return tx(this.db, () => {
      if (!this.isLocalDomain(domain)) {
        throw new StoreError('NOT_FOUND', `domain ${domain} does not exist; add it first`);
      }
      if (this.getAccount(address)) throw new StoreError('EXISTS', `${address} is an account`);
      const r = stmt(
        this.db,
        `INSERT INTO aliases (address, domain, targets, created_at) VALUES (?, ?, ?, ?)
           ON CONFLICT DO NOTHING`,
      ).run(address, domain, JSON.stringify(targets), Date.now());
      if (r.changes === 0) throw new StoreError('EXISTS', `alias ${address} already exists`);
      return { address, targets };
    });
  }

  listAliases(domain?: string): Alias[] {
    const rows = (
      domain === undefined
        ? stmt(this.db, 'SELECT address, targets FROM aliases ORDER BY address').all()
        : stmt(
            this.db,
            'SELECT address, targets FROM aliases WHERE domain = ? ORDER BY address',
          ).all(normalizeDomain(domain))
    ) as { address: string; targets: string }[];
    return rows.map((r) => ({ address: r.address, targets: JSON.parse(r.targets) as string[] }));
  }

  removeAlias(input: string): void {
    const address = normalizeAliasAddress(input);
    const r = stmt(this.db, 'DELETE FROM aliases WHERE address = ?').run(address);
    if (r.changes === 0) throw new StoreError('NOT_FOUND', `no alias ${address}`);
  }

  /**
   * What a recipient's walk needs of one address, in one statement (one read transaction):
   * whether its domain is local, its account, and when it has none the alias's targets (else,
   * with `catchAll`, the domain's catch-all's). Three to four autocommit reads before, each
   * taking and dropping the database's read lock.
   */
  private lookUp(address: string, catchAll: boolean): AddressLookup {
    // Read before the database is: a commit in between makes the answer newer than the count
    // it is kept under, never older.
    const now = this.generation.now();
    if (now === null) return this.read(address, catchAll);
    const key = catchAll ? `1${address}` : `0${address}`;
    const k = this.kept.get(key);
    if (k !== undefined && (!k.quota || k.counter === now.counter)) return copyLookup(k.found);
    const found = this.read(address, catchAll);
    const quota = found.local && found.account !== null && found.account.quotaBytes !== null;
    keepBounded(this.kept, KEPT_LOOKUPS_MAX, key, {
      found: copyLookup(found),
      counter: now.counter,
      quota,
    });
    return found;
  }

  /** lookUp from the database. */
  private read(address: string, catchAll: boolean): AddressLookup {
    let domain: string;
    try {
      domain = normalizeDomain(domainOf(address));
    } catch {
      return NOT_LOCAL;
    }
    let account: string | null;
    try {
      account = normalizeAddress(address);
    } catch {
      account = null; // no account has it; an alias may still be written so
    }
    // Positional parameters, and the row as an array: binding by name and a row object with
    // named columns (each name looked up in V8's string table) cost more than the SQL here.
    const r = stmt(
      this.db,
      `SELECT EXISTS (SELECT 1 FROM domains WHERE name = ?), ${ACCOUNT_COLUMNS},
         CASE WHEN accounts.id IS NULL THEN COALESCE(
           (SELECT targets FROM aliases WHERE address = ?),
           CASE WHEN ? THEN (SELECT targets FROM aliases WHERE address = '@' || ?) END
         ) END
       FROM (SELECT 1) LEFT JOIN accounts ON accounts.address = ?`,
    )
      .raw(true)
      .get(domain, address, catchAll ? 1 : 0, domain, account) as LookupRow;
    if (r[0] === 0) return NOT_LOCAL;
    const targets = r[11];
    return {
      local: true,
      account: r[1] === null ? null : accountAt(r, 1),
      targets: targets === null ? null : (JSON.parse(targets) as string[]),
    };
  }

  resolveRecipient(input: string): Resolution | null {
    let address: string;
    try {
      address = normalizeAddress(input);
    } catch {
      return null;
    }
    const accounts = new Map<number, Account>();
    const remote = new Set<string>();
    const seen = new Set<string>();
    const visit = (addr: string, found: LocalAddress, depth: number): boolean => {
      if (seen.has(addr)) return true;
      if (depth > MAX_ALIAS_DEPTH) return false;
      seen.add(addr);
      if (found.account) {
        accounts.set(found.account.id, found.account);
        return true;
      }
      if (!found.targets) return false;
      for (const t of found.targets) {
        // An alias target in a local domain resolves locally (never the catch-all again:
        // a catch-all pointing into its own domain must not loop); others are forwarded.
        if (seen.has(t)) continue;
        const next = this.lookUp(t, false);
        if (next.local) visit(t, next, depth + 1);
        else remote.add(t);
      }
      return true;
    };
    const first = this.lookUp(address, true);
    if (!first.local) return null;
    if (!visit(address, first, 0)) return null;
    if (accounts.size === 0 && remote.size === 0) return null;
    return { accounts: [...accounts.values()], remote: [...remote] };
  }
}

/** A login's account that its caller may change without changing the kept one. */
function copyLogin(a: LoginAccount): LoginAccount {
  return { ...a, unlockedAt: a.unlockedAt === null ? null : new Date(a.unlockedAt.getTime()) };
}

/** A look-up's answer that its caller may change without changing the kept one. */
function copyLookup(found: AddressLookup): AddressLookup {
  if (!found.local) return found;
  return {
    local: true,
    account: found.account === null ? null : { ...found.account },
    targets: found.targets === null ? null : [...found.targets],
  };
}
