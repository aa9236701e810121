// The directory role in PostgreSQL: domains, accounts with their credentials and app
// passwords, aliases, recipient resolution. Validation and normalisation are the store's own
// (names.ts), so both backends accept and refuse the same input.
import { StoreError } from '../errors.js';
import {
  domainOf,
  normalizeAddress,
  normalizeAliasAddress,
  normalizeDomain,
  normalizeMailboxName,
} from '../names.js';
import { newObjectId } from '../object-ids.js';
import { type AppPasswordRow, toAppPassword } from '../rows.js';
import {
  type Account,
  type Alias,
  type AppPassword,
  type AppPasswordRecord,
  DEFAULT_MAILBOXES,
  type DirectoryStore,
  type Domain,
  type Pop3Policy,
  type Resolution,
} from '../types.js';
import { collectMessages, messageIdsOf } from './collect.js';
import {
  isUniqueViolation,
  nextModseq,
  nextUidValidity,
  type PgDb,
  type Queryable,
  row,
  rows,
  run,
} from './db.js';
import type { PgEvents } from './events.js';
import { RecipientCache } from './recipient-cache.js';

interface AccountRow {
  id: number;
  address: string;
  password_hash: string;
  quota_bytes: number | null;
  used_bytes: number;
  pop3_policy: string;
  disabled: boolean;
  created_at: number;
  unlocked_at: number | null;
  admin: boolean;
}

const ACCOUNT_COLUMNS = `id, address, password_hash, quota_bytes, used_bytes, pop3_policy,
  disabled, created_at, unlocked_at, admin`;

/** RECIPIENT_LOOKUP's row: the account's columns (all null without one), alias, catch-all. */
type LookupRow = { [K in keyof AccountRow]: AccountRow[K] | null } & {
  local: boolean;
  alias: string[] | null;
  catch_all: string[] | null;
};

/**
 * An address's domain ($2 local?), its account ($1), and without one its alias and its
 * domain's catch-all ($3, `@domain`), in one statement (resolveRecipient).
 */
const RECIPIENT_LOOKUP = `SELECT EXISTS (SELECT 1 FROM domains WHERE name = $2) AS local, a.*,
    CASE WHEN a.id IS NULL THEN (SELECT targets FROM aliases WHERE address = $1) END AS alias,
    CASE WHEN a.id IS NULL THEN (SELECT targets FROM aliases WHERE address = $3) END AS catch_all
  FROM (SELECT 1) one
    LEFT JOIN LATERAL (SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE address = $1) a ON true`;

function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    address: r.address,
    passwordHash: r.password_hash,
    quotaBytes: r.quota_bytes,
    usedBytes: r.used_bytes,
    pop3Policy: r.pop3_policy as Pop3Policy,
    disabled: r.disabled,
    createdAt: new Date(r.created_at),
    unlockedAt: r.unlocked_at === null ? null : new Date(r.unlocked_at),
    admin: r.admin,
  };
}

/** Alias chains are followed this deep at most (a loop or a long chain ends there). */
const MAX_ALIAS_DEPTH = 8;
/** App password names are what an operator types to remove one: printable, one line. */
const APP_PASSWORD_NAME = /^[^\p{Cc}]{1,64}$/u;
const APP_PASSWORD_ID = /^[a-z2-7]{1,32}$/;

interface RemovedMailbox {
  id: number;
  account_id: number;
  name: string;
}

export class PgDirectory implements DirectoryStore {
  /**
   * With `events`, the mailboxes of an account or domain removed go out as mailbox-delete
   * events to every node (their caches of those mailboxes' rows and names must go too).
   */
  constructor(
    private readonly db: PgDb,
    private readonly events?: PgEvents,
    /** Where RCPT's look-up goes (shared-reads.ts: one pipelined connection); else the pool. */
    private readonly reads: Queryable = db,
  ) {
    this.recipients = events ? new RecipientCache(() => events.directoryClock) : null;
  }

  /** RCPT's answers kept while the directory is unchanged (with `events` only). */
  private readonly recipients: RecipientCache | null;

