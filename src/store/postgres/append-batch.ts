// Group commit of appends, per node and mailbox (issue 17). Deliveries and APPENDs of one
// message to one mailbox that arrive while an earlier group for that mailbox is being written
// wait for it, then go together as one statement and one commit (APPEND_BATCH): one WAL flush
// and one turn on the account's row lock for the lot, instead of one each. Each caller is
// answered only once the commit that holds its message is done (synchronous_commit stays
// on), with its own UID and modseq, as if it had gone alone: UIDs and modseqs are handed out
// in the order the appends arrived (RFC 9051 §2.3.1.1, RFC 7162 §3), and one notice per
// message goes out with the commit, in UID order.
//
// Inside a group's statement the account's and the mailbox's rows are locked last: the stored
// messages, their blobs and the trigram index of their text are written first, so that other
// writers to the account wait only for the rows, the counters and the commit.
//
// Groups across nodes. Each node groups only the appends that reach it: with N nodes sharing
// the senders of one account, its groups were N times smaller, and a commit's fixed cost (the
// notifying commit and the FLUSH after it, db.ts; every listening node's backend woken to
// read the notices; the statement's start) was paid N times as often, while each group, taken
// whole, waited for the account's lock behind the other nodes' groups. So for CONTENDED_MS
// after another node's change to a mailbox was heard here, the mailbox's groups go in a
// transaction that takes the account's lock first and only then takes its groups from their
// queues: the appends that arrived while it waited behind the other nodes' writers go in them
// too, so the groups grow with the contention (one more round trip, the lock held through it).
// Other nodes' changes are heard only on a node that listens to the account (a session of it
// there: events.ts); a node that only delivers to it learns of them from the modseqs its
// groups are given (noteGap): one past the next after its last means another writer.
//
// Groups of different mailboxes that are ready together share one transaction too (at most
// TX_IN_FLIGHT of them out per node, each taking one group of every mailbox not already out):
// a commit costs PostgreSQL about the same whatever it holds, and deliveries to many accounts
// were each a group, and a commit, of one. Such a transaction first locks the groups' accounts
// in id order (as every writer takes them), so that two of them never wait for each other in
// a cycle (it holds them while it writes the stored messages); it goes out pipelined (BEGIN,
// the lock, the statements, COMMIT; then a FLUSH, unless its groups send no notice and commit
// synchronously: flushBehind), durable before any of its appends is answered.

import { StoreError } from '../errors.js';
import { newObjectId } from '../object-ids.js';
import type { AppendResult, ChangeEvent, ExpectedMailbox, NewMessage } from '../types.js';
import { expectedMailbox, expectParams, MAILBOX_GONE, MAILBOX_GUARD } from './append-conditions.js';
import { GatherClock } from './append-gather.js';
import { APPEND_ONE, unflushedIf } from './append-one.js';
import { textArray } from './binary-array.js';
import { bodyTextOf } from './body-text.js';
import { ContendedMailboxes } from './contended.js';
import {
  OWN_UNFLUSHED,
  OWN_UNFLUSHED_BEHIND,
  type PgDb,
  type Queryable,
  rows,
  statementName,
} from './db.js';
import { ACCOUNT_CHANNEL, noticeWanted, type PgEvents } from './events.js';
import type { FullTextIndex } from './text-catch-up.js';

/** One append waiting for its group. */
export interface BatchItem {
  message: NewMessage;
  hash: string;
  mailboxId: number;
  /** Normalized flags, and their keywords. */
  flags: string[];
  /**
   * The appending session takes \Recent up to this message's UID (AppendTarget.claimRecent):
   * as if the group's appends went one at a time in arrival order, it gets from the mailbox's
   * first recent UID, or from just past an earlier claimant's UID in the group.
   */
  claimRecent: boolean;
  /** AppendTarget.expect: a group holds appends of one expectation (and those of none). */
  expect?: ExpectedMailbox;
  keywords: string[];
  /** INTERNALDATE (epoch ms) and its zone (minutes). */
  internalDate: number;
  internalZone: number;
  /** The messages-row columns of its index (indexParams in messages.ts). */
  index: unknown[];
  threadKeys: string[];
  resolve: (r: AppendResult) => void;
  reject: (err: unknown) => void;
  /** Told where it went once its notice is back (heard: on the LISTEN connection), first. */
  placed?: (at: { uid: number; modseq: number; messageId: number }, heard: boolean) => void;
}

/** A group holds at most this many messages and (about) this many bytes of them. */
const MAX_ITEMS = 64;
const MAX_BYTES = 4 * 1024 * 1024;
/**
 * Transactions of groups out at once per node (one may wait for a lock another node holds).
 * Each is out for its statement and the FLUSH after it, most of that the WAL's flush (10-15
 * ms under load): with 2, the IMAP mix's ten sessions (about three APPENDs in flight) had
 * their APPENDs wait 4 ms on average for a slot, 7 ms when they then went together. Groups
 * of different mailboxes still share a transaction once these are out.
 */
