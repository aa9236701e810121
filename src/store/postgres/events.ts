// Change events between nodes (issue 17 item 4), through PostgreSQL's LISTEN/NOTIFY. A write
// sends its events with pg_notify inside its own transaction, so they leave exactly when it
// commits, and PostgreSQL hands every listener the notifications of all nodes in commit
// order. Each node listens on one connection of its own and emits what arrives on its
// ChangeBus: its own events too, so that every node sees every mailbox's changes in the one
// order they were committed in (an IMAP view learns UIDs in ascending order). A write resolves
// once its own events came back, so its caller and the caller's session have them, as with
// the SQLite store. Should they not come back in time (the listening connection is down), the
// node emits them itself: its own sessions never miss its own changes.
//
// A message's changes go on its account's channel, the rest on one channel all nodes hear
// (CHANNEL): a node listens to an account's channel only while it has a use for the account
// (a session, a held mailbox: acquireAccount; a read of its cached rows: touch; not a write) and
// lingerMs after the last, so that it is not woken by every notifying commit of every node.
// One connection carries every channel, so what it hears stays in commit order. A session
// waits for its account's LISTEN (ready) before its first read. The caches trust a list only
// when its account was listened to from before the list was read, without a break
// (heardSince): what was read while not listening, or before a break, is read again. A write
// whose account was not listened to when its statement went out cannot wait for its echo: its
// events are emitted here at once (and the account's lists read before are not trusted, since
// other nodes' changes before it may be heard after it).
//
// Other nodes' changes committed while the connection was down are not heard. So the node
// keeps, for each mailbox a session has selected here (holdMailbox), the highest modseq it
// knows the mailbox's sessions were told of; listening again, it reads what changed since
// (rows with a higher modseq, expunged UIDs, the mailbox gone) and emits that as events
// before what it hears from then on. Views take events idempotently, so telling them again
// of something they knew is harmless. Other kinds of events (mailboxes of other sessions'
// NOTIFY, subscriptions, annotations) are not caught up. The node's caches take note of each
// event before the bus has it (observe), and `epoch` tells them when a notice may have been
// missed: they trust nothing read before that (record-cache.ts).
//
// The lease (migration 21, accounts.listened_until). PostgreSQL wakes every backend that
// listens in the database at every notifying commit, whatever its channel, so a notice nobody
// needs (a delivery to an account no node has a session of) still costs every node's LISTEN
// backend a wake-up. So a node that listens to an account also holds a lease on it: its
// LISTEN and `listened_until = now() + leaseMs` (PostgreSQL's clock) commit together, in one
// transaction on the LISTEN connection, and only then is the account listened to here (`on`,
// heardSince: the caches trust their reads of it from then). The appends (append-one.ts,
// append-batch.ts) read the lease in the update of the account's row they make anyway, under
// its row lock, and send no notice once it has run out. No race: a lease committed before a
// writer took the row lock is the row's latest version, which its UPDATE reads; a lease waiting
// behind the writer's lock commits after the writer, and the node's reads come after that. The
// writer compares with its transaction's start (`now()`), never later than the moment it reads
// the lease: a lease running at that moment is seen running. The node renews the leases of all
// the accounts it listens to at half their life (the heartbeat's tick) and counts each
// lease from when it sent the statement that took it (no later than PostgreSQL's now() in it):
// a renewal answered after that count ran out (the node stalled, the database slow), or an
// account whose count ran out unrenewed, is a break: the connection is dropped and made again,
// with everything that follows a lost connection (epoch, catch-up of held mailboxes, LISTENs
// and leases taken again before anything is trusted). The lease names its holder (migration
// 22): the node that took it while no holder's ran (`listened_by`, its origin; `held_until`);
// a lease taken by another node while the holder's runs moves `others_until`. A write from
// the holder while no other node's lease runs sends no notice either (noticeWanted: the
// appends, a one-row STORE alone, EXPUNGE; COPY/MOVE, STOREs of several rows or grouped and
// mailbox changes notify whatever the lease). The same race holds as for the lease itself:
// a second node's lease committed before the writer took the row lock is seen by it; one
// waiting behind the writer commits after it, and that node reads after. A write that sent
// no notice says so (`notified` null, or no notices counted): its events are emitted here, at
// once when this node does not listen to the account; when it does, in modseq order
// (ownInOrder: after the modseqs before its first were heard or emitted here, the account's
// writers taking their modseqs under its row lock in commit order), which keeps its sessions
// in commit order with no echo to wait for.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { ChangeBus } from '../events.js';
import type { ChangeEvent } from '../types.js';
import { type PgDb, type Queryable, UNFLUSHED_COMMIT } from './db.js';

/**
 * The channel every node listens to: the rare events (mailboxes' names, subscriptions,
 * annotations, an account disabled). A message's changes (append, flags, expunge) go on its
 * account's channel (accountChannel), which a node listens to only while it has a use for
 * the account (see `acquireAccount`, `touch`).
 */
export const CHANNEL = 'letterbox_changes';
/**
 * The channel of directory changes (migration 20's triggers: a domain, an alias, or an
 * account's row other than its usage and modseq, written by any node or process): every node
 * listens to it, for the recipients it keeps (recipient-cache.ts).
 */
