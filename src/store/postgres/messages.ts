// The message role in PostgreSQL, with the blob role: messages in mailboxes (UIDs, modseqs,
// flags), COPY / MOVE, EXPUNGE and VANISHED, quota, REPLACE, the stored index, search, and
// the bytes of each stored message (blobs.ts: once per distinct content, in chunks).
//
// Several nodes write at once, so every counter is taken under a row lock in the writing
// transaction: the account's row first (its modseq, its quota; accounts in id order), then
// the mailbox's row (its UIDNEXT). UIDs of a mailbox are therefore handed out one writer at
// a time and committed in order of allocation per account (RFC 9051 §2.3.1.1: strictly
// ascending, never reused; RFC 7162 §3: modseqs only grow). Events go out after the commit.
import { envelopeAddressTexts } from '../../mime/address-text.js';
import { parseText } from '../../mime/index.js';
import type { Envelope, PartNode } from '../../mime/types.js';
import { sha256 } from '../blobs/file-blobs.js';
import { StoreError } from '../errors.js';
import { applyFlags, normalizeFlags, sameFlags } from '../flags.js';
import { HEADER_CACHE_BYTES, HeaderCache } from '../header-cache.js';
import { inReplyToOf, newObjectId } from '../object-ids.js';
import { SEARCH_COLUMNS } from '../rows.js';
import { searchFold } from '../search-fold.js';
import type {
  AppendOptions,
  AppendResult,
  AppendTarget,
  BlobStore,
  ChangeEvent,
  CopyResult,
  ExpectedMailbox,
  FlagMode,
  MailboxSummary,
  MessageDetail,
  MessageExtras,
  MessageIndex,
  MessageRecord,
  MessageStore,
  NewMessage,
  SearchHeaderField,
  StoreFlagsResult,
} from '../types.js';
import { AppendBatches, type BatchItem } from './append-batch.js';
import { expectParams, isExpected, MAILBOX_GONE } from './append-conditions.js';
import { APPEND_ONE } from './append-one.js';
import { CHUNK_BYTES, readBlob, readSmallBlobs, writeBlob } from './blobs.js';
import { ByteCache } from './byte-cache.js';
import { collectMessages } from './collect.js';
import { nextModseq, type PgDb, type Queryable, row, rows, run, UNFLUSHED_COMMIT } from './db.js';
import { type PgEvents, UIDS_PER_NOTICE } from './events.js';
import { EXPUNGE_SQL, expungeKind } from './expunge-one.js';
import { FlagGroups, type FlagWrite, SET_FLAGS } from './flag-groups.js';
import { FlushGuess } from './flush-guess.js';
import { nulFree, nulFreeIndex } from './nul-free.js';
import type { QuietCollect } from './quiet-collect.js';
import { PgRecordCache } from './record-cache.js';
import { searchWords, wordPatterns } from './search-words.js';
import { type FullTextIndex, TextCatchUp } from './text-catch-up.js';

interface MailboxRef {
  id: number;
  accountId: number;
  uidValidity: number;
}

interface RecordRow {
  uid: number;
  message_id: number;
  flags: string[];
  modseq: number;
  size: number;
  internal_date: number;
  internal_zone: number;
  blob_hash: string;
}

const RECORD_COLUMNS = `mm.uid, mm.message_id, mm.flags, mm.modseq, mm.size, mm.internal_date,
  mm.internal_zone, m.blob_hash`;
const FROM_ROWS = 'FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id';

function toRecord(r: RecordRow): MessageRecord {
  return {
    uid: r.uid,
    messageId: r.message_id,
    flags: r.flags,
    modseq: r.modseq,
    size: r.size,
    internalDate: new Date(r.internal_date),
    internalZone: r.internal_zone,
    blobHash: r.blob_hash,
  };
}

/** At most this many Message-IDs of one message are looked up for its THREADID. */
const MAX_THREAD_KEYS = 16;

/**
 * The parameters of a stored message's parsed index, in the column order both inserts of the
 * messages row use: structure, envelope, the search fields and the envelope's address texts.
 */
function indexParams(idx: MessageIndex): unknown[] {
  const addresses = envelopeAddressTexts(idx.envelope);
  return [
    JSON.stringify(idx.structure ?? null),
    JSON.stringify(idx.envelope ?? null),
    idx.search.from,
    idx.search.to,
    idx.search.cc,
    idx.search.bcc,
    idx.search.subject,
    idx.search.messageId,
    idx.search.sentAt,
    idx.search.references ?? null,
    addresses.from,
    addresses.to,
    addresses.cc,
    addresses.bcc,
  ];
}

/** The stored header fields SEARCH compares (SEARCH_COLUMNS), as indexParams stores them. */
function searchFields(idx: MessageIndex): Record<SearchHeaderField, string> {
  const addresses = envelopeAddressTexts(idx.envelope);
  return {
    from: idx.search.from,
    to: idx.search.to,
    cc: idx.search.cc,
    bcc: idx.search.bcc,
    subject: idx.search.subject,
    envelopeFrom: addresses.from,
    envelopeTo: addresses.to,
    envelopeCc: addresses.cc,
    envelopeBcc: addresses.bcc,
  };
}

/** The Message-IDs that decide a message's THREADID, in the order they are tried. */
function threadKeys(idx: MessageIndex): string[] {
  const references = idx.search.references ?? [];
  const refs =
    references.length <= MAX_THREAD_KEYS - 2
      ? references
      : [
          ...references.slice(0, MAX_THREAD_KEYS / 2 - 1),
          ...references.slice(1 - MAX_THREAD_KEYS / 2),
        ];
  const keys = new Set<string>(refs);
  const inReplyTo = inReplyToOf(idx.envelope);
  if (inReplyTo !== null) keys.add(inReplyTo);
  if (idx.search.messageId !== '') keys.add(idx.search.messageId);
  return [...keys];
}

/** An INTERNALDATE zone as IMAP writes one (within +-23:59), else UTC. */
function zoneOrUtc(zone: number | undefined): number {
  return zone !== undefined && Number.isInteger(zone) && Math.abs(zone) < 24 * 60 ? zone : 0;
}

/** The keywords among flags (stored spelling; system flags start with a backslash). */
function keywordsOf(flags: readonly string[]): string[] {
  return normalizeFlags(flags).filter((f) => f.charCodeAt(0) !== 0x5c);
}

interface Removed {
  uids: number[];
  /** Bytes the rows took (freed from the account's usage). */
  bytes: number;
}

/** An account's quota and usage, read under its row lock. */
interface Usage {
  quota: number | null;
  used: number;
}