const TX_IN_FLIGHT = 4;
/** One transaction holds the groups of at most this many mailboxes. */
const MAX_GROUPS = 32;
/**
 * For this long after another node's change to a mailbox was heard, the mailbox's groups are
 * taken only once their transaction holds the account's lock (AppendBatches.run).
 */

interface BatchRow {
  n: number;
  account_id: number | null;
  room: boolean | null;
  message_id: number | null;
  inserted: boolean | null;
  uid: number | null;
  modseq: number | null;
  uid_validity: number | null;
  recent_from: number | null;
  /** Null when no notice was sent (no node holds a lease on the account: events.ts). */
  notified: string | null;
}

/**
 * An append in its mailbox's queue, with its folded text and distinct words in UTF-8 (as
 * they go to PostgreSQL), made when it arrives: not while its group's transaction holds the
 * account's lock. With full_text_index = "on-search" none are made (NULL: not made yet, see
 * text-catch-up.ts).
 */
interface Queued {
  item: BatchItem;
  folded: Buffer | null;
  truncated: boolean;
  words: Buffer | null;
}

function queue(item: BatchItem, fullText: FullTextIndex): Queued {
  if (fullText === 'on-search') return { item, folded: null, truncated: false, words: null };
  const idx = item.message.index;
  // The index's text has no NUL here (messages.ts append: nulFreeIndex).
  return { item, ...bodyTextOf(idx.text, idx.textTruncated === true) };
}

/** A group's statement and what its answer is read with. */
interface Prepared {
  mailboxId: number;
  group: Queued[];
  notices: Array<ReturnType<PgEvents['notice']>>;
  text: string;
  values: unknown[];
}

export class AppendBatches {
  /** Appends waiting per mailbox, in arrival order; none while none waits. */
  private readonly queues = new Map<number, Queued[]>();
  /**
   * Mailboxes with a transaction out (their next group waits for it: UIDs in arrival order; a
   * contended mailbox's transaction takes its group once it holds the account's lock).
   */
  private readonly busy = new Set<number>();
  /** Mailboxes whose groups wait for the lock before they are taken (contended.ts). */
  private readonly contended = new ContendedMailboxes();
  /** When each mailbox's next group goes (append-gather.ts). */
  private readonly gather = new GatherClock(MAX_ITEMS);
  /**
   * The highest modseq each account's groups on this node were given: a later group whose
   * first modseq is past the next one found another writer's change to the account between.
   */
  private readonly lastModseq = new Map<number, number>();
  /**
   * Mailboxes whose last group here sent no notice (no node held a lease on the account):
   * their next group commits synchronously, with no FLUSH after it (append-one.ts
   * unflushedIf). A mailbox not in it (none written here yet, or its last group notified) has
   * a FLUSH sent after its group, as a notifying commit needs.
   */
  private readonly unnoticed = new Set<number>();
  /** The size of the group each busy mailbox's transaction took. */
  private readonly took = new Map<number, number>();
  /** A start planned for when a gathering group is due, and when. */
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  /** Transactions out. */
  private out = 0;
  /** A start is planned for the end of this turn of the event loop. */
  private planned = false;

  constructor(
    private readonly db: PgDb,
    private readonly events: PgEvents,
    /** Whether appends bring their search text (text-catch-up.ts). */
    private readonly fullText: FullTextIndex,
    /**
     * One append on its own (messages.ts appendOne), for those a group could not take: the
     * quota is near (each is checked alone, as it would have been), or the mailbox is gone.
     */
    private readonly single: (item: BatchItem) => Promise<AppendResult>,
    /** Stored messages a group inserted but could not place (collected again). */
    private readonly collect: (messageIds: number[]) => Promise<void>,
  ) {
    events.observeOthers((ev) => this.heardOther(ev.mailboxId));
  }

  add(item: BatchItem): void {
    const queued = queue(item, this.fullText);
    const q = this.queues.get(item.mailboxId);
    if (q) q.push(queued);
    else this.queues.set(item.mailboxId, [queued]);
    // Appends made in this same turn of the event loop join the first group too.
    this.plan();
  }

  private plan(): void {
    if (this.planned) return;
    this.planned = true;
    queueMicrotask(() => {
      this.planned = false;
      this.start();
    });
  }

