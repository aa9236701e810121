// The MailStore API: everything SMTP, IMAP, POP3 and the CLI know about persistent state.
// Protocols never run SQL or touch files; the store never formats protocol responses.
// The interface is async so that a networked backend (PostgreSQL) fits behind it.
//
// Data model (RFC 9051 §2.3): a mailbox has a UIDVALIDITY that never changes while it exists,
// UIDs that strictly ascend and are never reused, and a HIGHESTMODSEQ (RFC 7162 §3). Each
// message in a mailbox has flags (system flags like \Seen and keywords) and a MODSEQ. One
// stored message (blob + parsed metadata) can be in several mailboxes: COPY adds a row.

import type { AuthThrottleOptions, LoginThrottle } from '../auth/throttle.js';
import type { Envelope, PartNode } from '../mime/types.js';
import type { UidList } from './uid-list.js';

export const SPECIAL_USES = ['\\Drafts', '\\Sent', '\\Trash', '\\Junk', '\\Archive'] as const;
export type SpecialUse = (typeof SPECIAL_USES)[number] | '\\All' | '\\Flagged';

/** The mailboxes every account gets at creation (RFC 6154 special-use attributes). */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse: SpecialUse | null }> = [
  { name: 'INBOX', specialUse: null },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

/** RFC 9051 §2.3.1.2: hierarchy delimiter used for every mailbox name in the store. */
export const MAILBOX_DELIMITER = '/';

export type Pop3Policy = 'delete' | 'keep' | 'trash';

export interface Domain {
  name: string;
  createdAt: Date;
}

export interface Account {
  id: number;
  /** Login name and primary address, lower-case. */
  address: string;
  passwordHash: string;
  /** Storage quota in bytes; null means unlimited. */
  quotaBytes: number | null;
  /** Bytes used by every message row of the account (a copy counts again, as IMAP QUOTA does). */
  usedBytes: number;
  pop3Policy: Pop3Policy;
  disabled: boolean;
  createdAt: Date;
  /** When an administrator last lifted the account's login lockouts (`user unlock`), or null. */
  unlockedAt: Date | null;
  /** May sign in to the admin API and the web admin (`letterbox user admin`). */
  admin: boolean;
}

/** What a login needs of an account (MailStore.loginAccount). */
export type LoginAccount = Pick<
  Account,
  'id' | 'address' | 'passwordHash' | 'disabled' | 'unlockedAt'
>;

/** A per-device password of an account (`user app-password`); the secret is never kept. */
export interface AppPassword {
  /** The id the app password's text begins with (auth/app-password.ts). */
  id: string;
  /** The device or client it was made for; unique within the account. */
  name: string;
  createdAt: Date;
  /** Last login with it, to the hour (null: never used). */
  lastUsedAt: Date | null;
}

export interface AppPasswordRecord extends AppPassword {
  /** Hash of the whole app password (auth/app-password.ts). */
  hash: string;
}

export interface Alias {
  /** `user@domain`, or `@domain` for the domain's catch-all. Lower-case. */
  address: string;
  /** Local or remote addresses, lower-case. */
  targets: string[];
}

export interface Mailbox {
  id: number;
  accountId: number;
  /** Full UTF-8 name with `/` as delimiter; `INBOX` is always spelt so. */
  name: string;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  specialUse: SpecialUse | null;
  /** RFC 8474 MAILBOXID: kept across RENAME, never given to another mailbox. */
  objectId: string;
  subscribed: boolean;
}

export interface MailboxStatus {
  messages: number;
  /** RFC 3501 §6.3.10: messages no session has claimed as \Recent yet (see claimRecent). */
  recent: number;
  unseen: number;
  deleted: number;
  /** Sum of RFC822.SIZE of the mailbox's messages (RFC 8438 STATUS SIZE). */
  size: number;
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
}

/**
 * What mime/ extracted from the message at delivery, stored once with the blob and never
 * recomputed. The store keeps `structure` and `envelope` as JSON without looking inside;
 * IMAP reads them for FETCH BODYSTRUCTURE / ENVELOPE, sections, SEARCH and SORT.
 */
export interface MessageIndex {
  /** The MIME part tree with byte offsets (mime/structure.ts). */
  structure: PartNode;
  /** RFC 9051 §7.5.2 ENVELOPE as mime/envelope.ts built it. */
  envelope: Envelope;
  /** Header-derived fields for SEARCH and SORT (decoded, lower-cased where it helps). */
  search: {
    from: string;
    to: string;
    cc: string;
    bcc: string;
    subject: string;
    messageId: string;
    /** The Date header as epoch milliseconds, or null when missing or unparseable. */
    sentAt: number | null;
    /** Message-IDs of References (THREAD=REFERENCES, RFC 5256 §2.2); absent in old rows. */
    references?: string[];
  };
  /**
   * Decoded text of the message's text parts, for full-text search (BODY / TEXT): at most
   * FTS_TEXT_MAX characters, as that is all the index keeps.
   */
  text: string;
  /** `text` is cut: the message has more (a search then reads the whole message). */
  textTruncated?: boolean;
}

/**
 * Characters of a message's text that go into the full-text index. Indexing costs CPU in
 * proportion to the text (a 1 MB text body took longer to index than to deliver), and mail
 * text is rarely longer. A message with more is marked, and a search also reads the whole
 * text of those, so no match is ever missed.
 */
export const FTS_TEXT_MAX = 16 * 1024;

/**
 * When a message's text goes into the full-text index (`[search] full_text_index`):
 * `on-delivery` as each delivery or APPEND commits; `on-search` (the default) when a search
 * needs it, for the messages of the searched mailbox the index does not hold yet (Dovecot's
 * `fts_autoindex = no`): delivery then extracts no text for it and writes no index.
 */
export type FullTextIndexMode = 'on-search' | 'on-delivery';

/** What SELECT reports of a mailbox's messages (RFC 9051 §6.3.2, RFC 3501 §6.3.1). */
export interface MailboxSummary {
  /**
   * UIDs, ascending: a range without its expunged UIDs where the store can tell, so that a
   * mailbox of a million messages makes no array of them (uid-list.ts). Never changed.
   */
  uids: UidList;
  /**
   * Keywords (flags without a backslash) set on any message, now or before: a keyword stays
   * listed after the last message loses it (clients keep the FLAGS list, RFC 3501 §7.2.6).
   */
  keywords: readonly string[];
  /** Sequence number of the first message without \Seen; 0 when every one has it. */
  firstUnseen: number;
}

/**
 * A mailbox's messages as columns (MessageStore.flagColumns): row i, for i below `n`, is the
 * message with UID `uid[i]` (ascending), flags `lists[flags[i]]` and modseq `modseq[i]`. Read
 * only; the arrays may be shared with the store's cache, and flag lists with many rows.
 */
export interface FlagColumns {
  readonly n: number;
  readonly uid: Uint32Array;
  readonly flags: Uint32Array;
  readonly modseq: Float64Array;
  readonly lists: readonly (readonly string[])[];
}

/**
 * Header fields SEARCH compares from the stored index: the decoded header values of
 * MessageIndex.search (HEADER FROM ..., SUBJECT), and the ENVELOPE's address lists written out
 * (mime/address-text.ts), which FROM / TO / CC / BCC match (RFC 3501 §6.4.4).
 */
export type SearchHeaderField =
  | 'from'
  | 'to'
  | 'cc'
  | 'bcc'
  | 'subject'
  | 'envelopeFrom'
  | 'envelopeTo'
  | 'envelopeCc'
  | 'envelopeBcc';

/** One message as seen in one mailbox. */
export interface MessageRecord {
  uid: number;
  /** Stored-message id: the same for every copy of the same bytes. */
  messageId: number;
  flags: string[];
  modseq: number;
  size: number;
  internalDate: Date;
  /**
   * The zone INTERNALDATE was given in (APPEND's date-time), minutes east of UTC; 0 (or
   * absent) for UTC. FETCH INTERNALDATE shows it; SEARCH BEFORE / ON / SINCE take the day in it.
   */
  internalZone?: number;
  blobHash: string;
}

/**
 * What only a few FETCH items and SEARCH keys ask for, read apart from the rows so that the
 * hot paths (SELECT, FETCH FLAGS) never carry it.
 */
export interface MessageExtras {
  /** RFC 8474 EMAILID: the stored message's, the same for every copy of the same bytes. */
  emailId: string;
  /** RFC 8474 THREADID (see sqlite/threads.ts). */
  threadId: string;
  /**
   * RFC 8514 save date: when the message was saved into this mailbox (APPEND, delivery, COPY,
   * MOVE). Rows stored before save dates were kept give their internal date.
   */
  saveDate: Date;
  /** RFC 8970 preview text once computed (see setPreview), else null. */
  preview: string | null;
}

/** MessageRecord with the parsed metadata, for FETCH ENVELOPE / BODYSTRUCTURE and sections. */
export interface MessageDetail extends MessageRecord {
  index: MessageIndex;
}

export interface NewMessage {
  /** The exact message bytes as delivered (CRLF line endings). */
  raw: Buffer;
  index: MessageIndex;
  internalDate?: Date;
  /** See MessageRecord.internalZone. */
  internalZone?: number;
}

export interface AppendTarget {
  mailboxId: number;
  flags?: string[];
  /**
   * The UID to give the message (`letterbox import` keeping a source's UIDs): at least the
   * mailbox's UIDNEXT, which moves past it; `INVALID` (nothing stored) when below. Only for a
   * store with adoptUidValidity.
   */
  uid?: number;
  /**
   * RFC 3501 §2.3.2 and §6.3.11: the caller is a read-write IMAP4rev1 session with this
   * mailbox selected, which will be the first told of the new message: it takes \Recent of
   * the messages up to it (as claimRecent with this UID) in the append's own transaction,
   * instead of a transaction of its own after it. The result's `recentFrom` says from which
   * UID; a store that does not do this leaves it out, and the caller claims as usual.
   */
  claimRecent?: boolean;
  /**
   * The mailbox the caller looked up earlier (IMAP APPEND: before the client sent its
   * message): the append checks in its own transaction that the mailbox with this id still
   * has this owner, UIDVALIDITY and name, and fails with `NOT_FOUND` (nothing stored) when
   * not. An id alone is not enough: SQLite reuses the id of a deleted mailbox (`id INTEGER
   * PRIMARY KEY`), for a mailbox of any account, and a RENAME keeps it.
   */
  expect?: ExpectedMailbox;
}

/** What an append's target must still be when the append commits (AppendTarget.expect). */
export interface ExpectedMailbox {
  accountId: number;
  uidValidity: number;
  /** The UTF-8 name (store form). */
  name: string;
}

/** The target of an append to a mailbox looked up earlier: its id, and what it must still be. */
export function checkedTarget(mb: Mailbox): { mailboxId: number; expect: ExpectedMailbox } {
  return {
    mailboxId: mb.id,
    expect: { accountId: mb.accountId, uidValidity: mb.uidValidity, name: mb.name },
  };
}

/** What else an append does in its transaction. */
export interface AppendOptions {
  /**
   * RFC 8508 REPLACE: this message (of the same account) is expunged in the same transaction,
   * before the quota is checked; `NOT_FOUND` (nothing stored) when it is no longer there.
   */
  replace?: { mailboxId: number; uid: number };
}

export interface AppendResult {
  mailboxId: number;
  uidValidity: number;
  uid: number;
  modseq: number;
  /** With AppendTarget.claimRecent: the UIDs from this one up to `uid` are the caller's \Recent. */
  recentFrom?: number;
}

export type FlagMode = 'add' | 'remove' | 'replace';

export interface FlagUpdate {
  uid: number;
  flags: string[];
  modseq: number;
}

export interface StoreFlagsResult {
  updated: FlagUpdate[];
  /** RFC 7162 §3.1.3: UIDs whose MODSEQ was above UNCHANGEDSINCE; left unchanged. */
  modified: number[];
}

export interface CopyResult {
  uidValidity: number;
  /** [source UID, destination UID] pairs in ascending source order (RFC 4315 COPYUID). */
  mapping: Array<[number, number]>;
  modseq: number;
}

export type ChangeKind =
  | 'append'
  | 'flags'
  | 'expunge'
  | 'mailbox-create'
  | 'mailbox-delete'
  | 'mailbox-rename'
  | 'subscription'
  | 'metadata'
  /**
   * The account was disabled (setDisabled): mailboxId 0, modseq 0, no uids. Its open IMAP and
   * POP3 sessions end (a disabled account may not log in; being logged in is no exception).
   */
  | 'account-disabled';

/** Emitted after each commit; sessions with the mailbox selected turn it into responses. */
export interface ChangeEvent {
  accountId: number;
  mailboxId: number;
  modseq: number;
  kind: ChangeKind;
  /** UIDs affected (append, flags, expunge). */
  uids: number[];
  /**
   * Mailbox events: the name after the change (the deleted name for mailbox-delete; the
   * subscribed or unsubscribed name for subscription, whose mailboxId is 0 when no mailbox
   * has that name). IMAP NOTIFY (RFC 5465 §5.4, §5.5) reports names, not ids.
   */
  name?: string;
  /** mailbox-rename: the name before. */
  oldName?: string;
  /** subscription: subscribed (true) or unsubscribed (false). */
  subscribed?: boolean;
  /**
   * metadata: the annotation entries set or removed (RFC 5464), on the mailbox or, with
   * mailboxId 0, on the server (RFC 5465 §5.6, §5.7).
   */
  entries?: string[];
  /**
   * append, flags: the keywords (flags without a backslash) the change put on messages, when
   * there are any: sessions announce ones new to them in FLAGS (RFC 3501 §7.2.6).
   */
  keywords?: string[];
}

export type ChangeListener = (event: ChangeEvent) => void;

/** An IMAP METADATA annotation (RFC 5464 §3): a lower-case entry name and its value. */
export interface MetadataEntry {
  name: string;
  value: Buffer;
}

/**
 * RFC 5464 §4.1 / §7: limits on annotations (the RFC asks for at least 1024 octets per value
 * and 10 entries per mailbox or server). Names count towards the account's bytes.
 */
export const METADATA_LIMITS = {
  /** Octets of one value. */
  maxValueSize: 64 * 1024,
  /** Entries of one mailbox, or of the account's server annotations. */
  maxEntries: 256,
  /** Octets of every name and value of the account together. */
  maxAccountBytes: 1024 * 1024,
} as const;

/** How a SETMETADATA ended: applied whole, or refused whole (RFC 5464 §4.3). */
export type MetadataSetResult =
  | { ok: true }
  | { ok: false; reason: 'toomany' }
  /** A value is over what the store takes now; `max` is the largest value it would. */
  | { ok: false; reason: 'maxsize'; max: number };

/** Result of resolving an envelope recipient against accounts, aliases and catch-alls. */
export interface Resolution {
  /** Local accounts to deliver into (deduplicated). */
  accounts: Account[];
  /** Remote addresses an alias forwards to. */
  remote: string[];
}

/** RFC 3461 §4.1 NOTIFY: never, or any of success / failure / delay. */
export type DsnNotify = 'NEVER' | Array<'SUCCESS' | 'FAILURE' | 'DELAY'>;

export interface OutboundRecipientInput {
  address: string;
  notify?: DsnNotify;
  /** RFC 3461 §4.2 ORCPT as `type;address` (decoded xtext). */
  orcpt?: string;
}

export interface NewOutbound {
  /** MAIL FROM; '' for the null sender. */
  sender: string;
  recipients: OutboundRecipientInput[];
  raw: Buffer;
  /** RFC 3461 §4.4 ENVID and §4.3 RET. */
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  /** The submitting account, when there is one. */
  accountId?: number;
}

export type OutboundState = 'pending' | 'sent' | 'failed';

export interface OutboundRecipient extends OutboundRecipientInput {
  state: OutboundState;
  /** The last attempt's diagnostic (the remote's reply, or what went wrong). */
  lastError: string | null;
  /** RFC 3463 status of the last outcome, e.g. '4.4.1'. */
  status: string | null;
  /** The host that gave the last reply. */
  remoteMta: string | null;
}

export interface OutboundItem {
  id: number;
  sender: string;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  accountId: number | null;
  blobHash: string;
  size: number;
  createdAt: Date;
  nextAttemptAt: Date;
  attempts: number;
  /** Held by the administrator: not attempted until released. */
  held: boolean;
  lastAttemptAt: Date | null;
  /** A delay DSN was sent already (RFC 3461 NOTIFY=DELAY): sent once. */
  delayNotified: boolean;
  recipients: OutboundRecipient[];
}

/** The outcome of one attempt at an item, recorded in one transaction. */
export interface OutboundUpdate {
  /** Recipients whose state changed; others are left as they are. */
  recipients: Array<{
    address: string;
    state: OutboundState;
    lastError: string | null;
    status?: string | null;
    remoteMta?: string | null;
  }>;
  /** When to try the still-pending recipients again. */
  nextAttemptAt: Date;
  /** Counts as an attempt (attempts + 1, last_attempt_at = now). */
  attempted: boolean;
  delayNotified?: boolean;
}

/** What the store has accepted and not finished in the background. */
export interface StoreStats {
  /** Messages committed and not yet in the full-text index (this process's requests). */
  ftsBacklogMessages: number;
  /** Their text, in characters (text over the posting budget is not counted: read later). */
  ftsBacklogChars: number;
}

/**
 * Reads stored messages and nothing else: what a process other than the server's (a POP3
 * worker) opens over the same data. It sees every message committed by the store.
 */
export interface MessageReader {
  /** A message's bytes; StoreError NOT_FOUND once it is gone. */
  read(blobHash: string, size?: number): Promise<Buffer>;
  close(): void;
}

// The store in roles (issue 17): each interface is one concern a backend implements and one
// contract suite (test/store/contract/) checks. Callers that need one role may ask for it
// alone; MailStore is all of them together, what a backend's open() returns.

/** Domains, accounts, their credentials and app passwords, aliases: who receives and logs in. */
export interface DirectoryStore {
  // Domains
  addDomain(name: string): Promise<Domain>;
  listDomains(): Promise<Domain[]>;
  /** Refuses (`IN_USE`) while the domain still has accounts or aliases, unless `force`. */
  removeDomain(name: string, opts?: { force?: boolean }): Promise<void>;
  isLocalDomain(name: string): Promise<boolean>;

  // Accounts
  /** Creates the account with its default mailboxes; the domain must exist. */
  createAccount(input: {
    address: string;
    passwordHash: string;
    quotaBytes?: number | null;
    admin?: boolean;
  }): Promise<Account>;
  getAccount(address: string): Promise<Account | null>;
  /**
   * What a login needs of the account, as getAccount would read it now; a store may answer it
   * from what it keeps valid (SQLite: while only its own write batches commit). Absent: the
   * login reads getAccount.
   */
  loginAccount?(address: string): Promise<LoginAccount | null>;
  getAccountById(id: number): Promise<Account | null>;
  listAccounts(domain?: string): Promise<Account[]>;
  setPassword(address: string, passwordHash: string): Promise<void>;
  /**
   * Stores `next` as the account's password hash only if the stored one is still `expected`
   * (compare and set: the upgrade after a login never undoes a password set meanwhile); true
   * when it was replaced.
   */
  replacePasswordHash(accountId: number, expected: string, next: string): Promise<boolean>;
  setQuota(address: string, quotaBytes: number | null): Promise<void>;
  setPop3Policy(address: string, policy: Pop3Policy): Promise<void>;
  /** Removes the account, its mailboxes and messages (blobs no longer referenced are deleted). */
  removeAccount(address: string): Promise<void>;
  /** A disabled account keeps its mail and receives mail, but no login succeeds. */
  setDisabled(address: string, disabled: boolean): Promise<void>;
  /** Gives or takes the admin role (admin API and web admin sign-in). */
  setAdmin(address: string, admin: boolean): Promise<void>;
  /** Records that the account's login lockouts in force now are lifted (`user unlock`). */
  unlockAccount(address: string): Promise<void>;

  // App passwords
  /** Refuses (`EXISTS`) a name or id the account already has. */
  addAppPassword(
    address: string,
    input: { id: string; name: string; hash: string },
  ): Promise<AppPassword>;
  listAppPasswords(address: string): Promise<AppPassword[]>;
  /** `NOT_FOUND` when the account has no app password of that name. */
  removeAppPassword(address: string, name: string): Promise<void>;
  /** The app password of the account with this id, with its hash; null when there is none. */
  getAppPassword(accountId: number, id: string): Promise<AppPasswordRecord | null>;
  /** Notes a login with the app password (callers write at most about once an hour). */
  touchAppPassword(accountId: number, id: string, at: Date): Promise<void>;

  // Aliases
  addAlias(address: string, targets: string[]): Promise<Alias>;
  listAliases(domain?: string): Promise<Alias[]>;
  removeAlias(address: string): Promise<void>;
  /**
   * Account, then alias, then the domain's catch-all; null when nothing matches, and always
   * for an address outside the local domains (delivery/resolve.ts relies on it).
   */
  resolveRecipient(address: string): Promise<Resolution | null>;
}

/** An account's mailboxes: names, UIDVALIDITY / UIDNEXT / HIGHESTMODSEQ, subscriptions, \Recent. */
export interface MailboxStore {
  listMailboxes(accountId: number): Promise<Mailbox[]>;
  getMailbox(accountId: number, name: string): Promise<Mailbox | null>;
  /**
   * The mailbox by name with what SELECT needs of it (mailboxSummary), as of one read where
   * the backend can (SQLite: one statement, where getMailbox and then mailboxSummary are two
   * read snapshots); null when there is no such mailbox. Optional: SELECT reads the two then.
   */
  openMailbox?(
    accountId: number,
    name: string,
  ): Promise<{ mailbox: Mailbox; summary: MailboxSummary } | null>;
  getMailboxById(id: number): Promise<Mailbox | null>;
  createMailbox(accountId: number, name: string, specialUse?: SpecialUse | null): Promise<Mailbox>;
  /** Deletes the mailbox and its messages. INBOX cannot be deleted. */
  deleteMailbox(mailboxId: number): Promise<void>;
  /** Renames the mailbox and its inferiors (RFC 9051 §6.3.6); UIDVALIDITY is kept. */
  renameMailbox(mailboxId: number, newName: string): Promise<void>;
  /**
   * Sets or clears the mailbox's special-use attribute (RFC 6154 §4, through the METADATA
   * entry /private/specialuse); emits a `metadata` event naming that entry.
   */
  setSpecialUse(mailboxId: number, specialUse: SpecialUse | null): Promise<void>;
  /** Subscriptions may name mailboxes that do not exist (RFC 9051 §6.3.7). */
  setSubscribed(accountId: number, name: string, subscribed: boolean): Promise<void>;
  listSubscriptions(accountId: number): Promise<string[]>;
  mailboxStatus(mailboxId: number): Promise<MailboxStatus>;
  /**
   * `letterbox import` keeping a source's UIDs: a mailbox that never held a message (UIDNEXT
   * 1) takes the source's UIDVALIDITY; false, nothing changed, when it held one. Optional: a
   * store without it imports with UIDs of its own.
   */
  adoptUidValidity?(mailboxId: number, uidValidity: number): Promise<boolean>;
  /**
   * RFC 3501 §2.3.2 \Recent, shared by every session (and kept over restarts): the mailbox
   * keeps the first UID no read-write session has been told about. Returns that UID as it
   * was: the messages from it up to `upToUid` are recent for the caller. With `claim` (a
   * read-write SELECT, or a selected session hearing of new messages) it moves past
   * `upToUid`, so no later session sees those as recent; without (EXAMINE, RFC 3501 §6.3.2)
   * nothing changes. Not fsynced: a claim lost in a crash only makes messages recent again.
   * A store that answers at once returns the number itself: every IMAP4rev1 session in IDLE
   * calls this on each delivery, and an await per session per delivery showed as +35 MiB
   * peak RSS with 10,000 of them (bench/imap/session-heap.ts --deliver).
   */
  claimRecent(mailboxId: number, upToUid: number, claim: boolean): number | Promise<number>;
  /**
   * Optional hints: a session selected the mailbox (RFC 9051 §6.3.1), and later left it (each
   * hold has one release). A store may keep what it caches of a held mailbox and let a large
   * cache go soon after the last holder leaves, rather than keep it for no one. `known`: the
   * mailbox's account and the HIGHESTMODSEQ the session read (a store whose change events can
   * be interrupted catches its held mailboxes up from there: postgres/events.ts).
   */
  holdMailbox?(mailboxId: number, known?: { accountId: number; modseq: number }): void;
  releaseMailbox?(mailboxId: number): void;
}

/** Messages in mailboxes: UIDs and modseqs, flags, copies, expunges, the stored index, search. */
export interface MessageStore {
  /**
   * Stores the message once (content-addressed blob, fsynced) and adds it to each target
   * mailbox, in one transaction. Resolves only after the commit is durable. Fails with
   * `OVERQUOTA` (nothing stored) if any target account would go over its quota.
   */
  append(
    message: NewMessage,
    targets: AppendTarget[],
    opts?: AppendOptions,
  ): Promise<AppendResult[]>;
  /** Messages of the mailbox in UID order; with `changedSince`, only those with a higher modseq. */
  listMessages(mailboxId: number, opts?: { changedSince?: number }): Promise<MessageRecord[]>;
  /** What SELECT needs, without a row per message (kept between SELECTs while unchanged). */
  mailboxSummary(mailboxId: number): Promise<MailboxSummary>;
  /**
   * The mailbox's UIDs, flags and modseqs as columns, current now: what a FETCH of UID, FLAGS
   * and MODSEQ over many messages needs, without a record per message (issue 18 item 6).
   * Optional: a backend without it answers such a FETCH through listMessages.
   */
  flagColumns?(mailboxId: number): Promise<FlagColumns>;
  /**
   * Keeps a copy of a large mailbox's columns where the backend keeps one (SQLite,
   * column-snapshot.ts), so the first FETCH FLAGS after a start does not read every row:
   * called by an import that added messages to the mailbox, when it ends.
   */
  keepColumns?(mailboxId: number): Promise<void>;
  getMessages(mailboxId: number, uids: number[]): Promise<MessageDetail[]>;
  /**
   * One header field SEARCH compares (decoded, as in MessageIndex.search) of these messages:
   * a header key over a whole mailbox reads one column, not every message's details.
   */
  getSearchField(
    mailboxId: number,
    field: SearchHeaderField,
    uids: number[],
  ): Promise<Map<number, string>>;
  /** EMAILID, THREADID, save date and cached preview of these messages, by UID. */
  getMessageExtras(mailboxId: number, uids: number[]): Promise<Map<number, MessageExtras>>;
  /**
   * Keeps the preview computed for a stored message (`MessageRecord.messageId`), for every
   * copy. A cache: not made durable before it resolves, and never changed once set.
   */
  setPreview(messageId: number, preview: string): Promise<void>;
  /** Like getMessages without the parsed index: cheap, for FLAGS / UID / MODSEQ / sizes. */
  getRecords(mailboxId: number, uids: number[]): Promise<MessageRecord[]>;
  setFlags(
    mailboxId: number,
    uids: number[],
    mode: FlagMode,
    flags: string[],
    opts?: { unchangedSince?: number },
  ): Promise<StoreFlagsResult>;
  copyMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /** COPY then expunge from the source, atomically (RFC 6851). */
  moveMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /**
   * Removes messages. With `onlyDeleted` (IMAP EXPUNGE) only those flagged \Deleted; with
   * `uids` only those (UID EXPUNGE, POP3). Returns the expunged UIDs.
   */
  expunge(mailboxId: number, opts: { uids?: number[]; onlyDeleted: boolean }): Promise<number[]>;
  /**
   * UIDs of the mailbox whose decoded body text contains `needle`, case-insensitively (the
   * substring semantics of IMAP SEARCH BODY, RFC 9051 §6.4.4), from the full-text index.
   */
  searchText(mailboxId: number, needle: string): Promise<number[]>;
  /** UIDs expunged with a modseq above `modseq` (RFC 7162 §3.2.5.1 VANISHED). */
  expungedSince(mailboxId: number, modseq: number): Promise<number[]>;
}

/** The bytes of stored messages, content-addressed by SHA-256 (`MessageRecord.blobHash`). */
export interface BlobStore {
  /**
   * The exact stored bytes. `size` (the record's) is a hint: a small message may then be read
   * in one cheap step instead of several round trips (see FileBlobStore.read).
   */
  readMessage(blobHash: string, size?: number): Promise<Buffer>;
  /**
   * The bytes of several messages in one step, by hash: those the store keeps small enough
   * to read so (SQLite: the ones kept as rows, sqlite/message-bytes.ts); a message left out is read with
   * readMessage. The same contract otherwise: a message whose last copy is gone is not read.
   */
  readMessages?(
    rows: ReadonlyArray<{ blobHash: string; size: number }>,
  ): Promise<Map<string, Buffer>>;
  /**
   * The header block of several messages, in the order of `rows` (the i-th is rows[i]'s,
   * undefined when left out): the bytes of each up to and with the empty line that ends its
   * header, as mime/header-scan's headerBounds reads it (the whole message when it has none).
   * For FETCH of the header or header fields of many messages. A message left out (SQLite: a
   * large one) is read with readMessage. A stored message's bytes never change, so a store
   * may answer from memory, also for a message expunged meanwhile (RFC 2180 §4.1.1: a session
   * that has not heard of the expunge may still fetch it). By position rather than by hash:
   * the caller's rows give each hash as a new string (hex of the bytes they keep), and a map
   * by hash hashed each one again at every lookup (issue 19).
   */
  readHeaders?(
    rows: ReadonlyArray<{ blobHash: string; size: number }>,
  ): Promise<Array<Buffer | undefined>>;
}

/** IMAP METADATA annotations (RFC 5464) of an account's server view and of its mailboxes. */
export interface MetadataStore {
  /**
   * Entries of the account's server annotations (`mailboxId` null) or of a mailbox: each
   * named entry that exists, and with `depth` 1 / 'infinity' the entries one level / any
   * number of levels below it. Names are lower-case; in name order per requested name.
   */
  getMetadata(
    accountId: number,
    mailboxId: number | null,
    names: string[],
    depth: 0 | 1 | 'infinity',
  ): Promise<MetadataEntry[]>;
  /**
   * Sets (value) or removes (null) entries, all or none, within METADATA_LIMITS; durable
   * before it resolves.
   */
  setMetadata(
    accountId: number,
    mailboxId: number | null,
    changes: Array<{ name: string; value: Buffer | null }>,
  ): Promise<MetadataSetResult>;
}

/** The outbound queue: items with their bytes and per-recipient state, claimed under a lease. */
export interface OutboundQueueStore {
  /** Stores the message (fsynced) and queues it for its remote recipients, durably. */
  enqueueOutbound(message: NewOutbound): Promise<number>;
  listOutbound(): Promise<OutboundItem[]>;
  getOutbound(id: number): Promise<OutboundItem | null>;
  /**
   * Items due at `now` (not held, lease run out), at most `limit`, oldest due first, each
   * leased for `leaseMs`: another claim skips them until the lease ends or updateOutbound.
   */
  claimOutbound(opts: { now: Date; limit: number; leaseMs: number }): Promise<OutboundItem[]>;
  /** The bytes of a queued message. */
  readOutbound(item: OutboundItem): Promise<Buffer>;
  /**
   * Records an attempt and ends the lease. An item none of whose recipients is pending any
   * more is removed, with its bytes unless a stored message holds them too.
   */
  updateOutbound(id: number, update: OutboundUpdate): Promise<void>;
  /** Holds (true) or releases (false) an item; false when there is no such item. */
  holdOutbound(id: number, held: boolean): Promise<boolean>;
  /** Makes the item (or every item: 'all') due now; how many. Held items stay held. */
  retryOutbound(id: number | 'all'): Promise<number>;
  /** Removes an item without any notice; false when there is no such item. */
  deleteOutbound(id: number): Promise<boolean>;
  /** Calls `listener` after each enqueue has committed (the worker looks at once). */
  onOutboundQueued(listener: () => void): () => void;
  /** Ends every lease (the one worker of this store starts: leases of a dead process). */
  resetOutboundLeases(): Promise<void>;
  /** When the next unheld item falls due (null: the queue is empty or all held). */
  nextOutboundDue(): Promise<Date | null>;
  /** Items in the queue (held ones too) and when the oldest was queued; cheap (monitoring). */
  outboundSummary(): Promise<{ messages: number; oldest: Date | null }>;
}

/** RFC 1939 §8: one POP3 session at a time has a maildrop, whichever node it is on. */
export interface MaildropLockStore {
  /**
   * Locks the account's maildrop: the release (idempotent), or null while another session
   * holds it.
   */
  lockMaildrop(accountId: number): Promise<(() => void) | null>;
}

/** Change events, emitted after each commit (sessions turn them into untagged responses). */
export interface ChangeEvents {
  /**
   * Every event this process hears (the store's own caches, POP3's registry, tests). Over
   * PostgreSQL, other nodes' changes to an account's messages only while the node listens to
   * the account (an account listener here, see subscribeAccount and listening).
   */
  subscribe(listener: ChangeListener): () => void;
  /**
   * The events of one account only (an IMAP session's): an event calls the listeners of its
   * account, not every session in the process. Heard after the listeners of every event.
   */
  subscribeAccount(accountId: number, listener: ChangeListener): () => void;
  /**
   * After subscribeAccount: null when the account's events of other nodes are heard already,
   * else a promise resolved once they are (every change committed after it). A session waits
   * for it before its first read. A store that hears every account's events has none.
   */
  listening?(accountId: number): Promise<void> | null;
}

/** Every role of one backend over one set of data. */
export interface MailStore
  extends DirectoryStore,
    MailboxStore,
    MessageStore,
    BlobStore,
    MetadataStore,
    OutboundQueueStore,
    MaildropLockStore,
    ChangeEvents {
  readonly kind: string;

  /**
   * When the store indexes a message's text (FullTextIndexMode). With `on-search` a delivery
   * hands it a MessageIndex without text (indexMessage): the store reads the bytes if a
   * search needs them.
   */
  readonly fullTextIndex: FullTextIndexMode;

  /**
   * A login throttle every node over this store shares (PostgreSQL); absent, each process
   * keeps its own (auth/throttle.ts AuthThrottle).
   */
  sharedLoginThrottle?(options: AuthThrottleOptions): LoginThrottle;

  /** Figures kept in memory, for monitoring: reading them costs nothing. */
  stats(): StoreStats;

  close(): Promise<void>;
}
