// The PostgreSQL store, for several Letterbox nodes over one database (issue 17). Built role
// by role (src/store/types.ts), each passing that role's contract suite; it becomes a
// MailStore once every role was here, and each passes its contract suite; change events
// travel between nodes by LISTEN/NOTIFY (events.ts), POP3's maildrop lock is an advisory
// lock (maildrop-locks.ts), message bytes are chunked blobs (blobs.ts), the login throttle
// is shared (login-throttle.ts).
import { hostname } from 'node:os';
import type { AuthThrottleOptions, LoginThrottle } from '../../auth/throttle.js';
import { ChangeBus } from '../events.js';
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
  FlagMode,
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
import { missedEvents } from './catch-up.js';
import { PgDb, type PgOptions } from './db.js';
import { PgDirectory } from './directory.js';
import { PgEvents } from './events.js';
import { PgLoginThrottle } from './login-throttle.js';
import { PgMailboxes } from './mailboxes.js';
import { PgMaildropLocks } from './maildrop-locks.js';
import { PgMessages } from './messages.js';
import { PgMetadata } from './metadata.js';
import { PgQueue } from './queue.js';
import { type QuietCollect, type QuietCollectOptions, quietCollect } from './quiet-collect.js';
import { SharedReads } from './shared-reads.js';
import type { FullTextIndex } from './text-catch-up.js';

export interface PostgresStoreOptions extends PgOptions {
  onListenerError?: (err: unknown) => void;
  /**
   * This node's name in the outbound queue's leases (default: the host name): a node that
   * starts again ends its own leases at once, others' only when they run out.
   */
  nodeId?: string;
  /** When the stored messages EXPUNGE lets go of are collected (quiet-collect.ts). */
  collect?: QuietCollectOptions;
  /**
   * `[search] full_text_index`: a message's search text is made at its delivery or APPEND
   * ("on-delivery"), or by the first SEARCH BODY / TEXT of a mailbox holding it ("on-search",
   * the default; text-catch-up.ts). In "on-delivery" mode the node also makes, at start, the
   * text of messages an "on-search" node stored without it.
   */
  fullTextIndex?: FullTextIndex;
  /** An error of that start's catch-up (the next search of the mailbox catches it up). */
  onTextError?: (err: unknown) => void;
  /**
   * How long the node keeps listening to an account's channel after its last use (ms;
   * events.ts LINGER_MS).
   */
  lingerMs?: number;
  /** How long a lease on an account runs, renewed at half its life (ms; events.ts LEASE_MS). */
  leaseMs?: number;
  /** How long a session's first read waits for its account's LISTEN (ms; LISTEN_WAIT_MS). */
  listenWaitMs?: number;
}

/**
 * The longest a session's LOGIN waits for its account's LISTEN. It waits so that every change
 * committed after its first read is heard; but with the LISTEN connection down (PostgreSQL
 * restarting, the connection cut) the LISTEN waits for the connection to come back, and a
 * LOGIN must not hang with it. Past this the session goes on as a session does whose LISTEN
 * connection dropped under it: the caches trust nothing not heard (record-cache.ts), and once
 * the connection is back its held mailboxes are read from the modseq they were at
 * (catch-up.ts).
 */
const LISTEN_WAIT_MS = 10_000;

export class PostgresStore implements MailStore {
  readonly kind = 'postgres';
  readonly fullTextIndex: FullTextIndex;
  private readonly directory: PgDirectory;
  private readonly mailboxes: PgMailboxes;
  private readonly messages: PgMessages;
  private readonly metadata: PgMetadata;
  private readonly queue: PgQueue;
  private readonly maildropLocks: PgMaildropLocks;
  /** The connection the node's short reads share (shared-reads.ts): RCPT's, FETCH's, STORE's. */
  private readonly reads: SharedReads;
  private readonly collector: QuietCollect;
  /** How long a session's first read waits for its account's LISTEN (LISTEN_WAIT_MS). */
  private readonly listenWaitMs: number;
  private closed = false;

