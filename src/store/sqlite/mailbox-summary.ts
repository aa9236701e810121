// SELECT's summary of a mailbox (its UIDs, the first unseen message; the keywords come from
// mailbox_keywords) read from the mailbox's row and indexes, not from its rows: the first
// SELECT of a mailbox of a million messages read and decoded every row, 9.5 s (issue 18
// item 6). The number of messages is kept in the mailbox's row by triggers (migration 17), the
// lowest and highest UID are two index lookups, so the usual mailbox, whose UIDs run without a
// gap or whose gaps are its expunged UIDs (the `expunged` table, kept for VANISHED), is
// numbered (RFC 9051 §2.3.1.2: sequence number i is the i-th UID in ascending order) without a
// row read, and without an array of its UIDs (a UidList of the range and its expunged UIDs:
// the million-UID array was nearly all of a first SELECT's 13 ms); any other reads the UID
// column alone. The first message without \Seen is one lookup in the index of unseen rows.

import { UidList } from '../uid-list.js';
import type { Db } from './db.js';
import { stmt } from './db.js';

/** UIDs kept in lists over all mailboxes (8 bytes each): SELECT again makes no new list. */
const MEMO_UIDS = 2_000_000;

interface Memo {
  /** changes[mailbox] when read: unchanged since, the whole answer stands (no SQL). */
  version: number;
  firstUnseen: number;
  uidValidity: number;
  uidNext: number;
  count: number;
  lo: number;
  hi: number;
  uids: UidList;
}

export interface SummaryRead {
  /** Ascending; shared by the calls that find the same UIDs (never changed). */
  uids: UidList;
  /** Sequence number of the first message without \Seen, 0 when none. */
  firstUnseen: number;
}

export class MailboxSummaries {
  private readonly memos = new Map<number, Memo>();
  private memoUids = 0;
  /** Committed changes seen per mailbox (the store's change events, other processes' too). */
  private readonly changes = new Map<number, number>();

  /** readNow in one read transaction (made once: a wrapper per call costs more than it). */
  private readonly readTx: { deferred(mailboxId: number, uidValidity: number): SummaryRead };

  constructor(private readonly db: Db) {
    this.readTx = db.transaction((mailboxId: number, uidValidity: number) =>
      this.readNow(mailboxId, uidValidity),
    );
  }

  /** The mailbox's UIDs and first unseen message, as of one read snapshot. */
  read(mailboxId: number, uidValidity: number): SummaryRead {
    const m = this.memos.get(mailboxId);
    // Nothing committed to the mailbox since the last read: that answer (the record cache
    // keeps itself current by the same events).
    if (m && m.uidValidity === uidValidity && m.version === (this.changes.get(mailboxId) ?? 0))
      return { uids: m.uids, firstUnseen: m.firstUnseen };
    return this.readTx.deferred(mailboxId, uidValidity);
  }

  /** A change to the mailbox was committed (a change event). */
  changed(mailboxId: number): void {
    this.changes.set(mailboxId, (this.changes.get(mailboxId) ?? 0) + 1);
  }

  /** Forgets a deleted mailbox. */
  drop(mailboxId: number): void {
    this.changes.delete(mailboxId);
    this.forget(mailboxId);
  }

  /** Forgets the mailbox's UID list (its change count stays: see read). */
  private forget(mailboxId: number): void {
    const m = this.memos.get(mailboxId);
    if (!m) return;
    this.memoUids -= m.uids.stored;
    this.memos.delete(mailboxId);
  }

  private readNow(mailboxId: number, uidValidity: number): SummaryRead {
    const row = stmt(this.db, 'SELECT uid_next, message_count FROM mailboxes WHERE id = ?')
      .raw(true)
      .get(mailboxId) as [number, number] | undefined;
    if (!row || row[1] <= 0) return { uids: UidList.EMPTY, firstUnseen: 0 };
    const [uidNext, count] = row;
    const lo = stmt(
      this.db,
      'SELECT uid FROM mailbox_messages WHERE mailbox_id = ? ORDER BY uid LIMIT 1',
    )
      .pluck()
      .get(mailboxId) as number | undefined;
    const hi = stmt(
      this.db,
      'SELECT uid FROM mailbox_messages WHERE mailbox_id = ? ORDER BY uid DESC LIMIT 1',
    )
      .pluck()
      .get(mailboxId) as number | undefined;
    if (lo === undefined || hi === undefined) return { uids: UidList.EMPTY, firstUnseen: 0 };
    const version = this.changes.get(mailboxId) ?? 0;
    let m = this.memos.get(mailboxId);
    if (
      !m ||
      m.uidValidity !== uidValidity ||
      m.uidNext !== uidNext ||
      m.count !== count ||
      m.lo !== lo ||
      m.hi !== hi
    ) {
      // Appends move UIDNEXT, expunges lower the count: a list found for the same five
      // numbers is the same list.
      const uids = this.uids(mailboxId, count, lo, hi);
      m = { version, firstUnseen: 0, uidValidity, uidNext, count, lo, hi, uids };
      this.keep(mailboxId, m);
    }
    m.version = version;
    const unseen = stmt(
      this.db,
      `SELECT uid FROM mailbox_messages INDEXED BY mailbox_messages_unseen
       WHERE mailbox_id = ? AND instr(flags, '\\Seen') = 0
       ORDER BY uid LIMIT 1`,
    )
      .pluck()
      .get(mailboxId) as number | undefined;
    m.firstUnseen = unseen === undefined ? 0 : m.uids.indexOf(unseen) + 1;
    return { uids: m.uids, firstUnseen: m.firstUnseen };
  }

  private uids(mailboxId: number, count: number, lo: number, hi: number): UidList {
    const span = hi - lo + 1;
    if (span === count) return UidList.range(lo, hi);
    // Holes: read whichever is shorter, the expunged UIDs within [lo, hi] or the UIDs.
    if (span - count <= count) {
      const gone = stmt(
        this.db,
        'SELECT uid FROM expunged WHERE mailbox_id = ? AND uid > ? AND uid < ? ORDER BY uid',
      )
        .pluck()
        .all(mailboxId, lo, hi) as number[];
      // Every expunged UID is gone for good (UIDs are never given again under one
      // UIDVALIDITY): when they account for every hole, the rest of [lo, hi] is the list.
      if (span - gone.length === count) return UidList.range(lo, hi, gone);
    }
    return UidList.of(
      stmt(this.db, 'SELECT uid FROM mailbox_messages WHERE mailbox_id = ? ORDER BY uid')
        .pluck()
        .all(mailboxId) as number[],
    );
  }

  private keep(mailboxId: number, m: Memo): void {
    this.forget(mailboxId);
    if (m.uids.stored > MEMO_UIDS) return;
    for (const [id, other] of this.memos) {
      if (this.memoUids + m.uids.stored <= MEMO_UIDS) break;
      this.memoUids -= other.uids.stored;
      this.memos.delete(id);
    }
    this.memos.set(mailboxId, m);
    this.memoUids += m.uids.stored;
  }
}
