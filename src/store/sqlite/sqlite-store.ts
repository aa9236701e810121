// The embedded MailStore: SQLite (better-sqlite3, WAL) for rows, files for message blobs.
// better-sqlite3 is synchronous: statements are prepared once and transactions kept short;
// appends are batched into one commit (see messages.ts). Full-text indexing runs on a worker
// thread over its own database, `fts.db` (see fts.ts), off the delivery path.
import { join } from 'node:path';
import { FileBlobStore } from '../blobs/file-blobs.js';
import { StoreError } from '../errors.js';
import { ChangeBus } from '../events.js';
import { MaildropLocks } from '../maildrop-locks.js';
import { normalizeMailboxName } from '../names.js';
import type {
  Account,
  Alias,
  AppendOptions,
  AppendResult,
  AppendTarget,
  AppPassword,
  AppPasswordRecord,
  ChangeListener,
  CopyResult,
  Domain,
  FlagColumns,
  FlagMode,
  FullTextIndexMode,
  LoginAccount,
  Mailbox,
  MailboxStatus,
  MailboxSummary,
  MailStore,
  MessageDetail,
  MessageExtras,
  MessageRecord,
  MetadataEntry,
  MetadataSetResult,
  NewMessage,
  NewOutbound,
  OutboundItem,
  OutboundUpdate,
  Pop3Policy,
  Resolution,
  SearchHeaderField,
  SpecialUse,
  StoreFlagsResult,
  StoreStats,
} from '../types.js';
import { SqliteAppPasswords } from './app-passwords.js';
import { ChangeLogReader, ChangeLogWriter } from './change-log.js';
import { CHECKPOINT_FRAMES, MAIN_AUTOCHECKPOINT_FRAMES, WalCheckpointer } from './checkpointer.js';
import { type Db, openDatabase, stmt, tx } from './db.js';
import { SqliteDirectory } from './directory.js';
import { FtsIndex } from './fts.js';
import { SqliteMailboxes, storedMailboxName } from './mailboxes.js';
import { messageExtras } from './message-reads.js';
import { SqliteMessages } from './messages.js';
import { SqliteMetadata } from './metadata.js';
import { SqliteQueue } from './queue.js';
import { OutcomeBatch } from './queue-outcomes.js';
import { WalChanges } from './wal-changes.js';
import { WalSync } from './wal-sync.js';

export interface SqliteStoreOptions {
  /** Data directory: holds `letterbox.db`, `fts.db` and `blobs/`. */
  dir: string;
  onListenerError?: (err: unknown) => void;
  /** Failures of the full-text index worker (it restarts and rebuilds what it lost). */
  onFtsError?: (err: unknown) => void;
  /** Text (characters) posted to the index worker and not yet indexed before requests
   * carry only the message's hash and the worker parses the blob itself (bounds memory). */
  ftsBacklogChars?: number;
  /**
   * SQLite's page cache of each connection (the mail database's, the index worker's two), in
   * KiB; by default CACHE_KIB for the mail database's, better-sqlite3's 16,000 for the index,
   * and the worker's view of the mail database at most ATTACHED_MAIL_CACHE_KIB in any case.
   * Smaller for a one-off writer (`letterbox import`) whose memory counts more than its reads.
   */
  cacheKiB?: number;
  /**
   * The young generation of the index worker's V8 heap, MB (V8's default otherwise, which let
   * the worker's heap commit up to 57 MB during an import). Smaller for a one-off writer
   * (`letterbox import`).
   */
  ftsYoungGenerationMb?: number;
  /** After each WAL fsync (group commit): the commits it made durable, seconds since the first. */
  onCommitGroup?: (commits: number, seconds: number) => void;
  /** After each WAL checkpoint of the checkpoint worker: frames in the WAL and copied. */
  onCheckpoint?: (log: number, checkpointed: number) => void;
  /**
   * This store writes beside another process that has the data directory open (the
   * server): its change events are logged for that process (change-log.ts). Without it, the
   * store emits the events other processes logged.
   */
  shareChanges?: boolean;
  /**
   * Rows from which a mailbox's columns are kept in the database for the next start
   * (column-snapshot.ts; KEEP_COLUMNS_FROM by default; tests lower it).
   */
  keepColumnsFrom?: number;
  /**
   * A small message's header block goes into the header cache when its append commits (new
   * mail is fetched next); true by default. A one-off writer (`letterbox import`) serves no
   * FETCH, so it keeps none: its cache would only fill to its bound.
   */
  keepNewHeaders?: boolean;
  /**
   * When messages are indexed for full-text search (`[search] full_text_index`): at each
   * delivery and APPEND, or (the default) at the first search of their mailbox that needs
   * the text (fts-db.ts catchUp).
   */
  fullTextIndex?: FullTextIndexMode;
  /**
   * "on-search": the new messages of a mailbox beyond which its search reads them rather
   * than indexing them first (fts-db.ts READ_PAST by default; tests lower it).
   */
  ftsReadPast?: number;
}

