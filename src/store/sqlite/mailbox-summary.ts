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
// The mailbox's row, its lowest and highest UID and its first unseen one are one statement
// (its own read snapshot): a read outside a transaction takes and drops SQLite's read lock,
// and four of them in a transaction with the mailbox's key before it cost SELECT twice the
// one (7.9 against 3.8 us in a loop; twelfth session). Only a list with holes the memo does
// not hold is read again with its numbers in one read transaction. SELECT finds the mailbox by
// its name and reads this in the same statement (open: the row's other columns after the
// head), one read snapshot where the mailbox by name and then its summary were two (thirteenth
// session).

import { UidList } from '../uid-list.js';
import type { Db } from './db.js';
import { stmt } from './db.js';
import { SUBSCRIBED } from './mailboxes.js';

/** UIDs kept in lists over all mailboxes (8 bytes each): SELECT again makes no new list. */
const MEMO_UIDS = 2_000_000;

/** A list of UIDs and the numbers it was found for. */
interface Memo {
  uidValidity: number;
  uidNext: number;
  count: number;
  lo: number;
  hi: number;
  uids: UidList;
}

/**
 * The mailbox row's UIDVALIDITY, UIDNEXT and number of messages, its lowest and highest UID,
 * and its first UID without \Seen (null when none). One statement, the row as an array.
 */
type Head = [
  uidValidity: number,
  uidNext: number,
  count: number,
  lo: number | null,
  hi: number | null,
  unseen: number | null,
];

const HEAD_COLUMNS = `m.uid_validity, m.uid_next, m.message_count,
  (SELECT uid FROM mailbox_messages WHERE mailbox_id = m.id ORDER BY uid LIMIT 1),
  (SELECT uid FROM mailbox_messages WHERE mailbox_id = m.id ORDER BY uid DESC LIMIT 1),
  (SELECT uid FROM mailbox_messages INDEXED BY mailbox_messages_unseen
    WHERE mailbox_id = m.id AND instr(flags, '\\Seen') = 0 ORDER BY uid LIMIT 1)`;

const HEAD = `SELECT ${HEAD_COLUMNS} FROM mailboxes m WHERE m.id = ?`;

/** A row that starts with the head's columns (HEAD's, OPEN's). */
type Headed = readonly [...Head, ...unknown[]];

/** The head of a mailbox found by name, then the rest of its row (SqliteMailboxes.fromOpenRow). */
export type OpenRow = [
  ...head: Head,
  id: number,
  highestModseq: number,
  specialUse: string | null,
  objectId: string,
  firstRecentUid: number,
  subscribed: number,
];

const OPEN = `SELECT ${HEAD_COLUMNS}, m.id, m.highest_modseq, m.special_use, m.object_id,
  m.first_recent_uid, ${SUBSCRIBED} FROM mailboxes m WHERE m.account_id = ? AND m.name = ?`;

export interface SummaryRead {
  /** The mailbox's UIDVALIDITY as read with its UIDs. */
  uidValidity: number;
  /** Ascending; shared by the calls that find the same UIDs (never changed). */
  uids: UidList;
  /** Sequence number of the first message without \Seen, 0 when none. */
  firstUnseen: number;
}

export class MailboxSummaries {
  private readonly memos = new Map<number, Memo>();
  private memoUids = 0;

  /** readNow in one read transaction (made once: a wrapper per call costs more than it). */
  private readonly readTx: { deferred(mailboxId: number): SummaryRead | null };

  constructor(private readonly db: Db) {
    this.readTx = db.transaction((mailboxId: number) => this.readNow(mailboxId));
  }

  /** The mailbox's UIDs and first unseen message, as of one read snapshot; null when it is gone. */
  read(mailboxId: number): SummaryRead | null {
    const head = this.head(mailboxId);
    if (head === undefined) return null;
    const uids = this.knownUids(mailboxId, head);
    // A list with holes to read: read again with its numbers, in one snapshot.
    return uids ? answer(head, uids) : this.readTx.deferred(mailboxId);
  }

  /**
   * The account's mailbox named `name` (as stored) with its summary, the row and the head one
   * statement; null when there is none. A list with holes the memo does not hold is read as
   * read() reads it, in a transaction of its own after the row (as the mailbox by name and
   * then its summary were read before).
   */
  open(accountId: number, name: string): { id: number; row: OpenRow; read: SummaryRead } | null {
    const row = stmt(this.db, OPEN).raw(true).get(accountId, name) as OpenRow | undefined;
    if (row === undefined) return null;
    const id = row[6];
    const uids = this.knownUids(id, row);
    const read = uids ? answer(row, uids) : this.readTx.deferred(id);
    // Deleted by another process between the two reads: as read() answers for a mailbox gone.
    const gone = { uidValidity: row[0], uids: UidList.EMPTY, firstUnseen: 0 };
    return { id, row, read: read ?? gone };
  }

  /** Forgets a deleted mailbox. */
  drop(mailboxId: number): void {
    const m = this.memos.get(mailboxId);
    if (!m) return;
    this.memoUids -= m.uids.stored;
    this.memos.delete(mailboxId);
  }

  private head(mailboxId: number): Head | undefined {
    return stmt(this.db, HEAD).raw(true).get(mailboxId) as Head | undefined;
  }

  private readNow(mailboxId: number): SummaryRead | null {
    const head = this.head(mailboxId);
    if (head === undefined) return null;
    return answer(head, this.knownUids(mailboxId, head) ?? this.readUids(mailboxId, head));
  }

  /**
   * The UIDs the head's numbers give without reading a row: none, a range without holes, or
   * the list found before for the same numbers (appends move UIDNEXT, expunges lower the
   * count: a list found for the same five numbers is the same list). Null: to be read.
   */
  private knownUids(mailboxId: number, head: Headed): UidList | null {
    const [uidValidity, uidNext, count, lo, hi] = head;
    if (count <= 0 || lo === null || hi === null) return UidList.EMPTY;
    const m = this.memos.get(mailboxId);
    if (
      m &&
      m.uidValidity === uidValidity &&
      m.uidNext === uidNext &&
      m.count === count &&
      m.lo === lo &&
      m.hi === hi
    )
      return m.uids;
    if (hi - lo + 1 !== count) return null;
    const uids = UidList.range(lo, hi);
    this.keep(mailboxId, { uidValidity, uidNext, count, lo, hi, uids });
    return uids;
  }

  /** In the head's read transaction: a list with holes. */
  private readUids(mailboxId: number, head: Head): UidList {
    const [uidValidity, uidNext, count] = head;
    const lo = head[3]!;
    const hi = head[4]!;
    const uids = this.uids(mailboxId, count, lo, hi);
    this.keep(mailboxId, { uidValidity, uidNext, count, lo, hi, uids });
    return uids;
  }

  private uids(mailboxId: number, count: number, lo: number, hi: number): UidList {
    const span = hi - lo + 1;
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
    this.drop(mailboxId);
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

function answer(head: Headed, uids: UidList): SummaryRead {
  const unseen = head[5];
  return {
    uidValidity: head[0],
    uids,
    firstUnseen: unseen === null ? 0 : uids.indexOf(unseen) + 1,
  };
}
