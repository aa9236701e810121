// The rows of recently used mailboxes, kept in memory so that FETCH 1:* FLAGS and SEARCH on
// a large mailbox do not read and decode every row again (100,000 rows cost about 150 ms;
// SELECT reads none: mailbox-summary.ts). Kept as columns (record-rows.ts, about 70 bytes a row), so that a mailbox of a
// million messages fits (issue 18 item 6). The database stays the only truth:
// change events (emitted after each commit) only say what to re-read, and the cache applies
// that lazily at the next read. A list is tied to its mailbox's UIDVALIDITY, so a mailbox
// id reused after a delete never sees another mailbox's rows.

import type { ChangeEvent, FlagUpdate, MessageRecord } from '../types.js';
import type { ConcatColumns } from './message-reads.js';
import { FlagSets, type LightRow, type RawRow, Rows } from './record-rows.js';

/**
 * Rows kept over all mailboxes (about 70 bytes each, so some 90 MB at most); the least
 * recently used go first. A mailbox of 1,000,000 messages fits.
 */
export const MAX_CACHED_RECORDS = 1_300_000;

/**
 * Records kept made over all lists (about 64 bytes each, some 20 MB at most; the least
 * recently used lists' go first): list() hands out copies of a kept array, as before the
 * columns. SEARCH and FETCH 1:* of a 100,000-message mailbox took 10 to 20 ms of CPU more
 * making 100,000 records each time. A longer list makes its records anew each time.
 */
export const MEMO_MAX = 300_000;

/** Distinct flag lists beyond which the interning table starts over (with the cache). */
const MAX_FLAG_SETS = 100_000;

/**
 * A list longer than this (3 MB and more) is dropped soon after the last session that had its
 * mailbox selected leaves (see hold): 100,000 rows are some 30 MB of heap, which kept for no
 * one raised the memory of everything that ran after (issue 14 §4: bench/imap's IDLE peak
 * after its big mailbox phase). Reading it again costs what a first SELECT costs.
 */
export const LARGE_LIST = 10_000;

/**
 * How long a large list outlives its last holder: a client that reconnects at once, or opens
 * a connection per task, still finds it.
 */
export const RELEASE_GRACE_MS = 2000;

interface Entry {
  uidValidity: number;
  /** Ascending by UID. */
  rows: Rows;
  /** rows as records, kept current with them (see MEMO_MAX); never handed out itself. */
  memo: MessageRecord[] | null;
  /** Messages appended since: re-read every row past the last cached UID. */
  tailStale: boolean;
  /** Flag changes since: re-read these rows. */
  dirty: Set<number>;
  /** Expunged since: drop these rows. */
  removed: Set<number>;
  /**
   * The UID this process's last append put into the rows plus one (0: none since the load):
   * an append given this UID left no UID between, whatever was expunged meanwhile (see wrote).
   */
  next: number;
  /**
   * Header fields SEARCH compares, by field then UID, filled as searches ask for them. A
   * UID's message never changes, so these only grow with new messages and shrink with
   * expunges.
   */
  fields: Map<string, Map<number, string>>;
}

export interface RecordSource {
  /** Every row of the mailbox, ascending by UID. */
  all(mailboxId: number): MessageRecord[];
  /**
   * The same as raw rows, one at a time (no record, nor array of all, is made), from the UID
   * above `afterUid`; used instead of all() and after() where given.
   */
  raw?(mailboxId: number, afterUid: number): Iterable<RawRow>;
  /**
   * Every row without its blob hash, and the hashes apart: a mailbox's first load reads the
   * first, the hashes are read when one is first asked for (Rows.hashesFrom).
   */
  light?(mailboxId: number): Iterable<LightRow>;
  /** The same rows as column texts (concatColumns), read first where given. */
  columns?(mailboxId: number): ConcatColumns | null;
  hashes?(mailboxId: number): Iterable<[number, string]>;
  /**
   * A copy of the columns kept by the store (column-snapshot.ts): read before the columns,
   * and told of each whole load (the rows as of the mailbox's modseq the columns were read
   * at) so it can keep one.
   */
  kept?: {
    read(mailboxId: number, uidValidity: number, sets: FlagSets): Rows | null;
    loaded(mailboxId: number, uidValidity: number, rows: Rows, modseq: number): void;
  };
  /** Rows with a UID above `uid`, ascending. */
  after(mailboxId: number, uid: number): MessageRecord[];
  /** The rows of these UIDs that still exist. */
  some(mailboxId: number, uids: number[]): MessageRecord[];
  /**
   * The UIDs of the rows whose modseq is above `modseq`, in any order, through the modseq
   * index; null when there are more than `limit` of them (then a walk of the cached modseqs
   * is cheaper).
   */
  changed?(mailboxId: number, modseq: number, limit: number): number[] | null;
}

