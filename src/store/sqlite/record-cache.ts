// The rows of recently used mailboxes, kept in memory so that SELECT, FETCH 1:* FLAGS and
// SEARCH on a large mailbox do not read and decode every row again (100,000 rows cost about
// 150 ms; the cached list is copied in well under one). The database stays the only truth:
// change events (emitted after each commit) only say what to re-read, and the cache applies
// that lazily at the next read. A list is tied to its mailbox's UIDVALIDITY, so a mailbox
// id reused after a delete never sees another mailbox's rows.
import type { ChangeEvent, MessageRecord } from '../types.js';

/** Records kept over all mailboxes (about 150 bytes each); the least recently used go first. */
export const MAX_CACHED_RECORDS = 300_000;

interface Entry {
  uidValidity: number;
  /** Ascending by UID. Replaced, never mutated, when read by callers: see take(). */
  records: MessageRecord[];
  /** Messages appended since: re-read every row past the last cached UID. */
  tailStale: boolean;
  /** Flag changes since: re-read these rows. */
  dirty: Set<number>;
  /** Expunged since: drop these rows. */
  removed: Set<number>;
}

export interface RecordSource {
  /** Every row of the mailbox, ascending by UID. */
  all(mailboxId: number): MessageRecord[];
  /** Rows with a UID above `uid`, ascending. */
  after(mailboxId: number, uid: number): MessageRecord[];
  /** The rows of these UIDs that still exist. */
  some(mailboxId: number, uids: number[]): MessageRecord[];
}

export class RecordCache {
  /** Map order is recency: a read moves its entry to the end; eviction takes from the front. */
  private readonly entries = new Map<number, Entry>();
  private total = 0;

  constructor(
    private readonly source: RecordSource,
    private readonly max = MAX_CACHED_RECORDS,
  ) {}

  /** The mailbox's rows, ascending by UID: a fresh array the caller may keep. */
  list(mailboxId: number, uidValidity: number): MessageRecord[] {
    let e = this.entries.get(mailboxId);
    if (e && e.uidValidity !== uidValidity) {
      this.drop(mailboxId);
      e = undefined;
    }
    if (!e) {
      const records = this.source.all(mailboxId);
      if (records.length > this.max) return records;
      e = { uidValidity, records, tailStale: false, dirty: new Set(), removed: new Set() };
      this.entries.set(mailboxId, e);
      this.total += records.length;
      this.evict(mailboxId);
      return records.slice();
    }
    this.entries.delete(mailboxId);
    this.entries.set(mailboxId, e);
    this.catchUp(mailboxId, e);
    this.evict(mailboxId);
    return e.records.slice();
  }

  /** Notes a committed change (the store's own change bus). */
  onEvent(ev: ChangeEvent): void {
    const e = this.entries.get(ev.mailboxId);
    if (!e) return;
    switch (ev.kind) {
      case 'append':
        e.tailStale = true;
        break;
      case 'flags':
        for (const uid of ev.uids) e.dirty.add(uid);
        break;
      case 'expunge':
        for (const uid of ev.uids) {
          e.removed.add(uid);
          e.dirty.delete(uid);
        }
        break;
      case 'mailbox-delete':
        this.drop(ev.mailboxId);
        break;
      case 'mailbox-create':
      case 'mailbox-rename':
        break;
    }
  }

  /** Forgets mailboxes (deleted without an event, as with a whole account). */
  drop(...mailboxIds: number[]): void {
    for (const id of mailboxIds) {
      const e = this.entries.get(id);
      if (!e) continue;
      this.total -= e.records.length;
      this.entries.delete(id);
    }
  }

  private catchUp(mailboxId: number, e: Entry): void {
    const before = e.records.length;
    if (e.removed.size > 0) {
      const gone = e.removed;
      e.records = e.records.filter((r) => !gone.has(r.uid));
      gone.clear();
    }
    if (e.dirty.size > 0) {
      const fresh = this.source.some(mailboxId, [...e.dirty]);
      e.dirty.clear();
      for (const r of fresh) {
        const i = indexOfUid(e.records, r.uid);
        if (i >= 0) e.records[i] = r;
      }
    }
    if (e.tailStale) {
      e.tailStale = false;
      const last = e.records[e.records.length - 1]?.uid ?? 0;
      const tail = this.source.after(mailboxId, last);
      if (tail.length > 0) e.records = e.records.concat(tail);
    }
    this.total += e.records.length - before;
  }

  /** Evicts least recently used lists (never `keep`) until the total fits again. */
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
