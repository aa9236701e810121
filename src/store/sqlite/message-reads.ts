// Reading messages from SQLite: rows of a mailbox, rows by UID, and rows with their parsed
// index. Hot paths (SELECT, FETCH) live here; writes are in messages.ts.

import type { Envelope, PartNode } from '../../mime/types.js';
import { StoreError } from '../errors.js';
import { decodeFlags } from '../flags.js';
import { SEARCH_COLUMNS } from '../rows.js';
import type {
  MessageDetail,
  MessageExtras,
  MessageIndex,
  MessageRecord,
  SearchHeaderField,
} from '../types.js';
import { type Db, readTx, stmt } from './db.js';
import type { LightRow, RawRow } from './record-rows.js';

export interface RecordRow {
  uid: number;
  message_id: number;
  flags: string;
  modseq: number;
  size: number;
  internal_date: number;
  /** Absent in rows read by queries that do not ask for it. */
  internal_zone?: number;
  blob_hash: string;
}

/**
 * A message's parsed index with `structure` and `envelope` (the two large columns) read from
 * the database, and parsed, on first use: a SEARCH on header fields needs neither for a
 * thousand messages, a FETCH of BODY[HEADER] needs the structure but not the envelope. A
 * message whose row has gone since (expunged everywhere) reads as NOT_FOUND, as its blob
 * would. A class, so that the getters live on the prototype and each object stays small.
 */
class LazyIndex implements MessageIndex {
  // The text lives in the full-text index; FETCH never needs it.
  readonly text = '';
  private row: { structure: string; envelope: string } | undefined;
  // The JSON mime/ wrote at delivery (MessageIndex), read back as it was written.
  private parsedStructure: PartNode | undefined;
  private parsedEnvelope: Envelope | undefined;

  constructor(
    private readonly db: Db,
    private readonly messageId: number,
    readonly search: MessageIndex['search'],
    private readonly envelopes?: EnvelopeBatch,
  ) {}

  get structure(): PartNode {
    if (this.parsedStructure === undefined)
      this.parsedStructure = JSON.parse(this.load().structure) as PartNode;
    return this.parsedStructure;
  }

  get envelope(): Envelope {
    if (this.parsedEnvelope === undefined)
      this.parsedEnvelope = JSON.parse(
        this.envelopes?.get(this.messageId) ?? this.load().envelope,
      ) as Envelope;
    return this.parsedEnvelope;
  }

  private load(): { structure: string; envelope: string } {
    this.row ??= stmt(this.db, 'SELECT structure, envelope FROM messages WHERE id = ?').get(
      this.messageId,
    ) as { structure: string; envelope: string } | undefined;
    if (!this.row) throw new StoreError('NOT_FOUND', 'message no longer exists');
    return this.row;
  }
}

/**
 * The envelopes of up to ENVELOPE_BATCH neighbouring details, read in one query the first time
 * one of them is asked for: SORT FROM or THREAD over a mailbox asks for every envelope, and a
 * query per message cost more than the rest of the sort. Small (an envelope is a few hundred
 * bytes) and bounded, so a detail that is kept does not keep much more alive.
 */
const ENVELOPE_BATCH = 256;

class EnvelopeBatch {
  private texts: Map<number, string> | undefined;

  constructor(
    private readonly db: Db,
    private readonly ids: number[],
  ) {}

  get(id: number): string | undefined {
    if (!this.texts) {
      this.texts = new Map();
      const rows = stmt(
        this.db,
        'SELECT id, envelope FROM messages WHERE id IN (SELECT value FROM json_each(?))',
      ).all(JSON.stringify(this.ids)) as { id: number; envelope: string }[];
      for (const r of rows) this.texts.set(r.id, r.envelope);
    }
    return this.texts.get(id);
  }
}

export function toRecord(r: RecordRow): MessageRecord {
  return {
    uid: r.uid,
    messageId: r.message_id,
    flags: decodeFlags(r.flags),
    modseq: r.modseq,
    size: r.size,
    internalDate: new Date(r.internal_date),
    internalZone: r.internal_zone ?? 0,
    blobHash: r.blob_hash,
  };
}

export const SELECT_RECORD = `SELECT mm.uid, mm.message_id, mm.flags, mm.modseq, mm.size, mm.internal_date,
  m.blob_hash, mm.internal_zone FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id`;

/**
 * Every row of a mailbox (SELECT reads 100,000 of them): fetched as arrays, not objects, so
 * better-sqlite3 builds no per-row object we would throw away (the statement is raw-mode,
 * hence its own SQL text in the cache). With `changedSince`, only rows of a higher modseq;
 * with `afterUid`, only rows of a higher UID.
 */
