// One-row STOREs of several sessions in one statement and commit (issue 17). Each STORE the
// node can write from the rows it knows is one statement that commits on its own
// (messages.ts writeFlags); every such statement pays its round trip, its function's start,
// its commit and every listener's wake-up for its notice, about as much of PostgreSQL's CPU
// as the rows' changes themselves. So a node has one such write out at a time: those that come
// while it is out queue, and go together (migration 18's function) once it has been answered,
// a group holding what came during the one before it (group commit, as the FLUSHes and the
// append groups). A write alone goes at once in set-flag-one.ts's statement.
//
// Each write is answered once its commit is durable: after the group's answer, a FLUSH sent
// after it (db.ts durableSince). The next group goes as soon as the answer is in, while that
// FLUSH is out. A write alone whose mailbox's last such write here sent no notice commits
// synchronously instead, with no FLUSH (flush-guess.ts).

import { type PgDb, type Queryable, rows, UNFLUSHED_COMMIT } from './db.js';
import type { FlushGuess } from './flush-guess.js';
import { SET_FLAG_ONE } from './set-flag-one.js';

/** One STORE's change of one row, as read (`was`: its modseq then). */
export interface FlagWrite {
  accountId: number;
  mailboxId: number;
  uid: number;
  was: number;
  /** Its new flags. */
  flags: readonly string[];
  /** Keywords to keep in the mailbox's list and announce. */
  keywords: readonly string[];
  /** The notice's origin and sequence (events.ts notice). */
  origin: string;
  seq: number;
  /**
   * Set by a write that went alone (SET_FLAG_ONE) when it sent no notice (no other node than
   * this one holds a lease on the account): its events are emitted here (notice().unsent).
   */
  unsent?: boolean;
}

/**
 * The modseq the row was written with; 'stale' when it no longer had the modseq it was read
 * with (changed or expunged since: nothing written, read again); 'gone' when there is no such
 * account.
 */
export type FlagWritten = number | 'stale' | 'gone';

/** The most writes one group holds. */
export const FLAG_GROUP_MAX = 64;

/** Migration 13's function: the rows of a STORE of several, undone whole with SQLSTATE 22012
 * when one is stale (messages.ts writeFlags). */
export const SET_FLAGS = `SELECT *, ${UNFLUSHED_COMMIT} FROM letterbox_set_flags($1, $2, $3, $4, $5, $6, $7, $8)`;

/** Migration 18's function: a group, in ascending account order; per item its modseq. */
export const SET_FLAGS_GROUP = `SELECT *, ${UNFLUSHED_COMMIT} FROM letterbox_set_flags_group($1, $2, $3, $4, $5, $6, $7, $8)`;

interface Queued {
  w: FlagWrite;
  resolve: (r: FlagWritten) => void;
  reject: (err: unknown) => void;
}

export class FlagGroups {
  private queue: Queued[] = [];
  private out = false;
  /** Statements that commit on their own, answered before their FLUSH (db.ts unflushed). */
  private readonly unflushed: Queryable;

  constructor(
    private readonly db: PgDb,
    /** Whether a write that goes alone has a FLUSH after its commit (flush-guess.ts). */
    private readonly guess: FlushGuess,
  ) {
    this.unflushed = { query: (config) => db.unflushed(config) };
  }

  /** Writes `w` alone or with the others queued meanwhile; answered once durable. */
  write(w: FlagWrite): Promise<FlagWritten> {
    return new Promise((resolve, reject) => {
      this.queue.push({ w, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.out || this.queue.length === 0) return;
    const group = this.queue.splice(0, FLAG_GROUP_MAX);
    this.out = true;
    void this.run(group);
  }

  private async run(group: Queued[]): Promise<void> {
    let got: FlagWritten[];
    /** Whether the commit waits for a FLUSH after it (a synchronous one is durable already). */
    let flush = true;
    try {
      if (group.length === 1) {
        const one = await this.one(group[0]!.w);
        got = [one.got];
        flush = one.flush;
      } else got = await this.many(group);
    } catch (err) {
      for (const g of group) g.reject(err);
      return;
    } finally {
      this.out = false;
      this.next();
    }
    if (flush) {
      try {
        await this.db.durableSince();
      } catch (err) {
        for (const g of group) g.reject(err);
        return;
      }
    }
    for (const [i, g] of group.entries()) g.resolve(got[i]!);
  }

  /**
   * A write alone: its commit unflushed with a FLUSH after it, or, when the mailbox's last
   * such write here sent no notice (flush-guess.ts), synchronous, durable when answered.
   */
  private async one(w: FlagWrite): Promise<{ got: FlagWritten; flush: boolean }> {
    const kw = w.keywords.length > 0;
    const flush = this.guess.flushAfter(w.mailboxId);
    const values = [w.accountId, w.mailboxId, w.uid, w.was, w.flags, w.origin, w.seq];
    try {
      const r = await rows<{ at_modseq: number; notified: string | null }>(
        flush ? this.unflushed : this.db,
        SET_FLAG_ONE[kw ? 1 : 0],
        kw ? [...values, w.keywords, flush] : [...values, flush],
      );
      if (!r[0]) return { got: 'gone', flush };
      w.unsent = r[0].notified === null;
      this.guess.noted(w.mailboxId, !w.unsent);
      return { got: Number(r[0].at_modseq), flush };
    } catch (err) {
      // Undone whole: nothing committed, nothing to flush.
      if ((err as { code?: unknown }).code === '22012') return { got: 'stale', flush: false }; // see SET_FLAG_ONE
      throw err;
    }
  }

  private async many(group: Queued[]): Promise<FlagWritten[]> {
    // Accounts locked in ascending order, as every transaction that takes several does
    // (append-batch.ts): no deadlock between groups. A stable sort: one account's writes in
    // the order they came.
    const order = group
      .map((_, i) => i)
      .sort((a, b) => group[a]!.w.accountId - group[b]!.w.accountId);
    const ws = order.map((i) => group[i]!.w);
    const r = await rows<{ k: number; at_modseq: number | null }>(this.unflushed, SET_FLAGS_GROUP, [
      ws.map((w) => w.accountId),
      ws.map((w) => w.mailboxId),
      ws.map((w) => w.uid),
      ws.map((w) => w.was),
      ws.map((w) => JSON.stringify(w.flags)),
      ws.map((w) => JSON.stringify(w.keywords)),
      ws[0]!.origin,
      ws.map((w) => w.seq),
    ]);
    const out: FlagWritten[] = new Array(group.length).fill('gone');
    for (const x of r) {
      const m = x.at_modseq === null ? null : Number(x.at_modseq);
      out[order[x.k - 1]!] = m === null ? 'gone' : m < 0 ? 'stale' : m;
    }
    return out;
  }
}