/**
 * SQLite's page cache of the store's own connection, KiB, where better-sqlite3's build has
 * 16,000. A cache fills under load and its pages stay allocated (the C heap of the thread that
 * made them), so after bench/imap's mix and big-mailbox phases they counted in the
 * 10,000-IDLE peak that follows (issue 14 §4). Pages not cached are read from the kernel's
 * page cache (a pread each); the rows IMAP reads most are cached above SQLite
 * (record-cache.ts), and 4 MB keeps the B-trees' inner pages: the mix's server CPU per
 * command did not change (docs/design-notes.md, 2026-12-05). The full-text index keeps the
 * default: a SEARCH BODY on 100,000 messages reads megabytes of its doclists again each time.
 */
export const CACHE_KIB = 4000;
/**
 * The index worker's cache of the attached mail database. SQLite empties a connection's cache
 * of a WAL database whenever another connection committed to it since (pager_reset on a
 * changed WAL), and the server's own connection commits every delivery and STORE: pages kept
 * there are rarely used again.
 */
export const ATTACHED_MAIL_CACHE_KIB = 1000;

export class SqliteStore implements MailStore {
  readonly kind = 'sqlite';
  readonly fullTextIndex: FullTextIndexMode;
  private readonly directory: SqliteDirectory;
  private readonly mailboxes: SqliteMailboxes;
  private readonly messages: SqliteMessages;
  private readonly queue: SqliteQueue;
  private readonly outcomes: OutcomeBatch;
  private readonly metadata: SqliteMetadata;
  private readonly appPasswords: SqliteAppPasswords;
  private readonly queuedListeners = new Set<() => void>();
  /** POP3 maildrop locks: this process is the only one over its data directory. */
  private readonly maildropLocks = new MaildropLocks();
  private readonly bus: ChangeBus;
  private closed = false;
  private readonly changeLog: ChangeLogWriter | ChangeLogReader;

  private constructor(
    private readonly db: Db,
    blobs: FileBlobStore,
    private readonly fts: FtsIndex,
    private readonly wal: WalSync,
    private readonly checkpoints: WalCheckpointer | null,
    private readonly changes: WalChanges,
    opts: SqliteStoreOptions,
  ) {
    this.fullTextIndex = opts.fullTextIndex ?? 'on-search';
    this.bus = new ChangeBus(opts.onListenerError);
    this.directory = new SqliteDirectory(db, changes);
    this.mailboxes = new SqliteMailboxes(db, changes);
    this.messages = new SqliteMessages(
      db,
      blobs,
      this.bus,
      this.mailboxes,
      fts,
      () => wal.sync(),
      opts.keepColumnsFrom,
      opts.keepNewHeaders ?? true,
      this.fullTextIndex,
      checkpoints ? () => checkpoints.due() : undefined,
      changes,
    );
    this.queue = new SqliteQueue(db, blobs, this.messages);
    this.outcomes = new OutcomeBatch(db, this.queue, () => wal.sync());
    this.metadata = new SqliteMetadata(db);
    this.appPasswords = new SqliteAppPasswords(db);
    if (opts.shareChanges) {
      const writer = new ChangeLogWriter(db);
      this.changeLog = writer;
      this.bus.subscribe((ev) => writer.record(ev));
    } else {
      this.changeLog = new ChangeLogReader(
        db,
        (ev) => {
          // Keywords kept by the other process's appends: SELECT's FLAGS reads them again.
          if (ev.keywords) this.messages.forgetKeywords(ev.mailboxId);
          this.bus.emit(ev);
        },
        // Another process committed (`letterbox queue retry`, release): the queue worker
        // looks for due items now rather than at its sweep (queue/worker.ts pollMs).
        () => this.outboundQueued(),
      );
    }
  }