  /**
   * Starts transactions while there are appends waiting, due (GatherClock: a contended
   * mailbox's groups gather behind the account's lock instead), and room for them.
   */
  private start(): void {
    const now = performance.now();
    const epochNow = Date.now();
    let wake = Number.POSITIVE_INFINITY;
    while (this.out < TX_IN_FLIGHT) {
      const ids: number[] = [];
      for (const [mailboxId, q] of this.queues) {
        if (this.busy.has(mailboxId)) continue;
        if (!this.contended.at(mailboxId, epochNow)) {
          const at = this.gather.readyAt(mailboxId, q.length, now);
          if (at > now) {
            wake = Math.min(wake, at);
            continue;
          }
        }
        ids.push(mailboxId);
        if (ids.length >= MAX_GROUPS) break;
      }
      if (ids.length === 0) break;
      for (const id of ids) this.busy.add(id);
      this.out++;
      const started = performance.now();
      void this.run(ids).finally(() => {
        this.out--;
        const ended = performance.now();
        for (const id of ids) {
          this.busy.delete(id);
          const size = this.took.get(id);
          this.took.delete(id);
          if (size !== undefined) {
            this.gather.ended(id, size, this.queues.get(id)?.length ?? 0, started, ended);
          }
        }
        this.start();
      });
    }
    if (wake !== Number.POSITIVE_INFINITY) this.wakeAt(wake);
  }