/**
 * changedSince asks the index for at most this many UIDs, or one per 256 rows: reading an
 * index entry costs about what comparing a few hundred cached modseqs does.
 */
export const CHANGED_BY_INDEX = 64;

export class RecordCache {
  /** Map order is recency: a read moves its entry to the end; eviction takes from the front. */
  private readonly entries = new Map<number, Entry>();
  private total = 0;
  /** Records in the entries' memos (see MEMO_MAX). */
  private memoTotal = 0;
  private sets = new FlagSets();
  /** The event wrote() has already applied; onEvent leaves it (see wrote). */
  private handled: ChangeEvent | null = null;
  /** Sessions that have the mailbox selected, by mailbox (see hold). */
  private readonly holders = new Map<number, number>();
  /** Large lists whose last holder left, dropped when the timer fires. */
  private readonly leaving = new Map<number, NodeJS.Timeout>();

  constructor(
    private readonly source: RecordSource,
    private readonly max = MAX_CACHED_RECORDS,
    private readonly graceMs = RELEASE_GRACE_MS,
    private readonly large = LARGE_LIST,
    /** Called after a large list went with its last holder (heap-release.ts). */
    private readonly onLargeDropped: () => void = () => {},
  ) {}

  /** Whether the mailbox's rows are in memory now. */
  has(mailboxId: number): boolean {
    return this.entries.has(mailboxId);
  }

  /**
   * A session selected the mailbox: its list, however large, stays (within `max`) until the
   * last holder releases it. Lists of mailboxes never held are kept as before, by recency.
   */
  hold(mailboxId: number): void {
    this.holders.set(mailboxId, (this.holders.get(mailboxId) ?? 0) + 1);
    const t = this.leaving.get(mailboxId);
    if (t !== undefined) {
      clearTimeout(t);
      this.leaving.delete(mailboxId);
    }
  }

  /** The session left the mailbox; the last one out lets a large list go after the grace. */
  release(mailboxId: number): void {
    const n = (this.holders.get(mailboxId) ?? 0) - 1;
    if (n > 0) {
      this.holders.set(mailboxId, n);
      return;
    }
    this.holders.delete(mailboxId);
    if (this.leaving.has(mailboxId)) return;
    const e = this.entries.get(mailboxId);
    if (!e || e.rows.n <= this.large) return;
    const t = setTimeout(() => {
      this.leaving.delete(mailboxId);
      const now = this.entries.get(mailboxId);
      if (!this.holders.has(mailboxId) && now && now.rows.n > this.large) {
        this.drop(mailboxId);
        this.onLargeDropped();
      }
    }, this.graceMs);
    t.unref();
    this.leaving.set(mailboxId, t);
  }

  /** The mailbox's rows, ascending by UID: fresh records the caller may keep. */
  list(mailboxId: number, uidValidity: number): MessageRecord[] {
    const e = this.entry(mailboxId, uidValidity);
    if (!(e instanceof Rows) && e.memo) return e.memo.slice();
    const rows = e instanceof Rows ? e : e.rows;
    // Records handed out carry their hashes from now: a caller may read one after a later
    // expunge, or after the store is closed.
    rows.ensureHashes();
    const out = new Array<MessageRecord>(rows.n);
    for (let i = 0; i < rows.n; i++) out[i] = rows.record(i);
    if (!(e instanceof Rows) && rows.n <= MEMO_MAX && this.entries.get(mailboxId) === e) {
      // Room for it: other lists' records go, least recently used first.
      for (const other of this.entries.values()) {
        if (this.memoTotal + rows.n <= MEMO_MAX) break;
        if (other.memo && other !== e) {
          this.memoTotal -= other.memo.length;
          other.memo = null;
        }
      }
      e.memo = out;
      this.memoTotal += out.length;
      return out.slice();
    }
    return out;
  }