export class PgMessages implements MessageStore, BlobStore {
  /** Rows of recently used mailboxes, checked against HIGHESTMODSEQ at each read. */
  private readonly cache: PgRecordCache;
  /** Bytes of recently read messages (content-addressed: never out of date). */
  private readonly bytes = new ByteCache();
  /**
   * Header blocks of messages read or appended here (../header-cache.ts): unlike the bytes,
   * kept as long as there is room, since BlobStore.readHeaders may answer for a message
   * expunged meanwhile, on any node (RFC 2180 §4.1.1).
   */
  private readonly headers = new HeaderCache(HEADER_CACHE_BYTES);
  /** Appends waiting to share a statement and a commit (append-batch.ts). */
  private readonly batches: AppendBatches;
  /** One-row STOREs written together (flag-groups.ts). */
  private readonly flagGroups: FlagGroups;
  /** Whether a one-row STORE's or an EXPUNGE's commit has a FLUSH after it (flush-guess.ts). */
  private readonly flushGuess: FlushGuess;
  /** The search text of messages stored without it, made when their mailbox is searched. */
  readonly textCatchUp: TextCatchUp;

  constructor(
    private readonly db: PgDb,
    private readonly events: PgEvents,
    /** Collects what EXPUNGE lets go of, once the node is quiet. */
    private readonly collector: QuietCollect,
    /**
     * When a stored message's search text is made: at its delivery or APPEND, or by the
     * first search of a mailbox holding it (text-catch-up.ts).
     */
    private readonly fullText: FullTextIndex = 'on-search',
    /**
     * Where the short reads go (shared-reads.ts: one pipelined connection of the node): a
     * small message's bytes, a STORE's read of its one row; else the pool.
     */
    private readonly reads: Queryable = db,
  ) {
    this.cache = new PgRecordCache(db, events);
    this.flushGuess = new FlushGuess(events);
    this.flagGroups = new FlagGroups(db, this.flushGuess);
    events.observe((ev) => this.cache.heard(ev));
    this.textCatchUp = new TextCatchUp(db);
    this.batches = new AppendBatches(
      db,
      events,
      fullText,
      (it) =>
        this.appendOne(
          it.message,
          {
            mailboxId: it.mailboxId,
            flags: it.flags,
            claimRecent: it.claimRecent,
            ...(it.expect ? { expect: it.expect } : {}),
          },
          it.hash,
        ),
      (ids) => db.tx((q) => collectMessages(q, ids)),
    );
  }

  /** The mailbox's key; NOT_FOUND when it is gone or no longer what `expect` names. */
  private async mailbox(q: Queryable, id: number, expect?: ExpectedMailbox): Promise<MailboxRef> {
    const r = await row<{ id: number; account_id: number; uid_validity: number; name: string }>(
      q,
      'SELECT id, account_id, uid_validity, name FROM mailboxes WHERE id = $1',
      [id],
    );
    if (!r || (expect !== undefined && !isExpected(r, expect)))
      throw new StoreError('NOT_FOUND', 'no such mailbox');
    return { id: r.id, accountId: r.account_id, uidValidity: r.uid_validity };
  }

  /**
   * Locks the accounts' rows, in id order (the order every writer takes them in), and reads
   * their quota and usage, which stay as read until commit.
   */
  private async lockAccounts(q: Queryable, ids: number[]): Promise<Map<number, Usage>> {
    const rs = await rows<{ id: number; quota_bytes: number | null; used_bytes: number }>(
      q,
      'SELECT id, quota_bytes, used_bytes FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE',
      [[...new Set(ids)]],
    );
    return new Map(rs.map((r) => [r.id, { quota: r.quota_bytes, used: r.used_bytes }]));
  }

  // Appends

  async append(
    message: NewMessage,
    targets: AppendTarget[],
    opts: AppendOptions = {},
  ): Promise<AppendResult[]> {
    if (targets.length === 0) throw new StoreError('INVALID', 'append needs a target mailbox');
    const index = nulFreeIndex(message.index);
    if (index !== message.index) message = { ...message, index };
    const hash = sha256(message.raw);
    const size = message.raw.length;
    const only = targets[0]!;
    // One blob chunk: the whole message goes in the one statement (blobs.ts).
    if (
      targets.length === 1 &&
      !opts.replace &&
      only.uid === undefined &&
      message.raw.length <= CHUNK_BYTES
    ) {
      // Appends to the same mailbox at the same time share a statement and a commit (an
      // appending session's \Recent claim too: append-batch.ts).
      const flags = normalizeFlags(only.flags ?? []);
      return [
        await new Promise<AppendResult>((resolve, reject) => {
          const it: BatchItem = {
            message,
            hash,
            mailboxId: only.mailboxId,
            flags,
            claimRecent: only.claimRecent === true,
            ...(only.expect ? { expect: only.expect } : {}),
            keywords: keywordsOf(flags),
            internalDate: (message.internalDate ?? new Date()).getTime(),
            internalZone: message.internalDate ? zoneOrUtc(message.internalZone) : 0,
            index: indexParams(message.index),
            threadKeys: threadKeys(message.index),
            resolve,
            reject,
            placed: (at, heard) =>
              this.placed(
                it,
                { ...at, internalDate: it.internalDate, internalZone: it.internalZone },
                heard,
              ),
          };
          this.batches.add(it);
        }),
      ];
    }
    return this.events.tx(async (q, emit) => {
      const mailboxes: MailboxRef[] = [];
      for (const t of targets) mailboxes.push(await this.mailbox(q, t.mailboxId, t.expect));
      const replaceBox = opts.replace ? await this.mailbox(q, opts.replace.mailboxId) : null;
      // The stored message first: its row and THREADID lookups need no account's lock, so
      // the lock is held for fewer round trips (deliveries to one account take turns).
      const messageId = await this.storedMessage(q, message, hash);
      const usage = await this.lockAccounts(q, [
        ...mailboxes.map((m) => m.accountId),
        ...(replaceBox ? [replaceBox.accountId] : []),
      ]);
      // RFC 8508 §3.4: REPLACE expunges the old message atomically with the append; it goes
      // first, so that the quota sees the room it frees.
      let replaced: { mb: MailboxRef; modseq: number; removed: Removed } | null = null;
      if (opts.replace && replaceBox) {
        if (mailboxes.some((m) => m.accountId !== replaceBox.accountId)) {
          throw new StoreError('NOT_ALLOWED', 'cross-account replace');
        }
        const old = await this.recordRows(q, replaceBox.id, [opts.replace.uid]);
        if (old.length === 0) throw new StoreError('NOT_FOUND', 'the message to replace is gone');
        const modseq = await nextModseq(q, replaceBox.accountId);
        replaced = {
          mb: replaceBox,
          modseq,
          // The stored message being appended stays, should the old row be its last.
          removed: await this.removeRows(q, replaceBox, old, modseq, messageId),
        };
      }
      if (replaced) {
        const u = usage.get(replaced.mb.accountId);
        if (u) u.used -= replaced.removed.bytes;
      }
      checkQuota(usage, mailboxes, size);
      const internalDate = (message.internalDate ?? new Date()).getTime();
      const internalZone = message.internalDate ? zoneOrUtc(message.internalZone) : 0;
      const results: AppendResult[] = [];
      for (const [i, t] of targets.entries()) {
        const mb = mailboxes[i]!;
        await this.keepKeywords(q, mb.id, t.flags ?? []);
        results.push(
          await this.addRow(
            q,
            mb,
            messageId,
            normalizeFlags(t.flags ?? []),
            internalDate,
            internalZone,
            size,
            replaced && mb.accountId === replaced.mb.accountId ? replaced.modseq : undefined,
          ),
        );
      }
      for (const [i, r] of results.entries()) {
        const kw = keywordsOf(targets[i]?.flags ?? []);
        emit(changeEvent(mailboxes[i]!, 'append', r.modseq, [r.uid], kw));
      }
      if (replaced) {
        emit(changeEvent(replaced.mb, 'expunge', replaced.modseq, replaced.removed.uids));
      }
      return results;
    });
  }