  /** start() again at `at` (performance.now() time), or earlier if one is planned already. */
  private wakeAt(at: number): void {
    if (this.timer !== undefined && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    // Timers may fire a little before their time by performance.now(): start() then plans
    // another for what is left.
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.start();
      },
      Math.max(1, Math.ceil(at - performance.now())),
    );
  }

  /** The next group of each of the mailboxes, taken from their queues now. */
  private groups(ids: number[]): Array<{ mailboxId: number; group: Queued[] }> {
    const out: Array<{ mailboxId: number; group: Queued[] }> = [];
    for (const mailboxId of ids) {
      const q = this.queues.get(mailboxId);
      if (!q) continue;
      const group = take(q);
      this.took.set(mailboxId, group.length);
      out.push({ mailboxId, group });
      if (q.length === 0) this.queues.delete(mailboxId);
    }
    return out;
  }

  /**
   * Another node changed the mailbox (its notice heard here): for CONTENDED_MS its groups wait
   * for the account's lock before they are taken (run).
   */
  private heardOther(mailboxId: number): void {
    this.contended.mark(mailboxId);
  }

  /**
   * Writes the mailboxes' next groups. While no other node changed them lately, the groups are
   * taken now: one goes as a statement of its own (the account locked inside it, after the
   * stored messages are written), several in one transaction. Else the transaction takes
   * the lock first (write).
   */
  private async run(ids: number[]): Promise<void> {
    const now = Date.now();
    if (ids.some((id) => this.contended.at(id, now))) {
      await this.write(ids, null);
      return;
    }
    const ready = this.groups(ids);
    if (ready.length === 1) await this.drain(ready[0]!.mailboxId, ready[0]!.group);
    else await this.write(ids, ready);
  }

  /**
   * One transaction for the mailboxes' groups: their accounts locked first (in id order, as
   * every writer takes them), then the groups' statements and COMMIT, then a FLUSH, made
   * durable before any append is answered; then each group's follow-up. Groups already taken
   * (`taken`) go with the lock in one round trip. Else they are taken from their queues only
   * once the lock is held, so that the appends that arrived while it was waited for (behind
   * other nodes' writers to the account) go in them too: the groups grow with the contention.
   */
  private async write(
    ids: number[],
    taken: Array<{ mailboxId: number; group: Queued[] }> | null,
  ): Promise<void> {
    /** The groups' statements, once taken. */
    const held: { groups: Prepared[] | null } = { groups: null };
    let statements: Array<Promise<BatchRow[]>> = [];
    let lock: Promise<unknown> = Promise.resolve();
    /** Whether a FLUSH follows the COMMIT (the groups' statements then set it unflushed). */
    let behind = false;
    try {
      await this.db.tx(
        async (q: Queryable) => {
          lock = ids.length === 1 ? rows(q, LOCK_ACCOUNT, ids) : rows(q, LOCK_ACCOUNTS, [ids]);
          lock.catch(() => {});
          if (!taken) await lock;
          const groups = taken ?? this.groups(ids);
          // One commit for all: unflushed (and a FLUSH after it) if any group may notify.
          behind = groups.some((r) => this.flushBehind(r.mailboxId));
          const prepared = groups.map((r) => this.prepare(r.mailboxId, r.group, behind));
          held.groups = prepared;
          statements = prepared.map((p) => rows<BatchRow>(q, p.text, p.values));
          // Not awaited here: COMMIT goes out behind them at once (the connection pipelines).
          for (const st of statements) st.catch(() => {});
        },
        // Each group's statement sets its commit unflushed itself when a FLUSH is to follow
        // (unflushedIf): no statement more for it. Else the COMMIT is synchronous: durable
        // when answered, no FLUSH. A contended mailbox's transaction (the lock first) sends
        // its FLUSH behind its COMMIT: one round trip less of the three it takes.
        () => (behind ? (taken ? OWN_UNFLUSHED : OWN_UNFLUSHED_BEHIND) : null),
      );
    } catch (err) {
      const prepared = held.groups;
      if (prepared === null) {
        // The lock was not had (the database down, or no answer in time): the appends that
        // waited for it fail as one group's would.
        for (const r of taken ?? []) for (const { item } of r.group) item.reject(err);
        for (const id of ids) {
          for (const { item } of this.queues.get(id) ?? []) item.reject(err);
          this.queues.delete(id);
        }
        return;
      }
      const outcomes = await Promise.allSettled([lock, ...statements]);
      if (err instanceof StoreError || !outcomes.some((o) => o.status === 'rejected')) {
        // Down, no answer in time, or not made durable: whether it committed is not known.
        for (const p of prepared) for (const { item } of p.group) item.reject(err);
        return;
      }
      // PostgreSQL undid the transaction whole (a deadlock, a mailbox deleted while it
      // waited, one group's error): each group goes in a statement of its own.
      await Promise.all(prepared.map((p) => this.drain(p.mailboxId, p.group)));
      return;
    }
    const answers = await Promise.all(statements);
    await Promise.all(
      (held.groups ?? []).map(async (p, i) => {
        let retry: Queued[] = [];
        try {
          retry = await this.settle(p, answers[i]!);
        } catch (err) {
          for (const { item } of p.group) item.reject(err);
        }
        if (retry.length > 0) await this.drain(p.mailboxId, retry);
      }),
    );
  }

  /** One group in a statement of its own, and what has to go again after it. */
  private async drain(mailboxId: number, first: Queued[]): Promise<void> {
    let group = first;
    while (group.length > 0) {
      let retry: Queued[] = [];
      try {
        const behind = this.flushBehind(mailboxId);
        const p = this.prepare(mailboxId, group, behind);
        const config = { name: statementName(p.text), text: p.text, values: p.values };
        // Its FLUSH goes with it (db.ts flushedBehind): one round trip, answered once durable.
        // Without one, the statement's commit is synchronous: durable when answered.
        const rs = behind
          ? await this.db.flushedBehind<BatchRow>(config)
          : (await this.db.query<BatchRow>(config)).rows;
        retry = await this.settle(p, rs);
      } catch (err) {
        // A deadlock with another node's writer, or the mailbox deleted while the statement
        // waited for the account's lock (MAILBOX_GONE): PostgreSQL undid the statement whole,
        // and each goes alone, as it would have without the group.
        const code = (err as { code?: unknown }).code;
        if (code === '40P01' || code === MAILBOX_GONE) await this.alone(group);
        else for (const { item } of group) item.reject(err);
      }
      group = retry;
    }
  }

  /**
   * Whether the mailbox's next group is written with a FLUSH after it: unless its last group
   * here sent no notice (unnoticed) and no other writer to it was seen lately (contended). A
   * synchronous commit holds the account's row lock through its WAL flush (PostgreSQL releases
   * a transaction's locks after its commit record is flushed), so that other nodes' writers
   * to the account would wait for each flush; an unflushed commit releases it before, and the
   * FLUSH after it waits holding nothing.
   */
  private flushBehind(mailboxId: number): boolean {
    return !this.unnoticed.has(mailboxId) || this.contended.at(mailboxId);
  }

  /** What a group's answer says of the next one's notices (flushBehind). */
  private noteNotices(mailboxId: number, placed: BatchRow[]): void {
    if (placed.length === 0) return;
    if (placed.some((r) => r.notified !== null)) this.unnoticed.delete(mailboxId);
    else {
      if (this.unnoticed.size >= 4096) this.unnoticed.clear();
      this.unnoticed.add(mailboxId);
    }
  }

  /**
   * A group's statement and its parameters, with a notice per message; `behind`: a FLUSH is
   * sent after its commit (unflushedIf).
   */
  private prepare(mailboxId: number, queued: Queued[], behind: boolean): Prepared {
    if (queued.length === 1) return this.prepareOne(mailboxId, queued[0]!, behind);
    const group = queued.map((q) => q.item);
    const notices = group.map(() => this.events.notice());
    let offset = 0;
    const offsets = group.map((it) => {
      const at = offset;
      offset += it.message.raw.length;
      return at;
    });
    const column = (i: number) => group.map((it) => it.index[i]);
    // The text arrays go in binary (binary-array.ts): PostgreSQL reads them without parsing.
    const texts = (i: number) => textArray(column(i) as Array<string | null>);
    const claims = group.some((it) => it.claimRecent);
    const expect = group.find((it) => it.expect !== undefined)?.expect;
    const values = [
      mailboxId,
      textArray(group.map((it) => it.hash)),
      group.map((it) => it.message.raw.length),
      offsets,
      Buffer.concat(group.map((it) => it.message.raw)),
      texts(0),
      texts(1),
      texts(2),
      texts(3),
      texts(4),
      texts(5),
      texts(6),
      texts(7),
      column(8),
      textArray(
        group.map((it) => {
          const refs = it.index[9] as string[] | null;
          return refs === null ? null : JSON.stringify(refs);
        }),
      ),
      texts(10),
      texts(11),
      texts(12),
      texts(13),
      // RFC 8474: EMAILID and THREADID belong to the stored message, kept by every copy.
      textArray(group.map(() => newObjectId('M'))),
      textArray(group.map((it) => JSON.stringify(it.threadKeys))),
      textArray(group.map(() => newObjectId('T'))),
      textArray(queued.map((q) => q.folded)),
      queued.map((q) => q.truncated),
      textArray(group.map((it) => JSON.stringify(it.flags))),
      group.map((it) => it.internalDate),
      group.map((it) => it.internalZone),
      // RFC 8514 §2: the save date is when the message came into this mailbox.
      Date.now(),
      textArray([...new Set(group.flatMap((it) => it.keywords))]),
      textArray(group.map((it) => JSON.stringify(it.keywords))),
      notices[0]!.origin,
      notices.map((n) => n.seq),
      textArray(queued.map((q) => q.words)),
      group.map((it) => it.claimRecent),
      ...expectParams(expect),
      behind,
    ];
    return {
      mailboxId,
      group: queued,
      notices,
      text: APPEND_BATCH[claims ? 1 : 0]!,
      values,
    };
  }

  /**
   * A group of one: append-one.ts's statement, whose rows are the group statement's. Its
   * smaller plan costs PostgreSQL less to start at every call than the group statement's
   * (the 29 arrays, their joins and window aggregates), which a group of one paid whole.
   */
  private prepareOne(mailboxId: number, queued: Queued, behind: boolean): Prepared {
    const it = queued.item;
    const notice = this.events.notice();
    return {
      mailboxId,
      group: [queued],
      notices: [notice],
      text: APPEND_ONE[it.keywords.length > 0 ? 1 : 0]![it.claimRecent ? 1 : 0]!,
      values: [
        it.hash,
        it.message.raw.length,
        it.message.raw,
        ...it.index,
        // RFC 8474: EMAILID and THREADID belong to the stored message, kept by every copy.
        newObjectId('M'),
        it.threadKeys,
        newObjectId('T'),
        queued.folded,
        queued.truncated,
        mailboxId,
        it.flags,
        it.internalDate,
        it.internalZone,
        // RFC 8514 §2: the save date is when the message came into this mailbox.
        Date.now(),
        it.keywords,
        notice.origin,
        notice.seq,
        queued.words,
        ...expectParams(it.expect),
        behind,
      ],
    };
  }

  /**
   * Answers a group's appends from its statement's rows, once committed; returns the appends
   * to put in the next group (their bytes were racing).
   */
  private async settle(p: Prepared, rs: BatchRow[]): Promise<Queued[]> {
    const { mailboxId, group, notices } = p;
    const byN = new Map(rs.map((r) => [r.n, r]));
    const first = rs[0];
    // The mailbox is gone, or the quota is near: each goes alone, and gets its own answer.
    if (!first || first.account_id === null || first.room !== true) {
      await this.alone(group);
      return [];
    }
    const placed = rs.filter((r) => r.uid !== null);
    const missed = rs.filter((r) => r.uid === null && r.message_id !== null);
    if (placed.length === 0 && missed.length > 0) {
      // The quota, checked again under the account's lock, was passed meanwhile: what this
      // group stored goes again, and each append is tried alone.
      const ids = missed.filter((r) => r.inserted === true).map((r) => r.message_id!);
      if (ids.length > 0) await this.collect(ids);
      await this.alone(group.filter((_, i) => byN.get(i + 1)?.message_id !== null));
      return group.filter((_, i) => byN.get(i + 1)?.message_id === null);
    }
    this.noteGap(first.account_id, mailboxId, placed);
    this.noteNotices(mailboxId, placed);
    const retry: Queued[] = [];
    for (const [i, q] of group.entries()) {
      const r = byN.get(i + 1);
      if (!r || r.uid === null || r.modseq === null || r.uid_validity === null) {
        // Another writer was storing the same bytes: it has committed or rolled back by now.
        retry.push(q);
        continue;
      }
      const it = q.item;
      const ev: ChangeEvent = {
        accountId: first.account_id,
        mailboxId,
        modseq: r.modseq,
        kind: 'append',
        uids: [r.uid],
      };
      if (it.keywords.length > 0) ev.keywords = it.keywords;
      const result: AppendResult = {
        mailboxId,
        uidValidity: r.uid_validity,
        uid: r.uid,
        modseq: r.modseq,
      };
      // RFC 3501 §2.3.2: the claimant's \Recent, taken in the same statement.
      if (it.claimRecent && r.recent_from !== null) result.recentFrom = r.recent_from;
      // Answered once its own notice came back (events.ts), as appendOne's caller is; the
      // next group need not wait for that.
      const at = { uid: r.uid, modseq: r.modseq, messageId: r.message_id! };
      const notice = notices[i]!;
      void (r.notified === null ? notice.unsent(ev) : notice.sent(ev)).then((heard) => {
        it.placed?.(at, heard);
        it.resolve(result);
      });
    }
    return retry;
  }

  /**
   * On a node that does not listen to the account (no session of it here: other nodes'
   * changes are not heard, events.ts), another writer's change is seen in the modseqs: the
   * group's first is past the one after the last this node's groups were given. The mailbox's
   * groups then wait for the account's lock before they are taken, as when a notice is heard.
   */
  private noteGap(accountId: number, mailboxId: number, placed: BatchRow[]): void {
    let lo = Number.POSITIVE_INFINITY;
    let hi = 0;
    for (const r of placed) {
      const m = Number(r.modseq);
      if (m < lo) lo = m;
      if (m > hi) hi = m;
    }
    if (hi === 0) return;
    const last = this.lastModseq.get(accountId);
    if (last === undefined || hi > last) this.lastModseq.set(accountId, hi);
    if (last !== undefined && lo > last + 1 && !this.events.listensTo(accountId)) {
      this.heardOther(mailboxId);
    }
    if (this.lastModseq.size > 4096) this.lastModseq.clear();
  }

  private async alone(group: Queued[]): Promise<void> {
    await Promise.all(
      group.map(({ item: it }) =>
        this.single(it).then(it.resolve, (err: unknown) => it.reject(err)),
      ),
    );
  }
}