  static async open(opts: SqliteStoreOptions): Promise<SqliteStore> {
    const blobs = new FileBlobStore(join(opts.dir, 'blobs'));
    await blobs.init();
    const mailFile = join(opts.dir, 'letterbox.db');
    const db = openDatabase(mailFile, opts.cacheKiB ?? CACHE_KIB);
    // Starts at once; the worker reconciles its index with the mail database in the
    // background and holds searches (not deliveries) until it has.
    const fts = new FtsIndex(
      {
        ftsFile: join(opts.dir, 'fts.db'),
        mailFile,
        blobRoot: blobs.root,
        ...(opts.cacheKiB !== undefined ? { cacheKiB: opts.cacheKiB } : {}),
        mailCacheKiB: Math.min(opts.cacheKiB ?? ATTACHED_MAIL_CACHE_KIB, ATTACHED_MAIL_CACHE_KIB),
        fullTextIndex: opts.fullTextIndex ?? 'on-search',
        ...(opts.ftsReadPast !== undefined ? { readPast: opts.ftsReadPast } : {}),
      },
      opts.onFtsError ?? ((err) => process.emitWarning(`full-text index: ${String(err)}`)),
      opts.ftsBacklogChars,
      opts.ftsYoungGenerationMb !== undefined
        ? { maxYoungGenerationSizeMb: opts.ftsYoungGenerationMb }
        : {},
    );
    const walMode = db.pragma('journal_mode', { simple: true }) === 'wal';
    const wal = walMode ? new WalSync(`${mailFile}-wal`, opts.onCommitGroup) : WalSync.none();
    // RCPT's look-ups, LOGIN's accounts and the mailboxes' keys answered from memory while only
    // this process's batches commit.
    const changes = new WalChanges(walMode ? `${mailFile}-shm` : null);
    // The WAL is copied into the database by a worker thread (checkpointer.ts), not by the
    // commit that crosses SQLite's mark on this thread; SQLite's own stays as a bound.
    let checkpoints: WalCheckpointer | null = null;
    if (walMode) {
      db.pragma(`wal_autocheckpoint = ${MAIN_AUTOCHECKPOINT_FRAMES}`);
      checkpoints = new WalCheckpointer({
        mailFile,
        ...(opts.onCheckpoint ? { onCheckpoint: opts.onCheckpoint } : {}),
        onError: (err) => process.emitWarning(String(err)),
        fallBack: () => db.pragma(`wal_autocheckpoint = ${CHECKPOINT_FRAMES}`),
        // The batch's own read of the WAL index's header (wal-changes.ts `hold`).
        frames: () => changes.takeFrames(),
      });
    }
    return new SqliteStore(db, blobs, fts, wal, checkpoints, changes, opts);
  }

  /**
   * A write's answer, once the WAL holding its commit is on disk (see wal-sync.ts): no
   * caller hears of a change that a crash could still take back.
   */
  private async durable<T>(value: T): Promise<T> {
    await this.wal.sync();
    return value;
  }

  // Domains

  async addDomain(name: string): Promise<Domain> {
    return this.durable(this.directory.addDomain(name));
  }
  async listDomains(): Promise<Domain[]> {
    return this.directory.listDomains();
  }
  async removeDomain(name: string, opts: { force?: boolean } = {}): Promise<void> {
    this.directory.removeDomain(name, opts.force === true, (a) => this.removeAccountSync(a));
    await this.wal.sync();
  }
  async isLocalDomain(name: string): Promise<boolean> {
    return this.directory.isLocalDomain(name);
  }

  // Accounts