  /**
   * A delivery or APPEND to one mailbox, the common case, as one statement (APPEND_ONE): no
   * transaction around it, so the account's row is locked only while PostgreSQL runs it and
   * commits, not across round trips to this node (deliveries to one account take turns on
   * that lock). Its notice goes with it. The same rows and order of locks as `append`.
   */
  private async appendOne(
    message: NewMessage,
    t: AppendTarget,
    hash: string,
  ): Promise<AppendResult> {
    const idx = message.index;
    const kw = keywordsOf(t.flags ?? []);
    const internalDate = (message.internalDate ?? new Date()).getTime();
    const internalZone = message.internalDate ? zoneOrUtc(message.internalZone) : 0;
    // "on-search": no text now (NULL: not made yet), made by the first search (text-catch-up.ts).
    const folded = this.fullText === 'on-delivery' ? idx.text.toLowerCase() : null;
    for (;;) {
      const notice = this.events.notice();
      type Placed = {
        account_id: number | null;
        room: boolean | null;
        message_id: number | null;
        inserted: boolean;
        uid: number | null;
        modseq: number | null;
        uid_validity: number | null;
        recent_from: number | null;
        /** Null when no notice was sent (no lease on the account: events.ts). */
        notified: string | null;
      };
      const r = await row<Placed>(
        this.db.durable,
        APPEND_ONE[kw.length > 0 ? 1 : 0]![t.claimRecent === true ? 1 : 0]!,
        [
          hash,
          message.raw.length,
          message.raw,
          ...indexParams(idx),
          // RFC 8474: EMAILID and THREADID belong to the stored message, kept by every copy.
          newObjectId('M'),
          threadKeys(idx),
          newObjectId('T'),
          folded,
          folded !== null && idx.textTruncated === true,
          t.mailboxId,
          normalizeFlags(t.flags ?? []),
          internalDate,
          internalZone,
          // RFC 8514 §2: the save date is when the message came into this mailbox.
          Date.now(),
          kw,
          notice.origin,
          notice.seq,
          folded === null ? null : searchWords(folded),
          ...expectParams(t.expect),
          // db.durable sends a FLUSH after it (append-one.ts unflushedIf).
          true,
        ],
      ).catch((err: unknown) => {
        // The mailbox was deleted while the statement waited for the account's lock: it undid
        // itself (MAILBOX_GUARD); tried again, it finds no mailbox.
        if ((err as { code?: unknown }).code === MAILBOX_GONE) return 'gone' as const;
        throw err;
      });
      if (r === 'gone') continue;
      if (!r || r.account_id === null) throw new StoreError('NOT_FOUND', 'no such mailbox');
      if (r.room === false) throw new StoreError('OVERQUOTA', 'mailbox is full: quota exceeded');
      // Another writer was storing the same bytes: it has committed or rolled back by now.
      if (r.message_id === null) continue;
      if (r.uid === null || r.modseq === null || r.uid_validity === null) {
        // The quota, checked again under the account's lock, was passed meanwhile: the stored
        // message this statement added (if it did) goes again.
        const id = r.message_id;
        if (r.inserted) await this.db.tx((q) => collectMessages(q, [id]));
        throw new StoreError('OVERQUOTA', 'mailbox is full: quota exceeded');
      }
      const mb = { id: t.mailboxId, accountId: r.account_id, uidValidity: r.uid_validity };
      const ev = changeEvent(mb, 'append', r.modseq, [r.uid], kw);
      const heard = await (r.notified === null ? notice.unsent(ev) : notice.sent(ev));
      this.placed(
        { mailboxId: mb.id, message, hash, flags: normalizeFlags(t.flags ?? []), keywords: kw },
        { uid: r.uid, modseq: r.modseq, messageId: r.message_id, internalDate, internalZone },
        heard,
      );
      const result: AppendResult = {
        mailboxId: mb.id,
        uidValidity: r.uid_validity,
        uid: r.uid,
        modseq: r.modseq,
      };
      // RFC 3501 §2.3.2: the appending session's \Recent, claimed in the same statement.
      if (t.claimRecent === true && r.recent_from !== null) result.recentFrom = r.recent_from;
      return result;
    }
  }

  /** An append of this node, once its notice is back: into the node's list (record-cache.ts). */
  private placed(
    it: Pick<BatchItem, 'mailboxId' | 'message' | 'hash' | 'flags' | 'keywords'>,
    at: {
      uid: number;
      modseq: number;
      messageId: number;
      internalDate: number;
      internalZone: number;
    },
    heard: boolean,
  ): void {
    // New mail is what clients ask the headers of next (as the SQLite store does).
    this.headers.put(it.hash, it.message.raw);
    this.cache.applyOwn(it.mailboxId, at.modseq, heard, {
      kind: 'append',
      record: {
        uid: at.uid,
        messageId: at.messageId,
        flags: it.flags,
        modseq: at.modseq,
        size: it.message.raw.length,
        internalDate: new Date(at.internalDate),
        internalZone: at.internalZone,
        blobHash: it.hash,
      },
      keywords: it.keywords,
      fields: () => searchFields(it.message.index),
    });
  }