  /**
   * The rows changed after `modseq` (RFC 7162 CHANGEDSINCE, QRESYNC), ascending by UID. A few
   * are found through the source's modseq index, so a QRESYNC resync of a large mailbox costs
   * what changed since the client's modseq, not a look at every row (issue 18 item 6); many
   * by a walk of the modseq column. Either way a row is given as the cache has it (current:
   * rows() caught up with the change events), so both give the same.
   */
  changedSince(mailboxId: number, uidValidity: number, modseq: number): MessageRecord[] {
    const rows = this.rows(mailboxId, uidValidity);
    const out: MessageRecord[] = [];
    const m = rows.modseq;
    const few = this.source.changed?.(mailboxId, modseq, Math.max(CHANGED_BY_INDEX, rows.n >> 8));
    if (few) {
      few.sort((a, b) => a - b);
      for (const uid of few) {
        const i = rows.indexOf(uid);
        if (i >= 0 && m[i]! > modseq) out.push(rows.record(i));
      }
      return out;
    }
    for (let i = 0; i < rows.n; i++) if (m[i]! > modseq) out.push(rows.record(i));
    return out;
  }

  /**
   * The mailbox's rows as columns, current now: for walks over many messages that need a
   * few fields (FETCH FLAGS), without a record each. The caller reads, never writes; it may
   * keep them across awaits (see record-rows.ts), rows [0, n) as they were taken.
   */
  rows(mailboxId: number, uidValidity: number): Rows {
    const e = this.entry(mailboxId, uidValidity);
    return e instanceof Rows ? e : e.rows;
  }

  /**
   * The rows that may carry `flag` now, found without catching up with the changes since the
   * cached rows were current (EXPUNGE's candidates, issue 19): the UIDs of the cached rows
   * that have it, those whose flags changed since (`dirty`: not read again here), and
   * `after`, the last cached UID when messages were appended since (the caller reads the rows
   * above it), else null. A superset: the caller checks each against the database. Rows this
   * process expunged since are left out (`removed`): a session deleting and expunging message
   * after message with no read between would otherwise look up every row it expunged since
   * the last catch-up again at each EXPUNGE. Null when the mailbox's rows are not kept (then
   * list()).
   */
  flagged(
    mailboxId: number,
    uidValidity: number,
    flag: string,
  ): { uids: number[]; after: number | null } | null {
    const e = this.entries.get(mailboxId);
    if (!e || e.uidValidity !== uidValidity) return null;
    const { n, uid, flags, sets } = e.rows;
    const { removed } = e;
    const uids: number[] = [];
    // Whether each flag list has `flag`, asked once per list met.
    const has = new Map<number, boolean>();
    for (let i = 0; i < n; i++) {
      const id = flags[i]!;
      let yes = has.get(id);
      if (yes === undefined) {
        yes = sets.lists[id]!.includes(flag);
        has.set(id, yes);
      }
      if (yes && (removed.size === 0 || !removed.has(uid[i]!))) uids.push(uid[i]!);
    }
    for (const u of e.dirty) uids.push(u);
    return { uids, after: e.tailStale ? (n === 0 ? 0 : uid[n - 1]!) : null };
  }

  /**
   * One stored header field of these UIDs: from memory where a search already read it, the
   * rest through `load` (and kept).
   */
  field(
    mailboxId: number,
    uidValidity: number,
    name: string,
    uids: readonly number[],
    load: (uids: number[]) => Map<number, string>,
  ): Map<number, string> {
    const e = this.entry(mailboxId, uidValidity);
    if (e instanceof Rows) return load([...uids]);
    let known = e.fields.get(name);
    if (!known) {
      known = new Map();
      e.fields.set(name, known);
    }
    const missing = uids.filter((u) => !known.has(u));
    if (missing.length > 0) for (const [u, v] of load(missing)) known.set(u, v);
    const out = new Map<number, string>();
    for (const u of uids) {
      const v = known.get(u);
      if (v !== undefined) out.set(u, v);
    }
    return out;
  }

