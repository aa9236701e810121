// The rows of recently used mailboxes, kept in this node's memory (as the SQLite store's
// record-cache.ts), so that SELECT, FETCH 1:* FLAGS and SEARCH do not read and decode every
// row of a mailbox again. Other nodes write the same mailboxes. The mailbox's HIGHESTMODSEQ
// says how far a list is current: every change to a mailbox's rows (append, flags, expunge,
// copy, move) raises it in the transaction that makes it (RFC 7162 §3: modseqs only grow, and
// an account's are handed out under its row lock, so they commit in order). A read that must
// ask is one statement (CHANGES) that returns the mailbox's HIGHESTMODSEQ and, only when it
// moved past the cached one, the rows changed since, the UIDs expunged since (the `expunged`
// table kept for VANISHED) and the mailbox's kept keywords.
//
// Most reads need not ask. Every change's notice reaches every node's LISTEN connection in
// commit order (events.ts), and is noted here before any session hears of it. So a list is
// as current as everything this node has heard when no change to its mailbox was heard past
// its modseq, while the node listens without a break (one epoch). The rule: a command sees
// every change whose notice reached this node before it read, which includes every change
// this node's sessions were told of (they are told by the same notices) and every change this
// node made (a write returns once its own notice came back). A change another node committed
// whose notice is still on its way is seen by a later command, as a session would see it had
// the command come a few milliseconds sooner (RFC 9051 §5.2 and §7 ask a server to report
// changes it has observed, not changes in flight). A change made here whose content is known
// (APPEND's row, STORE's flags, EXPUNGE's UIDs) is applied to the list when its notice is
// back and nothing else is pending before it, so the writer's next read need not ask either.
// Heard changes not yet in a list (another node's, or one made here out of turn) make its
// next read ask. A writer that checks each row's modseq again in its own statement (STORE)
// may start from the list as it is (peek): a list gone stale makes its write fail whole, and
// it reads again.
import { uniqueFolded } from '../flags.js';
import type { ChangeEvent, MailboxSummary, MessageRecord } from '../types.js';
import { UidList } from '../uid-list.js';
import { type Queryable, rows } from './db.js';

/** What the cache asks of the LISTEN connection (events.ts). */
export interface HeardEvents {
  /** Changes whenever a notice may have been missed (no list of an older epoch is trusted). */
  readonly epoch: number;
  /** Listening now, notices not held back. */
  readonly live: boolean;
  /**
   * A message's changes are heard only while the node listens to its account's channel:
   * `clock` read when a statement is sent, and `heardSince` later, say whether every change
   * committed after it has been heard since (the account listened to from before it, without
   * a break); `touch` keeps (or starts) the listening (events.ts).
   */
  readonly clock: number;
  heardSince(accountId: number, stamp: number): boolean;
  touch(accountId: number): void;
}

/** A change this node made and knows whole, at the modseq it committed with. */
export type OwnChange =
  | {
      kind: 'append';
      record: MessageRecord;
      keywords: readonly string[];
      /** Its stored header fields, by SearchHeaderField (see field); made only when wanted. */
      fields: () => Readonly<Record<string, string>>;
    }
  | {
      kind: 'flags';
      rows: ReadonlyArray<{ uid: number; flags: string[] }>;
      keywords: readonly string[];
    }
  | { kind: 'expunge'; uids: readonly number[] };

/** Records kept over all mailboxes (about 300 bytes each); the least recently used go first. */
export const MAX_CACHED_RECORDS = 200_000;

interface Entry {
  uidValidity: number;
  accountId: number;
  /** HIGHESTMODSEQ the records are current at. */
  modseq: number;
  /** UIDNEXT at that modseq. */
  uidNext: number;
  /** The events epoch it was read or last brought up to date in. */
  epoch: number;
  /** The events clock when that read was sent (HeardEvents.heardSince). */
  stamp: number;
  /** Modseqs of changes heard past `modseq`, ascending, not yet in the records. */
  pending: number[];
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
   * 0: the mailbox (uid = UIDVALIDITY, modseq = HIGHESTMODSEQ, message_id = its account,
   * size = UIDNEXT); 1: a row; 2: expunged; 3: a kept keyword.
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
  SELECT uid_validity, highest_modseq, account_id, uid_next FROM mailboxes WHERE id = $1)