/**
 * The next group from a mailbox's queue: in arrival order, up to MAX_ITEMS and MAX_BYTES
 * (always at least one), and one append per distinct content (a second of the same bytes
 * waits for the next group, where it finds the first's stored message), none naming another
 * of the group or one left behind (it waits too).
 */
function take(q: Queued[]): Queued[] {
  const group: Queued[] = [];
  const hashes = new Set<string>();
  /** Message-IDs of the group's messages and of those left for a later group. */
  const named = new Set<string>();
  let bytes = 0;
  let expect: ExpectedMailbox | undefined;
  const rest: Queued[] = [];
  while (q.length > 0) {
    const queued = q.shift()!;
    const it = queued.item;
    // The statement checks one expectation (AppendTarget.expect): another ends the group.
    const full =
      group.length >= MAX_ITEMS ||
      (group.length > 0 && bytes + it.message.raw.length > MAX_BYTES) ||
      (it.expect !== undefined && expect !== undefined && !sameExpectation(it.expect, expect));
    // A message naming one not stored yet (a reply in the same burst) goes after it, so that
    // its THREADID lookup finds it (RFC 8474), as it would one at a time.
    if (full || hashes.has(it.hash) || it.threadKeys.some((k) => named.has(k))) {
      rest.push(queued);
      const id = it.message.index.search.messageId;
      if (id !== '') named.add(id);
      if (full) break;
      continue;
    }
    group.push(queued);
    expect ??= it.expect;
    hashes.add(it.hash);
    const id = it.message.index.search.messageId;
    if (id !== '') named.add(id);
    bytes += it.message.raw.length;
  }
  q.unshift(...rest);
  return group;
}