  /** The current entry, moved to most recent; the bare rows when too many to keep. */
  private entry(mailboxId: number, uidValidity: number): Entry | Rows {
    let e = this.entries.get(mailboxId);
    if (e && e.uidValidity !== uidValidity) {
      this.drop(mailboxId);
      e = undefined;
    }
    if (!e) {
      if (this.sets.size > MAX_FLAG_SETS) {
        // Lists of flags no row may use any more: start the table over, with the cache.
        this.drop(...this.entries.keys());
        this.sets = new FlagSets();
      }
      const rows = this.loadAll(mailboxId, uidValidity);
      rows.trim();
      if (rows.n > this.max) return rows;
      e = {
        uidValidity,
        rows,
        memo: null,
        tailStale: false,
        dirty: new Set(),
        removed: new Set(),
        next: 0,
        fields: new Map(),
      };
      this.entries.set(mailboxId, e);
      this.total += rows.n;
    } else {
      this.entries.delete(mailboxId);
      this.entries.set(mailboxId, e);
      this.catchUp(mailboxId, e);
    }
    this.evict(mailboxId);
    return e;
  }

  /**
   * A write of this process's write batch, committed and durable, with the rows it wrote, told
   * just before its event `ev` is emitted (which onEvent then leaves alone): the rows go into
   * the list as they are, instead of being read back at the next read (the login mix's
   * EXPUNGE read again the row its APPEND added and the one its STORE changed). The list
   * never has a hole: an appended row goes in only when no UID can lie between it and the
   * list's last (the next UID, or the one after this process's last append); otherwise the
   * tail is read as onEvent would have it (another process's append not heard of yet, a UID an
   * import kept). A row already marked to be read stays marked; a row the list read after
   * this write (during its fsync) is left as read, its modseq at or past the write's.
   * Appended rows go in only while a session has the mailbox selected (hold), whose next read
   * would read them back anyway: a list no one holds is not grown by appends no one reads
   * (`letterbox import` of 20,000 messages into a listed mailbox; test/migrate-io/
   * import-memory), its tail read as before when it is next listed; and the list stays within
   * the cache's bound (evict). `appended` makes the rows only when they are taken: most
   * deliveries go to a mailbox no session holds.
   */
  wrote(
    ev: ChangeEvent,
    uidValidity: number,
    rows: { appended?: () => readonly MessageRecord[]; flags?: readonly FlagUpdate[] },
  ): void {
    this.handled = ev;
    const e = this.entries.get(ev.mailboxId);
    if (!e) return;
    if (e.uidValidity !== uidValidity) {
      this.drop(ev.mailboxId);
      return;
    }
    if (rows.appended) {
      if (this.holders.has(ev.mailboxId)) {
        this.appended(e, rows.appended());
        this.evict(ev.mailboxId);
      } else e.tailStale = true;
    }
    if (rows.flags) this.flagsSet(e, rows.flags);
  }

  private appended(e: Entry, records: readonly MessageRecord[]): void {
    for (const r of records) {
      if (e.tailStale) return;
      const n = e.rows.n;
      const last = n === 0 ? 0 : e.rows.uid[n - 1]!;
      // Read after this write's commit: the list has it, or its expunge.
      if (r.uid <= last) continue;
      if (r.uid !== last + 1 && r.uid !== e.next) {
        e.tailStale = true;
        return;
      }
      e.rows.push(r);
      e.next = r.uid + 1;
      this.total++;
      if (e.memo && this.memoTotal < MEMO_MAX) {
        e.memo.push(e.rows.record(n));
        this.memoTotal++;
      } else if (e.memo) {
        this.memoTotal -= e.memo.length;
        e.memo = null;
      }
    }
  }