  /**
   * The stored message with these bytes, inserted when there is none. A row found is held
   * FOR KEY SHARE until commit, so a collection on another node cannot take it meanwhile
   * (collect.ts); an insert racing another node's of the same bytes finds that one instead.
   */
  private async storedMessage(q: Queryable, message: NewMessage, hash: string): Promise<number> {
    for (;;) {
      const found = await row<{ id: number }>(
        q,
        'SELECT id FROM messages WHERE blob_hash = $1 FOR KEY SHARE',
        [hash],
      );
      if (found) return found.id;
      const idx = message.index;
      const folded = this.fullText === 'on-delivery' ? idx.text.toLowerCase() : null;
      const inserted = await row<{ id: number }>(
        q,
        `INSERT INTO messages (blob_hash, size, structure, envelope, s_from, s_to, s_cc,
           s_bcc, s_subject, s_message_id, sent_at, s_references, e_from, e_to, e_cc, e_bcc,
           email_id, thread_id, body_text, text_truncated, body_words)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
           $18, $19, $20, $21)
         ON CONFLICT (blob_hash) DO NOTHING RETURNING id`,
        [
          hash,
          message.raw.length,
          ...indexParams(idx),
          // RFC 8474: EMAILID and THREADID belong to the stored message, kept by every copy.
          newObjectId('M'),
          await this.threadIdFor(q, idx),
          folded,
          folded !== null && idx.textTruncated === true,
          folded === null ? null : searchWords(folded),
        ],
      );
      if (inserted) {
        // Its bytes after its row: an append of the same bytes on another node now waits
        // for this one, so the blob's row is taken in the one order collections take it.
        await writeBlob(q, hash, message.raw);
        return inserted.id;
      }
    }
  }

  /**
   * RFC 8474 THREADID, decided once: the thread of the first stored message this one names
   * (References root first, then In-Reply-To), else of one with its own Message-ID, else new
   * (as sqlite/threads.ts).
   */
  private async threadIdFor(q: Queryable, idx: MessageIndex): Promise<string> {
    for (const k of threadKeys(idx)) {
      const found = await row<{ thread_id: string }>(
        q,
        `SELECT thread_id FROM messages WHERE s_message_id = $1 AND s_message_id <> ''
         ORDER BY id LIMIT 1`,
        [k],
      );
      if (found) return found.thread_id;
    }
    return newObjectId('T');
  }

  /**
   * Takes the mailbox's next UID (locking its row) and adds the message's row there, with
   * the account's modseq (a new one unless given) and usage, in one statement.
   */
  private async addRow(
    q: Queryable,
    mb: MailboxRef,
    messageId: number,
    flags: string[],
    internalDate: number,
    internalZone: number,
    size: number,
    modseqIn?: number,
  ): Promise<AppendResult> {
    // RFC 8514 §2: the save date is when the message came into this mailbox (APPEND,
    // delivery, COPY, MOVE), whatever its internal date says.
    const r = await row<{ uid: number; modseq: number; uid_validity: number }>(
      q,
      `WITH a AS (
         UPDATE accounts SET used_bytes = used_bytes + $7,
           modseq = CASE WHEN $8::bigint IS NULL THEN modseq + 1 ELSE modseq END
         WHERE id = $9 RETURNING COALESCE($8::bigint, modseq) AS modseq),
       m AS (
         UPDATE mailboxes SET uid_next = uid_next + 1,
           highest_modseq = GREATEST(highest_modseq, (SELECT modseq FROM a))
         WHERE id = $1 RETURNING uid_next - 1 AS uid, uid_validity),
       i AS (
         INSERT INTO mailbox_messages (mailbox_id, uid, message_id, flags, modseq, internal_date,
           internal_zone, save_date, size)
         SELECT $1, m.uid, $2, $3, a.modseq, $4, $5, $6, $7 FROM a, m RETURNING uid, modseq)
       SELECT i.uid, i.modseq, m.uid_validity FROM i, m`,
      [
        mb.id,
        messageId,
        flags,
        internalDate,
        internalZone,
        Date.now(),
        size,
        modseqIn ?? null,
        mb.accountId,
      ],
    );
    if (!r) throw new StoreError('NOT_FOUND', 'no such mailbox');
    return { mailboxId: mb.id, uidValidity: r.uid_validity, uid: r.uid, modseq: r.modseq };
  }

  /** Records keywords among `flags` as the mailbox's for good (see mailboxSummary). */
  private async keepKeywords(q: Queryable, mailboxId: number, flags: readonly string[]) {
    const kw = keywordsOf(flags);
    if (kw.length === 0) return;
    await run(
      q,
      `INSERT INTO mailbox_keywords (mailbox_id, keyword) SELECT $1, k FROM unnest($2::text[]) k
       ON CONFLICT DO NOTHING`,
      [mailboxId, kw],
    );
  }

  // Reads

  private async recordRows(q: Queryable, mailboxId: number, uids: number[]): Promise<RecordRow[]> {
    if (uids.length === 0) return [];
    return rows<RecordRow>(
      q,
      `SELECT ${RECORD_COLUMNS} ${FROM_ROWS} WHERE mm.mailbox_id = $1 AND mm.uid = ANY($2)
       ORDER BY mm.uid`,
      [mailboxId, uids],
    );
  }

  async listMessages(
    mailboxId: number,
    opts: { changedSince?: number } = {},
  ): Promise<MessageRecord[]> {
    const all = await this.cache.list(mailboxId);
    const since = opts.changedSince;
    return since === undefined ? all : all.filter((r) => r.modseq > since);
  }

  async getRecords(mailboxId: number, uids: number[]): Promise<MessageRecord[]> {
    if (uids.length === 0) return [];
    const cached = await this.cache.some(mailboxId, uids);
    if (cached) return cached;
    return (await this.recordRows(this.db, mailboxId, uids)).map(toRecord);
  }

  mailboxSummary(mailboxId: number): Promise<MailboxSummary> {
    return this.cache.summary(mailboxId);
  }

  /** The mailbox's counters from this node's list of it, if it has one (record-cache.ts). */
  counters(
    mailboxId: number,
  ): Promise<{ uidValidity: number; uidNext: number; modseq: number } | null> {
    return this.cache.counters(mailboxId);
  }

