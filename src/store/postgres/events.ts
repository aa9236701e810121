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

export const CHANNEL = 'letterbox_changes';
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
  /** Own notices emitted here after waiting in vain: skipped should they come back late. */
  private readonly emittedHere = new Set<number>();
  private client: pg.Client | null = null;
  /** The LISTEN connection's heartbeat (HEARTBEAT_MS). */
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly held = new Map<number, HeldMailbox>();
  /** Notices heard while catching up, emitted after it. */
  private deferred: string[] | null = null;
  /** See epoch. */
  private era = 0;
  /** Told of every event before the bus (see observe). */
  private readonly observers: Array<(ev: ChangeEvent) => void> = [];
  /** Told of other nodes' events as they are heard (see observeOthers). */
  private readonly others: Array<(ev: ChangeEvent) => void> = [];

  private constructor(
    private readonly db: PgDb,
    private readonly bus: ChangeBus,
    private readonly connect: () => pg.Client,
    private readonly catchUp: CatchUp | null,
  ) {}

  /** Listens before it returns: every change committed after that is heard. */
  static async open(
    db: PgDb,
    bus: ChangeBus,
    connect: () => pg.Client,
    catchUp: CatchUp | null = null,
  ): Promise<PgEvents> {
    const events = new PgEvents(db, bus, connect, catchUp);
    await events.listen(false);
    return events;
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

  /** Listening, and not holding back notices behind a catch-up. */
  get live(): boolean {
    return this.client !== null && this.deferred === null;
  }

  /** A session selected the mailbox, having read it up to `modseq`. */
  hold(mailboxId: number, known: { accountId: number; modseq: number } | undefined): void {
    const h = this.held.get(mailboxId);
    if (h) h.holders++;
    else if (known) this.held.set(mailboxId, { ...known, holders: 1 });
  }

  release(mailboxId: number): void {
    const h = this.held.get(mailboxId);
    if (h && --h.holders <= 0) this.held.delete(mailboxId);
  }

  private async listen(again: boolean): Promise<void> {
    const client = this.connect();
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || msg.payload === undefined) return;
      if (this.deferred && this.client === client) this.deferred.push(msg.payload);
      else this.heard(msg.payload);
    });
    let heartbeat: NodeJS.Timeout | undefined;
    const lost = () => {
      clearInterval(heartbeat);
      if (this.client !== client) return;
      this.client = null;
      this.era++;
      // Ends a connection that still answers; destroys one waiting for an answer.
      client.end().catch(() => {});
      if (!this.closed) setTimeout(() => this.relisten(), RELISTEN_MS).unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      // Not made, or it hung (the caller tries again): not left open.
      client.end().catch(() => {});
      throw err;
    }
    this.client = client;
    this.era++;
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
    const out = await this.db.tx(
      (q) => fn(q, (ev) => events.push(ev)),
      // The notices go out with the COMMIT (one round trip).
      () => {
        sent = events.flatMap(parts).map((ev) => ({ seq: ++this.seq, ev }));
        if (sent.length === 0) return null;
        return {
          text: `SELECT pg_notify('${CHANNEL}', p), ${UNFLUSHED_COMMIT}
                 FROM unnest($1::text[]) WITH ORDINALITY AS t(p, i) ORDER BY i`,
          values: [sent.map((x) => JSON.stringify({ o: this.origin, s: x.seq, e: x.ev }))],
        };
      },
    );
    const heard =
      sent.length > 0 ? await this.echoed(sent.map((x) => ({ seq: x.seq, evs: [x.ev] }))) : true;
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
    return { origin: this.origin, seq, sent: (...evs) => this.echoed([{ seq, evs }]) };
  }

  /**
   * Waits for the notices to come back; emits those that do not come in time. True when all
   * came back on the LISTEN connection.
   */
  private async echoed(sent: Array<{ seq: number; evs: ChangeEvent[] }>): Promise<boolean> {
    const pending = sent.filter((x) => !this.arrived.delete(x.seq));
    if (pending.length === 0) return true;
    return new Promise<boolean>((resolve) => {
      let left = pending.length;
      const one = () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      for (const x of pending) this.waiting.set(x.seq, one);
      const timer = setTimeout(
        () => {
          // Not heard in time: what was committed before it may not have been heard either.
          this.era++;
          for (const x of pending) {
            if (!this.waiting.delete(x.seq)) continue;
            this.emittedHere.add(x.seq);
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

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }
}