export const DIRECTORY_CHANNEL = 'letterbox_directory';
/**
 * The outbound queue's channel: an item made due by hand (`letterbox queue retry`, release;
 * any node or process) is announced on it, and every node's worker looks for due items at
 * once instead of at its slow sweep (queue/worker.ts pollMs). A node's own enqueues wake its
 * own worker without it.
 */
export const QUEUE_CHANNEL = 'letterbox_queue';
/** The channels of accounts' message changes (`letterbox_a` and the account's id). */
export const ACCOUNT_CHANNEL = 'letterbox_a';
/** An account's channel. */
export function accountChannel(accountId: number): string {
  return `${ACCOUNT_CHANNEL}${accountId}`;
}
/** The kinds of event sent on their account's channel. */
const ACCOUNT_KINDS: ReadonlySet<string> = new Set(['append', 'flags', 'expunge']);
/** The channel an event is sent on. */
export function channelOf(ev: ChangeEvent): string {
  return ACCOUNT_KINDS.has(ev.kind) ? accountChannel(ev.accountId) : CHANNEL;
}
/**
 * How long a node keeps listening to an account after its last use (a session's end, a
 * write, a read of its cached rows).
 */
export const LINGER_MS = 30_000;
/** Own notices emitted here unheard are forgotten after this (their echo will not come). */
const FORGET_UNHEARD_MS = 60_000;
/** NOTIFY payloads must stay under 8000 bytes: events with many UIDs are sent in parts. */
export const UIDS_PER_NOTICE = 400;
/** How long a write waits for its own events to come back before emitting them itself. */
const ECHO_WAIT_MS = 2000;
/** How long an own write out of turn waits for the writes before it before a sync is sent. */
const SYNC_DELAY_MS = 5;
/** Between attempts to listen again after the connection was lost. */
const RELISTEN_MS = 500;
/**
 * How often the LISTEN connection is asked a trivial statement. It only receives, so a
 * connection that stopped carrying packets (a partition without a reset) would otherwise look
 * quiet forever: the node would hear no other node, and each write would wait ECHO_WAIT_MS.
 */
const HEARTBEAT_MS = 5000;
/** The heartbeat's answer, when the node's connections have no statement timeout. */
const HEARTBEAT_TIMEOUT_MS = 10_000;
/**
 * How long a lease on an account runs (accounts.listened_until; renewed at half its life).
 * A node keeps listening to an account for LINGER_MS after its last use; writers to it send
 * notices until its lease runs out, at most this much later.
 */
export const LEASE_MS = 60_000;

/**
 * Takes (or renews) the leases of the accounts `ids` (integers): their rows locked in id order,
 * as every writer takes them (no cycle with a writer of several accounts). A lease never
 * shortens one another node holds. Two statements, sent in one simple query (one implicit
 * transaction, with the LISTENs before them where there are some). Its commit does not wait
 * for the WAL's flush: it is seen by every writer once it returns all the same, and a lease
 * a crash of PostgreSQL loses needs no durability, since the crash ends every node's LISTEN
 * connection and each takes its leases again with its LISTENs. (Waiting for the flush made
 * each account's first LISTEN on a node ~15x slower: a commit with an fsync, one at a time on
 * the LISTEN connection, where a LISTEN alone writes no WAL.)
 */
function leaseSql(ids: number[], leaseMs: number, origin: string): string {
  const list = ids.map((id) => String(Math.trunc(id))).join(',');
  const end = `now() + interval '${Math.trunc(leaseMs)} milliseconds'`;
  // The origin is this store's hex id (randomBytes), safe to write into the text.
  const me = `'${origin.replace(/[^0-9a-f]/g, '')}'`;
  // This node holds (or takes: no holder's lease runs) the account, or joins as another.
  const mine = `(listened_by = ${me} OR held_until IS NULL OR held_until <= now())`;
  return `SET LOCAL synchronous_commit = off; UPDATE accounts SET
      listened_until = GREATEST(listened_until, ${end}),
      listened_by = CASE WHEN ${mine} THEN ${me} ELSE listened_by END,
      held_until = CASE WHEN ${mine}
        THEN GREATEST(CASE WHEN listened_by = ${me} THEN held_until END, ${end})
        ELSE held_until END,
      others_until = CASE WHEN ${mine} THEN others_until
        ELSE GREATEST(others_until, ${end}) END
    WHERE id IN (SELECT id FROM accounts WHERE id IN (${list}) ORDER BY id FOR NO KEY UPDATE)
    RETURNING id, modseq`;
}

/**
 * Whether a write to the account's messages must send its notice, as SQL over the account's
 * row read under its lock (`t`: its alias, or none), `origin` the writer's (an expression: the
 * statement's parameter). True while some node's lease runs, unless the only lease running is
 * the writer's own node's: it emits its own events itself (PgEvents notice().unsent), in
 * modseq order, and no other node listens. A NULL (no lease ever) is as false.
 */
export function noticeWanted(origin: string, t = ''): string {
  const c = (n: string) => (t === '' ? n : `${t}.${n}`);
  return `(${c('listened_until')} > now() AND NOT COALESCE(${c('listened_by')} = ${origin}
    AND ${c('held_until')} > now() AND COALESCE(${c('others_until')} <= now(), true), false))`;
}

