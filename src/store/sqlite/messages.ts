// Messages in SQLite: append with group commit, flags, copy/move, expunge, blob collection
// (reads are in message-reads.ts).

import { envelopeAddressTexts } from '../../mime/address-text.js';
import type { FileBlobStore } from '../blobs/file-blobs.js';
import { sha256 } from '../blobs/file-blobs.js';
import { StoreError } from '../errors.js';
import type { ChangeBus } from '../events.js';
import {
  applyFlags,
  decodeFlags,
  encodeFlags,
  normalizeFlags,
  sameFlags,
  uniqueFolded,
} from '../flags.js';
import { HEADER_CACHE_BYTES, HeaderCache } from '../header-cache.js';
import { QuietWork } from '../quiet-work.js';
import type {
  AppendOptions,
  AppendResult,
  AppendTarget,
  ChangeEvent,
  CopyResult,
  FlagColumns,
  FlagMode,
  FullTextIndexMode,
  MailboxSummary,
  MessageDetail,
  MessageRecord,
  NewMessage,
  SearchHeaderField,
  StoreFlagsResult,
} from '../types.js';
import { UidList } from '../uid-list.js';
import { ColumnSnapshots, KEEP_COLUMNS_FROM } from './column-snapshot.js';
import { dataPurge, sliceSweep } from './data-purge.js';
import { type Db, nextModseq, stmt, tx } from './db.js';
import { deleteRows, markExpunged, noteRemoved, type RemovedRow } from './expunge-rows.js';
import type { FtsIndex } from './fts.js';
import type { DocRef, IndexItem } from './fts-db.js';
import { releaseHeap } from './heap-release.js';
import { MailboxSummaries, type OpenRow, type SummaryRead } from './mailbox-summary.js';
import type { MailboxKey, SqliteMailboxes } from './mailboxes.js';
import { BYTES_OF_HASH, BYTES_OF_HASHES, DELETE_BYTES, INSERT_BYTES } from './message-bytes.js';
import {
  blobHashes,
  changedUids,
  concatColumns,
  flagRows,
  lightRecords,
  listRecords,
  messageDetails,
  type RecordRow,
  rawRecords,
  recordRows,
  searchField,
  toRecord,
} from './message-reads.js';
import { LARGE_LIST, MAX_CACHED_RECORDS, RELEASE_GRACE_MS, RecordCache } from './record-cache.js';
import { FlagSets, Rows } from './record-rows.js';
import { inReplyToOf, newObjectId, threadIdFor } from './threads.js';
import type { WalChanges } from './wal-changes.js';
import { WriteBatch } from './write-batch.js';

/** The message a REPLACE expunged in an append's transaction (announced after commit). */
interface Replaced {
  mb: MailboxKey;
  modseq: number;
  removed: { uids: number[]; messageIds: number[] };
}

/** Stored messages a transaction dropped: posted to the index and unlinked after commit. */
export interface Orphans {
  docs: DocRef[];
  /** Blob files to unlink. */
  hashes: string[];
  /** message_data rows (stored before schema 19) to purge. */
  rows: string[];
}

interface PendingAppend {
  message: NewMessage;
  hash: string;
  targets: AppendTarget[];
  replace: AppendOptions['replace'];
}

/**
 * Messages up to this size keep their bytes in the database (message-bytes.ts), committed with
 * their rows in the batch's one transaction: a file would cost its own fsync and its
 * directory's before the commit. SQLite reads blobs this small faster than the file system
 * opens a file; larger ones stream better from files.
 */
export const INLINE_MAX = 64 * 1024;

/** Mailboxes whose kept keywords are remembered at once (a few words each). */
const MAX_KEYWORD_MEMOS = 10_000;

/** An INTERNALDATE zone as IMAP writes one (within +-23:59), else UTC. */
function zoneOrUtc(zone: number | undefined): number {
  return zone !== undefined && Number.isInteger(zone) && Math.abs(zone) < 24 * 60 ? zone : 0;
}

export class SqliteMessages {
  /** Appends, flag changes and expunges that arrive together share a transaction. */
  private readonly writes: WriteBatch;
  /** Per mailbox: the keywords it keeps (mailbox_keywords). Dropped when one is added. */
  private readonly keywordMemo = new Map<number, { uidValidity: number; keywords: string[] }>();
  /** SELECT's UIDs and first unseen message, without reading the rows. */
  private readonly summaries: MailboxSummaries;
  /** Blob hashes an append has written but not yet committed: never collected meanwhile. */
  private readonly inflight = new Map<string, number>();
  /** Header blocks of messages read lately (readHeaders). */
  private readonly headers = new HeaderCache(HEADER_CACHE_BYTES);

  /** Rows of recently used mailboxes (see record-cache.ts), kept current by the change bus. */
  readonly cache: RecordCache;
  /** Copies of large mailboxes' columns in the database, read at a first load. */
  readonly kept: ColumnSnapshots;
  /** Reclaims the bytes of small messages once no message holds them. */
  readonly purge: QuietWork<string>;
  /**
   * Stored messages whose last mailbox row an expunge or move removed: dropped (with their
   * index entries and files) once the store is quiet (data-purge.ts), unless a delivery of
   * the same bytes took them back meanwhile.
   */
  readonly unreferenced: QuietWork<number>;