function sameExpectation(a: ExpectedMailbox, b: ExpectedMailbox): boolean {
  return a.accountId === b.accountId && a.uidValidity === b.uidValidity && a.name === b.name;
}

/**
 * One group's statement. $1 the mailbox; per message ($2-$27, $30, $32-$34: arrays in arrival
 * order): hash, size, offset of its bytes in $5 (all the group's bytes, sent once in binary),
 * the messages row's index columns ($15 References and $21 the THREADID keys as JSON), a new
 * EMAILID and a THREADID for a new thread, the folded text and whether it was cut, flags
 * (JSON), internal date and zone, its keywords (JSON), its notice's sequence number, ($33)
 * its distinct words (search-words.ts) and ($34) whether it claims \Recent; $28 the save
 * date, $29 the group's keywords, $31 the notices' origin (events.ts). With `claims` (some
 * message of the group claims \Recent) the mailbox's row is read again under its lock, its
 * first recent UID moved past the last claimant's UID, and each claimant gets (recent_from)
 * the first recent UID as it was, or one past the previous claimant's UID in the group.
 * $35-$37: the mailbox the group's appends expect (AppendTarget.expect, expectedMailbox), or
 * nulls; a mailbox that is not what they expect is as gone (each then goes alone). $38:
 * whether a FLUSH follows the commit (append-one.ts unflushedIf).
 *
 * Stored messages are found (held FOR KEY SHARE) or inserted with their THREADID (as
 * threadIdFor decides it) and, after their rows, their blobs of one chunk. Only then, under
 * the account's row lock, its modseq moves by the group's count and its usage by the group's
 * size (the quota checked again there, for the group as a whole), the mailbox's UIDNEXT by the
 * count, and the rows are added: message k of the group (in arrival order) gets the k-th new
 * UID and modseq. Stored messages and blobs are inserted in hash order, so that two groups
 * with the same bytes in them (on two nodes) wait for each other in one order, not in a
 * cycle. Nothing is placed when the mailbox is gone or the group would pass the
 * quota (room false, or no uid under the lock); a mailbox deleted while the statement waited
 * for the account's lock undoes it whole (MAILBOX_GUARD); a message whose bytes another writer was
 * inserting at the same time gets no row (message_id null). One row per message comes back.
 * The notices go only while some node holds a lease on the account (`listened_until`, read
 * from the row's version under the lock, events.ts) other than this node alone (its holder,
 * events.ts noticeWanted); `notified` is null when none went.
 */