/** The accounts' modseqs the lease's statement read under their locks (its last result). */
function modseqsOf(res: unknown): Map<number, number> {
  const out = new Map<number, number>();
  const list = Array.isArray(res) ? res : [res];
  const last = list[list.length - 1] as pg.QueryResult | undefined;
  for (const r of last?.rows ?? []) {
    const x = r as { id?: unknown; modseq?: unknown };
    if (x.id !== undefined && x.modseq !== undefined) out.set(Number(x.id), Number(x.modseq));
  }
  return out;
}

/** A mailbox sessions of this node have selected, and what they were told of it. */
export interface HeldMailbox {
  accountId: number;
  /** Changes up to this modseq reached the node (heard, or read by the sessions). */
  modseq: number;
  holders: number;
}

/** An account's channel on this node. */
interface Listened {
  /** Uses that keep it (sessions, writes in flight). */
  refs: number;
  /** Until when (epoch ms) it is kept without a use. */
  until: number;
  /** `ticks` when its LISTEN took effect on the current connection; 0: not listened to now. */
  on: number;
  /** Its LISTEN is on its way. */
  asked: boolean;
  /** Called once it is listened to. */
  waiters: Array<() => void>;
  /**
   * Until when (performance.now()) its lease surely runs (counted from when the statement that
   * took it was sent); 0 while it has none on the current connection.
   */
  leaseUntil: number;
  /**
   * The highest modseq of the account this node has heard or emitted as its own since its
   * lease was taken on the current connection (the lease's statement reads the account's
   * modseq under its lock); -1: not known. Every write after the lease notifies (another
   * node's) or is this node's own, so an own write whose first modseq is one past it has
   * nothing unheard before it.
   */
  known: number;
  /** Own writes that sent no notice, waiting for the modseqs before theirs. */
  queued: OwnWrite[];
}

/** An own write that sent no notice, waiting for its turn (PgEvents.ownInOrder). */
interface OwnWrite {
  first: number;
  last: number;
  evs: ChangeEvent[];
  /** The sync asked after it was queued (syncs heard up to it: emitted at once). */
  sync: number;
  done: (inOrder: boolean) => void;
}

/** Reads what changed in held mailboxes after their modseqs, as events to emit in order. */
export type CatchUp = (held: ReadonlyMap<number, HeldMailbox>) => Promise<ChangeEvent[]>;

interface Notice {
  /** The node (this store instance) that committed it. */
  o: string;
  /** Its sequence number at that node. */
  s: number;
  e: ChangeEvent;
  /**
   * More parts of the same write follow under the same `s` (a statement that sends its own
   * notices in parts, as the expunge function of migration 9): its write is done at the last.
   * That function writes null on the last part.
   */
  m?: true | null;
}

/** An event cut so that each part's payload fits a notification. */
function parts(ev: ChangeEvent): ChangeEvent[] {
  if (ev.uids.length <= UIDS_PER_NOTICE) return [ev];
  const out: ChangeEvent[] = [];
  for (let i = 0; i < ev.uids.length; i += UIDS_PER_NOTICE) {
    out.push({ ...ev, uids: ev.uids.slice(i, i + UIDS_PER_NOTICE) });
  }
  return out;
}

export class PgEvents {
  /** This store instance, in the notices it sends. */
  private readonly origin = randomBytes(8).toString('hex');
  private seq = 0;
  /** Own notices that came back and nobody waits for yet. */
  private readonly arrived = new Set<number>();
  /** Own notices a write waits for. */
  private readonly waiting = new Map<number, () => void>();
  /**
   * Own notices emitted here (after waiting in vain, or sent on a channel not listened to),
   * with when: skipped should they come back late.
   */
  private readonly emittedHere = new Map<number, number>();
  /** Accounts whose channels this node listens to, or is about to (see acquireAccount, touch). */
  private readonly accounts = new Map<number, Listened>();
  /** Counts the accounts' LISTENs taking effect (Listened.on, clock). */
  private ticks = 0;
  /** Ends the channels of accounts not used for lingerMs. */
  private sweeper: NodeJS.Timeout | undefined;
  private client: pg.Client | null = null;
  /**
   * Accounts whose LISTEN and lease wait for the one out on `asking` (ask): sent together
   * once it is answered.
   */
  private asks: Array<[number, Listened]> = [];
  /** The connection an ask is out on, if one is. */
  private asking: pg.Client | null = null;
  /** The LISTEN connection's heartbeat (HEARTBEAT_MS). */
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly held = new Map<number, HeldMailbox>();
  /** Notices heard while catching up, emitted after it. */
  private deferred: string[] | null = null;
  /** See epoch. */
  private era = 0;
  /** See directoryClock. */
  private directoryTicks = 0;
  /** Told of every event before the bus (see observe). */
  private readonly observers: Array<(ev: ChangeEvent) => void> = [];
  /** Told of other nodes' events as they are heard (see observeOthers). */
  private readonly others: Array<(ev: ChangeEvent) => void> = [];
  /** Told of each notice on QUEUE_CHANNEL (see onQueueNotice). */
  private readonly queueWatchers: Array<() => void> = [];
  /** The syncs asked (own notices on syncChannel) and the last heard. */
  private syncsAsked = 0;
  private syncsHeard = 0;
  private syncTimer: NodeJS.Timeout | undefined;
  /** Own notices handed out (notice()) and not yet told sent or unsent, with when. */
  private readonly open = new Map<number, number>();