export function listRecords(
  db: Db,
  mailboxId: number,
  changedSince?: number,
  afterUid?: number,
): MessageRecord[] {
  const args: number[] = [mailboxId];
  let where = '';
  if (changedSince !== undefined) {
    where += ' AND mm.modseq > ?';
    args.push(changedSince);
  }
  if (afterUid !== undefined) {
    where += ' AND mm.uid > ?';
    args.push(afterUid);
  }
  const q = stmt(
    db,
    `${SELECT_RECORD} WHERE mm.mailbox_id = ?${where} ORDER BY mm.uid /* raw */`,
  ).raw(true);
  const rows = q.all(...args) as [number, number, string, number, number, number, string, number][];
  const out = new Array<MessageRecord>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const [uid, messageId, flags, modseq, size, internalDate, blobHash, internalZone] = rows[i]!;
    out[i] = {
      uid,
      messageId,
      flags: decodeFlags(flags),
      modseq,
      size,
      internalDate: new Date(internalDate),
      internalZone,
      blobHash,
    };
  }
  return out;
}

/**
 * The mailbox's rows above `afterUid` as SQLite gives them raw, one at a time: the record
 * cache reads a mailbox of a million messages into its columns with no object per row.
 */
export function rawRecords(db: Db, mailboxId: number, afterUid: number): Iterable<RawRow> {
  return stmt(
    db,
    `${SELECT_RECORD} WHERE mm.mailbox_id = ? AND mm.uid > ? ORDER BY mm.uid /* raw */`,
  )
    .raw(true)
    .iterate(mailboxId, afterUid) as Iterable<RawRow>;
}

/**
 * The mailbox's rows without their blob hashes (LightRow): mailbox_messages alone, one at a
 * time. The record cache's first load of a mailbox; the hashes come later, if asked for
 * (blobHashes).
 */
export function lightRecords(db: Db, mailboxId: number): Iterable<LightRow> {
  return stmt(
    db,
    `SELECT uid, message_id, flags, modseq, size, internal_date, internal_zone
     FROM mailbox_messages WHERE mailbox_id = ? ORDER BY uid /* raw */`,
  )
    .raw(true)
    .iterate(mailboxId) as Iterable<LightRow>;
}

/**
 * The columns of lightRecords as one text each (group_concat: numbers in decimal joined by
 * commas, flag lists joined by newlines, which no flag contains), in UID order: SQLite builds
 * seven strings instead of better-sqlite3 a row array each (a million rows: 0.3 s of CPU
 * instead of 0.8 s before any row was stored). Null for an empty mailbox. With the
 * mailbox's highest modseq read in the same transaction: the rows are as of it.
 */