function appendBatchSql(claims: boolean): string {
  return `WITH x AS (
    SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $6::text[], $7::text[],
      $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[],
      $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[],
      $22::text[], $23::text[], $24::boolean[], $25::text[], $26::bigint[], $27::integer[],
      $30::text[], $32::bigint[], $33::text[], $34::boolean[])
      WITH ORDINALITY AS x(hash, size, off, structure, envelope, s_from, s_to, s_cc, s_bcc,
        s_subject, s_message_id, sent_at, refs, e_from, e_to, e_cc, e_bcc, email_id, tkeys,
        new_thread, body_text, cut, flags, idate, izone, kw, seq, words, claim, n)),
  mb AS (SELECT id, account_id FROM mailboxes WHERE id = $1 AND ${expectedMailbox(35)}),
  room AS (
    SELECT quota_bytes IS NULL OR used_bytes + (SELECT sum(size) FROM x) <= quota_bytes AS ok
    FROM accounts WHERE id = (SELECT account_id FROM mb)),
  found AS (
    SELECT f.id, f.blob_hash FROM unnest($2::text[]) h(hash),
      LATERAL (SELECT id, blob_hash FROM messages WHERE blob_hash = h.hash FOR KEY SHARE) f),
  ins AS (
    INSERT INTO messages (blob_hash, size, structure, envelope, s_from, s_to, s_cc,
      s_bcc, s_subject, s_message_id, sent_at, s_references, e_from, e_to, e_cc, e_bcc,
      email_id, thread_id, body_text, text_truncated, body_words)
    SELECT x.hash, x.size, x.structure, x.envelope, x.s_from, x.s_to, x.s_cc, x.s_bcc,
      x.s_subject, x.s_message_id, x.sent_at,
      CASE WHEN x.refs IS NULL THEN NULL
        ELSE ARRAY(SELECT json_array_elements_text(x.refs::json)) END,
      x.e_from, x.e_to, x.e_cc, x.e_bcc, x.email_id,
      COALESCE((
        SELECT m.thread_id FROM json_array_elements_text(x.tkeys::json) WITH ORDINALITY k(key, pos)
          JOIN messages m ON m.s_message_id = k.key AND m.s_message_id <> ''
        ORDER BY k.pos, m.id LIMIT 1), x.new_thread),
      x.body_text, x.cut, x.words
    FROM x
    WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.blob_hash = x.hash)
      AND (SELECT ok FROM room)
    ORDER BY x.hash
    ON CONFLICT (blob_hash) DO NOTHING RETURNING id, blob_hash),
  b AS (
    INSERT INTO blobs (hash, size)
    SELECT x.hash, x.size FROM ins JOIN x ON x.hash = ins.blob_hash ORDER BY x.hash
    ON CONFLICT (hash) DO UPDATE SET size = excluded.size RETURNING hash, (xmax = 0) AS fresh),
  c AS (
    INSERT INTO blob_chunks (hash, seq, data)
    SELECT x.hash, 0, substring($5::bytea FROM x.off::integer + 1 FOR x.size::integer)
    FROM b JOIN x ON x.hash = b.hash WHERE b.fresh AND x.size > 0 RETURNING 1),
  msg AS (
    SELECT id, blob_hash, false AS inserted FROM found
    UNION ALL SELECT id, blob_hash, true FROM ins),
  r AS (
    SELECT x.n, x.size, x.flags, x.idate, x.izone, x.kw, x.seq, x.claim, msg.id AS message_id,
      msg.inserted, row_number() OVER (ORDER BY x.n) AS rk, count(*) OVER () AS cnt,
      sum(x.size) OVER () AS bytes
    FROM x JOIN msg ON msg.blob_hash = x.hash),
  stored AS (SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM r) AS n),
  a AS (
    UPDATE accounts SET used_bytes = used_bytes + (SELECT bytes FROM r LIMIT 1),
      modseq = modseq + (SELECT cnt FROM r LIMIT 1)
    WHERE id = (SELECT account_id FROM mb) AND (SELECT n FROM stored) > 0
      AND (SELECT ok FROM room) AND EXISTS (SELECT 1 FROM r)
      AND (quota_bytes IS NULL OR used_bytes + (SELECT bytes FROM r LIMIT 1) <= quota_bytes)
    RETURNING modseq, ${noticeWanted('$31::text')} AS listened),
  m AS (${
    claims
      ? `
    UPDATE mailboxes mm SET uid_next = mm.uid_next + (SELECT cnt FROM r LIMIT 1),
      highest_modseq = GREATEST(mm.highest_modseq, (SELECT modseq FROM a)),
      first_recent_uid = COALESCE(mm.uid_next + (SELECT max(rk) FROM r WHERE claim),
        mm.first_recent_uid)
    FROM (SELECT id, first_recent_uid FROM mailboxes
          WHERE id = $1 AND EXISTS (SELECT 1 FROM a) FOR UPDATE) old
    WHERE mm.id = old.id
    RETURNING mm.uid_next - (SELECT cnt FROM r LIMIT 1) AS first_uid, mm.uid_validity,
      old.first_recent_uid AS recent_from`
      : `
    UPDATE mailboxes SET uid_next = uid_next + (SELECT cnt FROM r LIMIT 1),
      highest_modseq = GREATEST(highest_modseq, (SELECT modseq FROM a))
    WHERE id = $1 AND EXISTS (SELECT 1 FROM a)
    RETURNING uid_next - (SELECT cnt FROM r LIMIT 1) AS first_uid, uid_validity,
      NULL::bigint AS recent_from`
  }),
  placed AS (
    SELECT r.n, r.message_id, r.inserted, r.kw, r.seq, m.first_uid + r.rk - 1 AS uid,
      a.modseq - r.cnt + r.rk AS modseq, m.uid_validity, a.listened,
      CASE WHEN r.claim THEN COALESCE(m.first_uid + max(CASE WHEN r.claim THEN r.rk END)
        OVER (ORDER BY r.rk ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), m.recent_from)
      END AS recent_from
    FROM r, m, a),
  i AS (
    INSERT INTO mailbox_messages (mailbox_id, uid, message_id, flags, modseq, internal_date,
      internal_zone, save_date, size)
    SELECT $1, p.uid, p.message_id, ARRAY(SELECT json_array_elements_text(r.flags::json)),
      p.modseq, r.idate, r.izone, $28::bigint, r.size
    FROM placed p JOIN r ON r.n = p.n),
  k AS (
    INSERT INTO mailbox_keywords (mailbox_id, keyword)
    SELECT $1, kw FROM unnest($29::text[]) kw WHERE EXISTS (SELECT 1 FROM placed)
    ON CONFLICT DO NOTHING)
SELECT x.n, mb.account_id, room.ok AS room, r.message_id, r.inserted, p.uid, p.modseq,
  p.uid_validity, p.recent_from, ${MAILBOX_GUARD},
  CASE WHEN p.uid IS NOT NULL AND p.listened THEN pg_notify('${ACCOUNT_CHANNEL}' || mb.account_id, json_build_object('o', $31::text,
    's', p.seq, 'e', json_strip_nulls(json_build_object('accountId', mb.account_id,
      'mailboxId', $1::bigint, 'modseq', p.modseq, 'kind', 'append', 'uids',
      json_build_array(p.uid), 'keywords', CASE WHEN p.kw <> '[]' THEN p.kw::json END)))::text)
  END AS notified, ${unflushedIf(38)}
FROM x LEFT JOIN mb ON true LEFT JOIN room ON true LEFT JOIN r ON r.n = x.n
  LEFT JOIN placed p ON p.n = x.n
ORDER BY p.uid NULLS LAST, x.n`;
}