  /**
   * A directory write: once it returns (committed or not), RCPT's kept answers are not used
   * again, before its notice comes back (recipient-cache.ts).
   */
  private async written<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      this.recipients?.changed();
    }
  }

  /** A transaction whose `gone` mailboxes (id, account, name) are announced as deleted. */
  private removing(
    fn: (q: Queryable, gone: (mbs: RemovedMailbox[]) => void) => Promise<void>,
  ): Promise<void> {
    const events = this.events;
    if (!events) return this.db.tx((q) => fn(q, () => {}));
    return events.tx((q, emit) =>
      fn(q, (mbs) => {
        for (const m of mbs) {
          emit({
            accountId: m.account_id,
            mailboxId: m.id,
            modseq: 0,
            kind: 'mailbox-delete',
            uids: [],
            name: m.name,
          });
        }
      }),
    );
  }

  // Domains

  async addDomain(input: string): Promise<Domain> {
    const name = normalizeDomain(input);
    const now = Date.now();
    const n = await this.written(
      run(
        this.db,
        'INSERT INTO domains (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [name, now],
      ),
    );
    if (n === 0) throw new StoreError('EXISTS', `domain ${name} already exists`);
    return { name, createdAt: new Date(now) };
  }

  async listDomains(): Promise<Domain[]> {
    const rs = await rows<{ name: string; created_at: number }>(
      this.db,
      'SELECT name, created_at FROM domains ORDER BY name',
    );
    return rs.map((r) => ({ name: r.name, createdAt: new Date(r.created_at) }));
  }

  async isLocalDomain(input: string): Promise<boolean> {
    let name: string;
    try {
      name = normalizeDomain(input);
    } catch {
      return false;
    }
    return (await row(this.db, 'SELECT 1 FROM domains WHERE name = $1', [name])) !== undefined;
  }

  async removeDomain(input: string, opts: { force?: boolean } = {}): Promise<void> {
    const name = normalizeDomain(input);
    await this.written(
      this.removing(async (q, gone) => {
        // Locks the domain: no account or alias is added to it until this commits.
        const d = await row(q, 'SELECT 1 FROM domains WHERE name = $1 FOR UPDATE', [name]);
        if (!d) throw new StoreError('NOT_FOUND', `no domain ${name}`);
        const counts = await row<{ accounts: number; aliases: number }>(
          q,
          `SELECT (SELECT count(*) FROM accounts WHERE domain = $1) AS accounts,
                (SELECT count(*) FROM aliases WHERE domain = $1) AS aliases`,
          [name],
        );
        if (opts.force !== true && counts && (counts.accounts > 0 || counts.aliases > 0)) {
          throw new StoreError(
            'IN_USE',
            `domain ${name} still has ${counts.accounts} account(s) and ${counts.aliases} alias(es)`,
          );
        }
        const held = await rows<{ id: number }>(
          q,
          `SELECT DISTINCT mm.message_id AS id FROM mailbox_messages mm
         JOIN mailboxes m ON m.id = mm.mailbox_id JOIN accounts a ON a.id = m.account_id
         WHERE a.domain = $1`,
          [name],
        );
        gone(
          await rows<RemovedMailbox>(
            q,
            `SELECT m.id, m.account_id, m.name FROM mailboxes m JOIN accounts a ON a.id = m.account_id
           WHERE a.domain = $1`,
            [name],
          ),
        );
        // Cascades to the accounts' mailboxes, their message rows, app passwords, subscriptions.
        await run(q, 'DELETE FROM accounts WHERE domain = $1', [name]);
        await collectMessages(
          q,
          held.map((r) => r.id),
        );
        await run(q, 'DELETE FROM aliases WHERE domain = $1', [name]);
        await run(q, 'DELETE FROM domains WHERE name = $1', [name]);
      }),
    );
  }

  // Accounts

  async createAccount(input: {
    address: string;
    passwordHash: string;
    quotaBytes?: number | null;
    admin?: boolean;
  }): Promise<Account> {
    const address = normalizeAddress(input.address);
    const domain = domainOf(address);
    try {
      return await this.written(
        this.db.tx(async (q) => {
          // FOR SHARE: the domain cannot be removed under the new account.
          if (!(await row(q, 'SELECT 1 FROM domains WHERE name = $1 FOR SHARE', [domain]))) {
            throw new StoreError('NOT_FOUND', `domain ${domain} does not exist; add it first`);
          }
          if (await row(q, 'SELECT 1 FROM aliases WHERE address = $1', [address])) {
            throw new StoreError('EXISTS', `${address} is already an alias`);
          }
          const created = await row<AccountRow>(
            q,
            `INSERT INTO accounts (address, domain, password_hash, quota_bytes, created_at, admin)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (address) DO NOTHING
           RETURNING ${ACCOUNT_COLUMNS}`,
            [
              address,
              domain,
              input.passwordHash,
              input.quotaBytes ?? null,
              Date.now(),
              input.admin === true,
            ],
          );
          if (!created) throw new StoreError('EXISTS', `account ${address} exists`);
          for (const mb of DEFAULT_MAILBOXES) {
            await run(
              q,
              `INSERT INTO mailboxes (account_id, name, uid_validity, highest_modseq, special_use,
               object_id) VALUES ($1, $2, $3, $4, $5, $6)`,
              [
                created.id,
                normalizeMailboxName(mb.name),
                await nextUidValidity(q),
                await nextModseq(q, created.id),
                mb.specialUse,
                newObjectId('F'), // RFC 8474 §4 MAILBOXID
              ],
            );
            await run(q, 'INSERT INTO subscriptions (account_id, name) VALUES ($1, $2)', [
              created.id,
              mb.name,
            ]);
          }
          return toAccount(created);
        }),
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreError('EXISTS', `account ${address} exists`);
      throw err;
    }
  }

  async getAccount(input: string): Promise<Account | null> {
    let address: string;
    try {
      address = normalizeAddress(input);
    } catch {
      return null;
    }
    const r = await row<AccountRow>(
      this.db,
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE address = $1`,
      [address],
    );
    return r ? toAccount(r) : null;
  }

  async getAccountById(id: number): Promise<Account | null> {
    const r = await row<AccountRow>(
      this.db,
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`,
      [id],
    );
    return r ? toAccount(r) : null;
  }

  async listAccounts(domain?: string): Promise<Account[]> {
    const rs =
      domain === undefined
        ? await rows<AccountRow>(
            this.db,
            `SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY address`,
          )
        : await rows<AccountRow>(
            this.db,
            `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE domain = $1 ORDER BY address`,
            [normalizeDomain(domain)],
          );
    return rs.map(toAccount);
  }

  /** Sets one column of the account; NOT_FOUND when there is no such account. */
  private async update(address: string, sql: string, value: unknown): Promise<void> {
    let a: string;
    try {
      a = normalizeAddress(address);
    } catch {
      throw new StoreError('NOT_FOUND', `no account ${address}`);
    }
    if ((await this.written(run(this.db, sql, [value, a]))) === 0) {
      throw new StoreError('NOT_FOUND', `no account ${address}`);
    }
  }

  setPassword(address: string, passwordHash: string): Promise<void> {
    return this.update(
      address,
      'UPDATE accounts SET password_hash = $1 WHERE address = $2',
      passwordHash,
    );
  }

  async replacePasswordHash(accountId: number, expected: string, next: string): Promise<boolean> {
    const sql = 'UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3';
    return (await this.written(run(this.db, sql, [next, accountId, expected]))) === 1;
  }

  async setQuota(address: string, quotaBytes: number | null): Promise<void> {
    if (quotaBytes !== null && (!Number.isSafeInteger(quotaBytes) || quotaBytes < 0)) {
      throw new StoreError('INVALID', `invalid quota: ${quotaBytes}`);
    }
    await this.update(
      address,
      'UPDATE accounts SET quota_bytes = $1 WHERE address = $2',
      quotaBytes,
    );
  }

  async setPop3Policy(address: string, policy: Pop3Policy): Promise<void> {
    if (!['delete', 'keep', 'trash'].includes(policy)) {
      throw new StoreError('INVALID', `invalid POP3 policy: ${policy}`);
    }
    await this.update(address, 'UPDATE accounts SET pop3_policy = $1 WHERE address = $2', policy);
  }

  async removeAccount(address: string): Promise<void> {
    const id = await this.accountId(address);
    await this.written(
      this.removing(async (q, gone) => {
        const mailboxes = await rows<RemovedMailbox>(
          q,
          'SELECT id, account_id, name FROM mailboxes WHERE account_id = $1',
          [id],
        );
        gone(mailboxes);
        const held = await messageIdsOf(
          q,
          mailboxes.map((m) => m.id),
        );
        // Cascades to mailboxes, their message rows, subscriptions and app passwords.
        const n = await run(q, 'DELETE FROM accounts WHERE id = $1', [id]);
        if (n === 0) throw new StoreError('NOT_FOUND', `no account ${address}`);
        await collectMessages(q, held);
      }),
    );
  }

  setDisabled(address: string, disabled: boolean): Promise<void> {
    return this.update(address, 'UPDATE accounts SET disabled = $1 WHERE address = $2', disabled);
  }

  setAdmin(address: string, admin: boolean): Promise<void> {
    return this.update(address, 'UPDATE accounts SET admin = $1 WHERE address = $2', admin);
  }

  unlockAccount(address: string): Promise<void> {
    return this.update(
      address,
      'UPDATE accounts SET unlocked_at = $1 WHERE address = $2',
      Date.now(),
    );
  }

  // App passwords

  private async accountId(address: string): Promise<number> {
    const a = await this.getAccount(address);
    if (!a) throw new StoreError('NOT_FOUND', `no account ${address}`);
    return a.id;
  }

  async addAppPassword(
    address: string,
    input: { id: string; name: string; hash: string },
  ): Promise<AppPassword> {
    const name = input.name.trim();
    if (!APP_PASSWORD_NAME.test(name)) {
      throw new StoreError('INVALID', 'an app password name is 1 to 64 printable characters');
    }
    if (!APP_PASSWORD_ID.test(input.id)) throw new StoreError('INVALID', 'invalid app password id');
    const accountId = await this.accountId(address);
    const taken = await row<{ name: string }>(
      this.db,
      'SELECT name FROM app_passwords WHERE account_id = $1 AND (name = $2 OR id = $3)',
      [accountId, name, input.id],
    );
    const exists = (takenName: string) =>
      new StoreError(
        'EXISTS',
        takenName === name
          ? `an app password named "${name}" exists`
          : 'app password id in use, try again',
      );
    if (taken) throw exists(taken.name);
    const now = Date.now();
    try {
      await run(
        this.db,
        `INSERT INTO app_passwords (account_id, id, name, hash, created_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [accountId, input.id, name, input.hash, now],
      );
    } catch (err) {
      // Another node added the same name or id since the check.
      if (isUniqueViolation(err)) throw exists(name);
      throw err;
    }
    return { id: input.id, name, createdAt: new Date(now), lastUsedAt: null };
  }

  async listAppPasswords(address: string): Promise<AppPassword[]> {
    const rs = await rows<AppPasswordRow>(
      this.db,
      'SELECT * FROM app_passwords WHERE account_id = $1 ORDER BY created_at, seq',
      [await this.accountId(address)],
    );
    return rs.map((r) => {
      const { hash: _hash, ...rest } = toAppPassword(r);
      return rest;
    });
  }

  async removeAppPassword(address: string, name: string): Promise<void> {
    const n = await run(this.db, 'DELETE FROM app_passwords WHERE account_id = $1 AND name = $2', [
      await this.accountId(address),
      name.trim(),
    ]);
    if (n === 0) throw new StoreError('NOT_FOUND', `no app password named "${name}"`);
  }

  async getAppPassword(accountId: number, id: string): Promise<AppPasswordRecord | null> {
    const r = await row<AppPasswordRow>(
      this.db,
      'SELECT * FROM app_passwords WHERE account_id = $1 AND id = $2',
      [accountId, id],
    );
    return r ? toAppPassword(r) : null;
  }

  async touchAppPassword(accountId: number, id: string, at: Date): Promise<void> {
    await run(
      this.db,
      'UPDATE app_passwords SET last_used_at = $1 WHERE account_id = $2 AND id = $3',
      [at.getTime(), accountId, id],
    );
  }

  // Aliases

  async addAlias(input: string, targetsIn: string[]): Promise<Alias> {
    const address = normalizeAliasAddress(input);
    const domain = address.startsWith('@') ? address.slice(1) : domainOf(address);
    if (targetsIn.length === 0) {
      throw new StoreError('INVALID', 'an alias needs at least one target');
    }
    const targets = [...new Set(targetsIn.map((t) => normalizeAddress(t)))];
    return this.written(
      this.db.tx(async (q) => {
        if (!(await row(q, 'SELECT 1 FROM domains WHERE name = $1 FOR SHARE', [domain]))) {
          throw new StoreError('NOT_FOUND', `domain ${domain} does not exist; add it first`);
        }
        if (await row(q, 'SELECT 1 FROM accounts WHERE address = $1', [address])) {
          throw new StoreError('EXISTS', `${address} is an account`);
        }
        const n = await run(
          q,
          `INSERT INTO aliases (address, domain, targets, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING`,
          [address, domain, targets, Date.now()],
        );
        if (n === 0) throw new StoreError('EXISTS', `alias ${address} already exists`);
        return { address, targets };
      }),
    );
  }

  async listAliases(domain?: string): Promise<Alias[]> {
    const rs =
      domain === undefined
        ? await rows<{ address: string; targets: string[] }>(
            this.db,
            'SELECT address, targets FROM aliases ORDER BY address',
          )
        : await rows<{ address: string; targets: string[] }>(
            this.db,
            'SELECT address, targets FROM aliases WHERE domain = $1 ORDER BY address',
            [normalizeDomain(domain)],
          );
    return rs.map((r) => ({ address: r.address, targets: r.targets }));
  }

  async removeAlias(input: string): Promise<void> {
    const address = normalizeAliasAddress(input);
    const n = await this.written(run(this.db, 'DELETE FROM aliases WHERE address = $1', [address]));
    if (n === 0) throw new StoreError('NOT_FOUND', `no alias ${address}`);
  }

  /**
   * RCPT's question in one round trip for the common cases (issue 17: each statement is a
   * wake-up of a backend and of this node, about 0.1 ms of CPU between them): the domain, and
   * for the address itself its account, alias and the domain's catch-all, read in one snapshot
   * (RECIPIENT_LOOKUP). Only an alias to other local addresses asks again, per target.
   */
  async resolveRecipient(input: string): Promise<Resolution | null> {
    let address: string;
    try {
      address = normalizeAddress(input);
    } catch {
      return null;
    }
    const kept = this.recipients?.get(address);
    if (kept) return kept;
    const stamp = this.recipients?.stamp() ?? null;
    const domain = domainOf(address);
    const first = await row<LookupRow>(this.reads, RECIPIENT_LOOKUP, [
      address,
      domain,
      `@${domain}`,
    ]);
    if (first?.local !== true) return null;
    const answer = await this.resolveFrom(address, first);
    // An account's own address, without a quota (its usage is read at every RCPT): kept.
    if (answer && stamp && first.id !== null && first.quota_bytes === null) {
      this.recipients?.put(address, stamp, answer);
    }
    return answer;
  }

  /** resolveRecipient's walk from an address of a local domain, its own row read (`first`). */
  private async resolveFrom(address: string, first: LookupRow): Promise<Resolution | null> {
    const q: Queryable = this.db;
    const local = new Map<string, boolean>([[domainOf(address), true]]);
    const isLocal = async (domain: string) => {
      let v = local.get(domain);
      if (v === undefined) {
        v = (await row(q, 'SELECT 1 FROM domains WHERE name = $1', [domain])) !== undefined;
        local.set(domain, v);
      }
      return v;
    };
    const aliasTargets = async (a: string) =>
      (await row<{ targets: string[] }>(q, 'SELECT targets FROM aliases WHERE address = $1', [a]))
        ?.targets ?? null;
    const accounts = new Map<number, Account>();
    const remote = new Set<string>();
    const seen = new Set<string>();
    const visit = async (addr: string, depth: number, allowCatchAll: boolean): Promise<boolean> => {
      if (seen.has(addr)) return true;
      if (depth > MAX_ALIAS_DEPTH) return false;
      seen.add(addr);
      const own = depth === 0 ? first : null;
      const account = own
        ? own.id === null
          ? null
          : toAccount(own as AccountRow)
        : await this.getAccount(addr);
      if (account) {
        accounts.set(account.id, account);
        return true;
      }
      const targets = own
        ? (own.alias ?? (allowCatchAll ? own.catch_all : null))
        : ((await aliasTargets(addr)) ??
          (allowCatchAll ? await aliasTargets(`@${domainOf(addr)}`) : null));
      if (!targets) return false;
      for (const t of targets) {
        // A target in a local domain resolves locally (never the catch-all again: a catch-all
        // pointing into its own domain must not loop); others are forwarded.
        if (await isLocal(domainOf(t))) await visit(t, depth + 1, false);
        else remote.add(t);
      }
      return true;
    };
    if (!(await visit(address, 0, true))) return null;
    if (accounts.size === 0 && remote.size === 0) return null;
    return { accounts: [...accounts.values()], remote: [...remote] };
  }
}
