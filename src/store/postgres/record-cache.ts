// The rows of recently used mailboxes, kept in this node's memory (as the SQLite store's
// record-cache.ts), so that SELECT, FETCH 1:* FLAGS and SEARCH do not read and decode every
// row of a mailbox again. Other nodes write the same mailboxes, and their change events come
// some milliseconds after their commit, so events cannot say when a list is current. The
// mailbox's HIGHESTMODSEQ can: every change to a mailbox's rows (append, flags, expunge,
// copy, move) raises it in the transaction that makes it (RFC 7162 §3: modseqs only grow, and
// an account's are handed out under its row lock, so they commit in order). Each read is
// therefore one statement that returns the mailbox's HIGHESTMODSEQ and, only when it moved
// past the cached one, the rows changed since, the UIDs expunged since (the `expunged` table
// kept for VANISHED) and the mailbox's kept keywords: one round trip, and a list as current as
// a plain SELECT of the rows would be, whichever node wrote last. A writer that checks each
// row's modseq again in its own statement (STORE) may start from the list as it is (peek),
// without that round trip: a list gone stale makes its write fail whole, and it reads again.
import { uniqueFolded } from '../flags.js';
import type { MailboxSummary, MessageRecord } from '../types.js';
import { UidList } from '../uid-list.js';
import { type Queryable, rows } from './db.js';

/** Records kept over all mailboxes (about 300 bytes each); the least recently used go first. */
export const MAX_CACHED_RECORDS = 200_000;

interface Entry {
  uidValidity: number;
  accountId: number;
  /** HIGHESTMODSEQ the records are current at. */
  modseq: number;
  /** Ascending by UID. Replaced, never changed in place: callers may hold an old one. */
  records: MessageRecord[];
  /** Every keyword the mailbox's messages ever had (mailbox_keywords). */
  kept: string[];
  summary: MailboxSummary | null;
  /** Header fields SEARCH compares, by field then UID; a UID's message never changes. */
  fields: Map<string, Map<number, string>>;
}

interface ChangeRow {
  /**
   * 0: the mailbox (uid = UIDVALIDITY, modseq = HIGHESTMODSEQ, message_id = its account);
   * 1: a row; 2: expunged; 3: a kept keyword.
   */
  k: number;
  uid: number;
  modseq: number;
  message_id: number | null;
  flags: string[] | null;
  size: number | null;
  internal_date: number | null;
  internal_zone: number | null;
  text: string | null;
}

/**
 * One snapshot (one statement): the mailbox, then what changed after modseq $2 (everything
 * when $2 is -1; expunged UIDs only for a list being brought up to date).
 */
const CHANGES = `WITH mb AS (
  SELECT uid_validity, highest_modseq, account_id FROM mailboxes WHERE id = $1)
SELECT 0 AS k, uid_validity AS uid, highest_modseq AS modseq, account_id AS message_id,
  NULL::text[] AS flags, NULL::bigint AS size, NULL::bigint AS internal_date,
  NULL::integer AS internal_zone, NULL::text AS text FROM mb
UNION ALL
SELECT 1, mm.uid, mm.modseq, mm.message_id, mm.flags, mm.size, mm.internal_date,
  mm.internal_zone, m.blob_hash
FROM mb, mailbox_messages mm JOIN messages m ON m.id = mm.message_id
WHERE mb.highest_modseq > $2 AND mm.mailbox_id = $1 AND mm.modseq > $2
UNION ALL
SELECT 2, e.uid, e.modseq, NULL, NULL, NULL, NULL, NULL, NULL FROM mb, expunged e
WHERE $2 >= 0 AND mb.highest_modseq > $2 AND e.mailbox_id = $1 AND e.modseq > $2
UNION ALL
SELECT 3, 0, 0, NULL, NULL, NULL, NULL, NULL, k.keyword FROM mb, mailbox_keywords k
WHERE mb.highest_modseq > $2 AND k.mailbox_id = $1`;

function toRecord(r: ChangeRow): MessageRecord {
  return {
    uid: r.uid,
    messageId: r.message_id!,
    flags: r.flags!,
    modseq: r.modseq,
    size: r.size!,
    internalDate: new Date(r.internal_date!),
    internalZone: r.internal_zone!,
    blobHash: r.text!,
  };
}