  private constructor(
    private readonly db: PgDb,
    private readonly bus: ChangeBus,
    private readonly events: PgEvents,
    opts: PostgresStoreOptions,
  ) {
    this.listenWaitMs = opts.listenWaitMs ?? LISTEN_WAIT_MS;
    this.reads = new SharedReads(() => db.client(`letterbox reads ${opts.nodeId ?? hostname()}`));
    this.directory = new PgDirectory(db, events, this.reads);
    this.mailboxes = new PgMailboxes(db, events, (id) => this.messages.counters(id));
    this.collector = quietCollect(db, opts.collect);
    this.fullTextIndex = opts.fullTextIndex ?? 'on-search';
    this.messages = new PgMessages(db, events, this.collector, this.fullTextIndex, this.reads);
    if (opts.fullTextIndex === 'on-delivery') {
      this.messages.textCatchUp.reconcile(opts.onTextError ?? (() => {}));
    }
    this.metadata = new PgMetadata(db, events);
    this.queue = new PgQueue(db, opts.nodeId ?? hostname(), (h) => this.messages.forgetBytes([h]));
    // Another node or process made items due (retry, release): this node's worker looks now.
    events.onQueueNotice(() => this.queue.queued());
    // A deleted mailbox's bytes may have gone with it (this node's or another's).
    bus.subscribe((ev) => {
      if (ev.kind === 'mailbox-delete') this.messages.forgetBytes();
    });
    this.maildropLocks = new PgMaildropLocks(() => db.client());
  }

