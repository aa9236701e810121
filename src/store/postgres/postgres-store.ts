// The PostgreSQL store, for several Letterbox nodes over one database (issue 17). Built role
// by role (src/store/types.ts), each passing that role's contract suite; it becomes a
// MailStore, and selectable in the config, only once every role is here. Done: directory,
// mailboxes, messages with their bytes, change events (in this process). Not yet: metadata,
// the outbound queue, events between nodes (LISTEN/NOTIFY).
import { ChangeBus } from '../events.js';
import type {
  Account,
  Alias,
  AppendOptions,
  AppendResult,
  AppendTarget,
  AppPassword,
  AppPasswordRecord,
  BlobStore,
  ChangeEvents,
  ChangeListener,
  CopyResult,
  DirectoryStore,
  Domain,
  FlagMode,
  Mailbox,
  MailboxStatus,
  MailboxStore,
  MailboxSummary,
  MessageDetail,
  MessageExtras,
  MessageRecord,
  MessageStore,
  NewMessage,
  Pop3Policy,
  Resolution,
  SearchHeaderField,
  SpecialUse,
  StoreFlagsResult,
} from '../types.js';
import { PgDb, type PgOptions } from './db.js';
import { PgDirectory } from './directory.js';
import { PgMailboxes } from './mailboxes.js';
import { PgMessages } from './messages.js';

export interface PostgresStoreOptions extends PgOptions {
  onListenerError?: (err: unknown) => void;
}

export class PostgresStore
  implements DirectoryStore, MailboxStore, MessageStore, BlobStore, ChangeEvents
{
  readonly kind = 'postgres';
  private readonly directory: PgDirectory;
  private readonly mailboxes: PgMailboxes;
  private readonly messages: PgMessages;
  private readonly bus: ChangeBus;
  private closed = false;

  private constructor(
    private readonly db: PgDb,
    opts: PostgresStoreOptions,
  ) {
    this.bus = new ChangeBus(opts.onListenerError);
    this.directory = new PgDirectory(db);
    this.mailboxes = new PgMailboxes(db, this.bus);
    this.messages = new PgMessages(db, this.bus);
  }

  /** Connects, and brings the schema up to date (several nodes may do so at once). */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    return new PostgresStore(await PgDb.open(opts), opts);
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
  setDisabled(address: string, disabled: boolean): Promise<void> {
    return this.directory.setDisabled(address, disabled);
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
    return this.messages.append(message, targets, opts);
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

  // Change events (this process's; between nodes: not yet)

  subscribe(listener: ChangeListener): () => void {
    return this.bus.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}