export class PgRecordCache {
  /** Map order is recency: a read moves its entry to the end; eviction takes from the front. */
  private readonly entries = new Map<number, Entry>();
  private total = 0;

  constructor(
    private readonly db: Queryable,
    private readonly max = MAX_CACHED_RECORDS,
  ) {}

  /** The mailbox's rows, ascending by UID, as current as the database now; [] if it is gone. */
  async list(mailboxId: number): Promise<MessageRecord[]> {
    const e = await this.current(mailboxId);
    return e ? e.records.slice() : [];
  }

  /**
   * The rows of these UIDs that exist, ascending, from the list when the mailbox's is cached
   * (one statement that usually returns one row); null when it is not: a few rows of a
   * mailbox not listed are cheaper read by themselves than by listing it.
   */
  async some(mailboxId: number, uids: readonly number[]): Promise<MessageRecord[] | null> {
    if (!this.entries.has(mailboxId)) return null;
    const e = await this.current(mailboxId);
    if (!e) return [];
    const out: MessageRecord[] = [];
    let last = -1;
    for (const u of [...uids].sort((a, b) => a - b)) {
      if (u === last) continue;
      last = u;
      const i = indexOfUid(e.records, u);
      if (i >= 0) out.push(e.records[i]!);
    }
    return out;
  }

  /**
   * The rows of these UIDs as this node last read them, without asking the database: for a
   * writer whose own statement checks each row's modseq again (setFlags), so that a list
   * gone stale only costs it a second try. Null when the mailbox is not cached, or a UID is
   * past its last cached row (it may have come since). A UID below that which is not in the
   * list was expunged before the list's modseq: UIDs are taken in commit order per mailbox
   * (under the account's lock) and never used again.
   */
  peek(
    mailboxId: number,
    uids: readonly number[],
  ): { accountId: number; uidValidity: number; records: MessageRecord[] } | null {
    const e = this.entries.get(mailboxId);
    if (!e) return null;
    const last = e.records.length > 0 ? e.records[e.records.length - 1]!.uid : 0;
    const records: MessageRecord[] = [];
    let prev = -1;
    for (const u of [...uids].sort((a, b) => a - b)) {
      if (u === prev) continue;
      prev = u;
      if (u > last) return null;
      const i = indexOfUid(e.records, u);
      if (i >= 0) records.push(e.records[i]!);
    }
    return { accountId: e.accountId, uidValidity: e.uidValidity, records };
  }

  /** SELECT's data (UIDs, keywords, first unseen), kept until the rows change. */
  async summary(mailboxId: number): Promise<MailboxSummary> {
    const e = await this.current(mailboxId);
    if (!e) return { uids: UidList.EMPTY, keywords: [], firstUnseen: 0 };
    e.summary ??= summarize(e.records, e.kept);
    return e.summary;
  }

  /**
   * One stored header field of these UIDs: from memory where read before, the rest by `load`.
   * The list need not be brought up to date for it (no statement): a UID's message never
   * changes, and a UID expunged meanwhile is one `load` does not find.
   */
  async field(
    mailboxId: number,
    name: string,
    uids: readonly number[],
    load: (uids: number[]) => Promise<Map<number, string>>,
  ): Promise<Map<number, string>> {
    const e = this.entries.get(mailboxId);
    if (!e) return load([...uids]);
    let known = e.fields.get(name);
    if (!known) {
      known = new Map();
      e.fields.set(name, known);
    }
    const missing = uids.filter((u) => !known.has(u));
    if (missing.length > 0) for (const [u, v] of await load(missing)) known.set(u, v);
    const out = new Map<number, string>();
    for (const u of uids) {
      const v = known.get(u);
      if (v !== undefined) out.set(u, v);
    }
    return out;
  }

  /** Forgets mailboxes (deleted, or their account removed). */
  drop(...mailboxIds: number[]): void {
    for (const id of mailboxIds) {
      const e = this.entries.get(id);
      if (!e) continue;
      this.total -= e.records.length;
      this.entries.delete(id);
    }
  }