  private constructor(
    private readonly db: PgDb,
    private readonly bus: ChangeBus,
    private readonly connect: () => pg.Client,
    private readonly catchUp: CatchUp | null,
    private readonly lingerMs: number,
    private readonly leaseMs: number,
  ) {}

  /** Listens before it returns: every change committed after that is heard. */
  static async open(
    db: PgDb,
    bus: ChangeBus,
    connect: () => pg.Client,
    catchUp: CatchUp | null = null,
    lingerMs = LINGER_MS,
    leaseMs = LEASE_MS,
  ): Promise<PgEvents> {
    const events = new PgEvents(db, bus, connect, catchUp, lingerMs, leaseMs);
    await events.listen(false);
    events.sweeper = setInterval(() => events.sweep(), Math.max(50, lingerMs / 2));
    events.sweeper.unref();
    return events;
  }

  /**
   * A use of the account that lasts (a session): its channel is listened to until `releaseAccount`
   * (and lingerMs after). `ready` says when the LISTEN has taken effect.
   */
  acquireAccount(accountId: number): void {
    this.entry(accountId).refs++;
  }

  releaseAccount(accountId: number): void {
    const a = this.accounts.get(accountId);
    if (!a) return;
    a.refs--;
    a.until = Date.now() + this.lingerMs;
  }

  /**
   * A use of the account now (a read of its cached rows): its channel is listened
   * to (from a moment later, see heardSince) until lingerMs after the last.
   */
  touch(accountId: number): void {
    this.entry(accountId).until = Date.now() + this.lingerMs;
  }

  /**
   * Null when the account's channel is listened to; else a promise resolved once it is:
   * every change to its messages committed after that is heard (a session's first read
   * waits for it). Starts listening when nothing did.
   */
  ready(accountId: number): Promise<void> | null {
    const a = this.entry(accountId);
    if (a.on > 0) return null;
    return new Promise((resolve) => a.waiters.push(resolve));
  }

  /**
   * The count of LISTENs taken effect so far: a read sent now is trusted later while
   * heardSince(its account, this) holds.
   */
  get clock(): number {
    return this.ticks;
  }

  /**
   * The account's channel has been listened to without a break since before `stamp` (a
   * `clock` read earlier) was taken: every change to its messages committed after a read
   * sent at `stamp` has been heard, or will be, in order (with `epoch` unchanged and `live`).
   */
  heardSince(accountId: number, stamp: number): boolean {
    const a = this.accounts.get(accountId);
    // A lease this node's count says may have run out (a stall longer than half its life):
    // nothing is trusted until the heartbeat's tick has made the connection again.
    return a !== undefined && a.on > 0 && a.on <= stamp && a.leaseUntil > performance.now();
  }

  /** Whether the account's channel is listened to now. */
  listensTo(accountId: number): boolean {
    return (this.accounts.get(accountId)?.on ?? 0) > 0;
  }

  /** The account's entry, made (and its LISTEN asked for) when there is none. */
  private entry(accountId: number): Listened {
    let a = this.accounts.get(accountId);
    if (!a) {
      a = {
        refs: 0,
        until: Date.now() + this.lingerMs,
        on: 0,
        asked: false,
        waiters: [],
        leaseUntil: 0,
        known: -1,
        queued: [],
      };
      this.accounts.set(accountId, a);
    }
    if (a.on === 0) this.ask(accountId, a);
    return a;
  }

  /**
   * Sends the account's LISTEN with its lease (one transaction: the LISTEN takes effect before
   * the lease can be seen), unless it is on its way or there is no connection. While one ask
   * is out on the connection, those that come meanwhile wait and then go together: their
   * LISTENs and one update of their leases in one query, one commit (a login storm's first
   * sessions of many accounts), where each waited behind the one before it anyway (the
   * connection runs one query at a time).
   */
  private ask(accountId: number, a: Listened): void {
    if (!this.client || a.asked) return;
    a.asked = true;
    this.asks.push([accountId, a]);
    this.sendAsks();
  }

  private sendAsks(): void {
    const client = this.client;
    if (!client || this.asking === client || this.asks.length === 0) return;
    const batch = this.asks;
    this.asks = [];
    this.asking = client;
    const sentAt = performance.now();
    const ids = batch.map(([id]) => id);
    client
      .query(
        `${ids.map((id) => `LISTEN ${accountChannel(id)}; `).join('')}${leaseSql(ids, this.leaseMs, this.origin)}`,
      )
      .then(
        (res) => {
          if (this.client !== client) return;
          const known = modseqsOf(res);
          for (const [id, a] of batch) {
            if (this.accounts.get(id) !== a) continue;
            a.asked = false;
            a.leaseUntil = sentAt + this.leaseMs;
            a.known = known.get(id) ?? -1;
            this.listening(a);
          }
        },
        () => {
          // The connection failed (lost() listens again on the next, with these accounts), or
          // the lease did (and the LISTENs with it): the connection is made again, with them.
          for (const [, a] of batch) a.asked = false;
          if (this.client === client) client.end().catch(() => {});
        },
      )
      .finally(() => {
        if (this.asking === client) this.asking = null;
        this.sendAsks();
      });
  }