  async createAccount(input: {
    address: string;
    passwordHash: string;
    quotaBytes?: number | null;
    admin?: boolean;
  }): Promise<Account> {
    return this.durable(this.directory.createAccount(input));
  }
  async getAccount(address: string): Promise<Account | null> {
    return this.directory.getAccount(address);
  }
  async loginAccount(address: string): Promise<LoginAccount | null> {
    return this.directory.loginAccount(address);
  }
  async getAccountById(id: number): Promise<Account | null> {
    return this.directory.getAccountById(id);
  }
  async listAccounts(domain?: string): Promise<Account[]> {
    return this.directory.listAccounts(domain);
  }
  async setPassword(address: string, passwordHash: string): Promise<void> {
    this.directory.setPassword(address, passwordHash);
    await this.wal.sync();
  }
  async replacePasswordHash(accountId: number, expected: string, next: string): Promise<boolean> {
    const replaced = this.directory.replacePasswordHash(accountId, expected, next);
    if (replaced) await this.wal.sync();
    return replaced;
  }
  async setQuota(address: string, quotaBytes: number | null): Promise<void> {
    this.directory.setQuota(address, quotaBytes);
    await this.wal.sync();
  }
  async setPop3Policy(address: string, policy: Pop3Policy): Promise<void> {
    this.directory.setPop3Policy(address, policy);
    await this.wal.sync();
  }
  async removeAccount(address: string): Promise<void> {
    this.removeAccountSync(address);
    await this.wal.sync();
  }

  async setDisabled(address: string, disabled: boolean): Promise<void> {
    const accountId = this.directory.setDisabled(address, disabled);
    await this.wal.sync();
    // Committed: the account's sessions end (in another process through change_log).
    if (disabled) {
      this.bus.emit({ accountId, mailboxId: 0, modseq: 0, kind: 'account-disabled', uids: [] });
    }
  }
  async setAdmin(address: string, admin: boolean): Promise<void> {
    this.directory.setAdmin(address, admin);
    await this.wal.sync();
  }
  async unlockAccount(address: string): Promise<void> {
    this.directory.unlockAccount(address, Date.now());
    await this.wal.sync();
  }

  // App passwords

  async addAppPassword(
    address: string,
    input: { id: string; name: string; hash: string },
  ): Promise<AppPassword> {
    const account = this.directory.accountOf(address);
    return this.durable(this.appPasswords.add(account.id, input));
  }
  async listAppPasswords(address: string): Promise<AppPassword[]> {
    return this.appPasswords.list(this.directory.accountOf(address).id);
  }
  async removeAppPassword(address: string, name: string): Promise<void> {
    this.appPasswords.remove(this.directory.accountOf(address).id, name);
    await this.wal.sync();
  }
  async getAppPassword(accountId: number, id: string): Promise<AppPasswordRecord | null> {
    return this.appPasswords.get(accountId, id);
  }
  async touchAppPassword(accountId: number, id: string, at: Date): Promise<void> {
    // Bookkeeping only: not worth an fsync of its own; the next durable write carries it.
    this.appPasswords.touch(accountId, id, at.getTime());
  }

  private removeAccountSync(address: string): void {
    const account = this.directory.getAccount(address);
    if (!account) throw new StoreError('NOT_FOUND', `no account ${address}`);
    const orphans = tx(this.db, () => {
      const boxes = this.mailboxes.list(account.id).map((m) => m.id);
      // No event tells of these mailboxes going: their cached rows go now.
      this.messages.cache.drop(...boxes);
      this.mailboxes.forget(boxes);
      const ids = this.messages.messageIdsOf(boxes);
      // Cascades to mailboxes, their messages, expunge records and subscriptions.
      this.db.prepare('DELETE FROM accounts WHERE id = ?').run(account.id);
      return this.messages.collect(ids);
    });
    this.messages.afterCollect(orphans);
  }

  // Aliases

  async addAlias(address: string, targets: string[]): Promise<Alias> {
    return this.durable(this.directory.addAlias(address, targets));
  }
  async listAliases(domain?: string): Promise<Alias[]> {
    return this.directory.listAliases(domain);
  }
  async removeAlias(address: string): Promise<void> {
    this.directory.removeAlias(address);
    await this.wal.sync();
  }
  async resolveRecipient(address: string): Promise<Resolution | null> {
    return this.directory.resolveRecipient(address);
  }

  // Mailboxes