  /** The entry brought up to the database's state at one statement's snapshot. */
  private async current(mailboxId: number): Promise<Entry | null> {
    const had = this.entries.get(mailboxId);
    const since = had ? had.modseq : -1;
    const rs = await rows<ChangeRow>(this.db, CHANGES, [mailboxId, since]);
    const mb = rs.find((r) => r.k === 0);
    if (!mb) {
      this.drop(mailboxId);
      return null;
    }
    // Another read may have moved the entry on (or dropped it) while this one was away.
    let e = this.entries.get(mailboxId);
    if (e && e.uidValidity !== mb.uid) {
      this.drop(mailboxId);
      e = undefined;
    }
    if (since === -1) {
      if (e && e.modseq >= mb.modseq) return this.touch(mailboxId, e);
      this.drop(mailboxId);
      const fresh: Entry = {
        uidValidity: mb.uid,
        accountId: mb.message_id!,
        modseq: mb.modseq,
        records: rs.filter((r) => r.k === 1).map(toRecord),
        kept: rs.filter((r) => r.k === 3).map((r) => r.text!),
        summary: null,
        fields: new Map(),
      };
      fresh.records.sort((a, b) => a.uid - b.uid);
      this.entries.set(mailboxId, fresh);
      this.total += fresh.records.length;
      this.evict(mailboxId);
      return fresh;
    }
    // The changes after `since` were read; the entry must still be at `since` or later for
    // them to bring it up to date (it was evicted, or replaced, meanwhile: read again).
    if (!e || e.modseq < since) return this.current(mailboxId);
    // Nothing newer than what another read already applied.
    if (e.modseq >= mb.modseq) return this.touch(mailboxId, e);
    this.apply(e, rs, mb.modseq);
    return this.touch(mailboxId, e);
  }

  private apply(e: Entry, rs: ChangeRow[], modseq: number): void {
    const before = e.records.length;
    const gone = new Set<number>();
    const changed = new Map<number, MessageRecord>();
    const kept: string[] = [];
    for (const r of rs) {
      if (r.k === 1) changed.set(r.uid, toRecord(r));
      else if (r.k === 2) gone.add(r.uid);
      else if (r.k === 3) kept.push(r.text!);
    }
    const next: MessageRecord[] = [];
    for (const r of e.records) {
      if (gone.has(r.uid)) continue;
      const c = changed.get(r.uid);
      if (c) {
        next.push(c);
        changed.delete(r.uid);
      } else next.push(r);
    }
    // What is left is new (appended, copied or moved in): UIDs above those cached.
    if (changed.size > 0) {
      const last = next.length > 0 ? next[next.length - 1]!.uid : 0;
      const added = [...changed.values()].sort((a, b) => a.uid - b.uid);
      for (const r of added) next.push(r);
      if (added[0]!.uid < last) next.sort((a, b) => a.uid - b.uid);
    }
    if (gone.size > 0) for (const known of e.fields.values()) for (const u of gone) known.delete(u);
    e.records = next;
    e.kept = kept;
    e.modseq = modseq;
    e.summary = null;
    this.total += next.length - before;
  }

  private touch(mailboxId: number, e: Entry): Entry {
    this.entries.delete(mailboxId);
    this.entries.set(mailboxId, e);
    this.evict(mailboxId);
    return e;
  }

  /** Evicts least recently used lists until the total fits; a list larger than all goes too. */
  private evict(keep: number): void {
    for (const [id, e] of this.entries) {
      if (this.total <= this.max) return;
      if (id === keep) continue;
      this.total -= e.records.length;
      this.entries.delete(id);
    }
    if (this.total > this.max) this.drop(keep);
  }
}

function summarize(records: readonly MessageRecord[], kept: readonly string[]): MailboxSummary {
  const uids = new Array<number>(records.length);
  const keywords: string[] = [];
  let firstUnseen = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    uids[i] = r.uid;
    for (const f of r.flags) if (f.charCodeAt(0) !== 0x5c) keywords.push(f);
    if (firstUnseen === 0 && !r.flags.includes('\\Seen')) firstUnseen = i + 1;
  }
  // RFC 3501 §7.2.6: keywords no message has any more stay listed (clients keep the list).
  for (const k of kept) keywords.push(k);
  // In code-unit order, as the SQLite store lists them (it reads mailbox_keywords alone).
  return { uids: UidList.of(uids), keywords: uniqueFolded(keywords).sort(), firstUnseen };
}

function indexOfUid(records: readonly MessageRecord[], uid: number): number {
  let lo = 0;
  let hi = records.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const u = records[mid]!.uid;
    if (u === uid) return mid;
    if (u < uid) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