  /** The account's LISTEN took effect. */
  private listening(a: Listened): void {
    a.on = ++this.ticks;
    const w = a.waiters;
    a.waiters = [];
    for (const fn of w) fn();
  }

  /** UNLISTENs the accounts unused for lingerMs; forgets old unheard own notices. */
  private sweep(): void {
    const now = Date.now();
    const client = this.client;
    for (const [id, a] of this.accounts) {
      if (a.refs > 0 || a.until > now || a.waiters.length > 0 || a.asked) continue;
      this.accounts.delete(id);
      if (a.on > 0 && client) client.query(`UNLISTEN ${accountChannel(id)}`).catch(() => {});
    }
    for (const [seq, at] of this.emittedHere) {
      if (now - at < FORGET_UNHEARD_MS) break;
      this.emittedHere.delete(seq);
    }
    // A write that failed is never told sent or unsent.
    for (const [seq, at] of this.open) {
      if (now - at < FORGET_UNHEARD_MS) break;
      this.open.delete(seq);
    }
  }

  /**
   * Calls fn with every event this node emits, before any listener of the bus has it: this
   * node's caches (record-cache.ts) take note of a change before a session can read after it.
   */
  observe(fn: (ev: ChangeEvent) => void): void {
    this.observers.push(fn);
  }

  /**
   * Calls fn with each event another node committed, as its notice is heard (not those read
   * back by a catch-up): append-batch.ts learns which mailboxes other nodes write to.
   */
  observeOthers(fn: (ev: ChangeEvent) => void): void {
    this.others.push(fn);
  }

  /**
   * Calls fn at each notice on QUEUE_CHANNEL, and when the LISTEN connection is made again
   * (one may have been missed meanwhile).
   */
  onQueueNotice(fn: () => void): void {
    this.queueWatchers.push(fn);
  }

  private queueNotice(): void {
    for (const fn of this.queueWatchers) fn();
  }

  /**
   * Changes whenever this node may have missed a notice or heard one out of turn: the LISTEN
   * connection lost or made again, an own notice not back in time (emitted here). Within one
   * epoch, while `live`, every change committed is heard, in commit order.
   */
  get epoch(): number {
    return this.era;
  }

  /**
   * Moves whenever a directory change may have been committed and not yet heard since the
   * last value: at each notice on DIRECTORY_CHANNEL, and whenever the LISTEN connection is
   * lost or made again; null while not listening. What was read of the directory when it
   * was `stamp` is as current as all this node heard while it still is (recipient-cache.ts).
   */
  get directoryClock(): number | null {
    return this.client === null ? null : this.directoryTicks;
  }

  /** Listening, and not holding back notices behind a catch-up. */
  get live(): boolean {
    return this.client !== null && this.deferred === null;
  }

  /** A session selected the mailbox, having read it up to `modseq`. */
  hold(mailboxId: number, known: { accountId: number; modseq: number } | undefined): void {
    const h = this.held.get(mailboxId);
    if (h) h.holders++;
    else if (known) {
      this.held.set(mailboxId, { ...known, holders: 1 });
      // Its account's channel is listened to while it is held (its session's did already).
      this.acquireAccount(known.accountId);
    }
  }

  release(mailboxId: number): void {
    const h = this.held.get(mailboxId);
    if (h && --h.holders <= 0) {
      this.held.delete(mailboxId);
      this.releaseAccount(h.accountId);
    }
  }

