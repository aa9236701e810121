// A copy of a large mailbox's columns kept in the database, so that the first command after
// a start that needs them (FETCH 1:* FLAGS, SEARCH UNSEEN, a QRESYNC walk) reads one BLOB
// instead of every row (issue 18 item 6: at a million messages SQLite's walk of the rows
// with group_concat cost 0.3 s of CPU and parsing the texts 0.1-0.2 s; one 42 MB BLOB reads
// in about 25 ms).
//
// The copy is not kept up to date in the writing transactions (a STORE on a mailbox of a
// million would then rewrite megabytes): it is the mailbox's rows as of a modseq M, and a
// load brings it up to date from what changed after M, which the store can always tell.
// Every change to a row takes the account's next modseq (db.ts nextModseq, greater than any
// given before): an append or a flag change writes it into the row, an expunge into
// `expunged` (kept for VANISHED, RFC 7162 §3.2.10, never pruned). So the rows with a modseq
// above M are exactly those appended or changed since, the expunged UIDs above M those gone,
// and a row appended since has a UID above every UID of the copy (RFC 9051 §2.3.1.1). Both
// are read through their modseq indexes in the same read transaction as the copy, and the
// result must have the mailbox's message_count (kept by triggers): a copy that fails any
// check is not used (the rows are read whole, as without one). Too much changed since (more
// than an eighth of the rows): read whole too; more than a sixty-fourth: used, and kept
// again as it now is.
//
// Which command pays: an import that added to a mailbox keeps its copy when it ends
// (keepNow), so its first start loads through it. Otherwise the first load of a mailbox of at
// least `minRows` rows without a usable copy (mail delivered or appended, many changes since
// the copy) reads the rows whole as before and copies the columns into one buffer (a memcpy
// pass); the write itself (one INSERT of the BLOB) runs after that command, on the next turn
// of the event loop, or at the store's close.
//
// Layout of the BLOB, n rows, each column in order (typed arrays as this machine lays them
// out; a big-endian machine keeps no copy): messageId, modseq, size, date (float64 each),
// uid, flag list (uint32 each; an index into the row's `lists`, a JSON array of the stored
// flag-list texts), zone (int16).

import { endianness } from 'node:os';
import type { Db } from './db.js';
import { readTx, stmt, tx } from './db.js';
import { FlagSets, type LightRow, parseFlagLists, parseInts, Rows } from './record-rows.js';

const ROW_BYTES = 8 * 4 + 4 * 2 + 2;

/** Mailboxes with at least this many rows keep a copy (a smaller one loads in a few ms). */
export const KEEP_COLUMNS_FROM = 10_000;

/** Typed arrays are stored as laid out in memory: little-endian machines only. */
const USABLE = endianness() === 'LE';

type Pending = { kind: 'write'; uidValidity: number; modseq: number; lists: string; data: Buffer };

export class ColumnSnapshots {
  /** Writes (or deletions) to make after the current command, by mailbox: the last wins. */
  private readonly pending = new Map<number, Pending | { kind: 'delete' }>();
  private timer: NodeJS.Immediate | null = null;

  constructor(
    private readonly db: Db,
    private readonly minRows = KEEP_COLUMNS_FROM,
  ) {}

  /**
   * The mailbox's rows from its kept copy brought up to date, as of one read snapshot; null
   * when it has none that passes every check (see the file comment).
   */
  read(mailboxId: number, uidValidity: number, sets: FlagSets): Rows | null {
    if (!USABLE) return null;
    // Most mailboxes have none: one lookup, without a transaction around it.
    if (
      stmt(this.db, 'SELECT 1 FROM mailbox_columns WHERE mailbox_id = ?').get(mailboxId) ===
      undefined
    )
      return null;
    return readTx(this.db, () => this.readNow(mailboxId, uidValidity, sets));
  }

  /** After a whole load (the rows as of the mailbox's modseq `modseq`): keeps a copy if large. */
  loaded(mailboxId: number, uidValidity: number, rows: Rows, modseq: number): void {
    if (USABLE && rows.n >= this.minRows) this.keep(mailboxId, encode(rows, uidValidity, modseq));
  }

  /**
   * Keeps a copy of the mailbox's columns now, read from its rows: at the end of an import
   * that filled it, so that the first start after the import loads through the copy rather
   * than paying the whole read (854 ms of CPU at a million rows). Each column is read as one
   * text and parsed straight into the copy's buffer, one column after another in one read
   * transaction, so the importing process holds the copy (42 bytes a row) and one column's
   * text, not the record cache's rows. False, keeping nothing, for a mailbox under `minRows`
   * rows or a column that does not parse.
   */
  keepNow(mailboxId: number): boolean {
    if (!USABLE) return false;
    const p = readTx(this.db, () => this.encodeStored(mailboxId));
    if (!p) return false;
    this.pending.set(mailboxId, p);
    this.flush();
    return true;
  }

  /** Makes the writes still waiting now (the store is closing). */
  finish(): void {
    if (this.timer) clearImmediate(this.timer);
    this.timer = null;
    this.flush();
  }