  async listMailboxes(accountId: number): Promise<Mailbox[]> {
    return this.mailboxes.list(accountId);
  }
  async getMailbox(accountId: number, name: string): Promise<Mailbox | null> {
    return this.mailboxes.get(accountId, name);
  }
  async getMailboxById(id: number): Promise<Mailbox | null> {
    return this.mailboxes.getById(id);
  }
  async openMailbox(
    accountId: number,
    name: string,
  ): Promise<{ mailbox: Mailbox; summary: MailboxSummary } | null> {
    const n = storedMailboxName(name);
    if (n === null) return null;
    const found = this.messages.open(accountId, n);
    if (found === null) return null;
    return { mailbox: this.mailboxes.fromOpenRow(accountId, n, found.row), summary: found.summary };
  }
  async createMailbox(
    accountId: number,
    name: string,
    specialUse: SpecialUse | null = null,
  ): Promise<Mailbox> {
    const mb = this.mailboxes.create(accountId, name, specialUse);
    this.bus.emit({
      accountId,
      mailboxId: mb.id,
      modseq: mb.highestModseq,
      kind: 'mailbox-create',
      uids: [],
      name: mb.name,
    });
    return this.durable(mb);
  }
  async deleteMailbox(mailboxId: number): Promise<void> {
    const mb = this.mailboxes.mustGet(mailboxId);
    if (mb.name === 'INBOX') throw new StoreError('NOT_ALLOWED', 'INBOX cannot be deleted');
    const orphans = tx(this.db, () => {
      const ids = this.messages.messageIdsOf([mb.id]);
      const freed = this.db
        .prepare('SELECT COALESCE(SUM(size), 0) AS n FROM mailbox_messages WHERE mailbox_id = ?')
        .get(mb.id) as { n: number };
      this.db
        .prepare('UPDATE accounts SET used_bytes = used_bytes - ? WHERE id = ?')
        .run(freed.n, mb.accountId);
      this.db.prepare('DELETE FROM mailboxes WHERE id = ?').run(mb.id);
      this.mailboxes.forget([mb.id]);
      return this.messages.collect(ids);
    });
    this.messages.afterCollect(orphans);
    this.bus.emit({
      accountId: mb.accountId,
      mailboxId: mb.id,
      modseq: mb.highestModseq,
      kind: 'mailbox-delete',
      uids: [],
      name: mb.name,
    });
    await this.wal.sync();
  }
  async renameMailbox(mailboxId: number, newName: string): Promise<void> {
    const from = this.mailboxes.mustGet(mailboxId).name;
    const renamed = this.mailboxes.rename(mailboxId, newName);
    // The first is the renamed mailbox itself; its inferiors keep their suffix.
    const to = renamed[0]?.name ?? newName;
    for (const mb of renamed) {
      this.bus.emit({
        accountId: mb.accountId,
        mailboxId: mb.id,
        modseq: mb.highestModseq,
        kind: 'mailbox-rename',
        uids: [],
        name: mb.name,
        oldName: from + mb.name.slice(to.length),
      });
    }
    await this.wal.sync();
  }
  async setSpecialUse(mailboxId: number, specialUse: SpecialUse | null): Promise<void> {
    const mb = this.mailboxes.setSpecialUse(mailboxId, specialUse);
    this.bus.emit({
      accountId: mb.accountId,
      mailboxId,
      modseq: 0,
      kind: 'metadata',
      uids: [],
      entries: ['/private/specialuse'],
    });
    await this.wal.sync();
  }
  async setSubscribed(accountId: number, name: string, subscribed: boolean): Promise<void> {
    const changed = this.mailboxes.setSubscribed(accountId, name, subscribed);
    if (changed) {
      const n = normalizeMailboxName(name);
      this.bus.emit({
        accountId,
        mailboxId: this.mailboxes.get(accountId, n)?.id ?? 0,
        modseq: 0,
        kind: 'subscription',
        uids: [],
        name: n,
        subscribed,
      });
    }
    await this.wal.sync();
  }
  async listSubscriptions(accountId: number): Promise<string[]> {
    return this.mailboxes.listSubscriptions(accountId);
  }
  async mailboxStatus(mailboxId: number): Promise<MailboxStatus> {
    return this.mailboxes.status(mailboxId);
  }
  async adoptUidValidity(mailboxId: number, uidValidity: number): Promise<boolean> {
    if (!Number.isInteger(uidValidity) || uidValidity < 1 || uidValidity > 0xffffffff) {
      throw new StoreError('INVALID', `invalid UIDVALIDITY ${uidValidity}`);
    }
    return this.durable(this.mailboxes.adoptUidValidity(mailboxId, uidValidity));
  }
  claimRecent(mailboxId: number, upToUid: number, claim: boolean): number {
    return this.mailboxes.claimRecent(mailboxId, upToUid, claim);
  }