  private async listen(again: boolean): Promise<void> {
    const client = this.connect();
    let listened: number[] = [];
    client.on('notification', (msg) => {
      if (msg.channel === DIRECTORY_CHANNEL) {
        this.directoryTicks++;
        return;
      }
      if (msg.channel === QUEUE_CHANNEL) {
        this.queueNotice();
        return;
      }
      if (msg.channel === this.syncChannel) {
        if (this.client === client) this.syncHeard(Number(msg.payload));
        return;
      }
      if (msg.payload === undefined) return;
      if (msg.channel !== CHANNEL && !msg.channel.startsWith(ACCOUNT_CHANNEL)) return;
      if (this.deferred && this.client === client) this.deferred.push(msg.payload);
      else this.heard(msg.payload);
    });
    let heartbeat: NodeJS.Timeout | undefined;
    const lost = () => {
      clearInterval(heartbeat);
      if (this.client !== client) return;
      this.client = null;
      this.era++;
      this.directoryTicks++;
      // The asks waiting for this connection go with the next one's LISTENs.
      this.asks = [];
      for (const a of this.accounts.values()) {
        a.on = 0;
        a.asked = false;
        a.leaseUntil = 0;
        a.known = -1;
        // Not known to be in order any more: emitted now, as a write not heard in time.
        this.releaseQueued(a);
      }
      // Ends a connection that still answers; destroys one waiting for an answer.
      client.end().catch(() => {});
      if (!this.closed) setTimeout(() => this.relisten(), RELISTEN_MS).unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      // The accounts' channels this node had (or was asked for), with the common one: one
      // round trip. Those asked for meanwhile are asked once the connection is the node's.
      const ids = [...this.accounts.keys()];
      const sentAt = performance.now();
      const statements = [
        CHANNEL,
        DIRECTORY_CHANNEL,
        QUEUE_CHANNEL,
        this.syncChannel,
        ...ids.map(accountChannel),
      ].map((c) => `LISTEN ${c}`);
      // Their leases in the same transaction, after the LISTENs.
      if (ids.length > 0) statements.push(leaseSql(ids, this.leaseMs, this.origin));
      const known = modseqsOf(await client.query(statements.join(';')));
      listened = ids;
      for (const id of ids) {
        const a = this.accounts.get(id);
        if (a) {
          a.leaseUntil = sentAt + this.leaseMs;
          a.known = known.get(id) ?? -1;
        }
      }
    } catch (err) {
      // Not made, or it hung (the caller tries again): not left open.
      client.end().catch(() => {});
      throw err;
    }
    this.client = client;
    this.era++;
    this.directoryTicks++;
    for (const id of listened) {
      const a = this.accounts.get(id);
      if (a) this.listening(a);
    }
    let asking = false;
    let lastAsked = performance.now();
    heartbeat = setInterval(
      () => {
        if (this.client !== client) return;
        const now = performance.now();
        // A lease that ran out unrenewed: writers may have skipped notices the node's sessions
        // needed. As a lost connection: listened to and leased again, held mailboxes caught up.
        const due: Array<[number, Listened]> = [];
        for (const [id, a] of this.accounts) {
          if (a.on === 0) continue;
          if (a.leaseUntil <= now) {
            lost();
            return;
          }
          if (a.leaseUntil - now <= this.leaseMs / 2) due.push([id, a]);
        }
        if (asking) return;
        if (due.length === 0 && now - lastAsked < HEARTBEAT_MS) return;
        asking = true;
        lastAsked = now;
        client
          .query({
            // The renewals are the heartbeat when there are some.
            text:
              due.length > 0
                ? leaseSql(
                    due.map(([id]) => id),
                    this.leaseMs,
                    this.origin,
                  )
                : 'SELECT 1',
            query_timeout: this.db.queryTimeoutMs ?? HEARTBEAT_TIMEOUT_MS,
          } as pg.QueryConfig)
          .then(
            () => {
              asking = false;
              if (this.client !== client) return;
              const answered = performance.now();
              for (const [id, a] of due) {
                if (this.accounts.get(id) !== a || a.on === 0) continue;
                // Committed, but perhaps after the old lease ran out: not known to be
                // unbroken.
                if (a.leaseUntil <= answered) {
                  lost();
                  return;
                }
                a.leaseUntil = now + this.leaseMs;
              }
            },
            // Not answered in time (or the connection failed): listen again on a new one.
            lost,
          );
      },
      Math.min(HEARTBEAT_MS, Math.max(10, this.leaseMs / 8)),
    );
    heartbeat.unref();
    this.heartbeat = heartbeat;
    // A queue notice sent while not listening was missed: the worker looks now.
    if (again) this.queueNotice();
    if (again && this.catchUp && this.held.size > 0) {
      // Listening again: what is committed from now on is heard (and kept until the catch-up
      // is out, so that it comes after it); what was committed while not listening is read.
      this.deferred = [];
      try {
        for (const ev of await this.catchUp(this.held)) this.emitHeld(ev);
      } catch {
        // Read again on the next connection (this one is likely going too): lost() plans
        // it, as the connection's own end would have; held modseqs did not move.
        if (this.client === client) lost();
      } finally {
        const later = this.deferred;
        this.deferred = null;
        for (const p of later) this.heard(p);
      }
    }
    for (const [id, a] of this.accounts) if (a.on === 0) this.ask(id, a);
  }

  private relisten(): void {
    if (this.closed || this.client) return;
    this.listen(true).catch(() => {
      if (!this.closed) setTimeout(() => this.relisten(), RELISTEN_MS).unref();
    });
  }

  private heard(payload: string): void {
    let n: Notice;
    try {
      n = JSON.parse(payload) as Notice;
    } catch {
      return; // not ours
    }
    if (typeof n !== 'object' || n === null || typeof n.e !== 'object' || n.e === null) return;
    // Heard in commit order, which is the account's modseq order (taken under its row lock).
    const a = this.accounts.get(n.e.accountId);
    const moved = a !== undefined && a.known >= 0 && n.e.modseq > a.known;
    if (moved) a.known = n.e.modseq;
    this.heardNotice(n);
    if (moved && a.queued.length > 0) this.drain(a);
  }

  private heardNotice(n: Notice): void {
    if (n.o === this.origin) {
      if (n.m === true) {
        // A part before the last: emitted, unless the write gave up waiting and emitted it.
        if (!this.emittedHere.has(n.s)) this.emitHeld(n.e);
        return;
      }
      if (this.emittedHere.delete(n.s)) return;
      const w = this.waiting.get(n.s);
      if (w) {
        this.waiting.delete(n.s);
        this.emitHeld(n.e);
        w();
      } else {
        this.arrived.add(n.s);
        this.emitHeld(n.e);
      }
      return;
    }
    for (const fn of this.others) fn(n.e);
    this.emitHeld(n.e);
  }