  async getMessages(mailboxId: number, uids: number[]): Promise<MessageDetail[]> {
    if (uids.length === 0) return [];
    const rs = await rows<
      RecordRow & {
        structure: string;
        envelope: string;
        s_from: string;
        s_to: string;
        s_cc: string;
        s_bcc: string;
        s_subject: string;
        s_message_id: string;
        sent_at: number | null;
        s_references: string[] | null;
      }
    >(
      this.db,
      `SELECT ${RECORD_COLUMNS}, m.structure, m.envelope, m.s_from, m.s_to, m.s_cc, m.s_bcc,
         m.s_subject, m.s_message_id, m.sent_at, m.s_references
       ${FROM_ROWS} WHERE mm.mailbox_id = $1 AND mm.uid = ANY($2) ORDER BY mm.uid`,
      [mailboxId, uids],
    );
    return rs.map((r) => {
      const search: MessageIndex['search'] = {
        from: r.s_from,
        to: r.s_to,
        cc: r.s_cc,
        bcc: r.s_bcc,
        subject: r.s_subject,
        messageId: r.s_message_id,
        sentAt: r.sent_at,
      };
      if (r.s_references !== null) search.references = r.s_references;
      return {
        ...toRecord(r),
        index: {
          // The JSON mime/ wrote at delivery (MessageIndex), read back as it was written.
          structure: JSON.parse(r.structure) as PartNode,
          envelope: JSON.parse(r.envelope) as Envelope,
          search,
          // Text is for search only; FETCH never needs it.
          text: '',
        },
      };
    });
  }

  async getSearchField(
    mailboxId: number,
    field: SearchHeaderField,
    uids: number[],
  ): Promise<Map<number, string>> {
    if (uids.length === 0) return new Map();
    return this.cache.field(mailboxId, field, uids, async (missing) => {
      const rs = await rows<{ uid: number; v: string }>(
        this.db,
        `SELECT mm.uid, m.${SEARCH_COLUMNS[field]} AS v ${FROM_ROWS}
         WHERE mm.mailbox_id = $1 AND mm.uid = ANY($2)`,
        [mailboxId, missing],
      );
      return new Map(rs.map((r) => [r.uid, r.v]));
    });
  }

  async getMessageExtras(mailboxId: number, uids: number[]): Promise<Map<number, MessageExtras>> {
    const out = new Map<number, MessageExtras>();
    if (uids.length === 0) return out;
    const rs = await rows<{
      uid: number;
      email_id: string;
      thread_id: string;
      preview: string | null;
      save_date: number;
    }>(
      this.db,
      `SELECT mm.uid, m.email_id, m.thread_id, m.preview, mm.save_date ${FROM_ROWS}
       WHERE mm.mailbox_id = $1 AND mm.uid = ANY($2)`,
      [mailboxId, uids],
    );
    for (const r of rs) {
      out.set(r.uid, {
        emailId: r.email_id,
        threadId: r.thread_id,
        saveDate: new Date(r.save_date),
        preview: r.preview,
      });
    }
    return out;
  }

  async setPreview(messageId: number, preview: string): Promise<void> {
    await run(this.db, 'UPDATE messages SET preview = $1 WHERE id = $2 AND preview IS NULL', [
      nulFree(preview),
      messageId,
    ]);
  }

  /** Drops bytes from this node's memory (all without hashes): their last holder may be gone. */
  forgetBytes(hashes?: string[]): void {
    this.bytes.forget(hashes);
  }

  async readMessage(blobHash: string, _size?: number): Promise<Buffer> {
    const known = this.bytes.get(blobHash);
    if (known) return known;
    // A stored message's bytes, or a queued one's (they share one blob). A small one (its size
    // known) on the shared reads connection; a large one through the pool, where its chunks
    // hold up nobody else's reads.
    const data = await readBlob(
      _size !== undefined && _size <= SHARED_READ_BYTES ? this.reads : this.db,
      blobHash,
    );
    this.bytes.set(blobHash, data);
    return data;
  }