SELECT 0 AS k, uid_validity AS uid, highest_modseq AS modseq, account_id AS message_id,
  NULL::text[] AS flags, uid_next AS size, NULL::bigint AS internal_date,
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

/** Events that raise a mailbox's HIGHESTMODSEQ, with their modseq. */
const ROW_KINDS = new Set<ChangeEvent['kind']>(['append', 'flags', 'expunge', 'mailbox-rename']);

export class PgRecordCache {
  /** Map order is recency: a read moves its entry to the end; eviction takes from the front. */
  private readonly entries = new Map<number, Entry>();
  private total = 0;
  /**
   * Mailboxes being read (CHANGES in flight), with the modseqs of changes heard meanwhile
   * (Infinity: the mailbox was deleted), so that the list read knows what it may lack.
   */
  private readonly reading = new Map<number, { readers: number; heard: number[] }>();

  constructor(
    private readonly db: Queryable,
    private readonly events: HeardEvents,
    private readonly max = MAX_CACHED_RECORDS,
  ) {}

  /** Takes note of a change heard (or emitted here), before any session hears of it. */
  heard(ev: ChangeEvent): void {
    let modseq: number;
    // A rename raises the mailbox's HIGHESTMODSEQ too (counters below).
    if (ROW_KINDS.has(ev.kind)) modseq = ev.modseq;
    else if (ev.kind === 'mailbox-delete') modseq = Number.POSITIVE_INFINITY;
    else return;
    const e = this.entries.get(ev.mailboxId);
    if (e && modseq > e.modseq) insertSorted(e.pending, modseq);
    this.reading.get(ev.mailboxId)?.heard.push(modseq);
  }

  /** The mailbox's rows, ascending by UID, as current as this node has heard; [] if gone. */
  async list(mailboxId: number): Promise<MessageRecord[]> {
    const e = await this.current(mailboxId);
    return e ? e.records.slice() : [];
  }