  private flagsSet(e: Entry, updates: readonly FlagUpdate[]): void {
    for (const u of updates) {
      if (e.dirty.has(u.uid)) continue;
      const i = e.rows.indexOf(u.uid);
      // Not in the list: expunged since, or past its tail (read with it).
      if (i < 0) continue;
      // The list has this change already, or a later one (read since): nothing older goes in.
      if (e.rows.modseq[i]! >= u.modseq) continue;
      e.rows.setFlags(i, u.flags.join(' '), u.modseq);
      if (e.memo) e.memo[i] = e.rows.record(i);
    }
  }

  /** Notes a committed change (the store's own change bus). */
  onEvent(ev: ChangeEvent): void {
    if (ev === this.handled) {
      this.handled = null;
      return;
    }
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
      this.total -= e.rows.n;
      this.memoTotal -= e.memo?.length ?? 0;
      this.entries.delete(id);
    }
  }

  /**
   * The mailbox's rows: from the store's kept copy where it has a usable one, else light
   * where the source can (see RecordSource.light, kept).
   */
  private loadAll(mailboxId: number, uidValidity: number): Rows {
    const { light, hashes, columns, kept } = this.source;
    if (!light || !hashes) return this.load(mailboxId, new Rows(this.sets), 0);
    let rows = kept?.read(mailboxId, uidValidity, this.sets) ?? null;
    if (!rows) {
      rows = new Rows(this.sets);
      const texts = columns?.(mailboxId);
      if (texts === null) return rows;
      if (texts && rows.pushColumns(texts))
        kept?.loaded(mailboxId, uidValidity, rows, texts.highestModseq);
      else for (const r of light(mailboxId)) rows.pushLight(r);
    }
    rows.hashesFrom = () => hashes(mailboxId);
    return rows;
  }

  /** Appends the mailbox's rows above `afterUid` to `rows`. */
  private load(mailboxId: number, rows: Rows, afterUid: number): Rows {
    if (this.source.raw) {
      for (const r of this.source.raw(mailboxId, afterUid)) rows.pushRaw(r);
    } else {
      const records =
        afterUid === 0 ? this.source.all(mailboxId) : this.source.after(mailboxId, afterUid);
      for (const r of records) rows.push(r);
    }
    return rows;
  }

  private catchUp(mailboxId: number, e: Entry): void {
    if (e.removed.size === 0 && e.dirty.size === 0 && !e.tailStale) return;
    const before = e.rows.n;
    const memoBefore = e.memo?.length ?? 0;
    if (e.removed.size > 0) {
      const gone = e.removed;
      e.rows = e.rows.without(gone);
      // Not filtered: a record reads its unchanging fields from the Rows it was made from, so
      // kept records would keep every earlier Rows alive (an expunge a cycle in bench/imap's
      // mix kept some 100 KB each, 200 MiB after a 20 s run). Made again at the next list.
      e.memo = null;
      for (const known of e.fields.values()) for (const uid of gone) known.delete(uid);
      gone.clear();
    }
    if (e.dirty.size > 0) {
      const fresh = this.source.some(mailboxId, [...e.dirty]);
      e.dirty.clear();
      for (const r of fresh) {
        const i = e.rows.indexOf(r.uid);
        if (i < 0) continue;
        e.rows.update(i, r);
        if (e.memo) e.memo[i] = e.rows.record(i);
      }
    }
    if (e.tailStale) {
      e.tailStale = false;
      const n = e.rows.n;
      this.load(mailboxId, e.rows, n === 0 ? 0 : e.rows.uid[n - 1]!);
      if (e.memo && this.memoTotal - memoBefore + e.rows.n > MEMO_MAX) e.memo = null;
      else if (e.memo) for (let i = n; i < e.rows.n; i++) e.memo.push(e.rows.record(i));
    }
    this.total += e.rows.n - before;
    this.memoTotal += (e.memo?.length ?? 0) - memoBefore;
  }

  /** Evicts least recently used lists (never `keep`) until the total fits again. */
  private evict(keep: number): void {
    for (const [id, e] of this.entries) {
      if (this.total <= this.max) return;
      if (id === keep) continue;
      this.total -= e.rows.n;
      this.memoTotal -= e.memo?.length ?? 0;
      this.entries.delete(id);
    }
    if (this.total > this.max) this.drop(keep);
  }
}