  // Messages

  append(
    message: NewMessage,
    targets: AppendTarget[],
    opts: AppendOptions = {},
  ): Promise<AppendResult[]> {
    return this.messages.append(message, targets, opts);
  }
  async listMessages(
    mailboxId: number,
    opts: { changedSince?: number } = {},
  ): Promise<MessageRecord[]> {
    return this.messages.list(mailboxId, opts.changedSince);
  }
  async flagColumns(mailboxId: number): Promise<FlagColumns> {
    return this.messages.flagColumns(mailboxId);
  }
  async keepColumns(mailboxId: number): Promise<void> {
    this.messages.kept.keepNow(mailboxId);
  }
  async mailboxSummary(mailboxId: number): Promise<MailboxSummary> {
    return this.messages.summary(mailboxId);
  }
  holdMailbox(mailboxId: number): void {
    this.messages.cache.hold(mailboxId);
  }
  releaseMailbox(mailboxId: number): void {
    this.messages.cache.release(mailboxId);
  }
  async getMessages(mailboxId: number, uids: number[]): Promise<MessageDetail[]> {
    return this.messages.get(mailboxId, uids);
  }
  async getSearchField(
    mailboxId: number,
    field: SearchHeaderField,
    uids: number[],
  ): Promise<Map<number, string>> {
    return this.messages.searchField(mailboxId, field, uids);
  }
  async getMessageExtras(mailboxId: number, uids: number[]): Promise<Map<number, MessageExtras>> {
    return messageExtras(this.db, mailboxId, uids);
  }
  async setPreview(messageId: number, preview: string): Promise<void> {
    // A cache of what the blob gives again: no WAL sync waited for.
    stmt(this.db, 'UPDATE messages SET preview = ? WHERE id = ? AND preview IS NULL').run(
      preview,
      messageId,
    );
  }
  async getRecords(mailboxId: number, uids: number[]): Promise<MessageRecord[]> {
    return this.messages.records(mailboxId, uids);
  }
  readMessage(blobHash: string, size?: number): Promise<Buffer> {
    return this.messages.read(blobHash, size);
  }
  async readMessages(
    rows: ReadonlyArray<{ blobHash: string; size: number }>,
  ): Promise<Map<string, Buffer>> {
    return this.messages.readMany(rows);
  }
  async readHeaders(
    rows: ReadonlyArray<{ blobHash: string; size: number }>,
  ): Promise<Array<Buffer | undefined>> {
    return this.messages.readHeaders(rows);
  }
  async setFlags(
    mailboxId: number,
    uids: number[],
    mode: FlagMode,
    flags: string[],
    opts: { unchangedSince?: number } = {},
  ): Promise<StoreFlagsResult> {
    return this.messages.setFlags(mailboxId, uids, mode, flags, opts.unchangedSince);
  }
  async copyMessages(
    fromMailboxId: number,
    uids: number[],
    toMailboxId: number,
  ): Promise<CopyResult> {
    return this.messages.copy(fromMailboxId, uids, toMailboxId, false);
  }
  async moveMessages(
    fromMailboxId: number,
    uids: number[],
    toMailboxId: number,
  ): Promise<CopyResult> {
    return this.messages.copy(fromMailboxId, uids, toMailboxId, true);
  }
  async expunge(
    mailboxId: number,
    opts: { uids?: number[]; onlyDeleted: boolean },
  ): Promise<number[]> {
    return this.messages.expunge(mailboxId, opts.uids, opts.onlyDeleted);
  }
  async searchText(mailboxId: number, needle: string): Promise<number[]> {
    return this.messages.searchText(mailboxId, needle);
  }
  async expungedSince(mailboxId: number, modseq: number): Promise<number[]> {
    return this.messages.expungedSince(mailboxId, modseq);
  }

  // Annotations

  async getMetadata(
    accountId: number,
    mailboxId: number | null,
    names: string[],
    depth: 0 | 1 | 'infinity',
  ): Promise<MetadataEntry[]> {
    return this.metadata.get(accountId, mailboxId, names, depth);
  }
  async setMetadata(
    accountId: number,
    mailboxId: number | null,
    changes: Array<{ name: string; value: Buffer | null }>,
  ): Promise<MetadataSetResult> {
    const result = this.metadata.set(accountId, mailboxId, changes);
    if (result.ok) {
      this.bus.emit({
        accountId,
        mailboxId: mailboxId ?? 0,
        modseq: 0,
        kind: 'metadata',
        uids: [],
        entries: [...new Set(changes.map((c) => c.name))],
      });
    }
    return this.durable(result);
  }

