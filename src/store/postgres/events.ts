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

  private constructor(
    private readonly db: PgDb,
    private readonly bus: ChangeBus,
    private readonly connect: () => pg.Client,
    private readonly catchUp: CatchUp | null,
    private readonly lingerMs: number,
  ) {}

  /** Listens before it returns: every change committed after that is heard. */
  static async open(
    db: PgDb,
    bus: ChangeBus,
    connect: () => pg.Client,
    catchUp: CatchUp | null = null,
    lingerMs = LINGER_MS,
  ): Promise<PgEvents> {
    const events = new PgEvents(db, bus, connect, catchUp, lingerMs);
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
    return a !== undefined && a.on > 0 && a.on <= stamp;
  }

  /** Whether the account's channel is listened to now. */
  listensTo(accountId: number): boolean {
    return (this.accounts.get(accountId)?.on ?? 0) > 0;
  }

  /** The account's entry, made (and its LISTEN asked for) when there is none. */
  private entry(accountId: number): Listened {
    let a = this.accounts.get(accountId);
    if (!a) {
      a = { refs: 0, until: Date.now() + this.lingerMs, on: 0, asked: false, waiters: [] };
      this.accounts.set(accountId, a);
    }
    if (a.on === 0) this.ask(accountId, a);
    return a;
  }

  /** Sends the account's LISTEN, unless it is on its way or there is no connection. */
  private ask(accountId: number, a: Listened): void {
    const client = this.client;
    if (!client || a.asked) return;
    a.asked = true;
    client.query(`LISTEN ${accountChannel(accountId)}`).then(
      () => {
        if (this.client !== client || this.accounts.get(accountId) !== a) return;
        a.asked = false;
        this.listening(a);
      },
      () => {
        // The connection failed (lost() listens again on the next, with this account).
        a.asked = false;
      },
    );
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
      for (const a of this.accounts.values()) {
        a.on = 0;
        a.asked = false;
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
      await client.query(
        [CHANNEL, DIRECTORY_CHANNEL, ...ids.map(accountChannel)]
          .map((c) => `LISTEN ${c}`)
          .join(';'),
      );
      listened = ids;
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
    heartbeat = setInterval(() => {
      if (asking || this.client !== client) return;
      asking = true;
      client
        .query({
          text: 'SELECT 1',
          query_timeout: this.db.queryTimeoutMs ?? HEARTBEAT_TIMEOUT_MS,
        } as pg.QueryConfig)
        .then(
          () => {
            asking = false;
          },
          // Not answered in time (or the connection failed): listen again on a new one.
          lost,
        );
    }, HEARTBEAT_MS);
    heartbeat.unref();
    this.heartbeat = heartbeat;
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
  } {
    const seq = ++this.seq;
    // Its statement is sent after this: an account's channel listened to now hears it.
    const stamp = this.ticks;
    return { origin: this.origin, seq, sent: (...evs) => this.echoed([{ seq, evs }], stamp) };
  }

  /**
   * Waits for the notices to come back; emits those that do not come in time. True when all
   * came back on the LISTEN connection.
   */
  private async echoed(
    sent: Array<{ seq: number; evs: ChangeEvent[] }>,
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
      if (x.evs.every((ev) => this.hears(ev, stamp))) {
        pending.push(x);
        continue;
      }
      // Sent on an account's channel this node did not listen to when it was sent: it cannot
      // come back (or may, should the LISTEN have been quicker: then skipped). Emitted here
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