  /**
   * BlobStore.readMessages (FETCH's read ahead): the bytes of the messages of one chunk, from
   * this node's memory or else all in one statement (a FETCH of 50 messages' headers asked
   * one statement per message whose bytes were not in memory); the others are left out.
   */
  async readMessages(
    wanted: ReadonlyArray<{ blobHash: string; size: number }>,
  ): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    const missing = new Set<string>();
    let bytes = 0;
    for (const w of wanted) {
      const known = this.bytes.get(w.blobHash);
      if (known) out.set(w.blobHash, known);
      else if (w.size <= CHUNK_BYTES && !missing.has(w.blobHash)) {
        missing.add(w.blobHash);
        bytes += w.size;
      }
    }
    if (missing.size === 0) return out;
    // A few small messages' bytes (a FETCH of one body, most header FETCHes) on the shared
    // reads connection; more through the pool (SHARED_READ_BYTES).
    const q = bytes <= SHARED_READ_BYTES ? this.reads : this.db;
    for (const [hash, data] of await readSmallBlobs(q, [...missing])) {
      this.bytes.set(hash, data);
      out.set(hash, data);
    }
    return out;
  }

  /**
   * BlobStore.readHeaders (FETCH of header fields): the header blocks kept here, the rest read
   * as readMessages reads them (the node's bytes, else one statement) and kept; a large one is
   * left out for readMessage, as readMessages leaves it.
   */
  async readHeaders(
    wanted: ReadonlyArray<{ blobHash: string; size: number }>,
  ): Promise<Array<Buffer | undefined>> {
    const l = this.headers.lookup(wanted);
    if (l.missing.length > 0) this.headers.fill(l, await this.readMessages(l.missing));
    return l.blocks;
  }

  async expungedSince(mailboxId: number, modseq: number): Promise<number[]> {
    const rs = await rows<{ uid: number }>(
      this.db,
      'SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid',
      [mailboxId, modseq],
    );
    return rs.map((r) => r.uid);
  }

  /**
   * RFC 9051 §6.4.4 SEARCH BODY / TEXT: a case-insensitive substring of the decoded text. The
   * stored text is folded at delivery and cut at FTS_TEXT_MAX characters; the messages whose
   * text was cut are read whole, so no match past the cut is missed.
   */
  async searchText(mailboxId: number, needle: string): Promise<number[]> {
    if (needle.length === 0) {
      return (await this.listMessages(mailboxId)).map((r) => r.uid);
    }
    // The mailbox's messages stored without their text ("on-search") get it first.
    await this.textCatchUp.mailbox(mailboxId);
    const folded = searchFold(needle);
    // The stored text and words are lower-cased whole at delivery, where a capital sigma at a
    // word's end became the final form (ς); the needle folds every sigma to σ
    // (store/search-fold.ts). With a sigma in the needle, the words' patterns take either form
    // (LIKE's one-character wildcard) and the text is compared with its final sigmas folded,
    // which is exact. LIKE's own characters in the needle are escaped.
    // The words' patterns (search-words.ts) let the trigram index narrow the rows; without
    // it they come first, so that a row's long text is read only when its words match.
    const sigma = folded.includes('\u03c3');
    const words = wordPatterns(folded).map((p) => (sigma ? p.replaceAll('\u03c3', '_') : p));
    const text = sigma ? "translate(m.body_text, '\u03c2', '\u03c3')" : 'm.body_text';
    const found = await rows<{ uid: number }>(
      this.db,
      `SELECT mm.uid ${FROM_ROWS} WHERE mm.mailbox_id = $1${words
        .map((_, i) => ` AND m.body_words LIKE $${i + 3}`)
        .join('')} AND ${text} LIKE $2`,
      [mailboxId, `%${folded.replace(/[\\%_]/g, (c) => `\\${c}`)}%`, ...words],
    );
    const uids = new Set(found.map((r) => r.uid));
    const cut = await rows<{ uid: number; blob_hash: string }>(
      this.db,
      `SELECT mm.uid, m.blob_hash ${FROM_ROWS} WHERE mm.mailbox_id = $1 AND m.text_truncated`,
      [mailboxId],
    );
    // One at a time: such texts are long, their messages large.
    for (const r of cut) {
      if (uids.has(r.uid)) continue;
      const raw = await readBlob(this.db, r.blob_hash).catch((err: unknown) => {
        if (err instanceof StoreError && err.code === 'NOT_FOUND') return null; // expunged
        throw err;
      });
      if (raw && searchFold(parseText(raw)).includes(folded)) uids.add(r.uid);
    }
    return [...uids].sort((a, b) => a - b);
  }

  // Changes

  async setFlags(
    mailboxId: number,
    uids: number[],
    mode: FlagMode,
    flags: string[],
    opts: { unchangedSince?: number } = {},
  ): Promise<StoreFlagsResult> {
    if (uids.length <= UIDS_PER_STATEMENT) {
      // First from this node's list of the mailbox's rows, when it has one (one statement).
      const known = this.cache.peek(mailboxId, uids);
      if (known) {
        const mb = { id: mailboxId, accountId: known.accountId, uidValidity: known.uidValidity };
        const done = await this.writeFlags(mb, known.records, mode, flags, opts, true);
        if (done) return done;
      }
      for (let attempt = 0; attempt < 3; attempt++) {
        const done = await this.setFlagsOnce(mailboxId, uids, mode, flags, opts);
        if (done) return done;
      }
    }
    return this.setFlagsLocked(mailboxId, uids, mode, flags, opts);
  }

  /**
   * STORE as two statements and no transaction: the rows are read (no lock), the new flags
   * worked out here, and one statement (SET_FLAGS) takes the account's modseq under its row
   * lock and updates each row only if its modseq is still the one read. Should another
   * writer have changed or expunged one of them meanwhile, that statement fails as a whole
   * (it changed nothing) and null says to read again. The account's lock is held only while
   * PostgreSQL runs and commits the statement.
   */
  private async setFlagsOnce(
    mailboxId: number,
    uids: number[],
    mode: FlagMode,
    flags: string[],
    opts: { unchangedSince?: number },
  ): Promise<StoreFlagsResult | null> {
    // The mailbox and its rows in one round trip (a mailbox without those rows: one row of
    // nulls but for the mailbox's columns): one UID (most STOREs) by FLAG_ROW, more by
    // migration 14's function; both keep their plans.
    // One row by its keys (FLAG_ROW, no lock) on the shared reads connection: the STORE's
    // session saw its own earlier writes answered, so their commits are visible to it there.
    const got = await rows<RecordRow & { account_id: number; uid_validity: number }>(
      uids.length === 1 ? this.reads : this.db,
      uids.length === 1 ? FLAG_ROW : 'SELECT * FROM letterbox_flag_rows($1, $2)',
      [mailboxId, uids.length === 1 ? uids[0] : uids],
    );
    if (got.length === 0) throw new StoreError('NOT_FOUND', 'no such mailbox');
    const mb = { id: mailboxId, accountId: got[0]!.account_id, uidValidity: got[0]!.uid_validity };
    return this.writeFlags(
      mb,
      got.filter((r) => r.uid !== null),
      mode,
      flags,
      opts,
      false,
    );
  }

  /**
   * The new flags of `rs` (the rows as read, or as this node's list has them: `cached`)
   * worked out here and written by one statement (SET_FLAGS) that checks each changed row's
   * modseq again under the account's lock; null when it did not match (read again). A row
   * whose flags would stay as they are is not checked by that statement, so a list that
   * says so is not trusted (null: read the rows): it may be out of date. So for a list with
   * nothing to write.
   */
  private async writeFlags(
    mb: MailboxRef,
    rs: ReadonlyArray<{ uid: number; flags: string[]; modseq: number }>,
    mode: FlagMode,
    flags: string[],
    opts: { unchangedSince?: number },
    cached: boolean,
  ): Promise<StoreFlagsResult | null> {
    const mailboxId = mb.id;
    const updated: StoreFlagsResult['updated'] = [];
    const modified: number[] = [];
    const was: number[] = [];
    for (const r of rs) {
      // RFC 7162 §3.1.3: a message changed after UNCHANGEDSINCE is not touched. (A cached
      // modseq past it is past it in the database too: modseqs only grow.)
      if (opts.unchangedSince !== undefined && r.modseq > opts.unchangedSince) {
        modified.push(r.uid);
        continue;
      }
      const next = applyFlags(r.flags, mode, flags);
      if (sameFlags(r.flags, next)) {
        if (cached) return null;
        continue;
      }
      updated.push({ uid: r.uid, flags: next, modseq: 0 });
      was.push(r.modseq);
    }
    // Nothing to write: only a read can say so for sure (the mailbox may be gone, too).
    if (updated.length === 0) return cached ? null : { updated, modified };
    const kw = mode === 'remove' ? [] : keywordsOf(flags);
    const notice = this.events.notice();
    let r: { at_modseq: number } | undefined;
    let unsent = false;
    if (updated.length === 1) {
      // One row: with the other sessions' one-row STOREs that come meanwhile (flag-groups.ts).
      const w: FlagWrite = {
        accountId: mb.accountId,
        mailboxId,
        uid: updated[0]!.uid,
        was: was[0]!,
        flags: updated[0]!.flags,
        keywords: kw,
        origin: notice.origin,
        seq: notice.seq,
      };
      const got = await this.flagGroups.write(w);
      if (got === 'stale') return null;
      if (got !== 'gone') r = { at_modseq: got };
      unsent = w.unsent === true;
    } else {
      try {
        r = await row<{ at_modseq: number }>(this.db.durable, SET_FLAGS, [
          mb.accountId,
          mailboxId,
          updated.map((u) => u.uid),
          was,
          updated.map((u) => JSON.stringify(u.flags)),
          kw,
          notice.origin,
          notice.seq,
        ]);
      } catch (err) {
        if ((err as { code?: unknown }).code === '22012') return null; // see SET_FLAGS
        throw err;
      }
    }
    if (!r) throw new StoreError('NOT_FOUND', 'no such mailbox');
    for (const u of updated) u.modseq = r.at_modseq;
    // No notice when this node alone holds the account's lease (set-flag-one.ts).
    const heard = await (unsent ? notice.unsent : notice.sent)(
      changeEvent(
        mb,
        'flags',
        r.at_modseq,
        updated.map((u) => u.uid),
        mode === 'remove' ? undefined : kw,
      ),
    );
    this.cache.applyOwn(mailboxId, r.at_modseq, heard, {
      kind: 'flags',
      rows: updated,
      keywords: kw,
    });
    return { updated, modified };
  }

  private async setFlagsLocked(
    mailboxId: number,
    uids: number[],
    mode: FlagMode,
    flags: string[],
    opts: { unchangedSince?: number },
  ): Promise<StoreFlagsResult> {
    return this.events.tx(async (q, emit) => {
      const mb = await this.mailbox(q, mailboxId);
      await this.lockAccounts(q, [mb.accountId]);
      const updated: StoreFlagsResult['updated'] = [];
      const modified: number[] = [];
      let modseq = 0;
      for (const r of await this.recordRows(q, mailboxId, uids)) {
        // RFC 7162 §3.1.3: a message changed after UNCHANGEDSINCE is not touched.
        if (opts.unchangedSince !== undefined && r.modseq > opts.unchangedSince) {
          modified.push(r.uid);
          continue;
        }
        const next = applyFlags(r.flags, mode, flags);
        if (sameFlags(r.flags, next)) continue;
        if (modseq === 0) modseq = await nextModseq(q, mb.accountId);
        await run(
          q,
          'UPDATE mailbox_messages SET flags = $1, modseq = $2 WHERE mailbox_id = $3 AND uid = $4',
          [next, modseq, mailboxId, r.uid],
        );
        updated.push({ uid: r.uid, flags: next, modseq });
      }
      if (modseq !== 0) {
        await run(q, 'UPDATE mailboxes SET highest_modseq = $1 WHERE id = $2', [modseq, mailboxId]);
        if (mode !== 'remove') await this.keepKeywords(q, mailboxId, flags);
        const kw = mode === 'remove' ? undefined : keywordsOf(flags);
        emit(
          changeEvent(
            mb,
            'flags',
            modseq,
            updated.map((u) => u.uid),
            kw,
          ),
        );
      }
      return { updated, modified };
    });
  }

  copyMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.copy(fromMailboxId, uids, toMailboxId, false);
  }

  moveMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.copy(fromMailboxId, uids, toMailboxId, true);
  }

  /**
   * COPY and MOVE as one statement (letterbox_copy, migration 10): the account's lock, the
   * rows in UID order, the account's next modseq (the quota checked for COPY), the target's
   * new UIDs (RFC 4315 COPYUID) and rows with the flags, dates and sizes of the originals
   * (RFC 8514 §2: the save date is now), its keywords, for MOVE the originals' removal
   * recorded for VANISHED (RFC 6851 §3.3: one modseq for both), and the notices, committed on
   * their own (one round trip; before: BEGIN, the two mailboxes, the lock, the rows, the
   * modseq, one statement per row, MOVE's four of the removal and the collection, the
   * keywords, and COMMIT with the NOTIFY).
   */
  private async copy(
    fromId: number,
    uids: number[],
    toId: number,
    move: boolean,
  ): Promise<CopyResult> {
    const notice = this.events.notice();
    const r = await row<{
      outcome: 'ok' | 'missing' | 'cross-account' | 'overquota';
      account: number | null;
      validity: number | null;
      at_modseq: number | null;
      /** BIGINT[]: text to the driver (db.ts parses only BIGINT itself). */
      old_uids: string[] | null;
      new_uids: string[] | null;
      keywords: string[] | null;
    }>(this.db.durable, COPY, [
      fromId,
      toId,
      uids,
      move,
      Date.now(),
      notice.origin,
      notice.seq,
      UIDS_PER_NOTICE,
    ]);
    if (r?.outcome === 'cross-account') throw new StoreError('NOT_ALLOWED', 'cross-account copy');
    if (r?.outcome === 'overquota') {
      throw new StoreError('OVERQUOTA', 'mailbox is full: quota exceeded');
    }
    if (r?.outcome !== 'ok' || r.validity === null) {
      throw new StoreError('NOT_FOUND', 'no such mailbox');
    }
    const olds = (r.old_uids ?? []).map(Number);
    const news = (r.new_uids ?? []).map(Number);
    if (olds.length === 0 || r.at_modseq === null || r.account === null) {
      return { uidValidity: r.validity, mapping: [], modseq: 0 };
    }
    const accountId = r.account;
    const to = { id: toId, accountId, uidValidity: r.validity };
    const events = [changeEvent(to, 'append', r.at_modseq, news, r.keywords ?? [])];
    if (move) {
      const from = { id: fromId, accountId, uidValidity: 0 };
      events.push(changeEvent(from, 'expunge', r.at_modseq, olds));
    }
    await notice.sent(...events);
    return {
      uidValidity: r.validity,
      mapping: olds.map((u, i): [number, number] => [u, news[i]!]),
      modseq: r.at_modseq,
    };
  }

  /**
   * EXPUNGE as one statement (expunge-one.ts; before, migration 15's function): the account's
   * lock, the rows' removal (those of `uids`, all when not given, that are \Deleted when `onlyDeleted`), their
   * UIDs recorded for VANISHED (RFC 7162 §3.2.5.1) with the account's next modseq, which
   * HIGHESTMODSEQ takes, the usage and the notices, committed on their own (one round trip;
   * before: BEGIN, the lock and deletion, the collection's savepoint, and the NOTIFY with the
   * COMMIT, three). Nothing changes, not even the modseq, when no row goes. The stored
   * messages the rows held are collected by this node once it is quiet (quiet-collect.ts,
   * migration 15), not in the statement.
   */
  async expunge(
    mailboxId: number,
    opts: { uids?: number[]; onlyDeleted: boolean },
  ): Promise<number[]> {
    const notice = this.events.notice();
    // A FLUSH after its commit, or (its mailbox's last such write here sent no notice) a
    // synchronous commit: durable when answered either way (flush-guess.ts).
    const flush = this.flushGuess.flushAfter(mailboxId);
    const r = await row<{
      account: number | null;
      validity: number | null;
      at_modseq: number | null;
      /** BIGINT[]: text to the driver (db.ts parses only BIGINT itself). */
      gone: string[] | null;
      hashes: string[] | null;
      /** How many notices went (none when this node alone holds the lease). */
      notified: number | null;
    }>(
      flush ? this.db.durable : this.db,
      EXPUNGE_SQL[expungeKind(opts.onlyDeleted, opts.uids !== undefined)],
      [
        mailboxId,
        ...(opts.uids !== undefined ? [opts.uids] : []),
        notice.origin,
        notice.seq,
        UIDS_PER_NOTICE,
        flush,
      ],
    );
    if (!r || r.account === null || r.validity === null) {
      throw new StoreError('NOT_FOUND', 'no such mailbox');
    }
    const uids = (r.gone ?? []).map(Number);
    if (uids.length === 0 || r.at_modseq === null) return [];
    this.flushGuess.noted(mailboxId, Number(r.notified ?? 0) > 0);
    this.bytes.forget(r.hashes ?? []);
    this.collector.add(r.hashes ?? []);
    const ref = { id: mailboxId, accountId: r.account, uidValidity: r.validity };
    const ev = changeEvent(ref, 'expunge', r.at_modseq, uids);
    const heard = await (Number(r.notified ?? 0) > 0 ? notice.sent(ev) : notice.unsent(ev));
    this.cache.applyOwn(mailboxId, r.at_modseq, heard, { kind: 'expunge', uids });
    return uids;
  }

  /**
   * Inside a transaction (the account locked): deletes the rows, records them as expunged
   * for VANISHED (RFC 7162 §3.2.5.1), frees their quota, and collects stored messages no
   * other row holds.
   */
  private async removeRows(
    q: Queryable,
    mb: MailboxRef,
    rs: RecordRow[],
    modseq: number,
    keep?: number,
  ): Promise<Removed> {
    const uids = rs.map((r) => r.uid);
    const bytes = rs.reduce((s, r) => s + r.size, 0);
    this.bytes.forget(rs.map((r) => r.blob_hash));
    await run(q, 'DELETE FROM mailbox_messages WHERE mailbox_id = $1 AND uid = ANY($2)', [
      mb.id,
      uids,
    ]);
    await run(
      q,
      `INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, u, $2 FROM unnest($3::bigint[]) u
       ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq`,
      [mb.id, modseq, uids],
    );
    await run(q, 'UPDATE accounts SET used_bytes = used_bytes - $1 WHERE id = $2', [
      bytes,
      mb.accountId,
    ]);
    await run(
      q,
      'UPDATE mailboxes SET highest_modseq = GREATEST(highest_modseq, $1) WHERE id = $2',
      [modseq, mb.id],
    );
    await collectMessages(
      q,
      rs.map((r) => r.message_id).filter((id) => id !== keep),
    );
    return { uids, bytes };
  }
}

