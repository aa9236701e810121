// The SQLite store's rows as plain values, to compare what its column loads give (a kept copy,
// flagColumns) with the records listed from the database.
import type { Rows } from '../../src/store/sqlite/record-rows.js';
import type { MessageRecord } from '../../src/store/types.js';

/** A record's fields the columns hold. */
export function plainRecord(r: MessageRecord) {
  return {
    uid: r.uid,
    flags: [...r.flags],
    modseq: r.modseq,
    messageId: r.messageId,
    size: r.size,
    internalDate: r.internalDate.getTime(),
    internalZone: r.internalZone ?? 0,
  };
}

/** The columns' rows as plainRecord gives them (flags by content, not by list id). */
export function ofColumns(c: Rows) {
  return Array.from({ length: c.n }, (_, i) => ({
    uid: c.uid[i]!,
    flags: [...c.lists[c.flags[i]!]!],
    modseq: c.modseq[i]!,
    messageId: c.messageId[i]!,
    size: c.size[i]!,
    internalDate: c.date[i]!,
    internalZone: c.zone[i]!,
  }));
}
