// The PostgreSQL connection pool and the few helpers every role uses: queries with prepared
// statements (named by their text, so each connection plans each once), transactions on one
// pooled connection, and the counters that several nodes must allocate without collisions.
// Times are epoch milliseconds in BIGINT columns (as in the SQLite store), ids BIGINT
// identities; both are read back as JS numbers (well below 2^53).
import { createHash } from 'node:crypto';
import pg from 'pg';
import { StoreError } from '../errors.js';
import { migrate } from './migrations.js';
import { PreparedClient } from './prepared-query.js';

const INT8 = 20;

/** BIGINT as number: ids, sizes, modseqs and epoch-ms times all stay below 2^53. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export interface PgOptions {
  /** `postgres://user@host:port/db`, or a host that is a unix socket directory. */
  connectionString: string;
  /** Given apart from the URL (a file or the environment), never logged. */
  password?: string;
  /** Connections of this node's pool. */
  max?: number;
  /**
   * A pool connection idle this long is closed, beyond the WARM_CONNECTIONS kept however long
   * idle; 0: never closed. pg-pool's own 10 s when not given.
   */
  idleTimeoutMs?: number;
  /**
   * A statement not answered in this many milliseconds fails as UNAVAILABLE and its connection
   * is dropped, and so does a connection not made in that time: a database that stops
   * answering without closing the connection (hung, or a partition that drops packets
   * instead of resetting) must not hold sessions forever. None when not given (`letterbox
   * store migrate`, run by hand, waits as long as its copy takes).
   */
  queryTimeoutMs?: number;
}

/**
 * Pool connections kept open however long they are idle (the pool closes others after
 * `idleTimeoutMs` idle: `[store] pool_idle_seconds`, 300 s by default, pg-pool's 10 s when
 * not given). A connection opened again costs PostgreSQL a new backend and the planning of each
 * statement again (the group append's 6 times, 0.7-3 ms each, before its generic plan is
 * kept): an append after 11 s without one cost PostgreSQL 6-11 ms of CPU, 1-4 ms with two
 * connections kept (bench/scale/light-load.ts), so a node with light traffic paid that on
 * nearly every delivery.
 */
const WARM_CONNECTIONS = 2;

/** TCP keepalive probes on our side of each connection start after this much silence. */
const KEEPALIVE_IDLE_MS = 10_000;

/**
 * The settings of every connection of a node: its pool's, the LISTEN connection's and the
 * POP3 maildrop locks'.
 */
function clientConfig(opts: PgOptions): pg.ClientConfig {
  const t = opts.queryTimeoutMs;
  return {
    connectionString: opts.connectionString,
    password: opts.password,
    types,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    // Statements sent while earlier ones are unanswered go out at once (each with its own
    // Sync: a failed one fails alone, or aborts its transaction), so that independent
    // statements of one operation share a round trip (tx, collectMessages, expunge).
    pipeline: true,
    ...(t === undefined
      ? {}
      : {
          query_timeout: t,
          connectionTimeoutMillis: t,
          // The server's side: a transaction left open by a node that vanished mid-way (its
          // locks on the account's row) ends after this much idleness, and the server probes
          // a silent client over TCP, so that the advisory locks of a vanished node's POP3
          // sessions go within about 90 s (these settings do nothing on a unix socket).
          idle_in_transaction_session_timeout: Math.max(60_000, 2 * t),
          options:
            '-c tcp_keepalives_idle=60 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3',
        }),
  };
}