  /** Emits an event, noting how far a held mailbox's sessions have been told. */
  private emitHeld(ev: ChangeEvent): void {
    const h = this.held.get(ev.mailboxId);
    if (h && ev.modseq > h.modseq) h.modseq = ev.modseq;
    this.emit(ev);
  }

  private emit(ev: ChangeEvent): void {
    for (const fn of this.observers) fn(ev);
    this.bus.emit(ev);
  }

  /**
   * Runs fn in a transaction; the events it emits are sent with the commit, and the call
   * resolves once they have been emitted here.
   */
  async tx<T>(fn: (q: Queryable, emit: (ev: ChangeEvent) => void) => Promise<T>): Promise<T> {
    return (await this.txHeard(fn)).out;
  }

  /**
   * tx, and whether its notices came back on the LISTEN connection (`heard`: every change
   * committed before it was heard too) rather than being emitted here after waiting.
   */
  async txHeard<T>(
    fn: (q: Queryable, emit: (ev: ChangeEvent) => void) => Promise<T>,
  ): Promise<{ out: T; heard: boolean }> {
    const events: ChangeEvent[] = [];
    let sent: Array<{ seq: number; ev: ChangeEvent }> = [];
    let stamp = 0;
    const out = await this.db.tx(
      (q) => fn(q, (ev) => events.push(ev)),
      // The notices go out with the COMMIT (one round trip).
      () => {
        sent = events.flatMap(parts).map((ev) => ({ seq: ++this.seq, ev }));
        if (sent.length === 0) return null;
        stamp = this.ticks;
        return {
          text: `SELECT pg_notify(c, p), ${UNFLUSHED_COMMIT}
                 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(c, p, i) ORDER BY i`,
          values: [
            sent.map((x) => channelOf(x.ev)),
            sent.map((x) => JSON.stringify({ o: this.origin, s: x.seq, e: x.ev })),
          ],
        };
      },
    );
    const heard =
      sent.length > 0
        ? await this.echoed(
            sent.map((x) => ({ seq: x.seq, evs: [x.ev] })),
            stamp,
          )
        : true;
    return { out, heard };
  }

  /**
   * For a write that is one statement of its own (no transaction around it) and sends its
   * notice itself: the payload's `o` and `s`, and (once it committed) the wait for its echo
   * (true when it came back on the LISTEN connection, false when it was emitted here). A
   * statement that sends several events under one `s` (COPY and MOVE: the target's append,
   * the source's expunge) marks all but its last notice `m`, and gives them all here, in
   * order, to be emitted should the last not come back.
   */
  notice(): {
    origin: string;
    seq: number;
    sent: (...evs: ChangeEvent[]) => Promise<boolean>;
    /** The statement sent no notice (its account's lease had run out): no echo will come. */
    unsent: (...evs: ChangeEvent[]) => Promise<boolean>;
  } {
    const seq = ++this.seq;
    // Its statement is sent after this: an account's channel listened to now hears it.
    const stamp = this.ticks;
    this.open.set(seq, Date.now());
    return {
      origin: this.origin,
      seq,
      sent: (...evs) => {
        this.open.delete(seq);
        return this.echoed([{ seq, evs }], stamp);
      },
      unsent: (...evs) => {
        this.open.delete(seq);
        return this.ownInOrder(evs) ?? this.echoed([{ seq, evs, unsent: true }], stamp);
      },
    };
  }