  // Outbound queue

  async enqueueOutbound(message: NewOutbound): Promise<number> {
    const id = await this.durable(await this.queue.enqueue(message));
    this.outboundQueued();
    return id;
  }
  onOutboundQueued(listener: () => void): () => void {
    this.queuedListeners.add(listener);
    return () => this.queuedListeners.delete(listener);
  }
  async listOutbound(): Promise<OutboundItem[]> {
    return this.queue.list();
  }
  async getOutbound(id: number): Promise<OutboundItem | null> {
    return this.queue.get(id);
  }
  async claimOutbound(opts: { now: Date; limit: number; leaseMs: number }) {
    return this.queue.claim(opts.now.getTime(), opts.limit, opts.leaseMs);
  }
  async readOutbound(item: OutboundItem): Promise<Buffer> {
    return this.queue.read(item);
  }
  async updateOutbound(id: number, update: OutboundUpdate): Promise<void> {
    return this.outcomes.record(id, update);
  }
  async holdOutbound(id: number, held: boolean): Promise<boolean> {
    const done = await this.durable(this.queue.setHeld(id, held));
    // Released: due now maybe, which the worker looks for at once (not at its sweep).
    if (!held) this.outboundQueued();
    return done;
  }
  async retryOutbound(id: number | 'all'): Promise<number> {
    const n = await this.durable(this.queue.retry(id, Date.now()));
    this.outboundQueued();
    return n;
  }
  private outboundQueued(): void {
    for (const l of this.queuedListeners) l();
  }
  async deleteOutbound(id: number): Promise<boolean> {
    const gone = await this.durable(this.queue.delete(id));
    if (gone === null) return false;
    await this.queue.removeBlobs(gone);
    return true;
  }
  async resetOutboundLeases(): Promise<void> {
    await this.durable(this.queue.resetLeases(Date.now()));
  }
  async nextOutboundDue(): Promise<Date | null> {
    const due = this.queue.nextDue();
    return due === null ? null : new Date(due);
  }

  async outboundSummary(): Promise<{ messages: number; oldest: Date | null }> {
    const s = this.queue.summary();
    return { messages: s.messages, oldest: s.oldest === null ? null : new Date(s.oldest) };
  }

  async lockMaildrop(accountId: number): Promise<(() => void) | null> {
    return this.maildropLocks.tryAcquire(accountId);
  }

  stats(): StoreStats {
    return { ftsBacklogMessages: this.fts.pendingMessages, ftsBacklogChars: this.fts.pendingChars };
  }

  subscribe(listener: ChangeListener): () => void {
    return this.bus.subscribe(listener);
  }
  subscribeAccount(accountId: number, listener: ChangeListener): () => void {
    return this.bus.subscribeAccount(accountId, listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.messages.drain();
    // Outcomes of queue attempts asked for before the close are committed with it.
    await this.outcomes.flush().catch(() => {});
    // Messages expunged just now go with the store (the purge of their bytes waits for the
    // sweep after the next open): a store closed and opened again has no unreferenced rows.
    try {
      this.messages.unreferenced.finish();
    } catch {
      // The next open's sweep finds them.
    }
    // Every event so far reaches the other process (a writer), or no more are read.
    if (this.changeLog instanceof ChangeLogWriter) {
      try {
        this.changeLog.flush();
      } catch {
        // Only the notice is lost: the changes themselves are stored.
      }
    } else this.changeLog.close();
    // The worker finishes what was posted, and must let go of its attached connection to
    // letterbox.db before the last connection closes (which checkpoints the WAL).
    await this.fts.close();
    // Its connection goes before the main one, whose close (the last) checkpoints the WAL.
    await this.checkpoints?.close();
    // Copies of columns loaded just now are kept for the next start.
    this.messages.kept.finish();
    this.messages.unreferenced.close();
    this.messages.purge.close();
    this.db.close();
    this.changes.close();
    await this.wal.close();
  }
}
