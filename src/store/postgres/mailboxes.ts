// The mailbox role in PostgreSQL: an account's mailboxes and subscriptions, STATUS, and the
// shared \Recent mark. Each change emits its event after the commit.
import { StoreError } from '../errors.js';
import { MAX_MAILBOX_DEPTH, normalizeMailboxName } from '../names.js';
import { newObjectId } from '../object-ids.js';
import { MAX_MAILBOXES_PER_ACCOUNT, type MailboxRow, toMailbox } from '../rows.js';
import {
  type ChangeEvent,
  MAILBOX_DELIMITER,
  type Mailbox,
  type MailboxStatus,
  type MailboxStore,
  type SpecialUse,
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

const SELECT_MAILBOX = `SELECT m.id, m.account_id, m.name, m.uid_validity, m.uid_next,
  m.highest_modseq, m.special_use, m.object_id, EXISTS (SELECT 1 FROM subscriptions s
  WHERE s.account_id = m.account_id AND s.name = m.name) AS subscribed FROM mailboxes m`;

/**
 * claimRecent's statement: the mailbox's first recent UID as this statement's snapshot has it
 * (`first`; null: no such mailbox), and when that is not past $2 the claim: the row locked,
 * the claim made only if its newest version is still not past $2 (`claimed`: its value
 * before; null when another claimant got there first).
 */
const CLAIM_RECENT = `WITH cur AS (SELECT first_recent_uid AS f FROM mailboxes WHERE id = $1),
  c AS (
    UPDATE mailboxes m SET first_recent_uid = $2 + 1
    FROM (SELECT id, first_recent_uid FROM mailboxes
          WHERE id = $1 AND first_recent_uid <= $2 FOR UPDATE) old
    WHERE m.id = old.id AND old.first_recent_uid <= $2 RETURNING old.first_recent_uid AS first)
SELECT (SELECT first FROM c) AS claimed, (SELECT f FROM cur) AS first`;

/** Mailboxes whose first recent UID a node keeps (claimRecent); past it, it starts again. */
const MAX_KNOWN_RECENT = 100_000;
/** Accounts whose mailboxes by name a node keeps (getMailbox); past it, it starts again. */
const MAX_KNOWN_ACCOUNTS = 20_000;

/** Events after which an account's mailboxes by name may have changed (getMailbox). */
const NAME_KINDS = new Set<ChangeEvent['kind']>([
  'mailbox-create',
  'mailbox-delete',
  'mailbox-rename',
  'subscription',
  'metadata',
]);

/**
 * UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ of a mailbox from the node's list of its rows,
 * brought up to date as a read of it is (record-cache.ts); null without such a list.
 */
export type MailboxCounters = (
  mailboxId: number,
) => Promise<{ uidValidity: number; uidNext: number; modseq: number } | null>;

export class PgMailboxes implements MailboxStore {
  /** A lower bound of each mailbox's first recent UID (they only grow): see claimRecent. */
  private readonly recentFrom = new Map<number, number>();

  /**
   * Each account's mailboxes by name as this node last read them, with the events epoch of
   * that read: their id, name, UIDVALIDITY, special use, object id and subscription change
   * only with a mailbox event (NAME_KINDS), heard here before any session hears of it; their
   * UIDNEXT and HIGHESTMODSEQ are taken from the node's list of the mailbox's rows.
   */
  private readonly names = new Map<number, Map<string, { mailbox: Mailbox; epoch: number }>>();
  /** Mailbox events heard (see getMailbox). */
  private nameEvents = 0;

  constructor(
    private readonly db: PgDb,
    private readonly events: PgEvents,
    private readonly counters: MailboxCounters = async () => null,
  ) {
    events.observe((ev) => {
      if (!NAME_KINDS.has(ev.kind)) return;
      this.nameEvents++;
      this.names.delete(ev.accountId);
    });
  }

  async listMailboxes(accountId: number): Promise<Mailbox[]> {
    const rs = await rows<MailboxRow>(
      this.db,
      `${SELECT_MAILBOX} WHERE m.account_id = $1 ORDER BY m.name <> 'INBOX', m.name`,
      [accountId],
    );
    return rs.map(toMailbox);
  }

  private async get(q: Queryable, accountId: number, name: string): Promise<Mailbox | null> {
    let n: string;
    try {
      n = normalizeMailboxName(name);
    } catch {
      return null;
    }
    const r = await row<MailboxRow>(
      q,
      `${SELECT_MAILBOX} WHERE m.account_id = $1 AND m.name = $2`,
      [accountId, n],
    );
    return r ? toMailbox(r) : null;
  }

  /**
   * The mailbox: when this node knows its name, its counters come from the node's list of its
   * rows, with no statement while that is current (the rule of record-cache.ts: as current as
   * what this node has heard), else the one that brings the list up to date.
   */
  async getMailbox(accountId: number, name: string): Promise<Mailbox | null> {
    let n: string;
    try {
      n = normalizeMailboxName(name);
    } catch {
      return null;
    }
    const known = this.names.get(accountId)?.get(n);
    if (known && known.epoch === this.events.epoch && this.events.live) {
      const c = await this.counters(known.mailbox.id);
      if (c && c.uidValidity === known.mailbox.uidValidity) {
        return { ...known.mailbox, uidNext: c.uidNext, highestModseq: c.modseq };
      }
    }
    const epoch = this.events.epoch;
    const seen = this.nameEvents;
    const mb = await this.get(this.db, accountId, n);
    // Kept unless a mailbox event was heard meanwhile: the row read may be older than it.
    if (mb && epoch === this.events.epoch && seen === this.nameEvents) {
      let byName = this.names.get(accountId);
      if (!byName) {
        if (this.names.size >= MAX_KNOWN_ACCOUNTS) this.names.clear();
        byName = new Map();
        this.names.set(accountId, byName);
      }
      byName.set(n, { mailbox: mb, epoch });
    }
    return mb;
  }

  async getMailboxById(id: number): Promise<Mailbox | null> {
    const r = await row<MailboxRow>(this.db, `${SELECT_MAILBOX} WHERE m.id = $1`, [id]);
    return r ? toMailbox(r) : null;
  }

  private async mustGet(id: number): Promise<Mailbox> {
    const m = await this.getMailboxById(id);
    if (!m) throw new StoreError('NOT_FOUND', 'no such mailbox');
    return m;
  }

  async createMailbox(
    accountId: number,
    name: string,
    specialUse: SpecialUse | null = null,
  ): Promise<Mailbox> {
    const n = normalizeMailboxName(name);
    try {
      return await this.events.tx(async (q, emit) => {
        // The modseq bump locks the account: creations of one account take turns, so the
        // count below holds until commit.
        const modseq = await nextModseq(q, accountId);
        if (await this.get(q, accountId, n)) {
          throw new StoreError('EXISTS', `mailbox ${n} already exists`);
        }
        const count = await row<{ n: number }>(
          q,
          'SELECT count(*) AS n FROM mailboxes WHERE account_id = $1',
          [accountId],
        );
        if ((count?.n ?? 0) >= MAX_MAILBOXES_PER_ACCOUNT) {
          throw new StoreError('LIMIT', `too many mailboxes (limit ${MAX_MAILBOXES_PER_ACCOUNT})`);
        }
        const r = await row<{ id: number }>(
          q,
          `INSERT INTO mailboxes (account_id, name, uid_validity, highest_modseq, special_use,
             object_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
          // RFC 8474 §4: a new MAILBOXID for every mailbox created (also one re-created under
          // an old name); RENAME keeps it.
          [accountId, n, await nextUidValidity(q), modseq, specialUse, newObjectId('F')],
        );
        const created = await row<MailboxRow>(q, `${SELECT_MAILBOX} WHERE m.id = $1`, [r?.id]);
        if (!created) throw new Error('the new mailbox is not there');
        const mb = toMailbox(created);
        emit({
          accountId,
          mailboxId: mb.id,
          modseq: mb.highestModseq,
          kind: 'mailbox-create',
          uids: [],
          name: mb.name,
        });
        return mb;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreError('EXISTS', `mailbox ${n} already exists`);
      throw err;
    }
  }

  async deleteMailbox(mailboxId: number): Promise<void> {
    const mb = await this.mustGet(mailboxId);
    if (mb.name === 'INBOX') throw new StoreError('NOT_ALLOWED', 'INBOX cannot be deleted');
    await this.events.tx(async (q, emit) => {
      // The account's lock first, as every writer of its messages takes it.
      await nextModseq(q, mb.accountId);
      const held = await messageIdsOf(q, [mb.id]);
      const freed = await row<{ n: number }>(
        q,
        'SELECT COALESCE(SUM(size), 0)::bigint AS n FROM mailbox_messages WHERE mailbox_id = $1',
        [mb.id],
      );
      await run(q, 'UPDATE accounts SET used_bytes = used_bytes - $1 WHERE id = $2', [
        freed?.n ?? 0,
        mb.accountId,
      ]);
      // Cascades to its message rows, expunge records, keywords.
      await run(q, 'DELETE FROM mailboxes WHERE id = $1', [mb.id]);
      await collectMessages(q, held);
      emit({
        accountId: mb.accountId,
        mailboxId: mb.id,
        modseq: mb.highestModseq,
        kind: 'mailbox-delete',
        uids: [],
        name: mb.name,
      });
    });
  }

  /**
   * RFC 9051 §6.3.6: renaming renames every inferior; RENAME INBOX is handled by the IMAP
   * layer (it moves the messages and leaves INBOX in place), so the store refuses it.
   */
  async renameMailbox(mailboxId: number, newName: string): Promise<void> {
    const mb = await this.mustGet(mailboxId);
    if (mb.name === 'INBOX') throw new StoreError('NOT_ALLOWED', 'INBOX cannot be renamed here');
    const target = normalizeMailboxName(newName);
    if (target === 'INBOX') throw new StoreError('EXISTS', 'INBOX already exists');
    if (target === mb.name) throw new StoreError('EXISTS', `mailbox ${target} already exists`);
    if (target.startsWith(mb.name + MAILBOX_DELIMITER)) {
      throw new StoreError('INVALID', 'cannot rename a mailbox into itself');
    }
    await this.events.tx(async (q, emit) => {
      // Orders the account's writers (another node renaming the same tree waits).
      await nextModseq(q, mb.accountId);
      const moving = await rows<{ id: number; name: string }>(
        q,
        `SELECT id, name FROM mailboxes WHERE account_id = $1
           AND (name = $2 OR left(name, $3) = $4) ORDER BY name`,
        [mb.accountId, mb.name, mb.name.length + 1, mb.name + MAILBOX_DELIMITER],
      );
      if (!moving.some((m) => m.id === mb.id)) {
        throw new StoreError('NOT_FOUND', 'no such mailbox');
      }
      // The mailbox itself first: its inferiors keep their suffix.
      moving.sort((x, y) => (x.id === mb.id ? -1 : y.id === mb.id ? 1 : 0));
      for (const m of moving) {
        const name = target + m.name.slice(mb.name.length);
        if (name.split(MAILBOX_DELIMITER).length > MAX_MAILBOX_DEPTH) {
          throw new StoreError('LIMIT', 'mailbox nesting too deep');
        }
        if (await this.get(q, mb.accountId, name)) {
          throw new StoreError('EXISTS', `mailbox ${name} exists`);
        }
        const modseq = await nextModseq(q, mb.accountId);
        await run(q, 'UPDATE mailboxes SET name = $1, highest_modseq = $2 WHERE id = $3', [
          name,
          modseq,
          m.id,
        ]);
        // The subscription moves with the mailbox; when the new name is subscribed already
        // (subscriptions may name mailboxes that do not exist), the old one just goes.
        const was = await run(q, 'DELETE FROM subscriptions WHERE account_id = $1 AND name = $2', [
          mb.accountId,
          m.name,
        ]);
        if (was > 0) {
          await run(
            q,
            'INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING',
            [mb.accountId, name],
          );
        }
        emit({
          accountId: mb.accountId,
          mailboxId: m.id,
          modseq,
          kind: 'mailbox-rename',
          uids: [],
          name,
          oldName: m.name,
        });
      }
    });
  }

  async setSpecialUse(mailboxId: number, specialUse: SpecialUse | null): Promise<void> {
    await this.events.tx(async (q, emit) => {
      const r = await row<{ account_id: number }>(
        q,
        'UPDATE mailboxes SET special_use = $1 WHERE id = $2 RETURNING account_id',
        [specialUse, mailboxId],
      );
      if (!r) throw new StoreError('NOT_FOUND', 'no such mailbox');
      emit({
        accountId: r.account_id,
        mailboxId,
        modseq: 0,
        kind: 'metadata',
        uids: [],
        entries: ['/private/specialuse'],
      });
    });
  }

  async setSubscribed(accountId: number, name: string, subscribed: boolean): Promise<void> {
    const n = normalizeMailboxName(name);
    await this.events.tx(async (q, emit) => {
      const changed = subscribed
        ? await run(
            q,
            'INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING',
            [accountId, n],
          )
        : await run(q, 'DELETE FROM subscriptions WHERE account_id = $1 AND name = $2', [
            accountId,
            n,
          ]);
      if (changed === 0) return;
      emit({
        accountId,
        mailboxId: (await this.get(q, accountId, n))?.id ?? 0,
        modseq: 0,
        kind: 'subscription',
        uids: [],
        name: n,
        subscribed,
      });
    });
  }

  async listSubscriptions(accountId: number): Promise<string[]> {
    const rs = await rows<{ name: string }>(
      this.db,
      'SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name',
      [accountId],
    );
    return rs.map((r) => r.name);
  }

  async mailboxStatus(mailboxId: number): Promise<MailboxStatus> {
    const r = await row<MailboxStatus & { found: boolean }>(
      this.db,
      `SELECT m.uid_next AS "uidNext", m.uid_validity AS "uidValidity",
         m.highest_modseq AS "highestModseq",
         count(mm.uid)::bigint AS messages,
         count(mm.uid) FILTER (WHERE NOT ('\\Seen' = ANY (mm.flags)))::bigint AS unseen,
         count(mm.uid) FILTER (WHERE '\\Deleted' = ANY (mm.flags))::bigint AS deleted,
         COALESCE(SUM(mm.size), 0)::bigint AS size,
         count(mm.uid) FILTER (WHERE mm.uid >= m.first_recent_uid)::bigint AS recent
       FROM mailboxes m LEFT JOIN mailbox_messages mm ON mm.mailbox_id = m.id
       WHERE m.id = $1 GROUP BY m.id`,
      [mailboxId],
    );
    if (!r) throw new StoreError('NOT_FOUND', 'no such mailbox');
    return {
      messages: r.messages,
      recent: r.recent,
      unseen: r.unseen,
      deleted: r.deleted,
      size: r.size,
      uidNext: r.uidNext,
      uidValidity: r.uidValidity,
      highestModseq: r.highestModseq,
    };
  }

  /**
   * See MailboxStore.claimRecent. A mailbox's first recent UID only grows, so a value this
   * node read or set is a lower bound of the current one, whichever node claimed since: when
   * it is past upToUid there is nothing to take and nothing recent up to it (the caller marks
   * first..upToUid recent, an empty range either way), and no statement is needed. That is
   * the usual case: a SELECT after this session's own APPEND claimed it, and the EXISTS of
   * that APPEND announced to the session (as the SQLite store's recentFrom).
   */
  async claimRecent(mailboxId: number, upToUid: number, claim: boolean): Promise<number> {
    const known = this.recentFrom.get(mailboxId);
    if (known !== undefined && known > upToUid) return known;
    if (claim) {
      // One statement: the current value, and the claim when there is something to take. The
      // row is locked only then (a lock is a write: its commit waits for the WAL); once it is
      // had, the value is read again from the row's newest version, so two claimants never
      // both take a UID.
      const r = await row<{ claimed: number | null; first: number | null }>(this.db, CLAIM_RECENT, [
        mailboxId,
        upToUid,
      ]);
      if (!r || r.first === null) {
        this.recentFrom.delete(mailboxId);
        return Number.MAX_SAFE_INTEGER;
      }
      if (r.claimed !== null) {
        this.noteClaimed(mailboxId, upToUid + 1);
        return r.claimed;
      }
      if (r.first > upToUid) {
        this.noteClaimed(mailboxId, r.first);
        return r.first;
      }
      // Another claimant moved it between the read and the lock: read again below.
    }
    for (;;) {
      const r = await row<{ first: number }>(
        this.db,
        'SELECT first_recent_uid AS first FROM mailboxes WHERE id = $1',
        [mailboxId],
      );
      if (!r) {
        this.recentFrom.delete(mailboxId);
        return Number.MAX_SAFE_INTEGER;
      }
      this.noteClaimed(mailboxId, r.first);
      if (!claim || r.first > upToUid) return r.first;
      const n = await run(
        this.db,
        'UPDATE mailboxes SET first_recent_uid = $1 WHERE id = $2 AND first_recent_uid = $3',
        [upToUid + 1, mailboxId, r.first],
      );
      if (n === 1) {
        this.noteClaimed(mailboxId, upToUid + 1);
        return r.first;
      }
    }
  }

  /**
   * The mailbox's first recent UID is now at least `next` (a claim this node made, one read,
   * or one an append's statement made: AppendTarget.claimRecent).
   */
  noteClaimed(mailboxId: number, next: number): void {
    const known = this.recentFrom.get(mailboxId);
    if (known !== undefined && known >= next) return;
    // A bound on what a node keeps: forgetting only costs a statement at the next claim.
    if (known === undefined && this.recentFrom.size >= MAX_KNOWN_RECENT) this.recentFrom.clear();
    this.recentFrom.set(mailboxId, next);
  }
}