  /**
   * The rows of these UIDs that exist, ascending, from the list when the mailbox's is cached
   * (brought up to date first when a change to it was heard); null when it is not: a few rows
   * of a mailbox not listed are cheaper read by themselves than by listing it.
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
   * The mailbox's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ from its list, brought up to date
   * as a read of it would be (no statement while nothing was heard past it); null when the
   * list is not cached or the mailbox is gone.
   */
  async counters(
    mailboxId: number,
  ): Promise<{ uidValidity: number; uidNext: number; modseq: number } | null> {
    if (!this.entries.has(mailboxId)) return null;
    const e = await this.current(mailboxId);
    return e ? { uidValidity: e.uidValidity, uidNext: e.uidNext, modseq: e.modseq } : null;
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

  /**
   * A change this node committed at `modseq`, once its notice came back on the LISTEN
   * connection (`heard`; false: it was emitted here after waiting). Every change committed
   * before it has been heard by then, so when none of those is pending the list is current
   * at `modseq` with this one applied, and stays trusted.
   */
  applyOwn(mailboxId: number, modseq: number, heard: boolean, change: OwnChange): void {
    const e = this.entries.get(mailboxId);
    if (!e || !heard || e.modseq >= modseq || e.pending[0] !== modseq) return;
    if (e.epoch !== this.events.epoch || !this.events.live) return;
    if (!this.events.heardSince(e.accountId, e.stamp)) return;
    const before = e.records.length;
    if (change.kind === 'append') {
      const r = change.record;
      const last = e.records.length > 0 ? e.records[e.records.length - 1]!.uid : 0;
      e.records = [...e.records, r];
      if (r.uid < last) e.records.sort((x, y) => x.uid - y.uid);
      if (r.uid >= e.uidNext) e.uidNext = r.uid + 1;
      keep(e, change.keywords);
      const fields = e.fields.size > 0 ? change.fields() : {};
      for (const [name, known] of e.fields) {
        const v = fields[name];
        if (v !== undefined) known.set(r.uid, v);
      }
    } else if (change.kind === 'flags') {
      const next = e.records.slice();
      for (const u of change.rows) {
        const i = indexOfUid(next, u.uid);
        if (i >= 0) next[i] = { ...next[i]!, flags: u.flags, modseq };
      }
      e.records = next;
      keep(e, change.keywords);
    } else {
      const gone = new Set(change.uids);
      e.records = e.records.filter((r) => !gone.has(r.uid));
      for (const known of e.fields.values()) for (const u of gone) known.delete(u);
    }
    this.total += e.records.length - before;
    e.modseq = modseq;
    e.summary = null;
    while (e.pending.length > 0 && e.pending[0]! <= modseq) e.pending.shift();
    this.evict(mailboxId);
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

  /** Current without a statement: nothing heard past it, in this epoch, while listening. */
  private trusted(e: Entry): boolean {
    return (
      e.pending.length === 0 &&
      e.epoch === this.events.epoch &&
      this.events.live &&
      this.events.heardSince(e.accountId, e.stamp)
    );
  }

  /** The entry brought up to what this node has heard (one statement when it must ask). */
  private async current(mailboxId: number): Promise<Entry | null> {
    const had = this.entries.get(mailboxId);
    if (had && this.trusted(had)) return this.touch(mailboxId, had);
    const since = had ? had.modseq : -1;
    const epoch = this.events.epoch;
    const stamp = this.events.clock;
    let reading = this.reading.get(mailboxId);
    if (!reading) {
      reading = { readers: 0, heard: [] };
      this.reading.set(mailboxId, reading);
    }
    reading.readers++;
    let rs: ChangeRow[];
    try {
      rs = await rows<ChangeRow>(this.db, CHANGES, [mailboxId, since]);
    } finally {
      if (--reading.readers === 0) this.reading.delete(mailboxId);
    }
    const mb = rs.find((r) => r.k === 0);
    if (!mb) {
      this.drop(mailboxId);
      return null;
    }
    // Its account is listened to from now on (for a while): a later read may trust this one.
    this.events.touch(mb.message_id!);
    // Changes heard while the statement was away that its snapshot may lack (a deletion
    // always: the mailbox is read again).
    const after = reading.heard.filter((m) => m > mb.modseq);
    // Another read may have moved the entry on (or dropped it) while this one was away.
    let e = this.entries.get(mailboxId);
    if (e && e.uidValidity !== mb.uid) {
      this.drop(mailboxId);
      e = undefined;
    }
    if (since === -1) {
      if (e && e.modseq >= mb.modseq)
        return this.touch(mailboxId, this.read(e, mb.modseq, epoch, stamp, after));
      this.drop(mailboxId);
      const fresh: Entry = {
        uidValidity: mb.uid,
        accountId: mb.message_id!,
        modseq: mb.modseq,
        uidNext: mb.size!,
        epoch,
        stamp,
        pending: [],
        records: rs.filter((r) => r.k === 1).map(toRecord),
        kept: rs.filter((r) => r.k === 3).map((r) => r.text!),
        summary: null,
        fields: new Map(),
      };
      for (const m of after) insertSorted(fresh.pending, m);
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
    if (e.modseq < mb.modseq) this.apply(e, rs, mb.modseq, mb.size!);
    return this.touch(mailboxId, this.read(e, mb.modseq, epoch, stamp, after));
  }

  /**
   * The entry, now known current at `modseq` by a read sent in `epoch`, with the changes heard
   * while it was away that it may lack (`after`).
   */
  private read(
    e: Entry,
    modseq: number,
    epoch: number,
    stamp: number,
    after: readonly number[],
  ): Entry {
    if (e.pending.length > 0 && e.pending[0]! <= e.modseq) {
      e.pending = e.pending.filter((m) => m > e.modseq);
    }
    for (const m of after) if (m > e.modseq) insertSorted(e.pending, m);
    // Whatever committed after the snapshot is heard in the epoch the statement was sent in
    // (an entry past the snapshot was made current by a later read, which said its own).
    if (e.modseq === modseq) {
      e.epoch = epoch;
      e.stamp = stamp;
    }
    return e;
  }

  private apply(e: Entry, rs: ChangeRow[], modseq: number, uidNext: number): void {
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
    e.uidNext = uidNext;
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

/** Records keywords as kept for good (mailbox_keywords), as a change with them does. */
function keep(e: Entry, keywords: readonly string[]): void {
  const add = keywords.filter((k) => !e.kept.includes(k));
  if (add.length > 0) e.kept = [...e.kept, ...add];
}

/** Inserts v into an ascending list of distinct numbers. */
function insertSorted(list: number[], v: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1]! > v) i--;
  if (list[i - 1] !== v) list.splice(i, 0, v);
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