  private readNow(mailboxId: number, uidValidity: number, sets: FlagSets): Rows | null {
    const kept = stmt(
      this.db,
      'SELECT uid_validity, modseq, n, lists, data FROM mailbox_columns WHERE mailbox_id = ?',
    )
      .raw(true)
      .get(mailboxId) as [number, number, number, string, Buffer] | undefined;
    if (!kept) return null;
    const [keptValidity, since, n, lists, data] = kept;
    const mb = stmt(
      this.db,
      'SELECT uid_validity, highest_modseq, message_count FROM mailboxes WHERE id = ?',
    )
      .raw(true)
      .get(mailboxId) as [number, number, number] | undefined;
    if (!mb || mb[0] !== uidValidity || keptValidity !== uidValidity || since > mb[1]) {
      this.drop(mailboxId);
      return null;
    }
    const limit = Math.max(1000, n >> 3);
    const changed = stmt(
      this.db,
      `SELECT uid, message_id, flags, modseq, size, internal_date, internal_zone
       FROM mailbox_messages INDEXED BY mailbox_messages_modseq
       WHERE mailbox_id = ? AND modseq > ? LIMIT ? /* raw */`,
    )
      .raw(true)
      .all(mailboxId, since, limit + 1) as LightRow[];
    const gone = stmt(
      this.db,
      `SELECT uid FROM expunged INDEXED BY expunged_modseq
       WHERE mailbox_id = ? AND modseq > ? LIMIT ?`,
    )
      .pluck()
      .all(mailboxId, since, limit + 1) as number[];
    const caughtUp = changed.length + gone.length;
    // Too much to catch up on: reading the rows whole is cheaper (and keeps a new copy).
    if (caughtUp > limit) return null;
    let rows = decode(sets, data, n, lists);
    if (rows && gone.length > 0) rows = rows.without(new Set(gone));
    if (rows && !catchUp(rows, changed)) rows = null;
    if (!rows || rows.n !== mb[2]) {
      this.drop(mailboxId);
      return null;
    }
    if (caughtUp > Math.max(256, n >> 6)) this.keep(mailboxId, encode(rows, uidValidity, mb[1]));
    return rows;
  }

  /** The copy of the mailbox's stored rows as encode lays it out (keepNow), in a read transaction. */
  private encodeStored(mailboxId: number): Pending | null {
    const mb = stmt(
      this.db,
      'SELECT uid_validity, highest_modseq, message_count FROM mailboxes WHERE id = ?',
    )
      .raw(true)
      .get(mailboxId) as [number, number, number] | undefined;
    if (!mb || mb[2] < this.minRows) return null;
    const [uidValidity, modseq, n] = mb;
    const data = Buffer.allocUnsafeSlow(n * ROW_BYTES);
    const { buffer, byteOffset: o } = data;
    const uid = new Uint32Array(buffer, o + 32 * n, n);
    const flags = new Uint32Array(buffer, o + 36 * n, n);
    const column = (expr: string): string | null => {
      const [count, text] = stmt(
        this.db,
        `SELECT count(*), group_concat(${expr}) FROM
         (SELECT * FROM mailbox_messages WHERE mailbox_id = ? ORDER BY uid) /* raw */`,
      )
        .raw(true)
        .get(mailboxId) as [number, string | null];
      return count === n ? (text ?? '') : null;
    };
    const ints = (name: string, out: { [i: number]: number }): boolean => {
      const text = column(name);
      return text !== null && parseInts(text, out, 0, n);
    };
    // The lists numbered from 0 in the order first met, as encode numbers them.
    const sets = new FlagSets();
    const lists = (): boolean => {
      const text = column('flags, char(10)');
      return text !== null && parseFlagLists(sets, text, flags, 0, n);
    };
    const ok =
      ints('uid', uid) &&
      ints('message_id', new Float64Array(buffer, o, n)) &&
      ints('modseq', new Float64Array(buffer, o + 8 * n, n)) &&
      ints('size', new Float64Array(buffer, o + 16 * n, n)) &&
      ints('internal_date', new Float64Array(buffer, o + 24 * n, n)) &&
      ints('internal_zone', new Int16Array(buffer, o + 40 * n, n)) &&
      lists();
    if (!ok) return null;
    for (let i = 1; i < n; i++) if (uid[i - 1]! >= uid[i]!) return null;
    const texts = JSON.stringify(sets.lists.map((l) => l.join(' ')));
    return { kind: 'write', uidValidity, modseq, lists: texts, data };
  }

  private drop(mailboxId: number): void {
    this.pending.set(mailboxId, { kind: 'delete' });
    this.schedule();
  }

  private keep(mailboxId: number, p: Pending): void {
    this.pending.set(mailboxId, p);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setImmediate(() => {
      this.timer = null;
      this.flush();
    });
    this.timer.unref();
  }