/** A notice holds the UIDs of one statement's change up to this many (events.ts). */
const UIDS_PER_STATEMENT = 400;

/**
 * The most bytes of messages one read on the shared reads connection (shared-reads.ts) may
 * bring: the reads behind it on that connection wait while PostgreSQL sends them. A FETCH of
 * one typical message's body, or of the headers of a few, stays under it; more goes through
 * the pool.
 */
export const SHARED_READ_BYTES = 64 * 1024;

/*
 * setFlagsOnce's read of one UID: migration 14's function's rows for `p_uids` of one, as a
 * statement with scalar parameters, whose plan PostgreSQL keeps after its first calls (by
 * the primary keys whatever the values). The function costs its backend ~120 us a call
 * (PL/pgSQL, RETURN QUERY), this ~45: a STORE the node's list says changes nothing (a
 * +FLAGS \Seen of a seen message, half the IMAP mix's STOREs) is read so, as is one whose
 * list is stale or missing.
 */
const FLAG_ROW = `SELECT mb.account_id, mb.uid_validity, r.uid, r.message_id, r.flags, r.modseq,
    r.size, r.internal_date, r.internal_zone, r.blob_hash::text AS blob_hash
  FROM mailboxes mb LEFT JOIN LATERAL (
    SELECT mm.uid, mm.message_id, mm.flags, mm.modseq, mm.size, mm.internal_date,
      mm.internal_zone, m.blob_hash
    FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
    WHERE mm.mailbox_id = mb.id AND mm.uid = $2) r ON true
  WHERE mb.id = $1`;