  /** Connects, and brings the schema up to date (several nodes may do so at once). */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const db = await PgDb.open(opts);
    try {
      const bus = new ChangeBus(opts.onListenerError);
      const events = await PgEvents.open(
        db,
        bus,
        () => db.client(`letterbox events ${opts.nodeId ?? hostname()}`),
        (held) => missedEvents(db, held),
        opts.lingerMs,
        opts.leaseMs,
      );
      return new PostgresStore(db, bus, events, opts);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  // Directory

  addDomain(name: string): Promise<Domain> {
    return this.directory.addDomain(name);
  }
  listDomains(): Promise<Domain[]> {
    return this.directory.listDomains();
  }
  removeDomain(name: string, opts?: { force?: boolean }): Promise<void> {
    return this.directory.removeDomain(name, opts);
  }
  isLocalDomain(name: string): Promise<boolean> {
    return this.directory.isLocalDomain(name);
  }
  createAccount(input: {
    address: string;
    passwordHash: string;
    quotaBytes?: number | null;
    admin?: boolean;
  }): Promise<Account> {
    return this.directory.createAccount(input);
  }
  getAccount(address: string): Promise<Account | null> {
    return this.directory.getAccount(address);
  }
  getAccountById(id: number): Promise<Account | null> {
    return this.directory.getAccountById(id);
  }
  listAccounts(domain?: string): Promise<Account[]> {
    return this.directory.listAccounts(domain);
  }
  setPassword(address: string, passwordHash: string): Promise<void> {
    return this.directory.setPassword(address, passwordHash);
  }
  replacePasswordHash(accountId: number, expected: string, next: string): Promise<boolean> {
    return this.directory.replacePasswordHash(accountId, expected, next);
  }
  setQuota(address: string, quotaBytes: number | null): Promise<void> {
    return this.directory.setQuota(address, quotaBytes);
  }
  setPop3Policy(address: string, policy: Pop3Policy): Promise<void> {
    return this.directory.setPop3Policy(address, policy);
  }
  removeAccount(address: string): Promise<void> {
    return this.directory.removeAccount(address);
  }
  async setDisabled(address: string, disabled: boolean): Promise<void> {
    await this.directory.setDisabled(address, disabled);
    if (!disabled) return;
    const a = await this.directory.getAccount(address);
    if (!a) return;
    // The account's sessions end on every node: the event travels like any other (events.ts).
    await this.events.tx(async (_q, emit) => {
      emit({ accountId: a.id, mailboxId: 0, modseq: 0, kind: 'account-disabled', uids: [] });
    });
  }
  setAdmin(address: string, admin: boolean): Promise<void> {
    return this.directory.setAdmin(address, admin);
  }
  unlockAccount(address: string): Promise<void> {
    return this.directory.unlockAccount(address);
  }
  addAppPassword(
    address: string,
    input: { id: string; name: string; hash: string },
  ): Promise<AppPassword> {
    return this.directory.addAppPassword(address, input);
  }
  listAppPasswords(address: string): Promise<AppPassword[]> {
    return this.directory.listAppPasswords(address);
  }
  removeAppPassword(address: string, name: string): Promise<void> {
    return this.directory.removeAppPassword(address, name);
  }
  getAppPassword(accountId: number, id: string): Promise<AppPasswordRecord | null> {
    return this.directory.getAppPassword(accountId, id);
  }
  touchAppPassword(accountId: number, id: string, at: Date): Promise<void> {
    return this.directory.touchAppPassword(accountId, id, at);
  }
  addAlias(address: string, targets: string[]): Promise<Alias> {
    return this.directory.addAlias(address, targets);
  }
  listAliases(domain?: string): Promise<Alias[]> {
    return this.directory.listAliases(domain);
  }
  removeAlias(address: string): Promise<void> {
    return this.directory.removeAlias(address);
  }
  resolveRecipient(address: string): Promise<Resolution | null> {
    return this.directory.resolveRecipient(address);
  }

  // Mailboxes

  listMailboxes(accountId: number): Promise<Mailbox[]> {
    return this.mailboxes.listMailboxes(accountId);
  }
  getMailbox(accountId: number, name: string): Promise<Mailbox | null> {
    return this.mailboxes.getMailbox(accountId, name);
  }
  getMailboxById(id: number): Promise<Mailbox | null> {
    return this.mailboxes.getMailboxById(id);
  }
  createMailbox(accountId: number, name: string, specialUse?: SpecialUse | null): Promise<Mailbox> {
    return this.mailboxes.createMailbox(accountId, name, specialUse);
  }
  deleteMailbox(mailboxId: number): Promise<void> {
    return this.mailboxes.deleteMailbox(mailboxId);
  }
  renameMailbox(mailboxId: number, newName: string): Promise<void> {
    return this.mailboxes.renameMailbox(mailboxId, newName);
  }
  setSpecialUse(mailboxId: number, specialUse: SpecialUse | null): Promise<void> {
    return this.mailboxes.setSpecialUse(mailboxId, specialUse);
  }
  setSubscribed(accountId: number, name: string, subscribed: boolean): Promise<void> {
    return this.mailboxes.setSubscribed(accountId, name, subscribed);
  }
  listSubscriptions(accountId: number): Promise<string[]> {
    return this.mailboxes.listSubscriptions(accountId);
  }
  mailboxStatus(mailboxId: number): Promise<MailboxStatus> {
    return this.mailboxes.mailboxStatus(mailboxId);
  }
  claimRecent(mailboxId: number, upToUid: number, claim: boolean): Promise<number> {
    return this.mailboxes.claimRecent(mailboxId, upToUid, claim);
  }

  // Messages and their bytes

  append(
    message: NewMessage,
    targets: AppendTarget[],
    opts?: AppendOptions,
  ): Promise<AppendResult[]> {
    return this.messages.append(message, targets, opts).then((results) => {
      // An append's own claim of \Recent (AppendTarget.claimRecent) took up to its UID.
      for (const r of results) {
        if (r.recentFrom !== undefined) this.mailboxes.noteClaimed(r.mailboxId, r.uid + 1);
      }
      return results;
    });
  }
  listMessages(mailboxId: number, opts?: { changedSince?: number }): Promise<MessageRecord[]> {
    return this.messages.listMessages(mailboxId, opts);
  }
  mailboxSummary(mailboxId: number): Promise<MailboxSummary> {
    return this.messages.mailboxSummary(mailboxId);
  }
  getMessages(mailboxId: number, uids: number[]): Promise<MessageDetail[]> {
    return this.messages.getMessages(mailboxId, uids);
  }
  getSearchField(
    mailboxId: number,
    field: SearchHeaderField,
    uids: number[],
  ): Promise<Map<number, string>> {
    return this.messages.getSearchField(mailboxId, field, uids);
  }
  getMessageExtras(mailboxId: number, uids: number[]): Promise<Map<number, MessageExtras>> {
    return this.messages.getMessageExtras(mailboxId, uids);
  }
  setPreview(messageId: number, preview: string): Promise<void> {
    return this.messages.setPreview(messageId, preview);
  }
  getRecords(mailboxId: number, uids: number[]): Promise<MessageRecord[]> {
    return this.messages.getRecords(mailboxId, uids);
  }
  readMessage(blobHash: string, size?: number): Promise<Buffer> {
    return this.messages.readMessage(blobHash, size);
  }
  readMessages(
    rows: ReadonlyArray<{ blobHash: string; size: number }>,
  ): Promise<Map<string, Buffer>> {
    return this.messages.readMessages(rows);
  }
  readHeaders(
    rows: ReadonlyArray<{ blobHash: string; size: number }>,
  ): Promise<Array<Buffer | undefined>> {
    return this.messages.readHeaders(rows);
  }
  setFlags(
    mailboxId: number,
    uids: number[],
    mode: FlagMode,
    flags: string[],
    opts?: { unchangedSince?: number },
  ): Promise<StoreFlagsResult> {
    return this.messages.setFlags(mailboxId, uids, mode, flags, opts);
  }
  copyMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.messages.copyMessages(fromMailboxId, uids, toMailboxId);
  }
  moveMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.messages.moveMessages(fromMailboxId, uids, toMailboxId);
  }
  expunge(mailboxId: number, opts: { uids?: number[]; onlyDeleted: boolean }): Promise<number[]> {
    return this.messages.expunge(mailboxId, opts);
  }
  searchText(mailboxId: number, needle: string): Promise<number[]> {
    return this.messages.searchText(mailboxId, needle);
  }
  expungedSince(mailboxId: number, modseq: number): Promise<number[]> {
    return this.messages.expungedSince(mailboxId, modseq);
  }

  // Annotations

  getMetadata(
    accountId: number,
    mailboxId: number | null,
    names: string[],
    depth: 0 | 1 | 'infinity',
  ): Promise<MetadataEntry[]> {
    return this.metadata.getMetadata(accountId, mailboxId, names, depth);
  }
  setMetadata(
    accountId: number,
    mailboxId: number | null,
    changes: Array<{ name: string; value: Buffer | null }>,
  ): Promise<MetadataSetResult> {
    return this.metadata.setMetadata(accountId, mailboxId, changes);
  }

  // Outbound queue

  enqueueOutbound(message: NewOutbound): Promise<number> {
    return this.queue.enqueueOutbound(message);
  }
  listOutbound(): Promise<OutboundItem[]> {
    return this.queue.listOutbound();
  }
  getOutbound(id: number): Promise<OutboundItem | null> {
    return this.queue.getOutbound(id);
  }
  claimOutbound(opts: { now: Date; limit: number; leaseMs: number }): Promise<OutboundItem[]> {
    return this.queue.claimOutbound(opts);
  }
  readOutbound(item: OutboundItem): Promise<Buffer> {
    return this.queue.readOutbound(item);
  }
  updateOutbound(id: number, update: OutboundUpdate): Promise<void> {
    return this.queue.updateOutbound(id, update);
  }
  holdOutbound(id: number, held: boolean): Promise<boolean> {
    return this.queue.holdOutbound(id, held);
  }
  retryOutbound(id: number | 'all'): Promise<number> {
    return this.queue.retryOutbound(id);
  }
  deleteOutbound(id: number): Promise<boolean> {
    return this.queue.deleteOutbound(id);
  }
  onOutboundQueued(listener: () => void): () => void {
    return this.queue.onOutboundQueued(listener);
  }
  resetOutboundLeases(): Promise<void> {
    return this.queue.resetOutboundLeases();
  }
  nextOutboundDue(): Promise<Date | null> {
    return this.queue.nextOutboundDue();
  }
  outboundSummary(): Promise<{ messages: number; oldest: Date | null }> {
    return this.queue.outboundSummary();
  }

  holdMailbox(mailboxId: number, known?: { accountId: number; modseq: number }): void {
    this.events.hold(mailboxId, known);
  }
  releaseMailbox(mailboxId: number): void {
    this.events.release(mailboxId);
  }

  lockMaildrop(accountId: number): Promise<(() => void) | null> {
    return this.maildropLocks.lockMaildrop(accountId);
  }

  sharedLoginThrottle(options: AuthThrottleOptions): LoginThrottle {
    return new PgLoginThrottle(this.db, options);
  }

  /** Nothing is left for later: text is searchable once its append commits. */
  stats(): StoreStats {
    return { ftsBacklogMessages: 0, ftsBacklogChars: 0 };
  }

  // Change events: every node's, in commit order (events.ts)

  subscribe(listener: ChangeListener): () => void {
    return this.bus.subscribe(listener);
  }
  /** The account's channel is listened to while it has a listener here (events.ts). */
  subscribeAccount(accountId: number, listener: ChangeListener): () => void {
    const off = this.bus.subscribeAccount(accountId, listener);
    this.events.acquireAccount(accountId);
    let on = true;
    return () => {
      if (!on) return;
      on = false;
      off();
      this.events.releaseAccount(accountId);
    };
  }
  listening(accountId: number): Promise<void> | null {
    const ready = this.events.ready(accountId);
    if (ready === null) return null;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.listenWaitMs);
      timer.unref();
      void ready.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.messages.textCatchUp.close();
    await this.collector.close();
    await this.events.close();
    await this.maildropLocks.close();
    await this.reads.close();
    await this.db.close();
  }
}