  /**
   * An own write that sent no notice, while this node listens to its account with a known
   * modseq (the lease is this node's alone, or ran out: events.ts's lease): its events are
   * emitted here once every write before it (a lower modseq: the account's writers take its
   * row lock, and so their modseqs, in commit order) has been heard or emitted, which keeps
   * the node's sessions in commit order without an echo. At once when its first modseq is
   * one past `known`; else it waits for the writes between (another node's notices, an own
   * write whose answer comes later), or, should no event carry a modseq between (a mailbox's
   * deletion or rename takes one with no message event), for a notice of this node's own
   * sent after it (syncChannel): everything committed before it was heard by then. Null when
   * this does not apply (the account not listened to now: emitted at once by echoed, as
   * before).
   */
  private ownInOrder(evs: ChangeEvent[]): Promise<boolean> | null {
    const acc = evs[0]?.accountId;
    if (acc === undefined || !this.live) return null;
    const a = this.accounts.get(acc);
    if (!a || a.on === 0 || a.known < 0) return null;
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const ev of evs) {
      if (ev.accountId !== acc || !ACCOUNT_KINDS.has(ev.kind)) return null;
      first = Math.min(first, ev.modseq);
      last = Math.max(last, ev.modseq);
    }
    if (first - 1 <= a.known) {
      this.emitOwn(a, evs, last);
      if (a.queued.length > 0) this.drain(a);
      return Promise.resolve(true);
    }
    return new Promise((done) => {
      a.queued.push({ first, last, evs, sync: 0, done });
      this.askSync();
    });
  }

  private emitOwn(a: Listened, evs: ChangeEvent[], last: number): void {
    if (last > a.known) a.known = last;
    for (const ev of evs) this.emitHeld(ev);
  }

  /** Emits the account's queued own writes whose turn has come. */
  private drain(a: Listened): void {
    a.queued.sort((x, y) => x.first - y.first);
    while (a.queued.length > 0 && a.queued[0]!.first - 1 <= a.known) {
      const w = a.queued.shift()!;
      this.emitOwn(a, w.evs, w.last);
      w.done(true);
    }
  }

  /** Emits every queued own write of the account now, not known to be in order. */
  private releaseQueued(a: Listened): void {
    const q = a.queued.sort((x, y) => x.first - y.first);
    a.queued = [];
    if (q.length === 0) return;
    this.era++;
    for (const w of q) {
      for (const ev of w.evs) this.emit(ev);
      w.done(false);
    }
  }

  /** This node's own channel, for syncs (ownInOrder). */
  private get syncChannel(): string {
    return `letterbox_s${this.origin}`;
  }

  /**
   * Sends a notice to this node alone a moment from now (the writes queued meanwhile wait for
   * the same), unless one is planned. Once it is heard, every write committed before it was.
   */
  private askSync(): void {
    if (this.syncTimer !== undefined) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      const n = ++this.syncsAsked;
      let any = false;
      for (const a of this.accounts.values()) {
        for (const w of a.queued) {
          if (w.sync === 0) {
            w.sync = n;
            any = true;
          }
        }
      }
      if (!any) return;
      this.db
        .query({
          text: `SELECT pg_notify($1, $2), ${UNFLUSHED_COMMIT}`,
          values: [this.syncChannel, String(n)],
        })
        .catch(() => {});
      // Not heard in time: emitted all the same, not known to be in order.
      setTimeout(() => {
        if (this.syncsHeard >= n) return;
        for (const a of this.accounts.values()) {
          if (a.queued.some((w) => w.sync !== 0 && w.sync <= n)) this.releaseQueued(a);
        }
      }, ECHO_WAIT_MS).unref();
    }, SYNC_DELAY_MS);
    this.syncTimer.unref();
  }

  private syncHeard(n: number): void {
    if (!(n > this.syncsHeard)) return;
    this.syncsHeard = n;
    for (const a of this.accounts.values()) {
      const ready = a.queued.filter((w) => w.sync !== 0 && w.sync <= n);
      if (ready.length === 0) continue;
      // An own write handed out before and not answered yet may hold a lower modseq: then the
      // order is not known, and the account's cached lists are not trusted (heardSince).
      if (this.open.size > 0 && a.on > 0) a.on = ++this.ticks;
      const top = Math.max(...ready.map((w) => w.last));
      if (top > a.known) a.known = top;
      this.drain(a);
    }
  }

  /**
   * Waits for the notices to come back; emits those that do not come in time. True when all
   * came back on the LISTEN connection.
   */
  private async echoed(
    sent: Array<{ seq: number; evs: ChangeEvent[]; unsent?: true }>,
    stamp: number,
  ): Promise<boolean> {
    let unheard = false;
    const pending: Array<{ seq: number; evs: ChangeEvent[] }> = [];
    for (const x of sent) {
      // A write is no use of its account that needs its channel: should nothing else here
      // listen to it (an SMTP delivery on a node without a session of the account), its
      // events are emitted at once below instead of waiting for their echo, and the node is
      // not woken by every other node's change to the account from then on.
      if (this.arrived.delete(x.seq)) continue;
      // An append that found no lease on its account sent nothing (a node listening to the
      // account since before it was sent holds a lease, so this is one that did not).
      if (x.unsent !== true && x.evs.every((ev) => this.hears(ev, stamp))) {
        pending.push(x);
        continue;
      }
      // Sent on an account's channel this node did not listen to when it was sent (or not sent
      // at all): it cannot come back (or may, should the LISTEN have been quicker: then
      // skipped). Emitted here
      // at once; the account's lists read before are not trusted (heardSince), since other
      // nodes' changes before it may be heard after it.
      unheard = true;
      this.emittedHere.set(x.seq, Date.now());
      for (const ev of x.evs) {
        const a = this.accounts.get(ev.accountId);
        if (a && a.on > 0 && ACCOUNT_KINDS.has(ev.kind)) a.on = ++this.ticks;
        this.emit(ev);
      }
    }
    if (pending.length === 0) return !unheard;
    return new Promise<boolean>((resolve) => {
      let left = pending.length;
      const one = () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve(!unheard);
        }
      };
      for (const x of pending) this.waiting.set(x.seq, one);
      const timer = setTimeout(
        () => {
          // Not heard in time: what was committed before it may not have been heard either.
          this.era++;
          for (const x of pending) {
            if (!this.waiting.delete(x.seq)) continue;
            this.emittedHere.set(x.seq, Date.now());
            // Not heard: other nodes' changes before it may be missing, so the held
            // mailbox's modseq stays where the catch-up must start.
            for (const ev of x.evs) this.emit(ev);
          }
          resolve(false);
        },
        this.client ? ECHO_WAIT_MS : 0,
      );
    });
  }

  /** Whether an event sent when `clock` was `stamp` comes back on the LISTEN connection. */
  private hears(ev: ChangeEvent, stamp: number): boolean {
    return !ACCOUNT_KINDS.has(ev.kind) || this.heardSince(ev.accountId, stamp);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    clearInterval(this.sweeper);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }
}