/**
 * The accounts' rows of the mailboxes $1 (the groups of one transaction), locked in id order
 * as every writer takes them (messages.ts lockAccounts), and in the mode the group statements'
 * own update of them takes; in a function that keeps its plan (migration 16).
 */
const LOCK_ACCOUNTS = 'SELECT letterbox_lock_accounts($1::bigint[])';

/**
 * LOCK_ACCOUNTS for the groups of one mailbox (one account: a contended mailbox's transaction,
 * three nodes delivering to one account): a plan of two index scans under the row lock. The
 * function's plan (a hash join, a sort and a bitmap scan) cost its executor start at every
 * call, and again when the row was updated by the writer it waited for (READ COMMITTED's
 * re-check of the locked row, EvalPlanQual, starts a copy of the plan): a third of a
 * contended group's lock in `perf` at three nodes. Its scalar parameter plans the same
 * whatever its value, so the kept generic plan serves.
 */
const LOCK_ACCOUNT = `SELECT a.id FROM accounts a
  WHERE a.id = (SELECT mb.account_id FROM mailboxes mb WHERE mb.id = $1::bigint)
  FOR NO KEY UPDATE OF a`;

/** By whether some message of the group claims \Recent. */
const APPEND_BATCH = [appendBatchSql(false), appendBatchSql(true)];