  constructor(
    private readonly db: Db,
    private readonly blobs: FileBlobStore,
    private readonly bus: ChangeBus,
    private readonly mailboxes: SqliteMailboxes,
    private readonly fts: FtsIndex,
    /** Resolves once every commit made so far is on disk (WalSync). */
    private readonly durable: () => Promise<void> = () => Promise.resolve(),
    /** Rows from which a mailbox's columns are kept in the database (column-snapshot.ts). */
    keepColumnsFrom = KEEP_COLUMNS_FROM,
    /** Header blocks of messages appended here go into the cache at commit. */
    private readonly keepNewHeaders = true,
    /**
     * A new message's text is posted to the index at commit (`on-delivery`), or left for the
     * first search of its mailbox (`on-search`: nothing is posted, fts-db.ts catchUp).
     */
    private readonly fullTextIndex: FullTextIndexMode = 'on-delivery',
    /** The WAL's checkpoint when one is due, off the main thread (checkpointer.ts). */
    checkpoint?: () => Promise<void> | undefined,
    /** Told of each batch's commit (wal-changes.ts: RCPT's look-ups kept meanwhile). */
    changes: WalChanges | null = null,
  ) {
    this.summaries = new MailboxSummaries(db);
    this.writes = new WriteBatch(
      db,
      durable,
      (fresh) => this.fts.index(fresh),
      checkpoint,
      changes,
    );
    this.kept = new ColumnSnapshots(db, keepColumnsFrom);
    this.cache = new RecordCache(
      {
        all: (mailboxId) => listRecords(db, mailboxId),
        after: (mailboxId, uid) => listRecords(db, mailboxId, undefined, uid),
        raw: (mailboxId, afterUid) => rawRecords(db, mailboxId, afterUid),
        light: (mailboxId) => lightRecords(db, mailboxId),
        columns: (mailboxId) => concatColumns(db, mailboxId),
        hashes: (mailboxId) => blobHashes(db, mailboxId),
        some: (mailboxId, uids) => recordRows(db, mailboxId, uids).map(toRecord),
        changed: (mailboxId, modseq, limit) => changedUids(db, mailboxId, modseq, limit),
        kept: this.kept,
      },
      MAX_CACHED_RECORDS,
      RELEASE_GRACE_MS,
      LARGE_LIST,
      // Its rows are garbage now: collected at once rather than when V8 next needs room.
      () => releaseHeap(),
    );
    bus.subscribe((ev) => {
      this.cache.onEvent(ev);
      if (ev.kind === 'mailbox-delete') this.summaries.drop(ev.mailboxId);
    });
    this.purge = dataPurge(db, durable);
    this.unreferenced = new QuietWork<number>({
      durable,
      run: (ids) => this.afterCollect(tx(db, () => this.collect(ids))),
      // By blob hash: the unique index on it is the smallest that holds every id.
      sweep: sliceSweep<number>(db, {
        table: 'messages',
        key: 'blob_hash',
        pick: 'id',
        orphan: 'NOT EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = x.id)',
      }),
    });
  }

  /**
   * Group commit: each append writes and fsyncs its blob on its own (in the thread pool), then
   * joins the next batch (write-batch.ts, with the flag changes and expunges that arrive
   * together); one batch syncs the touched directories once and commits all its writes in one
   * SQLite transaction (one WAL fsync), each in its own savepoint so one over-quota message
   * does not fail the others. A message of at most INLINE_MAX octets has no file: its bytes go
   * into `message_data` in the same transaction.
   */
  async append(
    message: NewMessage,
    targets: AppendTarget[],
    opts: AppendOptions = {},
  ): Promise<AppendResult[]> {
    if (targets.length === 0) throw new StoreError('INVALID', 'append needs a target mailbox');
    const hash = sha256(message.raw);
    this.hold(hash);
    try {
      const dirs = message.raw.length <= INLINE_MAX ? [] : await this.blobs.put(hash, message.raw);
      const p = { message, hash, targets, replace: opts.replace };
      return await new Promise<AppendResult[]>((resolve, reject) => {
        this.writes.add({ dirs, reject, apply: (fresh) => this.applyAppend(p, fresh, resolve) });
      });
    } finally {
      this.release(hash);
    }
  }

  /** Marks a blob as being written for a commit to come, so collection leaves it alone. */
  hold(hash: string): void {
    this.inflight.set(hash, (this.inflight.get(hash) ?? 0) + 1);
  }

  release(hash: string): void {
    const n = (this.inflight.get(hash) ?? 1) - 1;
    if (n === 0) this.inflight.delete(hash);
    else this.inflight.set(hash, n);
  }