  private flush(): void {
    if (this.pending.size === 0 || !this.db.open) return;
    const all = [...this.pending];
    this.pending.clear();
    for (const [mailboxId, p] of all) {
      try {
        tx(this.db, () => {
          if (p.kind === 'delete') {
            stmt(this.db, 'DELETE FROM mailbox_columns WHERE mailbox_id = ?').run(mailboxId);
            return;
          }
          // Only for the mailbox as it was read: deleted or made again since, nothing is kept
          // (a copy with another UIDVALIDITY would not be used either).
          stmt(
            this.db,
            `INSERT OR REPLACE INTO mailbox_columns (mailbox_id, uid_validity, modseq, n, lists, data)
             SELECT id, uid_validity, ?, ?, ?, ? FROM mailboxes WHERE id = ? AND uid_validity = ?`,
          ).run(p.modseq, p.data.length / ROW_BYTES, p.lists, p.data, mailboxId, p.uidValidity);
        });
      } catch {
        // A busy database (another process writing for longer than the busy timeout): the
        // copy is an optimization, the next whole load keeps one again.
      }
    }
  }
}

/** The rows' columns as one buffer (see the file comment), with their flag lists. */
function encode(rows: Rows, uidValidity: number, modseq: number): Pending {
  const n = rows.n;
  const data = Buffer.allocUnsafeSlow(n * ROW_BYTES);
  const f64 = new Float64Array(data.buffer, data.byteOffset, n * 4);
  f64.set(rows.messageId.subarray(0, n), 0);
  f64.set(rows.modseq.subarray(0, n), n);
  f64.set(rows.size.subarray(0, n), 2 * n);
  f64.set(rows.date.subarray(0, n), 3 * n);
  new Uint32Array(data.buffer, data.byteOffset + 32 * n, n).set(rows.uid.subarray(0, n));
  // The cache's list ids are its own: the copy numbers the lists it uses from 0.
  const flags = new Uint32Array(data.buffer, data.byteOffset + 36 * n, n);
  const local = new Int32Array(rows.sets.size).fill(-1);
  const texts: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = rows.flags[i]!;
    let l = local[id]!;
    if (l < 0) {
      l = texts.length;
      local[id] = l;
      texts.push(rows.lists[id]!.join(' '));
    }
    flags[i] = l;
  }
  new Int16Array(data.buffer, data.byteOffset + 40 * n, n).set(rows.zone.subarray(0, n));
  return { kind: 'write', uidValidity, modseq, lists: JSON.stringify(texts), data };
}

/**
 * Rows over a kept copy's columns (views of one buffer, no copy when it is aligned); null when
 * it is not what encode writes (a length or a list index out of place, UIDs not ascending).
 */
export function decode(sets: FlagSets, data: Buffer, n: number, listsJson: string): Rows | null {
  if (!Number.isInteger(n) || n < 0 || data.length !== n * ROW_BYTES) return null;
  let lists: unknown;
  try {
    lists = JSON.parse(listsJson);
  } catch {
    return null;
  }
  if (!Array.isArray(lists) || !lists.every((t) => typeof t === 'string')) return null;
  let bytes: Uint8Array = data;
  if (data.byteOffset % 8 !== 0) {
    bytes = new Uint8Array(data.length);
    bytes.set(data);
  }
  const { buffer, byteOffset: o } = bytes;
  const uid = new Uint32Array(buffer, o + 32 * n, n);
  const flags = new Uint32Array(buffer, o + 36 * n, n);
  const ids = (lists as string[]).map((t) => sets.idOfText(t));
  let last = 0;
  for (let i = 0; i < n; i++) {
    const u = uid[i]!;
    const f = flags[i]!;
    if (u <= last || f >= ids.length) return null;
    last = u;
    flags[i] = ids[f]!;
  }
  return Rows.over(sets, n, {
    uid,
    flags,
    messageId: new Float64Array(buffer, o, n),
    modseq: new Float64Array(buffer, o + 8 * n, n),
    size: new Float64Array(buffer, o + 16 * n, n),
    date: new Float64Array(buffer, o + 24 * n, n),
    zone: new Int16Array(buffer, o + 40 * n, n),
  });
}

/**
 * The rows changed or appended since the copy into it, in place: a changed row takes its new
 * flags and modseq (the other columns of a row never change), a new one goes at the end.
 * False when a new row's UID is not above the copy's (then the copy is not the mailbox's).
 */
function catchUp(rows: Rows, changed: LightRow[]): boolean {
  changed.sort((a, b) => a[0] - b[0]);
  const added: LightRow[] = [];
  for (const r of changed) {
    const i = rows.indexOf(r[0]);
    if (i >= 0) rows.setFlags(i, r[2], r[3]);
    else added.push(r);
  }
  if (added.length === 0) return true;
  // The arrays grown once, to their size (the cache then keeps them as they are).
  rows.reserve(rows.n + added.length);
  for (const r of added) {
    if (rows.n > 0 && r[0] <= rows.uid[rows.n - 1]!) return false;
    rows.pushLight(r);
  }
  return true;
}