export function concatColumns(db: Db, mailboxId: number): ConcatColumns | null {
  return readTx(db, () => {
    const modseq = stmt(db, 'SELECT highest_modseq FROM mailboxes WHERE id = ?')
      .pluck()
      .get(mailboxId) as number | undefined;
    const r = stmt(
      db,
      `SELECT count(*), group_concat(uid), group_concat(message_id), group_concat(flags, char(10)),
         group_concat(modseq), group_concat(size), group_concat(internal_date),
         group_concat(internal_zone)
       FROM (SELECT * FROM mailbox_messages WHERE mailbox_id = ? ORDER BY uid) /* raw */`,
    )
      .raw(true)
      .get(mailboxId) as [number, ...(string | null)[]];
    if (r[0] === 0 || modseq === undefined) return null;
    const [n, uid, messageId, flags, modseqs, size, date, zone] = r as [
      number,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    return { n, uid, messageId, flags, modseq: modseqs, size, date, zone, highestModseq: modseq };
  });
}

export interface ConcatColumns {
  n: number;
  /** The mailbox's highest modseq when the columns were read. */
  highestModseq: number;
  uid: string;
  messageId: string;
  flags: string;
  modseq: string;
  size: string;
  date: string;
  zone: string;
}

/**
 * UIDs of the mailbox's rows with a modseq above `modseq`, in index order (not by UID), from
 * the modseq index alone; null when there are more than `limit`.
 */
export function changedUids(
  db: Db,
  mailboxId: number,
  modseq: number,
  limit: number,
): number[] | null {
  const uids = stmt(
    db,
    `SELECT uid FROM mailbox_messages INDEXED BY mailbox_messages_modseq
     WHERE mailbox_id = ? AND modseq > ? LIMIT ?`,
  )
    .pluck()
    .all(mailboxId, modseq, limit + 1) as number[];
  return uids.length > limit ? null : uids;
}

/** (UID, blob hash) of every row of the mailbox, ascending by UID. */
export function blobHashes(db: Db, mailboxId: number): Iterable<[number, string]> {
  return stmt(
    db,
    `SELECT mm.uid, m.blob_hash FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
     WHERE mm.mailbox_id = ? ORDER BY mm.uid /* raw */`,
  )
    .raw(true)
    .iterate(mailboxId) as Iterable<[number, string]>;
}

export function recordRows(db: Db, mailboxId: number, uids: number[]): RecordRow[] {
  return stmt(
    db,
    `${SELECT_RECORD} WHERE mm.mailbox_id = ? AND mm.uid IN (SELECT value FROM json_each(?))
     ORDER BY mm.uid`,
  ).all(mailboxId, JSON.stringify(uids)) as RecordRow[];
}

/** What STORE reads of a row: its flags and modseq (FlagRow), not the joined record. */
export interface FlagRow {
  uid: number;
  flags: string;
  modseq: number;
}

/**
 * STORE's rows of these UIDs, in UID order: `mailbox_messages` alone (recordRows joins
 * `messages` for a blob hash STORE does not use), and one UID (the login mix's STORE, a
 * client's flag change of the message it shows) by the primary key, with no JSON list.
 */
export function flagRows(db: Db, mailboxId: number, uids: readonly number[]): FlagRow[] {
  if (uids.length === 1) {
    const r = stmt(
      db,
      'SELECT uid, flags, modseq FROM mailbox_messages WHERE mailbox_id = ? AND uid = ?',
    ).get(mailboxId, uids[0]) as FlagRow | undefined;
    return r ? [r] : [];
  }
  return stmt(
    db,
    `SELECT uid, flags, modseq FROM mailbox_messages
     WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`,
  ).all(mailboxId, JSON.stringify(uids)) as FlagRow[];
}

/**
 * Rows of `cols` (a SELECT over `mailbox_messages mm JOIN messages m`) for these UIDs, in UID
 * order. A dense set (a SEARCH over the mailbox, a FETCH of a range) is read with one scan of
 * its UID range, a third of the cost of as many lookups through a JSON list; a sparse one
 * with the lookups.
 */
function rowsFor<T extends { uid: number }>(
  db: Db,
  cols: string,
  mailboxId: number,
  uids: number[],
): T[] {
  if (uids.length === 0) return [];
  let lo = uids[0]!;
  let hi = lo;
  for (const u of uids) {
    if (u < lo) lo = u;
    else if (u > hi) hi = u;
  }
  if (uids.length >= 64 && hi - lo < uids.length * 4) {
    const want = new Set(uids);
    return (
      stmt(db, `${cols} WHERE mm.mailbox_id = ? AND mm.uid BETWEEN ? AND ? ORDER BY mm.uid`).all(
        mailboxId,
        lo,
        hi,
      ) as T[]
    ).filter((r) => want.has(r.uid));
  }
  return stmt(
    db,
    `${cols} WHERE mm.mailbox_id = ? AND mm.uid IN (SELECT value FROM json_each(?))
     ORDER BY mm.uid`,
  ).all(mailboxId, JSON.stringify(uids)) as T[];
}

/** One stored search field of these messages, by UID (see MailStore.getSearchField). */
export function searchField(
  db: Db,
  mailboxId: number,
  field: SearchHeaderField,
  uids: number[],
): Map<number, string> {
  const rows = rowsFor<{ uid: number; v: string }>(
    db,
    `SELECT mm.uid, m.${SEARCH_COLUMNS[field]} AS v
     FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id`,
    mailboxId,
    uids,
  );
  const out = new Map<number, string>();
  for (const r of rows) out.set(r.uid, r.v);
  return out;
}

/** Rows with their parsed index (structure and envelope read on first use). */
export function messageDetails(db: Db, mailboxId: number, uids: number[]): MessageDetail[] {
  const rows = rowsFor<RecordRow & Record<string, unknown>>(
    db,
    `SELECT mm.uid, mm.message_id, mm.flags, mm.modseq, mm.size, mm.internal_date,
       mm.internal_zone, m.blob_hash, m.s_from, m.s_to, m.s_cc, m.s_bcc, m.s_subject, m.s_message_id, m.sent_at,
       m.s_references FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id`,
    mailboxId,
    uids,
  );
  let batch: EnvelopeBatch | undefined;
  return rows.map((r, i) => {
    if (i % ENVELOPE_BATCH === 0) {
      const ids = rows.slice(i, i + ENVELOPE_BATCH).map((x) => x.message_id);
      batch = ids.length > 1 ? new EnvelopeBatch(db, ids) : undefined;
    }
    const search: MessageIndex['search'] = {
      from: r.s_from as string,
      to: r.s_to as string,
      cc: r.s_cc as string,
      bcc: r.s_bcc as string,
      subject: r.s_subject as string,
      messageId: r.s_message_id as string,
      sentAt: r.sent_at as number | null,
    };
    if (r.s_references !== null) search.references = JSON.parse(r.s_references as string);
    return { ...toRecord(r), index: new LazyIndex(db, r.message_id, search, batch) };
  });
}

/** See MailStore.getMessageExtras. */
export function messageExtras(
  db: Db,
  mailboxId: number,
  uids: number[],
): Map<number, MessageExtras> {
  const rows = rowsFor<{
    uid: number;
    email_id: string;
    thread_id: string;
    preview: string | null;
    save_date: number;
  }>(
    db,
    `SELECT mm.uid, m.email_id, m.thread_id, m.preview,
       COALESCE(mm.save_date, mm.internal_date) AS save_date
     FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id`,
    mailboxId,
    uids,
  );
  const out = new Map<number, MessageExtras>();
  for (const r of rows) {
    out.set(r.uid, {
      emailId: r.email_id,
      threadId: r.thread_id,
      saveDate: new Date(r.save_date),
      preview: r.preview,
    });
  }
  return out;
}