  /** Resolves once every write queued so far has committed (or failed). */
  async drain(): Promise<void> {
    while (this.writes.busy || this.inflight.size > 0) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * In the batch's transaction: stores the message (see insert); returns what is done once
   * the commit is durable.
   */
  private applyAppend(
    p: PendingAppend,
    fresh: IndexItem[],
    resolve: (r: AppendResult[]) => void,
  ): () => void {
    const r = this.insert(p);
    if (r.newId !== null && this.fullTextIndex === 'on-delivery') {
      fresh.push({
        id: r.newId,
        hash: p.hash,
        text: p.message.index.text,
        truncated: p.message.index.textTruncated === true,
      });
    }
    return () => {
      // New mail is what clients ask the headers of next (a phone's FETCH of every message's
      // FROM SUBJECT DATE at login, a client in IDLE told of it): its header block is kept
      // now, from the bytes in hand, rather than read back from message_data at that FETCH
      // (readHeaders keeps only small messages' blocks).
      if (this.keepNewHeaders && p.message.raw.length <= INLINE_MAX)
        this.headers.put(p.hash, p.message.raw);
      r.results.forEach((a, j) => {
        if (a.recentFrom !== undefined) this.mailboxes.noteClaimed(a.mailboxId, a.uid + 1);
        const kw = keywordsOf(p.targets[j]?.flags ?? []);
        const ev = this.eventFor(a.mailboxId, 'append', a.modseq, [a.uid], r.accounts[j], kw);
        if (ev === null) return;
        // The row as addRow wrote it: the cached list takes it without reading it back.
        this.cache.wrote(ev, a.uidValidity, {
          appended: () => [
            {
              uid: a.uid,
              messageId: r.messageId,
              flags: r.flags[j]!,
              modseq: a.modseq,
              size: p.message.raw.length,
              internalDate: new Date(r.internalDate),
              internalZone: r.internalZone,
              blobHash: p.hash,
            },
          ],
        });
        this.bus.emit(ev);
      });
      if (r.replaced) this.afterRemove(r.replaced.mb, r.replaced.modseq, r.replaced.removed);
      resolve(r.results);
    };
  }

  /** Queues a write for the next batch (write-batch.ts): answered once its commit is durable. */
  private write<R, T>(apply: () => R, after: (r: R) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.writes.add({
        dirs: [],
        reject,
        apply: () => {
          const r = apply();
          return () => resolve(after(r));
        },
      });
    });
  }

  /** Inside a savepoint. newId: the stored message's id when this append created it. */
  private insert(p: PendingAppend): {
    results: AppendResult[];
    /** The account of each target, as read in the transaction (no read again to emit). */
    accounts: number[];
    /** The stored message's id, new or not, and what each target's row was given. */
    messageId: number;
    flags: string[][];
    internalDate: number;
    internalZone: number;
    newId: number | null;
    replaced: Replaced | null;
  } {
    const { message, hash } = p;
    const size = message.raw.length;
    const idx = message.index;
    // SEARCH FROM / TO / CC / BCC text, made from the envelope as migration 7 made it for the
    // rows stored before it.
    const addresses = envelopeAddressTexts(idx.envelope);
    // RFC 8474: the ids are the stored message's, kept when the bytes were stored before.
    const threadId = threadIdFor(
      this.db,
      idx.search.messageId,
      idx.search.references ?? [],
      inReplyToOf(idx.envelope),
    );
    const inserted = stmt(
      this.db,
      `INSERT INTO messages (blob_hash, size, structure, envelope, s_from, s_to, s_cc, s_bcc,
         s_subject, s_message_id, sent_at, s_references, e_from, e_to, e_cc, e_bcc, email_id,
         thread_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (blob_hash) DO NOTHING`,
    ).run(
      hash,
      size,
      JSON.stringify(idx.structure ?? null),
      JSON.stringify(idx.envelope ?? null),
      idx.search.from,
      idx.search.to,
      idx.search.cc,
      idx.search.bcc,
      idx.search.subject,
      idx.search.messageId,
      idx.search.sentAt,
      idx.search.references === undefined ? null : JSON.stringify(idx.search.references),
      addresses.from,
      addresses.to,
      addresses.cc,
      addresses.bcc,
      newObjectId('M'),
      threadId,
    );
    // The new row's id, or that of the stored copy of the same bytes.
    const messageId =
      inserted.changes > 0
        ? Number(inserted.lastInsertRowid)
        : (stmt(this.db, 'SELECT id FROM messages WHERE blob_hash = ?').get(hash) as { id: number })
            .id;
    // Keyed by the new row's id (message-bytes.ts): no random leaf of a hash index.
    if (inserted.changes > 0 && size <= INLINE_MAX) {
      stmt(this.db, INSERT_BYTES).run(messageId, message.raw);
    }
    const mailboxes = p.targets.map((t) =>
      t.expect === undefined
        ? this.mailboxes.mustGetKey(t.mailboxId)
        : this.mailboxes.mustGetExpected(t.mailboxId, t.expect),
    );
    // RFC 8508 §3.4: REPLACE expunges the old message atomically with the append; it goes
    // first, so that the quota sees the room it frees.
    // The quota is checked as each target's row adds its size (addRow), not read beforehand.
    const replaced = p.replace ? this.removeForReplace(p.replace, mailboxes) : null;
    const internalDate = (message.internalDate ?? new Date()).getTime();
    const internalZone = message.internalDate ? zoneOrUtc(message.internalZone) : 0;
    const flags = p.targets.map((t) => normalizeFlags(t.flags ?? []));
    const results = p.targets.map((t, i) => {
      const mb = mailboxes[i]!;
      this.keepKeywords(mb.id, t.flags ?? []);
      return this.addRow(
        mb.id,
        mb.accountId,
        messageId,
        flags[i]!,
        internalDate,
        internalZone,
        size,
        replaced && mb.accountId === replaced.mb.accountId ? replaced.modseq : undefined,
        t.uid,
        t.claimRecent === true,
        true,
      );
    });
    return {
      results,
      accounts: mailboxes.map((mb) => mb.accountId),
      messageId,
      flags,
      internalDate,
      internalZone,
      newId: inserted.changes > 0 ? messageId : null,
      replaced,
    };
  }

  /** Inside the append's savepoint: removes the message a REPLACE replaces. */
  private removeForReplace(r: { mailboxId: number; uid: number }, targets: MailboxKey[]): Replaced {
    const mb = this.mailboxes.mustGetKey(r.mailboxId);
    if (targets.some((t) => t.accountId !== mb.accountId))
      throw new StoreError('NOT_ALLOWED', 'cross-account replace');
    const rows = recordRows(this.db, mb.id, [r.uid]);
    if (rows.length === 0) throw new StoreError('NOT_FOUND', 'the message to replace is gone');
    const modseq = nextModseq(this.db, mb.accountId);
    return { mb, modseq, removed: this.removeRows(mb, rows, modseq) };
  }

  private addRow(
    mailboxId: number,
    accountId: number,
    messageId: number,
    flags: string[],
    internalDate: number,
    internalZone: number,
    size: number,
    modseqIn?: number,
    uid?: number,
    claimRecent = false,
    quota = false,
  ): AppendResult {
    const modseq = this.addToAccount(accountId, size, modseqIn, quota);
    // RFC 9051 §2.3.1.1: UIDs strictly ascend, so a kept UID (an import) must be at least
    // UIDNEXT, which then moves past it.
    const mb = (
      uid === undefined
        ? stmt(
            this.db,
            `UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = ? WHERE id = ?
             RETURNING uid_next - 1 AS uid, uid_validity, first_recent_uid`,
          ).get(modseq, mailboxId)
        : stmt(
            this.db,
            `UPDATE mailboxes SET uid_next = ? + 1, highest_modseq = ?
             WHERE id = ? AND uid_next <= ? AND ? BETWEEN 1 AND 4294967294
             RETURNING uid_next - 1 AS uid, uid_validity, first_recent_uid`,
          ).get(uid, modseq, mailboxId, uid, uid)
    ) as { uid: number; uid_validity: number; first_recent_uid: number } | undefined;
    if (!mb) throw new StoreError('INVALID', `UID ${uid} is below the mailbox's UIDNEXT`);
    // RFC 3501 §2.3.2: the appending session takes \Recent of everything up to the new
    // message here, in this transaction (see AppendTarget.claimRecent). UIDs ascend, so no
    // one claimed past the new UID yet: this only moves the mark forward.
    if (claimRecent) {
      stmt(this.db, 'UPDATE mailboxes SET first_recent_uid = ? WHERE id = ?').run(
        mb.uid + 1,
        mailboxId,
      );
    }
    stmt(
      this.db,
      `INSERT INTO mailbox_messages (mailbox_id, uid, message_id, flags, modseq, internal_date, size,
         save_date, internal_zone) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      // RFC 8514 §2: the save date is when the message came into this mailbox (APPEND,
      // delivery, COPY, MOVE), whatever its internal date says.
    ).run(
      mailboxId,
      mb.uid,
      messageId,
      encodeFlags(flags),
      modseq,
      internalDate,
      size,
      Date.now(),
      internalZone,
    );
    const result: AppendResult = { mailboxId, uidValidity: mb.uid_validity, uid: mb.uid, modseq };
    if (claimRecent) result.recentFrom = mb.first_recent_uid;
    return result;
  }

  /**
   * In addRow's transaction: the account's row for one more message of `size` bytes, in one
   * statement (a delivery used to read the quota, bump the modseq and add the size in three):
   * adds the size, and takes the next modseq unless the caller has one (a COPY's, a REPLACE's).
   * With `quota`, fails with OVERQUOTA when the account is then over its quota; the caller's
   * savepoint (or transaction) rolls the whole append back. Adding each target's size in turn
   * and checking after each is the check of their sum beforehand: used_bytes only grows here.
   */
  private addToAccount(
    accountId: number,
    size: number,
    modseqIn: number | undefined,
    quota: boolean,
  ): number {
    const row = (
      modseqIn === undefined
        ? stmt(
            this.db,
            `UPDATE accounts SET modseq = modseq + 1, used_bytes = used_bytes + ? WHERE id = ?
             RETURNING modseq, used_bytes, quota_bytes`,
          ).get(size, accountId)
        : stmt(
            this.db,
            `UPDATE accounts SET used_bytes = used_bytes + ? WHERE id = ?
             RETURNING used_bytes, quota_bytes`,
          ).get(size, accountId)
    ) as { modseq?: number; used_bytes: number; quota_bytes: number | null } | undefined;
    if (!row) throw new Error(`account ${accountId} vanished`);
    if (quota && row.quota_bytes !== null && row.used_bytes > row.quota_bytes) {
      throw new StoreError('OVERQUOTA', 'mailbox is full: quota exceeded');
    }
    return modseqIn ?? (row.modseq as number);
  }

  /** Fails with OVERQUOTA if adding `size` bytes per target would exceed an account's quota. */
  private checkQuota(targets: MailboxKey[], size: number): void {
    const perAccount = new Map<number, number>();
    for (const t of targets) perAccount.set(t.accountId, (perAccount.get(t.accountId) ?? 0) + size);
    for (const [accountId, adding] of perAccount) {
      const a = stmt(this.db, 'SELECT quota_bytes, used_bytes FROM accounts WHERE id = ?').get(
        accountId,
      ) as { quota_bytes: number | null; used_bytes: number };
      if (a.quota_bytes !== null && a.used_bytes + adding > a.quota_bytes) {
        throw new StoreError('OVERQUOTA', 'mailbox is full: quota exceeded');
      }
    }
  }

  /** The mailbox's UIDVALIDITY, which ties its cached rows to it; null when it is gone. */
  private validity(mailboxId: number): number | null {
    return this.mailboxes.key(mailboxId)?.uidValidity ?? null;
  }

  list(mailboxId: number, changedSince?: number): MessageRecord[] {
    const v = this.validity(mailboxId);
    if (v === null) return [];
    if (changedSince === undefined) return this.cache.list(mailboxId, v);
    // Not in memory (SELECT no longer reads the rows): the modseq index gives the few changed
    // rows (a QRESYNC SELECT, a session's flag updates) without loading the whole mailbox.
    if (!this.cache.has(mailboxId)) return listRecords(this.db, mailboxId, changedSince);
    return this.cache.changedSince(mailboxId, v, changedSince);
  }

  /** See MailStore.flagColumns: the cached rows themselves. */
  flagColumns(mailboxId: number): FlagColumns {
    const v = this.validity(mailboxId);
    if (v === null) return new Rows(new FlagSets(), 0);
    return this.cache.rows(mailboxId, v);
  }

  /**
   * SELECT's data, from the mailbox's row and indexes (mailbox-summary.ts), not its rows.
   * Keywords: every one ever put on a message of the mailbox (RFC 3501 §7.2.6: clients keep
   * the list, so one no message has any more stays listed), which mailbox_keywords holds.
   */
  summary(mailboxId: number): MailboxSummary {
    const read = this.summaries.read(mailboxId);
    if (read === null) return { uids: UidList.EMPTY, keywords: [], firstUnseen: 0 };
    return this.withKeywords(mailboxId, read);
  }

  /**
   * SELECT's one read: the account's mailbox by its stored name with its summary (see
   * MailboxSummaries.open); null when there is none.
   */
  open(accountId: number, name: string): { row: OpenRow; summary: MailboxSummary } | null {
    const found = this.summaries.open(accountId, name);
    if (found === null) return null;
    return { row: found.row, summary: this.withKeywords(found.id, found.read) };
  }

  private withKeywords(mailboxId: number, read: SummaryRead): MailboxSummary {
    const { uidValidity: v, uids, firstUnseen } = read;
    let memo = this.keywordMemo.get(mailboxId);
    if (!memo || memo.uidValidity !== v) {
      if (this.keywordMemo.size >= MAX_KEYWORD_MEMOS) this.keywordMemo.clear();
      const kept = stmt(this.db, 'SELECT keyword FROM mailbox_keywords WHERE mailbox_id = ?')
        .pluck()
        .all(mailboxId) as string[];
      // In code-unit order (the PostgreSQL store lists them so too).
      memo = { uidValidity: v, keywords: uniqueFolded(kept).sort() };
      this.keywordMemo.set(mailboxId, memo);
    }
    return { uids, keywords: memo.keywords, firstUnseen };
  }

  /** Another process kept keywords of the mailbox (change-log.ts): read them again. */
  forgetKeywords(mailboxId: number): void {
    this.keywordMemo.delete(mailboxId);
  }

  /** Inside a transaction: records keywords among `flags` as the mailbox's (see summary). */
  private keepKeywords(mailboxId: number, flags: readonly string[]): void {
    for (const f of keywordsOf(flags)) {
      const r = stmt(
        this.db,
        'INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword) VALUES (?, ?)',
      ).run(mailboxId, f);
      if (r.changes > 0) this.keywordMemo.delete(mailboxId);
    }
  }

  /** See MailStore.getSearchField; kept in the row cache as searches read them. */
  searchField(mailboxId: number, field: SearchHeaderField, uids: number[]): Map<number, string> {
    const v = this.validity(mailboxId);
    if (v === null) return new Map();
    return this.cache.field(mailboxId, v, field, uids, (missing) =>
      searchField(this.db, mailboxId, field, missing),
    );
  }

  /** Rows only (no parsed index): what FLAGS / UID / MODSEQ / sizes need. */
  records(mailboxId: number, uids: number[]): MessageRecord[] {
    return recordRows(this.db, mailboxId, uids).map(toRecord);
  }

  get(mailboxId: number, uids: number[]): MessageDetail[] {
    return messageDetails(this.db, mailboxId, uids);
  }

  async read(hash: string, size?: number): Promise<Buffer> {
    if (size === undefined || size <= INLINE_MAX) {
      const data = stmt(this.db, BYTES_OF_HASH).pluck().get(hash, hash) as Buffer | null;
      if (data) return data;
    }
    // A large message, one stored before message_data existed, or a queued one.
    return this.blobs.read(hash, size);
  }

  /** See MailStore.readMessages: the small ones (rows, message-bytes.ts) in one statement. */
  readMany(rows: ReadonlyArray<{ blobHash: string; size: number }>): Map<string, Buffer> {
    const hashes = rows.filter((r) => r.size <= INLINE_MAX).map((r) => r.blobHash);
    const out = new Map<string, Buffer>();
    if (hashes.length === 0) return out;
    const list = JSON.stringify(hashes);
    const found = stmt(this.db, BYTES_OF_HASHES).raw().all(list, list) as [string, Buffer][];
    for (const [hash, data] of found) out.set(hash, data);
    return out;
  }

  /**
   * See MailStore.readHeaders: from memory when read lately, else the small ones with
   * readMany (their headers kept); large ones are left out, for the caller to read whole.
   */
  readHeaders(rows: ReadonlyArray<{ blobHash: string; size: number }>): Array<Buffer | undefined> {
    const l = this.headers.lookup(rows);
    if (l.missing.length > 0) this.headers.fill(l, this.readMany(l.missing));
    return l.blocks;
  }

  /** Answered once its commit is durable; other sessions' writes may share it. */
  setFlags(
    mailboxId: number,
    uids: number[],
    mode: FlagMode,
    flags: string[],
    unchangedSince?: number,
  ): Promise<StoreFlagsResult> {
    return this.write(
      () => this.applyFlags(mailboxId, uids, mode, flags, unchangedSince),
      (result) => {
        if (result.updated.length > 0) {
          const ev = this.eventFor(
            mailboxId,
            'flags',
            result.modseq,
            result.updated.map((u) => u.uid),
            result.accountId,
            mode === 'remove' ? undefined : keywordsOf(flags),
          );
          if (ev !== null) {
            // The rows as written: the cached list takes them without reading them back.
            this.cache.wrote(ev, result.uidValidity, { flags: result.updated });
            this.bus.emit(ev);
          }
        }
        return { updated: result.updated, modified: result.modified };
      },
    );
  }

  /** In a write's transaction: STORE's rows. */
  private applyFlags(
    mailboxId: number,
    uids: number[],
    mode: FlagMode,
    flags: string[],
    unchangedSince: number | undefined,
  ): StoreFlagsResult & { modseq: number; accountId: number; uidValidity: number } {
    // Read in the write transaction: a read of its own outside it is one more SQLite read
    // transaction (its WAL read-mark lock taken and dropped) per STORE (issue 19).
    const mb = this.mailboxes.mustGetKey(mailboxId);
    const updated: StoreFlagsResult['updated'] = [];
    const modified: number[] = [];
    let modseq = 0;
    for (const r of flagRows(this.db, mailboxId, uids)) {
      // RFC 7162 §3.1.3: a message changed after UNCHANGEDSINCE is not touched.
      if (unchangedSince !== undefined && r.modseq > unchangedSince) {
        modified.push(r.uid);
        continue;
      }
      const current = decodeFlags(r.flags);
      const next = applyFlags(current, mode, flags);
      if (sameFlags(current, next)) continue;
      if (modseq === 0) modseq = nextModseq(this.db, mb.accountId);
      stmt(
        this.db,
        'UPDATE mailbox_messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?',
      ).run(encodeFlags(next), modseq, mailboxId, r.uid);
      updated.push({ uid: r.uid, flags: next, modseq });
    }
    if (modseq !== 0) {
      stmt(this.db, 'UPDATE mailboxes SET highest_modseq = ? WHERE id = ?').run(modseq, mailboxId);
      if (mode !== 'remove') this.keepKeywords(mailboxId, flags);
    }
    return { updated, modified, modseq, accountId: mb.accountId, uidValidity: mb.uidValidity };
  }

  /**
   * COPY and MOVE (RFC 6851): answered once the commit is durable, in the same batch as other
   * sessions' writes (write-batch.ts), so that every change to a mailbox's messages is told in
   * commit order. Committed on its own, a MOVE that took a message appended in a batch whose
   * fsync was still running told its expunge before that append: a session then announced
   * the moved message as new after its removal, and kept it.
   */
  copy(fromId: number, uids: number[], toId: number, move: boolean): Promise<CopyResult> {
    return this.write(
      () => this.applyCopy(fromId, uids, toId, move),
      (result): CopyResult => {
        if (result.done === null)
          return { uidValidity: result.to.uidValidity, mapping: [], modseq: 0 };
        const { to, from } = result;
        const r = result.done;
        this.emitFor(
          toId,
          'append',
          r.modseq,
          r.mapping.map((m) => m[1]),
          to.accountId,
          r.keywords,
        );
        if (move) this.afterRemove(from, r.modseq, r.expunged);
        return { uidValidity: r.uidValidity, mapping: r.mapping, modseq: r.modseq };
      },
    );
  }

  /** In a write's transaction: COPY's or MOVE's rows. */
  private applyCopy(fromId: number, uids: number[], toId: number, move: boolean) {
    const from = this.mailboxes.mustGetKey(fromId);
    const to = this.mailboxes.mustGetKey(toId);
    if (from.accountId !== to.accountId) throw new StoreError('NOT_ALLOWED', 'cross-account copy');
    const rows = recordRows(this.db, fromId, uids);
    if (rows.length === 0) return { from, to, done: null };
    // A move within one account frees what it adds: only a copy needs room.
    if (!move)
      this.checkQuota(
        [to],
        rows.reduce((s, r) => s + r.size, 0),
      );
    const modseq = nextModseq(this.db, to.accountId);
    const mapping: Array<[number, number]> = [];
    const keywords = new Set<string>();
    let uidValidity = to.uidValidity;
    for (const r of rows) {
      const flags = decodeFlags(r.flags);
      for (const k of keywordsOf(flags)) keywords.add(k);
      const res = this.addRow(
        toId,
        to.accountId,
        r.message_id,
        flags,
        r.internal_date,
        r.internal_zone ?? 0,
        r.size,
        modseq,
      );
      uidValidity = res.uidValidity;
      mapping.push([r.uid, res.uid]);
    }
    const expunged = move ? this.removeRows(from, rows, modseq) : { uids: [], messageIds: [] };
    this.keepKeywords(toId, [...keywords]);
    return { from, to, done: { uidValidity, mapping, modseq, expunged, keywords: [...keywords] } };
  }

  /** Answered once its commit is durable; other sessions' writes may share it. */
  expunge(mailboxId: number, uids: number[] | undefined, onlyDeleted: boolean): Promise<number[]> {
    return this.write(
      () => this.applyExpunge(mailboxId, uids, onlyDeleted),
      (result) => {
        if (!result) return [];
        this.afterRemove(result.mb, result.modseq, result.removed);
        return result.removed.uids;
      },
    );
  }

  /** In a write's transaction: EXPUNGE's rows; null when none goes. */
  private applyExpunge(
    mailboxId: number,
    uids: number[] | undefined,
    onlyDeleted: boolean,
  ): { mb: MailboxKey; modseq: number; removed: { uids: number[]; messageIds: number[] } } | null {
    // In the write transaction, as setFlags reads it.
    const mb = this.mailboxes.mustGetKey(mailboxId);
    let rows: RemovedRow[];
    // The whole mailbox's \Deleted rows: candidates from the cached rows as they are (the
    // rows changed since and those appended since among them, without reading the changed
    // rows into the cache first: the mix's STORE \Deleted then EXPUNGE read its row twice,
    // issue 19), tested again by the DELETE itself (expunge-rows.ts). mb's UIDVALIDITY: no
    // second lookup of the mailbox.
    const flagged =
      uids === undefined && onlyDeleted
        ? this.cache.flagged(mailboxId, mb.uidValidity, '\\Deleted')
        : null;
    if (flagged) rows = deleteRows(this.db, mailboxId, flagged.uids, flagged.after, true);
    else {
      // Not kept (read now, and kept), or every message.
      const candidates =
        uids ??
        this.cache
          .list(mailboxId, mb.uidValidity)
          .filter((r) => !onlyDeleted || r.flags.includes('\\Deleted'))
          .map((r) => r.uid);
      rows = deleteRows(this.db, mailboxId, candidates, null, onlyDeleted);
    }
    // Nothing removed: nothing written, no modseq taken.
    if (rows.length === 0) return null;
    return { mb, ...noteRemoved(this.db, mb, rows) };
  }

  /**
   * Inside a transaction: deletes the rows and records them as expunged. The stored messages
   * they referred to are collected later (`unreferenced`), once the store is quiet: dropping a
   * thousand message rows cost as much as the rest of a POP3 QUIT.
   */
  private removeRows(
    mb: MailboxKey,
    rows: RecordRow[],
    modseq: number,
  ): { uids: number[]; messageIds: number[] } {
    let bytes = 0;
    for (const r of rows) bytes += r.size;
    // Set-based: a POP3 QUIT or an EXPUNGE removes thousands of rows in three statements.
    const uids = JSON.stringify(rows.map((r) => r.uid));
    stmt(
      this.db,
      'DELETE FROM mailbox_messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))',
    ).run(mb.id, uids);
    stmt(this.db, 'UPDATE accounts SET used_bytes = used_bytes - ? WHERE id = ?').run(
      bytes,
      mb.accountId,
    );
    markExpunged(this.db, mb.id, uids, modseq);
    return { uids: rows.map((r) => r.uid), messageIds: rows.map((r) => r.message_id) };
  }

  private afterRemove(
    mb: MailboxKey,
    modseq: number,
    removed: { uids: number[]; messageIds: number[] },
  ): void {
    this.unreferenced.add(removed.messageIds);
    this.emitFor(mb.id, 'expunge', modseq, removed.uids, mb.accountId);
  }

  /** Inside a transaction: drops stored messages no mailbox refers to. */
  collect(messageIds: number[]): Orphans {
    const ids = JSON.stringify([...new Set(messageIds)]);
    const orphans = stmt(
      this.db,
      `DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))
       AND NOT EXISTS (SELECT 1 FROM mailbox_messages WHERE message_id = messages.id)
       RETURNING id, blob_hash`,
    ).all(ids) as { id: number; blob_hash: string }[];
    if (orphans.length === 0) return { docs: [], hashes: [], rows: [] };
    const hashes = JSON.stringify(orphans.map((o) => o.blob_hash));
    // Those whose bytes are rows have no file: rows keyed by the message go with it now
    // (nothing else can reach them), rows stored before schema 19 later (DataPurge).
    const owned = new Set(
      stmt(this.db, DELETE_BYTES)
        .pluck()
        .all(JSON.stringify(orphans.map((o) => o.id))) as number[],
    );
    const inline = new Set(
      stmt(this.db, 'SELECT hash FROM message_data WHERE hash IN (SELECT value FROM json_each(?))')
        .pluck()
        .all(hashes) as string[],
    );
    // The outbound queue refers to blobs by hash: those stay until the queue lets go.
    const queued = new Set(
      stmt(
        this.db,
        'SELECT blob_hash FROM outbound WHERE blob_hash IN (SELECT value FROM json_each(?))',
      )
        .pluck()
        .all(hashes) as string[],
    );
    return {
      docs: orphans.map((o) => ({ id: o.id, hash: o.blob_hash })),
      hashes: orphans
        .filter((o) => !owned.has(o.id) && !inline.has(o.blob_hash) && !queued.has(o.blob_hash))
        .map((o) => o.blob_hash),
      rows: [...inline],
    };
  }

  /**
   * After commit: drops the messages from the full-text index and unlinks their blobs. A
   * crash before this leaves an orphan file or index entry (the index worker's startup
   * reconciliation removes the latter), never a dangling row.
   */
  afterCollect(orphans: Orphans): void {
    this.fts.remove(orphans.docs);
    this.purge.add(orphans.rows);
    // Unlinked once the commit that dropped their rows is durable: a crash before that brings
    // the rows back, and they need their files.
    void this.blobs.removeMany(
      orphans.hashes.filter((h) => !this.inflight.has(h)),
      this.durable(),
    );
  }

  async searchText(mailboxId: number, needle: string): Promise<number[]> {
    if (needle.length === 0) return this.list(mailboxId).map((r) => r.uid);
    return this.fts.search(mailboxId, needle);
  }

  expungedSince(mailboxId: number, modseq: number): number[] {
    const rows = stmt(
      this.db,
      'SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid',
    ).all(mailboxId, modseq) as { uid: number }[];
    return rows.map((r) => r.uid);
  }

  /** Message ids held by the given mailboxes (before deleting them). */
  messageIdsOf(mailboxIds: number[]): number[] {
    const rows = stmt(
      this.db,
      `SELECT DISTINCT message_id FROM mailbox_messages
       WHERE mailbox_id IN (SELECT value FROM json_each(?))`,
    ).all(JSON.stringify(mailboxIds)) as { message_id: number }[];
    return rows.map((r) => r.message_id);
  }

  emitFor(
    mailboxId: number,
    kind: ChangeEvent['kind'],
    modseq: number,
    uids: number[],
    accountId?: number,
    keywords?: string[],
  ): void {
    const ev = this.eventFor(mailboxId, kind, modseq, uids, accountId, keywords);
    if (ev !== null) this.bus.emit(ev);
  }

  /** The change event of a write; null when its mailbox's account is gone. */
  private eventFor(
    mailboxId: number,
    kind: ChangeEvent['kind'],
    modseq: number,
    uids: number[],
    accountId?: number,
    keywords?: string[],
  ): ChangeEvent | null {
    const acc = accountId ?? this.mailboxes.key(mailboxId)?.accountId;
    if (acc === undefined) return null;
    const ev: ChangeEvent = { accountId: acc, mailboxId, modseq, kind, uids };
    if (keywords !== undefined && keywords.length > 0) ev.keywords = keywords;
    return ev;
  }
}

/** The keywords among flags (stored spelling; system flags start with a backslash). */
function keywordsOf(flags: readonly string[]): string[] {
  // Most STOREs and APPENDs carry system flags only: nothing to normalize.
  if (flags.every((f) => f.charCodeAt(0) === 0x5c)) return [];
  return normalizeFlags(flags).filter((f) => f.charCodeAt(0) !== 0x5c);
}