/*
 * setFlagsOnce's statement for several rows: SET_FLAGS (flag-groups.ts, migration 13's
 * function), its commit flushed after (db.durable): $3 the UIDs, $4 the modseq each had when
 * read, $5 its new flags (JSON), $6 the keywords to keep and announce. Should a row no longer
 * have its modseq, it undoes itself whole with SQLSTATE 22012 (the caller reads again).
 */

/** COPY's and MOVE's statement (migration 10's function), as EXPUNGE's. */
const COPY = `SELECT *, ${UNFLUSHED_COMMIT} FROM letterbox_copy($1, $2, $3, $4, $5, $6, $7, $8)`;

function changeEvent(
  mb: MailboxRef,
  kind: ChangeEvent['kind'],
  modseq: number,
  uids: number[],
  keywords?: string[],
): ChangeEvent {
  const ev: ChangeEvent = { accountId: mb.accountId, mailboxId: mb.id, modseq, kind, uids };
  if (keywords !== undefined && keywords.length > 0) ev.keywords = keywords;
  return ev;
}

/** OVERQUOTA if adding `size` bytes per target would exceed an account's quota. */
function checkQuota(usage: Map<number, Usage>, targets: MailboxRef[], size: number): void {
  const perAccount = new Map<number, number>();
  for (const t of targets) perAccount.set(t.accountId, (perAccount.get(t.accountId) ?? 0) + size);
  for (const [accountId, adding] of perAccount) {
    const u = usage.get(accountId);
    if (u && u.quota !== null && u.used + adding > u.quota) {
      throw new StoreError('OVERQUOTA', 'mailbox is full: quota exceeded');
    }
  }
}