/** Something a statement runs on: the pool, or one connection inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

const names = new Map<string, string>();

/** A prepared statement's name: the same text is the same statement on every connection. */
export function statementName(text: string): string {
  let n = names.get(text);
  if (n === undefined) {
    n = `lb_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, n);
  }
  return n;
}

/** Rows of a prepared statement. */
export async function rows<R extends pg.QueryResultRow>(
  q: Queryable,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  return (await q.query<R>({ name: statementName(text), text, values })).rows;
}

/** The first row of a prepared statement, or undefined. */
export async function row<R extends pg.QueryResultRow>(
  q: Queryable,
  text: string,
  values: unknown[] = [],
): Promise<R | undefined> {
  return (await rows<R>(q, text, values))[0];
}

/**
 * A column for a write that sends notices (pg_notify): its commit does not wait for the WAL
 * flush. PostgreSQL makes every notifying commit take one lock of the whole cluster and hold
 * it through the commit's WAL flush (async.c: the notices stay in commit order), so such
 * commits flush one at a time instead of sharing a flush (ten connections updating a row
 * each: 4,200-5,300 commits/s alone, 330-430 with a pg_notify, 2,700-6,000 so with FLUSH
 * behind; bench/scale/notify-commit.ts at load 15). Such a write runs through `PgDb.durable`
 * (`rows(db.durable, ...)`) or `PgDb.tx`, which makes it durable before it answers: nothing is acknowledged before its
 * WAL is on disk; other sessions may hear of it a moment before that, as they may read a
 * SQLite commit before WalSync's fsync.
 */
export const UNFLUSHED_COMMIT = "set_config('synchronous_commit', 'off', true) AS unflushed";

/**
 * What a transaction's `last` (PgDb.tx) answers when the transaction's own statements set
 * UNFLUSHED_COMMIT: no statement more before COMMIT, a FLUSH after it.
 */
export const OWN_UNFLUSHED = Symbol('own unflushed commit');

/**
 * As OWN_UNFLUSHED, with the transaction's own FLUSH sent behind its COMMIT on the same
 * connection, in the same socket write (as `flushedBehind` does for a lone statement): the
 * backend runs it as soon as the commit is done, and the transaction is answered once it is:
 * no wait of a backend for a FLUSH sent after COMMIT's answer, nor the node's write of it
 * (the node still reads the two answers apart). For a contended mailbox's transaction (append-batch.ts), whose FLUSH is
 * rarely shared with the node's other writes.
 */
export const OWN_UNFLUSHED_BEHIND = Symbol('own unflushed commit, its FLUSH behind');

/**
 * Sent once such a write's commit was answered (PgDb.durableSince), or behind an append group's
 * statement on its connection (PgDb.flushedBehind): a transaction that writes a
 * WAL record (a logical decoding message, read by nobody) under an XID, so that its synchronous
 * commit flushes the WAL up to itself, every commit before it included (the write's, on any
 * connection); it takes no lock, so concurrent ones share an fsync, and one serves every write
 * of the node answered before it was sent.
 */
const FLUSH: pg.QueryConfig = {
  name: 'lb_flush',
  text: "SELECT pg_logical_emit_message(true, 'letterbox', '')",
};

/**
 * Runs `send`, which writes statements on the connection, with its socket corked: the
 * statements written meanwhile (each its Bind, Execute and Sync; BEGIN, COMMIT) leave in one
 * write(2) instead of one each, each a system call in this process and a wake-up of the
 * backend for its part.
 */
function corked<T>(client: pg.PoolClient, send: () => T): T {
  const stream = (client as unknown as pg.Client).connection?.stream;
  stream?.cork();
  try {
    return send();
  } finally {
    stream?.uncork();
  }
}

/** How many rows a prepared statement changed. */
export async function run(q: Queryable, text: string, values: unknown[] = []): Promise<number> {
  return (await q.query({ name: statementName(text), text, values })).rowCount ?? 0;
}

export class PgDb implements Queryable {
  /**
   * Statements that commit on their own, each with UNFLUSHED_COMMIT among its columns, made
   * durable by a FLUSH after them (`flushed`): `rows(db.durable, ...)` answers once the write
   * is durable.
   */
  readonly durable: Queryable = {
    query: <R extends pg.QueryResultRow>(config: pg.QueryConfig) => this.flushed<R>(config),
  };

  private constructor(
    readonly pool: pg.Pool,
    private readonly opts: PgOptions,
  ) {}

  static async open(opts: PgOptions): Promise<PgDb> {
    const max = opts.max ?? 10;
    // PreparedClient: each named statement Described once per connection, not at every execution.
    const pool = new pg.Pool({
      ...clientConfig(opts),
      Client: PreparedClient,
      max,
      min: Math.min(WARM_CONNECTIONS, max),
      ...(opts.idleTimeoutMs === undefined ? {} : { idleTimeoutMillis: opts.idleTimeoutMs }),
    });
    // An idle connection the server dropped (restart, partition) is an error event on the
    // pool; without a listener it would end the process. The next query opens a new one.
    pool.on('error', () => {});
    const db = new PgDb(pool, opts);
    try {
      await migrate(db);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return db;
  }

  async query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(config);
    } catch (err) {
      throw unavailable(err);
    }
  }

  /**
   * A statement that commits on its own without waiting for its flush (UNFLUSHED_COMMIT),
   * answered once a FLUSH sent after its commit has been (`durableSince`).
   */
  async flushed<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    const out = await this.unflushed<R>(config);
    await this.durableSince();
    return out;
  }

  /**
   * `flushed` without the wait for its FLUSH: answered once the statement has committed,
   * not yet durable. The caller answers nobody before a `durableSince` called after it.
   */
  async unflushed<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    return this.checkedOut(async (client, drop) => {
      try {
        return await client.query<R>(config);
      } catch (err) {
        // A statement that timed out still holds the connection: it goes (see tx).
        if (isTimeout(err)) drop();
        throw unavailable(err);
      }
    });
  }

  /**
   * Like `flushed`, with a FLUSH of its own sent behind the statement on the same connection,
   * in the same socket write: the backend runs it as soon as the statement has committed,
   * without waiting for this process to read the answer and send one (a wake-up of each
   * process and a round trip less per write, which on a machine whose CPUs are busy is each a
   * wait for a CPU). Answered once the FLUSH is: the statement's commit durable (the FLUSH's
   * synchronous commit flushes the WAL up to itself). For the append groups (append-batch.ts),
   * of which a mailbox has one out at a time and a node a few: the FLUSH is not shared with
   * the node's other writes as durableSince's is.
   */
  async flushedBehind<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<R[]> {
    return this.checkedOut(async (client, drop) => {
      const [statement, flush] = corked(
        client,
        () => [client.query<R>(config), client.query(FLUSH)] as const,
      );
      // Should the statement fail, the FLUSH still runs (each has its Sync): it is awaited
      // all the same, so that the connection goes back with nothing of ours unanswered.
      const [st, fl] = await Promise.allSettled([statement, flush]);
      for (const o of [st, fl]) {
        if (o.status === 'rejected') {
          // A statement that timed out still holds the connection: it goes (see tx).
          if (isTimeout(o.reason)) drop();
          throw unavailable(o.reason);
        }
      }
      return (st as PromiseFulfilledResult<pg.QueryResult<R>>).value.rows;
    });
  }

  /** Callers waiting for the next FLUSH, and whether one is out. */
  private waiting: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  private flushing = false;

  /**
   * Resolves once everything this node's connections committed before the call is on disk:
   * a FLUSH sent after the call has been answered. Such FLUSHes are shared: while one is out,
   * the callers that come meanwhile wait for the next, which goes out when it comes back
   * (each FLUSH's synchronous commit flushes the WAL up to itself, every commit before it
   * included, on any connection). A FLUSH that fails fails its callers: whether their commits
   * are durable is not known (a temporary failure).
   */
  durableSince(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.nextFlush();
    });
  }

  /** Transactions whose FLUSH went behind their COMMIT and is not answered yet (tx). */
  private behindOut = 0;

  /** Whether no FLUSH of this node is out or waited for: a transaction's own may go (tx). */
  private flushFree(): boolean {
    return !this.flushing && this.behindOut === 0 && this.waiting.length === 0;
  }

  private behindEnded(): void {
    this.behindOut--;
    this.nextFlush();
  }

  private nextFlush(): void {
    if (this.flushing || this.behindOut > 0 || this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    this.flushing = true;
    this.query(FLUSH)
      .then(
        () => {
          for (const w of batch) w.resolve();
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        this.flushing = false;
        this.nextFlush();
      });
  }

  /**
   * A connection of the pool for fn, given back after it, or dropped when it broke: fn called
   * `drop`, or the connection emitted an error while checked out. A connection that drops
   * while checked out (a restart, a partition) emits its error on the client, which the pool
   * no longer listens to: unheard, it would end the process; the statements on it fail by
   * themselves (UNAVAILABLE).
   */
  private async checkedOut<T>(
    fn: (client: pg.PoolClient, drop: () => void) => Promise<T>,
  ): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(err);
    }
    let broken = false;
    const drop = () => {
      broken = true;
    };
    client.on('error', drop);
    try {
      return await fn(client, drop);
    } finally {
      client.off('error', drop);
      client.release(broken);
    }
  }

  /**
   * A connection of its own, outside the pool (LISTEN holds one for as long as it runs),
   * named in pg_stat_activity by `name`.
   */
  client(name?: string): pg.Client {
    return new PreparedClient({
      ...clientConfig(this.opts),
      ...(name === undefined ? {} : { application_name: name }),
    });
  }

  /** The statement timeout of this node's connections (queryTimeoutMs), if it has one. */
  get queryTimeoutMs(): number | undefined {
    return this.opts.queryTimeoutMs;
  }

  /**
   * Runs fn in a transaction on one connection: committed when it resolves, rolled back when
   * it throws (the error goes on to the caller). READ COMMITTED: rows that must not change
   * under the transaction are locked by the statements that read them. The connection
   * pipelines (clientConfig): BEGIN goes out with fn's first statement, and `last` (a
   * statement made from fn's result: the NOTIFY of its events, with UNFLUSHED_COMMIT) with
   * the COMMIT, and then a FLUSH (durableSince: the transaction durable before it resolves,
   * the FLUSH shared with the node's other writes), so a transaction costs the round trips of
   * fn's own statements and a share of a FLUSH; fn may likewise send statements that need no
   * answer in between without waiting for each. `last` answers OWN_UNFLUSHED when fn's own
   * statements carry UNFLUSHED_COMMIT (the append groups' do): nothing goes with the COMMIT,
   * and the FLUSH follows it all the same. (Should none of them have run it, the commit is a
   * synchronous one: durable all the same.) OWN_UNFLUSHED_BEHIND: the same, its FLUSH sent
   * behind the COMMIT on the transaction's connection, not shared.
   */
  async tx<T>(
    fn: (q: Queryable) => Promise<T>,
    last?: (out: T) => pg.QueryConfig | typeof OWN_UNFLUSHED | typeof OWN_UNFLUSHED_BEHIND | null,
  ): Promise<T> {
    let flush = false;
    const out = await this.checkedOut(async (client, drop) => {
      try {
        // BEGIN goes out in one socket write with what fn sends before it first waits.
        const [begun, running] = corked(client, () => [client.query('BEGIN'), fn(client)] as const);
        // Should it fail, so do the statements behind it: fn hears of it from those.
        begun.catch(() => {});
        const out = await running;
        await begun;
        let tail = last?.(out) ?? null;
        // Its FLUSH behind only while no other write of this node waits for a FLUSH or has one
        // out: else it shares the next (durableSince), as several contended transactions at
        // once did before, one FLUSH for those that committed while the one before was out
        // (each its own would be a commit more each, the twenty-eighth session measured with
        // ten accounts at three nodes). The writes that come while it is out wait for it.
        if (tail === OWN_UNFLUSHED_BEHIND && !this.flushFree()) tail = OWN_UNFLUSHED;
        const own = tail === OWN_UNFLUSHED || tail === OWN_UNFLUSHED_BEHIND;
        if (tail === OWN_UNFLUSHED_BEHIND) this.behindOut++;
        const [sent, committed, behind] = corked(
          client,
          () =>
            [
              tail && !own ? client.query(tail as pg.QueryConfig) : null,
              client.query('COMMIT'),
              tail === OWN_UNFLUSHED_BEHIND ? client.query(FLUSH) : null,
            ] as const,
        );
        sent?.catch(() => {});
        behind?.catch(() => {});
        // Its FLUSH, sent behind: answered once the WAL is flushed past the COMMIT. It runs
        // after a COMMIT that rolled back too, and is awaited all the same; once it is, the
        // shared FLUSH the writes that came meanwhile wait for may go.
        const behindDone = behind?.then(
          () => this.behindEnded(),
          () => this.behindEnded(),
        );
        const done = await committed;
        if (sent) await sent;
        if (behind) await behind;
        await behindDone;
        // COMMIT of a transaction that a failed statement aborted answers ROLLBACK.
        if (done.command !== 'COMMIT') throw new Error('the transaction was rolled back');
        flush = tail !== null && behind === null;
        return out;
      } catch (err) {
        // A statement that timed out still holds the connection (its answer may never come):
        // a ROLLBACK would only wait behind it. Dropping the connection rolls back; so does
        // one that failed even to roll back, which is not given to the next caller.
        if (isTimeout(err)) drop();
        else await client.query('ROLLBACK').catch(drop);
        throw unavailable(err);
      }
    });
    if (flush) await this.durableSince();
    return out;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/**
 * UIDVALIDITY (RFC 9051 §2.3.1.1): unique for the store's lifetime, so a re-created mailbox
 * never reuses one. The one row is locked by the update: nodes take turns.
 */
export async function nextUidValidity(q: Queryable): Promise<number> {
  const r = await row<{ v: number }>(
    q,
    `UPDATE store_counters SET last_uidvalidity = GREATEST(last_uidvalidity + 1, $1)
     RETURNING last_uidvalidity AS v`,
    // Seconds since the epoch fit in 32 bits (RFC 9051 nz-number) until 2106.
    [Math.floor(Date.now() / 1000)],
  );
  if (!r) throw new Error('store_counters is empty');
  return r.v;
}

/**
 * Bumps and returns the account's change counter: the MODSEQ of the change being made
 * (RFC 7162 §3). The row lock it takes orders the account's writers across nodes until commit.
 */
export async function nextModseq(q: Queryable, accountId: number): Promise<number> {
  const r = await row<{ modseq: number }>(
    q,
    'UPDATE accounts SET modseq = modseq + 1 WHERE id = $1 RETURNING modseq',
    [accountId],
  );
  if (!r) throw new Error(`account ${accountId} vanished`);
  return r.modseq;
}

/**
 * Errors of a database that cannot be reached now (down, restarting, a dropped connection,
 * no connection slots) become StoreError UNAVAILABLE: each protocol answers it as a temporary
 * failure (IMAP NO [UNAVAILABLE], SMTP 451 4.3.0, POP3 -ERR [SYS/TEMP]). The pool opens new
 * connections by itself once the database is back. Anything else passes unchanged.
 */
export function unavailable(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  const down =
    // SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, cannot connect now),
    // 53300 (too many connections).
    /^08/.test(code) ||
    /^57P0[123]$/.test(code) ||
    code === '53300' ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOENT', 'EHOSTUNREACH'].includes(code) ||
    isTimeout(err) ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
      message,
    );
  return down
    ? new StoreError('UNAVAILABLE', 'the mail store is unavailable, try again later', {
        cause: err,
      })
    : err;
}

/**
 * The driver's own timeouts (PgOptions.queryTimeoutMs): a statement not answered in time
 * (query_timeout), a connection not made in time, no pooled connection free in time.
 */
export function isTimeout(err: unknown): boolean {
  const message = (err as { message?: unknown } | null)?.message;
  return (
    typeof message === 'string' &&
    /^(Query read timeout|timeout expired|timeout exceeded when trying to connect)$/.test(message)
  );
}

/** PostgreSQL's unique_violation, for inserts racing another node's. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505';
}
