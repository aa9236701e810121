// Issue 17: over PostgreSQL each statement is a round trip to another process, so the IMAP
// mix's commands are made of as few as their meaning allows. These tests count the statements
// one node sends for an operation, and check that what it answers without asking is what the
// database would have said, with a second node changing things behind its back.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { headerBounds } from '../../src/mime/header-scan.js';
import { EXPUNGE_SQL, expungeKind } from '../../src/store/postgres/expunge-one.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { QuietCollect } from '../../src/store/postgres/quiet-collect.js';
import type { Resolution } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { hearAccount } from '../helpers/hear-account.js';
import { newMessage } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

interface Counted {
  store: PostgresStore;
  /** Round trips the store made since the last call (see counted), FLUSHes apart. */
  sent(): number;
  /** Round trips on the node's shared reads connection since the last call (shared-reads.ts). */
  readsSent(): number;
  /** Round trips of FLUSH alone since the last call (db.ts durableSince). */
  flushes(): number;
  /**
   * Per connection, the statements sent since the last call, in order: 'write' for one that
   * commits without waiting for its flush (db.ts UNFLUSHED_COMMIT), 'flush' for FLUSH,
   * 'other' for the rest.
   */
  log(): string[][];
  /** Socket writes to the database on the pool's connections since the last call. */
  writes(): number;
  /**
   * Every connection's statements since the last call, in the order they were sent ('write>',
   * 'flush>', 'other>') and answered ('write<', ...), with the test's own marks (`mark`).
   */
  order(): string[];
  mark(what: string): void;
  /** FLUSHes are held (not sent) until the function returned is called. */
  holdFlushes(): () => void;
}

/**
 * A store whose round trips are counted: on each of its pool's connections, a statement sent
 * while none of that connection's is unanswered starts one; those sent behind it before the
 * answers come (pipelined) share it.
 */
async function counted(url: string, nodeId?: string): Promise<Counted> {
  // What EXPUNGE lets go of is not collected while a test runs, and no sweep runs: their
  // statements would be counted among a test's (quiet-collect.ts).
  const store = await PostgresStore.open({
    connectionString: url,
    max: 4,
    nodeId,
    collect: { idleMs: 600_000, maxWaitMs: 600_000, sweepDelayMs: -1 },
  });
  const pool = (store as unknown as { db: { pool: pg.Pool } }).db.pool;
  let n = 0;
  let r = 0;
  let flushes = 0;
  let writes = 0;
  let order: string[] = [];
  let gate: Promise<void> | null = null;
  const logs = new Map<pg.PoolClient, string[]>();
  const wrapped = new WeakSet<pg.PoolClient>();
  const wrap = (client: pg.PoolClient) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    // Each call of the socket's _write or _writev is one write(2) or writev(2).
    const socket = (client as unknown as pg.Client).connection.stream as unknown as {
      _write: (...a: unknown[]) => unknown;
      _writev?: (...a: unknown[]) => unknown;
    };
    const w1 = socket._write.bind(socket);
    socket._write = (...a: unknown[]) => {
      writes++;
      return w1(...a);
    };
    if (socket._writev) {
      const wv = socket._writev.bind(socket);
      socket._writev = (...a: unknown[]) => {
        writes++;
        return wv(...a);
      };
    }
    let pending = 0;
    const q = client.query.bind(client) as (...a: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      const a0 = args[0] as { name?: string; text?: string } | string;
      const text = typeof a0 === 'string' ? a0 : (a0.text ?? '');
      const kind =
        typeof a0 !== 'string' && a0.name === 'lb_flush'
          ? 'flush'
          : /synchronous_commit/.test(text)
            ? 'write'
            : 'other';
      const log = logs.get(client) ?? [];
      logs.set(client, log);
      log.push(kind);
      const send = () => {
        // A FLUSH, shared by the writes answered while the one before it was out (db.ts
        // durableSince), is counted apart from the operations' own round trips.
        if (pending++ === 0) {
          if (kind === 'flush') flushes++;
          else n++;
        }
        order.push(`${kind}>`);
        const settle = () => {
          pending--;
          order.push(`${kind}<`);
        };
        const cb = args.findIndex((a) => typeof a === 'function');
        if (cb >= 0) {
          const f = args[cb] as (...r: unknown[]) => void;
          args[cb] = (...r: unknown[]) => {
            settle();
            f(...r);
          };
          return q(...args);
        }
        const p = q(...args) as Promise<unknown>;
        p.then(settle, settle);
        return p;
      };
      const held = kind === 'flush' ? gate : null;
      if (held === null) return send();
      // Held: sent once the test lets it go.
      const later = held.then(send);
      return args.some((a) => typeof a === 'function') ? undefined : later;
    }) as pg.PoolClient['query'];
  };
  pool.on('connect', wrap);
  pool.on('acquire', wrap);
  // The node's shared reads connection (shared-reads.ts: RCPT's look-ups, small messages'
  // bytes, a STORE's read of one row): its round trips counted apart (readsSent), one sent
  // while another of its own is out sharing it.
  const reads = (store as unknown as { reads: { query: (c: pg.QueryConfig) => Promise<unknown> } })
    .reads;
  const readQuery = reads.query.bind(reads);
  let readsPending = 0;
  reads.query = (config: pg.QueryConfig) => {
    if (readsPending++ === 0) r++;
    order.push('other>');
    const p = readQuery(config);
    const settle = () => {
      readsPending--;
      order.push('other<');
    };
    p.then(settle, settle);
    return p;
  };
  return {
    store,
    sent() {
      const v = n;
      n = 0;
      return v;
    },
    readsSent() {
      const v = r;
      r = 0;
      return v;
    },
    flushes() {
      const v = flushes;
      flushes = 0;
      return v;
    },
    log() {
      const v = [...logs.values()].filter((l) => l.length > 0);
      logs.clear();
      return v;
    },
    writes() {
      const v = writes;
      writes = 0;
      return v;
    },
    order() {
      const v = order;
      order = [];
      return v;
    },
    mark(what: string) {
      order.push(what);
    },
    holdFlushes() {
      let open = () => {};
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      return () => {
        gate = null;
        open();
      };
    },
  };
}

/** Node a (counted) and node b over a new database; `nodes` names them (`nodeId`). */
async function withStores(
  fn: (
    a: Counted,
    b: PostgresStore,
    inbox: number,
    sql: pg.Client,
    account: number,
  ) => Promise<void>,
  nodes?: { a: string; b: string },
) {
  const url = await server.createDatabase();
  const a = await counted(url, nodes?.a);
  const b = await PostgresStore.open({ connectionString: url, max: 2, nodeId: nodes?.b });
  const sql = new pg.Client({ connectionString: url });
  try {
    await sql.connect();
    await a.store.addDomain('example.test');
    const acct = await a.store.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    const inbox = (await a.store.getMailbox(acct.id, 'INBOX'))!.id;
    // Both nodes hear the account's changes, as with a session of it on each.
    await hearAccount(a.store, acct.id);
    await hearAccount(b, acct.id);
    a.sent();
    a.readsSent();
    await fn(a, b, inbox, sql, acct.id);
  } finally {
    await sql.end().catch(() => {});
    await a.store.close();
    await b.close();
    await server.dropDatabase(url);
  }
}

test("resolveRecipient (RCPT): an account's address in one statement, not on the pool, an alias's targets after it", () =>
  withStores(async (a, _b, _inbox, _sql, account) => {
    // The first statement goes on the node's shared reads connection (shared-reads.ts), not
    // the pool's: the pool counts none for it.
    const ids = (r: Resolution | null) => r?.accounts.map((x) => x.id);
    assert.deepEqual(ids(await a.store.resolveRecipient('Alice@example.test')), [account]);
    assert.equal(a.sent(), 0, 'the domain and the account in one statement, on its connection');
    assert.equal(await a.store.resolveRecipient('nobody@example.test'), null);
    assert.equal(a.sent(), 0);
    assert.equal(await a.store.resolveRecipient('alice@elsewhere.test'), null);
    assert.equal(a.sent(), 0);
    // An alias to a local account and a remote address: its own row, then the target's.
    await a.store.addAlias('team@example.test', ['alice@example.test', 'x@remote.test']);
    a.sent();
    const team = await a.store.resolveRecipient('team@example.test');
    assert.deepEqual([ids(team), team?.remote], [[account], ['x@remote.test']]);
    assert.equal(a.sent(), 2, "after the alias's row, remote.test's domain and alice's account");
    // The catch-all, to that alias: its row in the first statement too.
    await a.store.addAlias('@example.test', ['team@example.test']);
    a.sent();
    const any = await a.store.resolveRecipient('anyone@example.test');
    assert.deepEqual([ids(any), any?.remote], [[account], ['x@remote.test']]);
    assert.equal(a.sent(), 4, "then the alias's account and alias rows, and its targets'");
  }));

test('\\Recent claims (RFC 3501 §2.3.2): known-empty ones send nothing, a read locks nothing', () =>
  withStores(async (a, b, inbox, sql) => {
    for (const s of ['a', 'b', 'c']) await a.store.append(newMessage(s), [{ mailboxId: inbox }]);
    const xmax = async () =>
      (await sql.query('SELECT xmax::text AS x FROM mailboxes WHERE id = $1', [inbox])).rows[0]!
        .x as string;
    a.sent();
    assert.equal(await a.store.claimRecent(inbox, 3, true), 1);
    assert.equal(a.sent(), 1, 'a claim is one statement');
    // Every later session (or announcement) of the same messages: nothing to take, no statement.
    for (let i = 0; i < 3; i++) assert.equal(await a.store.claimRecent(inbox, 3, true), 4);
    assert.equal(await a.store.claimRecent(inbox, 2, false), 4);
    assert.equal(a.sent(), 0);
    // An APPEND's own claim (AppendTarget.claimRecent) is known too.
    const [r] = await a.store.append(newMessage('d'), [{ mailboxId: inbox, claimRecent: true }]);
    assert.equal(r!.uid, 4);
    assert.equal(r!.recentFrom, 4);
    a.sent();
    assert.equal(await a.store.claimRecent(inbox, 4, true), 5);
    assert.equal(a.sent(), 0);

    // Another node appends and claims: this node's bound is below the truth, never above.
    await b.append(newMessage('e'), [{ mailboxId: inbox }]);
    await b.append(newMessage('f'), [{ mailboxId: inbox }]);
    assert.equal(await b.claimRecent(inbox, 5, true), 5);
    const before = await xmax();
    // Nothing left up to 5: one statement, and the row is not locked (a lock is a write).
    assert.equal(await a.store.claimRecent(inbox, 5, true), 6);
    assert.equal(a.sent(), 1);
    assert.equal(await xmax(), before, 'the row was not locked');
    // UID 6 is still to take, here.
    assert.equal(await a.store.claimRecent(inbox, 6, true), 6);
    assert.equal(await b.claimRecent(inbox, 6, true), 7);
    assert.equal(await a.store.claimRecent(inbox, 6, true), 7);
  }));

test('EXPUNGE (RFC 9051 §6.4.3): one round trip, the same rows, VANISHED and quota', () =>
  withStores(async (a, _b, inbox, sql) => {
    for (const s of ['a', 'b', 'c', 'd'])
      await a.store.append(newMessage(s), [{ mailboxId: inbox }]);
    await a.store.setFlags(inbox, [1, 3], 'add', ['\\Deleted']);
    const before = await a.store.mailboxStatus(inbox);
    a.sent();
    // The account's lock, the deletion and the NOTIFY in one statement (migration 9's
    // function), committed on its own.
    assert.deepEqual(await a.store.expunge(inbox, { onlyDeleted: true }), [1, 3]);
    assert.equal(a.sent(), 1);
    const after = await a.store.mailboxStatus(inbox);
    assert.equal(after.messages, 2);
    assert.ok(after.highestModseq > before.highestModseq);
    assert.deepEqual(await a.store.expungedSince(inbox, before.highestModseq), [1, 3]);
    // The stored messages stay until the node collects them, quiet (migration 15).
    const stored = async () =>
      (await sql.query('SELECT count(*)::int AS n FROM messages')).rows[0].n as number;
    assert.equal(await stored(), 4);
    const account = (await a.store.getAccount('alice@example.test'))!;
    const usage = await sql.query('SELECT used_bytes::int AS n FROM accounts WHERE id = $1', [
      account.id,
    ]);
    const sizes = (await a.store.listMessages(inbox)).reduce((t, r) => t + r.size, 0);
    assert.equal(usage.rows[0].n, sizes);
    // Nothing \Deleted: nothing changes, not even the modseq.
    assert.deepEqual(await a.store.expunge(inbox, { onlyDeleted: true }), []);
    assert.equal((await a.store.mailboxStatus(inbox)).highestModseq, after.highestModseq);
    // Collected (here at once, not waiting for quiet), with their bytes; the others stay.
    await (a.store as unknown as { collector: QuietCollect }).collector.drain();
    assert.equal(await stored(), 2);
    const blobs = await sql.query('SELECT count(*)::int AS n FROM blobs');
    assert.equal(blobs.rows[0].n, 2);
  }));

test("EXPUNGE reads the mailbox's \\Deleted rows only (migration 11's partial index), not all of them, by its statement (expunge-one.ts)", () =>
  withStores(async (a, _b, inbox, sql) => {
    const n = 1000;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        a.store.append(newMessage(`m${i}`), [{ mailboxId: inbox }]),
      ),
    );
    await a.store.setFlags(inbox, [7, 900], 'add', ['\\Deleted']);
    await sql.query('ANALYZE mailbox_messages');
    // The store's statement run on this connection, its plan the generic one it keeps, in a
    // transaction whose own table statistics say how many rows of mailbox_messages it read
    // (rolled back: nothing changes).
    await sql.query("SET plan_cache_mode = 'force_generic_plan'");
    const rowsRead = async (uids: number[] | null, onlyDeleted: boolean) => {
      await sql.query('BEGIN');
      try {
        const r = await sql.query(EXPUNGE_SQL[expungeKind(onlyDeleted, uids !== null)], [
          inbox,
          ...(uids !== null ? [uids] : []),
          'test',
          1,
          400,
          true,
        ]);
        const gone = `{${((r.rows[0].gone as string[] | null) ?? []).join(',')}}`;
        const read = await sql.query(
          `SELECT (seq_tup_read + COALESCE(idx_tup_fetch, 0))::int AS n
           FROM pg_stat_xact_user_tables WHERE relname = 'mailbox_messages'`,
        );
        return { gone, read: read.rows[0].n as number };
      } finally {
        await sql.query('ROLLBACK');
      }
    };
    const all = await rowsRead(null, true);
    assert.equal(all.gone, '{7,900}');
    // The two rows, each read to find it and again to delete it: far below the mailbox's
    // thousand.
    assert.ok(all.read < 20, `EXPUNGE read ${all.read} rows`);
    const some = await rowsRead([7, 8, 9], true);
    assert.equal(some.gone, '{7}');
    assert.ok(some.read < 20, `UID EXPUNGE read ${some.read} rows`);
    // Without onlyDeleted: the UIDs given, or every row.
    assert.equal((await rowsRead([8, 9], false)).gone, '{8,9}');
    assert.equal((await rowsRead(null, false)).gone.split(',').length, n);
    // And through the store: the same answer.
    assert.deepEqual(await a.store.expunge(inbox, { onlyDeleted: true }), [7, 900]);
  }));

test("EXPUNGE's, COPY's and STORE's functions and STORE's read keep one plan per statement (migrations 12-14), not one per call", () =>
  withStores(async (_a, _b, _inbox, sql) => {
    // With their array parameters PostgreSQL planned two of EXPUNGE's statements, STORE's
    // statement, and the read before a STORE the node's list cannot answer again at each
    // call (auto plan_cache_mode); the tests here run them with the kept plans.
    const r = await sql.query(
      `SELECT proname, proconfig FROM pg_proc
       WHERE proname IN ('letterbox_expunge', 'letterbox_copy', 'letterbox_set_flags',
         'letterbox_flag_rows')
       ORDER BY proname`,
    );
    assert.deepEqual(
      r.rows.map((x) => [x.proname, x.proconfig]),
      [
        ['letterbox_copy', ['plan_cache_mode=force_generic_plan']],
        ['letterbox_expunge', ['plan_cache_mode=force_generic_plan']],
        ['letterbox_flag_rows', ['plan_cache_mode=force_generic_plan']],
        ['letterbox_set_flags', ['plan_cache_mode=force_generic_plan']],
      ],
    );
  }));

test('EXPUNGE of more UIDs than one notice holds: every part heard, here before it returns', () =>
  withStores(async (a, b, inbox) => {
    const n = 450;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        a.store.append(newMessage(`m${i}`), [{ mailboxId: inbox }]),
      ),
    );
    const all = Array.from({ length: n }, (_, i) => i + 1);
    await a.store.setFlags(inbox, all, 'add', ['\\Deleted']);
    const seen = (store: PostgresStore) => {
      const uids: number[] = [];
      const off = store.subscribe((ev) => {
        if (ev.mailboxId === inbox && ev.kind === 'expunge') uids.push(...ev.uids);
      });
      return { uids, off };
    };
    const here = seen(a.store);
    const there = seen(b);
    a.sent();
    assert.deepEqual(await a.store.expunge(inbox, { onlyDeleted: true }), all);
    assert.equal(a.sent(), 1);
    // Its own node had every part (two notices) when the call returned, each UID once.
    assert.deepEqual(here.uids, all);
    await eventually(() => there.uids.length >= n, "the other node's parts", 20_000);
    assert.deepEqual(there.uids, all);
    here.off();
    there.off();
    assert.deepEqual((await b.listMessages(inbox)).length, 0);
  }));

test('COPY and MOVE (RFC 9051 §6.4.7, RFC 6851): one round trip each, the same rows, VANISHED, quota and notices', () =>
  withStores(async (a, b, inbox, sql, account) => {
    const lists = (await a.store.createMailbox(account, 'Lists')).id;
    const sizes: number[] = [];
    for (const s of ['a', 'b', 'c', 'd']) {
      const m = newMessage(s);
      sizes.push(m.raw.length);
      await a.store.append(m, [{ mailboxId: inbox, flags: s === 'b' ? ['\\Seen', 'Work'] : [] }]);
    }
    await a.store.append(newMessage('in lists'), [{ mailboxId: lists }]);
    const listsBefore = await a.store.mailboxStatus(lists);
    // What the other node hears from here on (it may still be hearing the appends above).
    const heard: Array<{ kind: string; mailboxId: number; uids: number[]; kw?: string[] }> = [];
    const off = b.subscribe((ev) => {
      if ((ev.kind === 'append' || ev.kind === 'expunge') && ev.modseq > listsBefore.highestModseq)
        heard.push({ kind: ev.kind, mailboxId: ev.mailboxId, uids: ev.uids, kw: ev.keywords });
    });
    const usage = async () =>
      (await sql.query('SELECT used_bytes::int AS n FROM accounts WHERE id = $1', [account]))
        .rows[0].n as number;
    const used = await usage();
    a.sent();
    // COPY: the account's lock, the rows, the modseq, the new UIDs and rows, the keywords and
    // the notice in one statement (migration 10's function).
    const copied = await a.store.copyMessages(inbox, [4, 2, 9], lists);
    assert.equal(a.sent(), 1);
    assert.deepEqual(copied.mapping, [
      [2, 2],
      [4, 3],
    ]);
    assert.equal(copied.uidValidity, listsBefore.uidValidity);
    assert.ok(copied.modseq > listsBefore.highestModseq);
    const inLists = await b.listMessages(lists);
    assert.deepEqual(
      inLists.map((r) => [r.uid, r.flags, r.modseq]),
      [
        [1, [], inLists[0]!.modseq],
        [2, ['\\Seen', 'Work'], copied.modseq],
        [3, [], copied.modseq],
      ],
    );
    assert.equal(await usage(), used + sizes[1]! + sizes[3]!);
    assert.equal((await a.store.mailboxStatus(lists)).highestModseq, copied.modseq);
    assert.deepEqual((await b.mailboxSummary(lists)).keywords, ['Work']);

    // MOVE: the same, and the originals' removal recorded for VANISHED with the same modseq.
    a.sent();
    const moved = await a.store.moveMessages(inbox, [1, 2], lists);
    assert.equal(a.sent(), 1);
    assert.deepEqual(moved.mapping, [
      [1, 4],
      [2, 5],
    ]);
    assert.deepEqual(
      (await b.listMessages(inbox)).map((r) => r.uid),
      [3, 4],
    );
    assert.deepEqual(await b.expungedSince(inbox, copied.modseq), [1, 2]);
    assert.equal((await b.mailboxStatus(inbox)).highestModseq, moved.modseq);
    assert.equal(await usage(), used + sizes[1]! + sizes[3]!, 'a move frees what it adds');
    // The stored messages stay: rows hold them.
    assert.equal((await sql.query('SELECT count(*)::int AS n FROM messages')).rows[0].n, 5);

    // The other node heard each change, the append before the expunge.
    await eventually(() => heard.length >= 3, "the other node's notices", 20_000);
    assert.deepEqual(heard, [
      { kind: 'append', mailboxId: lists, uids: [2, 3], kw: ['Work'] },
      { kind: 'append', mailboxId: lists, uids: [4, 5], kw: ['Work'] },
      { kind: 'expunge', mailboxId: inbox, uids: [1, 2], kw: undefined },
    ]);
    off();

    // Nothing to copy: no change, not even the modseq. No such mailbox, another account's
    // mailbox, no room: refused, nothing changed.
    assert.deepEqual((await a.store.copyMessages(inbox, [1, 2], lists)).mapping, []);
    assert.equal((await a.store.mailboxStatus(lists)).highestModseq, moved.modseq);
    await assert.rejects(a.store.copyMessages(inbox, [3], 999_999), { code: 'NOT_FOUND' });
    await assert.rejects(a.store.moveMessages(999_999, [3], lists), { code: 'NOT_FOUND' });
    const bob = await a.store.createAccount({ address: 'bob@example.test', passwordHash: 'h' });
    const bobInbox = (await a.store.getMailbox(bob.id, 'INBOX'))!.id;
    await assert.rejects(a.store.copyMessages(inbox, [3], bobInbox), { code: 'NOT_ALLOWED' });
    await sql.query('UPDATE accounts SET quota_bytes = used_bytes WHERE id = $1', [account]);
    await assert.rejects(a.store.copyMessages(inbox, [3], lists), { code: 'OVERQUOTA' });
    // A move needs no room.
    assert.deepEqual((await a.store.moveMessages(inbox, [3], lists)).mapping, [[3, 6]]);
  }));

test('MOVE of more UIDs than one notice holds: every part of both events heard, here before it returns', () =>
  withStores(async (a, b, inbox, _sql, account) => {
    const n = 450;
    const lists = (await a.store.createMailbox(account, 'Lists')).id;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        a.store.append(newMessage(`m${i}`), [{ mailboxId: inbox }]),
      ),
    );
    const all = Array.from({ length: n }, (_, i) => i + 1);
    const seen = (store: PostgresStore) => {
      const got = { appended: [] as number[], expunged: [] as number[] };
      const off = store.subscribe((ev) => {
        if (ev.mailboxId === lists && ev.kind === 'append') got.appended.push(...ev.uids);
        if (ev.mailboxId === inbox && ev.kind === 'expunge') got.expunged.push(...ev.uids);
      });
      return { got, off };
    };
    const here = seen(a.store);
    const there = seen(b);
    a.sent();
    const moved = await a.store.moveMessages(inbox, all, lists);
    assert.equal(a.sent(), 1);
    assert.deepEqual(
      moved.mapping,
      all.map((u) => [u, u]),
    );
    // Its own node had every part (two notices each) when the call returned, each UID once.
    assert.deepEqual(here.got, { appended: all, expunged: all });
    await eventually(() => there.got.expunged.length >= n, "the other node's parts", 20_000);
    assert.deepEqual(there.got, { appended: all, expunged: all });
    here.off();
    there.off();
    assert.equal((await b.listMessages(inbox)).length, 0);
    assert.equal((await b.listMessages(lists)).length, n);
  }));

test('a write with notices commits without waiting for its flush, and answers once a FLUSH sent after it (or, for an append group, behind it) was', () =>
  withStores(async (a, _b, inbox) => {
    // PostgreSQL holds one lock of the whole cluster from a notifying commit through its WAL
    // flush, so those commits go one at a time (db.ts UNFLUSHED_COMMIT); each is made durable
    // by a FLUSH sent once its commit was answered (db.ts durableSince) before it answers.
    const writeThenFlush = async (what: string, op: () => Promise<unknown>) => {
      a.order();
      await op();
      a.mark('done');
      const order = a.order();
      const w = order.indexOf('write<');
      assert.ok(w >= 0, `${what}: no write answered: ${order.join(' ')}`);
      const f = order.indexOf('flush>', w);
      assert.ok(f > w, `${what}: no FLUSH sent after the write was answered: ${order.join(' ')}`);
      const flushed = order.indexOf('flush<', f);
      assert.ok(
        flushed > f && flushed < order.indexOf('done'),
        `${what}: answered before its flush: ${order.join(' ')}`,
      );
    };
    // An append group's FLUSH goes behind its statement on the same connection, in the same
    // socket write (db.ts flushedBehind): one round trip, answered once the FLUSH is.
    a.order();
    a.sent();
    a.flushes();
    a.writes();
    a.log();
    await a.store.append(newMessage('a'), [{ mailboxId: inbox }]);
    a.mark('done');
    const appended = a.order();
    assert.deepEqual(
      appended.filter((k) => k.startsWith('write') || k.startsWith('flush') || k === 'done'),
      ['write>', 'flush>', 'write<', 'flush<', 'done'],
      `APPEND: ${appended.join(' ')}`,
    );
    assert.deepEqual(
      a.log().filter((l) => l.includes('write')),
      [['write', 'flush']],
      'APPEND: the FLUSH on the statement’s connection',
    );
    assert.equal(a.sent() + a.flushes(), 1, 'APPEND: one round trip');
    assert.equal(a.writes(), 1, 'APPEND: one socket write');
    await a.store.listMessages(inbox); // STORE from the node's list: the write alone
    await writeThenFlush('STORE', () => a.store.setFlags(inbox, [1], 'add', ['\\Deleted']));
    await writeThenFlush('EXPUNGE', () => a.store.expunge(inbox, { onlyDeleted: true }));
    // A transaction with notices (events.ts): its NOTIFY carries the column and goes with
    // COMMIT; FLUSH follows once COMMIT was answered.
    const account = (await a.store.getAccount('alice@example.test'))!;
    a.log();
    a.sent();
    a.flushes();
    a.writes();
    a.order();
    await a.store.createMailbox(account.id, 'Lists');
    a.mark('done');
    const order = a.order();
    const tx = a.log().find((l) => l.includes('write'));
    assert.ok(tx);
    // (FLUSH may go on the same pooled connection, after.)
    assert.deepEqual(tx.filter((k) => k !== 'flush').slice(-2), ['write', 'other'], tx.join(' '));
    const committed = order.lastIndexOf('other<');
    const f = order.indexOf('flush>');
    assert.ok(f > committed, `FLUSH sent before COMMIT was answered: ${order.join(' ')}`);
    assert.ok(order.indexOf('flush<') < order.indexOf('done'), order.join(' '));
    // BEGIN with the transaction's first statements, and its NOTIFY with COMMIT: a socket
    // write per round trip (and FLUSH's).
    assert.equal(a.writes(), a.sent() + a.flushes(), 'CREATE: one socket write per round trip');
  }));

test("a transaction of append groups sends BEGIN, the accounts' lock, its groups and COMMIT, nothing more; a contended one its FLUSH behind", () =>
  withStores(async (a, b, inbox, _sql, account) => {
    const lists = (await a.store.createMailbox(account, 'Lists')).id;
    // Each group's statement sets its transaction's commit unflushed itself (db.ts
    // UNFLUSHED_COMMIT); a closing statement setting it again would be a statement more in
    // every such transaction.
    const groupsTx = () => {
      const tx = a.log().find((l) => l.includes('write'));
      assert.ok(tx, 'no transaction of groups');
      return tx.filter((k) => k !== 'flush');
    };
    // Appends to two mailboxes in one turn: their groups share one transaction.
    a.log();
    await Promise.all([
      a.store.append(newMessage('one'), [{ mailboxId: inbox }]),
      a.store.append(newMessage('two'), [{ mailboxId: lists }]),
    ]);
    assert.deepEqual(groupsTx(), ['other', 'other', 'write', 'write', 'other']);
    // A mailbox another node changed lately: its group is taken once the lock is held.
    let heard = false;
    const off = a.store.subscribe((e) => {
      if (e.kind === 'append' && e.mailboxId === inbox) heard = true;
    });
    await b.append(newMessage('from b'), [{ mailboxId: inbox }]);
    await eventually(() => heard, 'node a heard node b append', 20_000);
    off();
    a.log();
    a.flushes();
    a.order();
    await a.store.append(newMessage('three'), [{ mailboxId: inbox }]);
    assert.deepEqual(groupsTx(), ['other', 'other', 'write', 'other']);
    // Its FLUSH goes behind its COMMIT on its connection, before COMMIT is answered (db.ts
    // OWN_UNFLUSHED_BEHIND), not as a round trip of its own after it (durableSince).
    assert.equal(a.flushes(), 0, 'no FLUSH round trip of its own');
    const order = a.order();
    assert.ok(order.includes('flush>'), order.join(' '));
    assert.ok(order.indexOf('flush>') < order.lastIndexOf('other<'), order.join(' '));
    assert.deepEqual(
      (await a.store.listMessages(inbox)).map((m) => m.uid),
      [1, 2, 3],
    );
  }));

test("a contended append transaction sends no FLUSH behind its COMMIT while another write's FLUSH is out: it shares the next", () =>
  withStores(async (a, b, inbox) => {
    for (let i = 0; i < 2; i++) await a.store.append(newMessage(`m${i}`), [{ mailboxId: inbox }]);
    await a.store.listMessages(inbox);
    // What went on the pool's connections, in the order called (FLUSHes held included).
    const calls: string[] = [];
    const seen = () => {
      for (const l of a.log()) calls.push(...l);
      return calls;
    };
    let heard = false;
    const off = a.store.subscribe((e) => {
      if (e.kind === 'append' && e.mailboxId === inbox) heard = true;
    });
    a.log();
    const release = a.holdFlushes();
    const ops: Promise<unknown>[] = [];
    try {
      // A STORE of two rows (a statement of its own, with notices: node b listens): answered,
      // it asks for a FLUSH, held here.
      ops.push(a.store.setFlags(inbox, [1, 2], 'add', ['\\Seen']));
      await eventually(() => seen().includes('flush'), "the STORE's FLUSH asked", 20_000);
      // The mailbox contended (another node changed it lately): the append's transaction
      // takes the account's lock first, then its group, then COMMIT (db.ts tx).
      await b.append(newMessage('from b'), [{ mailboxId: inbox }]);
      await eventually(() => heard, 'node a heard node b append', 20_000);
      const from = seen().length;
      ops.push(a.store.append(newMessage('three'), [{ mailboxId: inbox }]));
      const tx = () => seen().slice(from);
      const committing = () => {
        const w = tx().indexOf('write');
        return w >= 0 && tx().indexOf('other', w) > w;
      };
      await eventually(committing, "the append's COMMIT sent", 20_000);
      // With a FLUSH out, its own behind its COMMIT would be one FLUSH (and commit) more: it
      // waits for the next shared one (db.ts flushFree), sent once the held one is answered.
      assert.ok(!tx().includes('flush'), `its own FLUSH behind its COMMIT: ${tx().join(' ')}`);
    } finally {
      off();
      release();
      await Promise.all(ops);
    }
    assert.deepEqual(
      (await a.store.listMessages(inbox)).map((m) => m.uid),
      [1, 2, 3, 4],
    );
  }));

test("an append group that sends no notice (no lease on the account) commits synchronously, with no FLUSH after it, once its mailbox's last group here sent none", async () => {
  // A FLUSH follows a commit that sends notices (db.ts UNFLUSHED_COMMIT); one that sends none
  // (no node listens: append-one.ts unflushedIf) commits synchronously, durable when answered.
  const url = await server.createDatabase();
  const a = await counted(url);
  try {
    await a.store.addDomain('example.test');
    const acct = await a.store.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    const inbox = (await a.store.getMailbox(acct.id, 'INBOX'))!.id;
    const lists = (await a.store.createMailbox(acct.id, 'Lists')).id;
    /** The kinds of what went on the connections of the appends (write, flush, other). */
    const appended = async (...boxes: number[]) => {
      a.log();
      a.flushes();
      a.order();
      await Promise.all(
        boxes.map((b, i) => a.store.append(newMessage(`m${i}`), [{ mailboxId: b }])),
      );
      a.mark('done');
      const order = a.order();
      return { log: a.log(), flushes: a.flushes(), order };
    };
    // Nothing known of the mailbox yet: its FLUSH behind it, as before.
    assert.deepEqual((await appended(inbox)).log, [['write', 'flush']]);
    // Its group sent no notice: the next commits synchronously, alone.
    const second = await appended(inbox);
    assert.deepEqual(second.log, [['write']], second.order.join(' '));
    assert.equal(second.flushes, 0);
    // Two mailboxes' groups in one transaction, each known to send none: no FLUSH after COMMIT.
    await appended(lists);
    const both = await appended(inbox, lists);
    assert.deepEqual(
      both.log,
      [['other', 'other', 'write', 'write', 'other']],
      both.order.join(' '),
    );
    assert.equal(both.flushes, 0);
    // Another node listens now (its lease; a's own lease alone would send no notice,
    // events.ts noticeWanted): the first group after it sends a notice with its synchronous
    // commit; the next has its FLUSH behind it again.
    const heard: number[] = [];
    const other = await PostgresStore.open({ connectionString: url, max: 2, nodeId: 'node-b' });
    const off = await hearAccount(other, acct.id, (e) => {
      if (e.kind === 'append') heard.push(...e.uids);
    });
    assert.deepEqual((await appended(inbox)).log, [['write']]);
    assert.deepEqual((await appended(inbox)).log, [['write', 'flush']]);
    await eventually(() => heard.length >= 2, 'both appends heard', 20_000);
    off();
    await other.close();
    assert.deepEqual(
      (await a.store.listMessages(inbox)).map((m) => m.uid),
      [1, 2, 3, 4, 5],
    );
  } finally {
    await a.store.close();
    await server.dropDatabase(url);
  }
});

test("a one-row STORE and an EXPUNGE that send no notice commit synchronously, with no FLUSH after them, once their mailbox's last such write here sent none", async () => {
  // As the append groups (7d3293d): a write that sends notices commits unflushed with a FLUSH
  // after it (db.ts UNFLUSHED_COMMIT); one that sends none (no other node listens: events.ts
  // noticeWanted) commits synchronously, durable when answered (flush-guess.ts).
  const url = await server.createDatabase();
  const a = await counted(url);
  try {
    await a.store.addDomain('example.test');
    const acct = await a.store.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    const inbox = (await a.store.getMailbox(acct.id, 'INBOX'))!.id;
    for (let i = 0; i < 8; i++) await a.store.append(newMessage(`m${i}`), [{ mailboxId: inbox }]);
    await a.store.listMessages(inbox); // each STORE from the node's list: the write alone
    /** What went on the pool's connections for op: the kinds logged, and FLUSH round trips. */
    const counts = async (op: () => Promise<unknown>) => {
      a.log();
      a.flushes();
      a.order();
      await op();
      a.mark('done');
      const order = a.order();
      return { log: a.log().flat(), flushes: a.flushes(), order: order.join(' ') };
    };
    const store =
      (uid: number, flag = '\\Seen') =>
      () =>
        a.store.setFlags(inbox, [uid], 'add', [flag]);
    // Nothing known of the mailbox's writes yet: the FLUSH after the commit, as before.
    const first = await counts(store(1));
    assert.deepEqual(first.log, ['write', 'flush'], first.order);
    assert.equal(first.flushes, 1);
    // It sent no notice: the next commits synchronously, alone, and so does an EXPUNGE.
    const second = await counts(store(2, '\\Deleted'));
    assert.deepEqual(second.log, ['write'], second.order);
    assert.equal(second.flushes, 0);
    const expunged = await counts(() => a.store.expunge(inbox, { onlyDeleted: true }));
    assert.deepEqual(expunged.log, ['write'], expunged.order);
    assert.equal(expunged.flushes, 0);
    // Another node listens now (its lease): the first write after it sends its notice with a
    // synchronous commit; the next has its FLUSH after it again.
    const heard: string[] = [];
    const other = await PostgresStore.open({ connectionString: url, max: 2, nodeId: 'node-b' });
    const off = await hearAccount(other, acct.id, (e) => {
      heard.push(`${e.kind} ${e.uids.join(',')}`);
    });
    try {
      const third = await counts(store(3));
      assert.deepEqual(third.log, ['write'], third.order);
      const fourth = await counts(store(4, '\\Deleted'));
      assert.deepEqual(fourth.log, ['write', 'flush'], fourth.order);
      assert.equal(fourth.flushes, 1);
      const again = await counts(() => a.store.expunge(inbox, { onlyDeleted: true }));
      assert.deepEqual(again.log, ['write', 'flush'], again.order);
      await eventually(() => heard.length >= 3, 'node b heard the three writes', 20_000);
      assert.deepEqual(heard, ['flags 3', 'flags 4', 'expunge 4']);
    } finally {
      off();
      await other.close();
    }
    const left = await a.store.listMessages(inbox);
    assert.deepEqual(
      left.map((m) => m.uid),
      [1, 3, 5, 6, 7, 8],
    );
    assert.ok(left.find((m) => m.uid === 3)?.flags.includes('\\Seen'));
  } finally {
    await a.store.close();
    await server.dropDatabase(url);
  }
});

test("the account's lock of a contended mailbox's transaction keeps its plan, not one per call", () =>
  withPlanStores(async (a, b, inbox) => {
    // For a while after node a heard node b's change, its groups to the mailbox go in a
    // transaction that takes the account's lock first (append-batch.ts), heard anew each time.
    for (let i = 0; i < 8; i++) {
      let heard = false;
      const off = a.subscribe((e) => {
        if (e.kind === 'append' && e.mailboxId === inbox) heard = true;
      });
      await b.append(newMessage(`b${i}`), [{ mailboxId: inbox }]);
      await eventually(() => heard, 'node a heard node b append', 20_000);
      off();
      await a.append(newMessage(`a${i}`), [{ mailboxId: inbox }]);
    }
    // The groups of one mailbox: append-batch.ts LOCK_ACCOUNT, a scalar parameter. (As a
    // statement with `= ANY($1)` over the mailboxes PostgreSQL made a plan at every call.)
    await assertPlanKept(a, 'pool', '%letterbox_lock_accounts%', '%FOR NO KEY UPDATE%');
    // The function that locks several mailboxes' accounts (migration 16): its plan kept
    // whatever the array holds.
    const config = await (a as unknown as { db: { pool: pg.Pool } }).db.pool.query(
      "SELECT proconfig FROM pg_proc WHERE proname = 'letterbox_lock_accounts'",
    );
    assert.deepEqual(config.rows[0]?.proconfig, ['plan_cache_mode=force_generic_plan']);
    assert.equal((await a.listMessages(inbox)).length, 16);
  }));

test('writes answered while a FLUSH is out share the next one, each flushed after its commit', () =>
  withStores(async (a, _b, inbox) => {
    for (let i = 0; i < 12; i++) await a.store.append(newMessage(`m${i}`), [{ mailboxId: inbox }]);
    await a.store.listMessages(inbox); // each STORE from the node's list: one write
    a.order();
    let order: string[] = [];
    const seen = () => {
      order = order.concat(a.order());
      return order;
    };
    const count = (what: string) => seen().filter((x) => x === what).length;
    const release = a.holdFlushes();
    // Six STOREs of two rows at once (each its own statement; one-row ones would go in
    // groups, flag-groups.ts): the first answered asks for a FLUSH, held here until every
    // write has been answered; the other five then wait for one more FLUSH, not one each.
    const ops = [1, 2, 3, 4, 5, 6].map((uid) =>
      a.store.setFlags(inbox, [uid, uid + 6], 'add', ['\\Seen']).then(() => a.mark('done')),
    );
    try {
      await eventually(() => count('write<') === 6, 'the six writes answered', 20_000);
      assert.equal(count('done'), 0, 'a STORE answered before any FLUSH');
    } finally {
      release();
      await Promise.all(ops);
    }
    seen();
    assert.equal(count('flush>'), 2, order.join(' '));
    // Every write was answered before the first FLUSH was sent; each STORE answers after one
    // came back.
    assert.ok(order.lastIndexOf('write<') < order.indexOf('flush>'), order.join(' '));
    assert.ok(order.indexOf('done') > order.indexOf('flush<'), order.join(' '));
    assert.equal(count('done'), 6);
  }));

test("readMessages (FETCH's read ahead): the small messages not in memory in one round trip", () =>
  withStores(async (a, b, inbox, sql) => {
    for (let i = 0; i < 6; i++) await b.append(newMessage(`m${i}`), [{ mailboxId: inbox }]);
    const big = newMessage('big', 'a large body line\r\n'.repeat(20_000));
    await b.append(big, [{ mailboxId: inbox }]);
    // Another node expunges the first: its bytes are gone before this node read them.
    const first = (await b.listMessages(inbox))[0]!;
    await b.setFlags(inbox, [1], 'add', ['\\Deleted']);
    await b.expunge(inbox, { onlyDeleted: true });
    // Collected by b once quiet (quiet-collect.ts).
    await eventually(
      async () =>
        (await sql.query('SELECT 1 FROM blobs WHERE hash = $1', [first.blobHash])).rowCount === 0,
      'the expunged message collected',
      30_000,
    );
    const rows = await b.listMessages(inbox);
    const all = [
      { blobHash: first.blobHash, size: first.size },
      { blobHash: 'f'.repeat(64), size: 10 },
      ...rows.map((r) => ({ blobHash: r.blobHash, size: r.size })),
    ];
    const large = rows.find((r) => r.size > 256 * 1024)!;
    assert.ok(large);
    a.sent();
    const got = await a.store.readMessages(all);
    // The large one, the collected one and one never stored are left out (readMessage's).
    // Under SHARED_READ_BYTES together: on the shared reads connection, not the pool.
    assert.equal(a.readsSent(), 1, 'one statement for the five small ones');
    assert.equal(a.sent(), 0, 'none through the pool');
    const small = rows.filter((r) => r !== large);
    assert.deepEqual([...got.keys()].sort(), small.map((r) => r.blobHash).sort());
    for (const r of small) assert.deepEqual(got.get(r.blobHash), await b.readMessage(r.blobHash));
    // Now in memory: none.
    assert.equal((await a.store.readMessages(small)).size, 5);
    assert.equal(a.sent(), 0);
    await assert.rejects(a.store.readMessage(first.blobHash, first.size));
  }));

/** Drops the node's message bytes, as their 2 s in memory running out would (byte-cache.ts). */
function forgetBytes(s: PostgresStore): void {
  (s as unknown as { messages: { forgetBytes(): void } }).messages.forgetBytes();
}

test('readHeaders (FETCH of header fields): kept past the bytes, appended ones at once', () =>
  withStores(async (a, b, inbox) => {
    for (let i = 0; i < 3; i++) await b.append(newMessage(`h${i}`), [{ mailboxId: inbox }]);
    const rows = (await b.listMessages(inbox)).map((r) => ({ blobHash: r.blobHash, size: r.size }));
    a.sent();
    const first = await a.store.readHeaders(rows);
    assert.equal(a.readsSent(), 1, "another node's messages: one statement, on the shared reads");
    assert.equal(a.sent(), 0);
    for (const [i, r] of rows.entries()) {
      const raw = await b.readMessage(r.blobHash);
      assert.deepEqual(first[i], raw.subarray(0, headerBounds(raw).bodyStart));
    }
    // The node's bytes go 2 s after their read; header blocks stay.
    forgetBytes(a.store);
    assert.deepEqual(await a.store.readHeaders(rows), first);
    assert.equal(a.sent(), 0, 'from memory');
    // This node's own append: its header block is kept at the commit.
    const mine = newMessage('mine');
    await a.store.append(mine, [{ mailboxId: inbox }]);
    const own = (await a.store.listMessages(inbox)).at(-1)!;
    forgetBytes(a.store);
    a.sent();
    const got = await a.store.readHeaders([{ blobHash: own.blobHash, size: own.size }]);
    assert.equal(a.sent(), 0, 'kept at the append');
    assert.deepEqual(got[0], mine.raw.subarray(0, headerBounds(mine.raw).bodyStart));
  }));

test('STORE (RFC 9051 §6.4.6) from the node list: one round trip; a stale list is caught', () =>
  withStores(async (a, b, inbox) => {
    for (const s of ['a', 'b', 'c']) await a.store.append(newMessage(s), [{ mailboxId: inbox }]);
    // The node's list of the mailbox (a SELECT or FETCH made it).
    assert.equal((await a.store.listMessages(inbox)).length, 3);
    a.sent();
    const r1 = await a.store.setFlags(inbox, [2], 'add', ['\\Seen']);
    assert.deepEqual(
      r1.updated.map((u) => [u.uid, u.flags]),
      [[2, ['\\Seen']]],
    );
    assert.equal(a.sent(), 1, 'the write alone');

    // Another node changes message 1 behind the list's back: the write checks each row's
    // modseq, fails whole, and the rows are read again.
    await b.setFlags(inbox, [1], 'add', ['\\Flagged']);
    const r2 = await a.store.setFlags(inbox, [1], 'add', ['\\Seen']);
    assert.deepEqual(
      r2.updated.map((u) => [u.uid, [...u.flags].sort()]),
      [[1, ['\\Flagged', '\\Seen']]],
    );
    // Another node takes \Seen off message 2: the list still says \Seen, so a +\Seen from it
    // would change nothing; such a list is not trusted, and the flag is set again.
    await b.setFlags(inbox, [2], 'remove', ['\\Seen']);
    const r3 = await a.store.setFlags(inbox, [2], 'add', ['\\Seen']);
    assert.deepEqual(
      r3.updated.map((u) => [u.uid, u.flags]),
      [[2, ['\\Seen']]],
    );
    // Another node expunges message 3: the list still has it; the write finds it gone.
    await b.setFlags(inbox, [3], 'add', ['\\Deleted']);
    await b.expunge(inbox, { onlyDeleted: true });
    const r4 = await a.store.setFlags(inbox, [3], 'add', ['\\Seen']);
    assert.deepEqual(r4.updated, []);
    // UNCHANGEDSINCE (RFC 7162 §3.1.3) against the list's modseqs.
    const rows = await a.store.listMessages(inbox);
    const m1 = rows.find((r) => r.uid === 1)!;
    const r5 = await a.store.setFlags(inbox, [1, 2], 'add', ['\\Answered'], {
      unchangedSince: m1.modseq,
    });
    assert.deepEqual(r5.modified, [2]);
    assert.deepEqual(
      r5.updated.map((u) => u.uid),
      [1],
    );
    // What the database has is what the answers said.
    const now = await b.listMessages(inbox);
    assert.deepEqual(
      now.map((r) => [r.uid, [...r.flags].sort()]),
      [
        [1, ['\\Answered', '\\Flagged', '\\Seen']],
        [2, ['\\Seen']],
      ],
    );
  }));

test('SEARCH header fields: from the node list without bringing it up to date', () =>
  withStores(async (a, b, inbox) => {
    for (const s of ['alpha', 'beta']) await a.store.append(newMessage(s), [{ mailboxId: inbox }]);
    await a.store.listMessages(inbox);
    a.sent();
    const first = await a.store.getSearchField(inbox, 'subject', [1, 2]);
    assert.deepEqual([...first.values()], ['alpha', 'beta']);
    assert.equal(a.sent(), 1, 'the fields not read before');
    assert.deepEqual(
      [...(await a.store.getSearchField(inbox, 'subject', [1, 2])).values()],
      ['alpha', 'beta'],
    );
    assert.equal(a.sent(), 0, 'then none');
    // A message another node added: read, as the list does not have it.
    await b.append(newMessage('gamma'), [{ mailboxId: inbox }]);
    const third = await a.store.getSearchField(inbox, 'subject', [1, 2, 3]);
    assert.equal(third.get(3), 'gamma');
    assert.equal(a.sent(), 1);
    // One it expunged: not found (a view not yet told of it may still ask).
    await b.setFlags(inbox, [3], 'add', ['\\Deleted']);
    await b.expunge(inbox, { onlyDeleted: true });
    await a.store.listMessages(inbox);
    assert.deepEqual([...(await a.store.getSearchField(inbox, 'subject', [3, 4])).keys()], []);
  }));

test('reads from the node list (record-cache.ts): none while nothing was heard past it', () =>
  withStores(
    async (a, b, inbox, sql) => {
      for (const s of ['a', 'b', 'c']) await a.store.append(newMessage(s), [{ mailboxId: inbox }]);
      const uids = async () => (await a.store.listMessages(inbox)).map((r) => r.uid);
      assert.deepEqual(await uids(), [1, 2, 3]);
      a.sent();
      // SELECT's summary, FETCH 1:* FLAGS, FETCH of some rows: from memory.
      assert.deepEqual((await a.store.mailboxSummary(inbox)).uids.toArray(), [1, 2, 3]);
      assert.deepEqual(await uids(), [1, 2, 3]);
      assert.deepEqual(
        (await a.store.getRecords(inbox, [2])).map((r) => r.uid),
        [2],
      );
      assert.equal(a.sent(), 0);

      // This node's own writes (STORE, APPEND, EXPUNGE): the statement alone, then applied to
      // the list once their notices came back, so the next reads still send nothing.
      await a.store.setFlags(inbox, [1, 2], 'add', ['\\Deleted', '$Done']);
      assert.equal(a.sent(), 1);
      const flagged = await a.store.listMessages(inbox);
      assert.deepEqual(
        flagged.map((r) => [r.uid, [...r.flags].sort()]),
        [
          [1, ['$Done', '\\Deleted']],
          [2, ['$Done', '\\Deleted']],
          [3, []],
        ],
      );
      assert.deepEqual((await a.store.mailboxSummary(inbox)).keywords, ['$Done']);
      await a.store.getSearchField(inbox, 'subject', [1, 2, 3]);
      a.sent();
      const [r4] = await a.store.append(newMessage('d'), [
        { mailboxId: inbox, flags: ['\\Seen'], claimRecent: true },
      ]);
      assert.equal(a.sent(), 1);
      const four = (await a.store.getRecords(inbox, [4]))[0]!;
      assert.deepEqual([four.uid, four.flags, four.modseq], [4, ['\\Seen'], r4!.modseq]);
      // SEARCH's header field of the new message: known from the append.
      assert.deepEqual([...(await a.store.getSearchField(inbox, 'subject', [4])).values()], ['d']);
      assert.equal(a.sent(), 0);
      assert.deepEqual(await a.store.expunge(inbox, { onlyDeleted: true }), [1, 2]);
      assert.equal(a.sent(), 1);
      assert.deepEqual((await a.store.mailboxSummary(inbox)).uids.toArray(), [3, 4]);
      assert.equal(a.sent(), 0);
      // The list is what the database has, modseqs included.
      const truth = await b.listMessages(inbox);
      assert.deepEqual(await a.store.listMessages(inbox), truth);
      assert.equal(a.sent(), 0);

      // Another node's change: one statement once this node heard of it, then none again.
      let heard = 0;
      const off = a.store.subscribe((ev) => {
        if (ev.kind === 'flags') heard++;
      });
      await b.setFlags(inbox, [3], 'add', ['\\Answered']);
      await eventually(() => heard === 1, "node a to hear b's STORE");
      off();
      const three = (await a.store.getRecords(inbox, [3]))[0]!;
      assert.deepEqual(three.flags, ['\\Answered']);
      assert.equal(a.sent(), 1);
      await a.store.listMessages(inbox);
      assert.equal(a.sent(), 0);

      // While this node does not listen, nothing it has is trusted: every read asks.
      const listener = () =>
        sql.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'letterbox events node-a'",
        );
      const live = () => (a.store as unknown as { events: { live: boolean } }).events.live;
      await listener();
      await eventually(() => !live(), 'the LISTEN connection to be seen gone');
      await a.store.listMessages(inbox);
      await a.store.listMessages(inbox);
      assert.equal(a.sent(), 2);
      await b.setFlags(inbox, [3], 'add', ['\\Flagged']);
      assert.deepEqual((await a.store.getRecords(inbox, [3]))[0]!.flags.slice().sort(), [
        '\\Answered',
        '\\Flagged',
      ]);
      // Listening again: the list is read once more (changes of the gap were not heard), then
      // trusted again.
      await eventually(() => live(), 'node a to listen again', 10_000);
      a.sent();
      await a.store.listMessages(inbox);
      assert.equal(a.sent(), 1);
      await a.store.listMessages(inbox);
      assert.equal(a.sent(), 0);
    },
    { a: 'node-a', b: 'node-b' },
  ));

test("getMailbox (SELECT's, APPEND's): from the node's names and list, none while nothing was heard", () =>
  withStores(
    async (a, b, inbox, _sql, account) => {
      await a.store.listMessages(inbox);
      a.sent();
      const same = async () => {
        const mine = await a.store.getMailbox(account, 'inbox');
        assert.deepEqual(mine, await b.getMailbox(account, 'INBOX'));
        return mine!;
      };
      assert.equal((await same()).uidNext, 1);
      assert.equal(a.sent(), 0);
      // This node's APPEND and EXPUNGE move UIDNEXT and HIGHESTMODSEQ in its list: still none.
      const [r] = await a.store.append(newMessage('a'), [
        { mailboxId: inbox, flags: ['\\Deleted'], claimRecent: true },
      ]);
      a.sent();
      const after = await same();
      assert.deepEqual([after.uidNext, after.highestModseq], [2, r!.modseq]);
      await a.store.expunge(inbox, { onlyDeleted: true });
      a.sent();
      assert.ok((await same()).highestModseq > r!.modseq);
      assert.equal(a.sent(), 0);

      // Another node's changes, once heard: the mailbox asked for again, then known.
      const hear = (kind: string) =>
        new Promise<void>((resolve) => {
          const off = a.store.subscribe((ev) => {
            if (ev.kind === kind) {
              off();
              resolve();
            }
          });
        });
      let heard = hear('append');
      await b.append(newMessage('b'), [{ mailboxId: inbox }]);
      await heard;
      assert.equal((await same()).uidNext, 3);
      assert.equal(a.sent(), 1, 'the list brought up to date');
      await same();
      assert.equal(a.sent(), 0);
      heard = hear('subscription');
      await b.setSubscribed(account, 'INBOX', false);
      await heard;
      assert.equal((await same()).subscribed, false);
      // A mailbox renamed on b: gone by its old name, there by its new one.
      const box = await a.store.createMailbox(account, 'Old');
      await a.store.listMessages(box.id);
      assert.equal((await a.store.getMailbox(account, 'Old'))?.id, box.id);
      heard = hear('mailbox-rename');
      await b.renameMailbox(box.id, 'New');
      await heard;
      assert.equal(await a.store.getMailbox(account, 'Old'), null);
      const renamed = await a.store.getMailbox(account, 'New');
      assert.deepEqual(renamed, await b.getMailbox(account, 'New'));
      // An account removed on b: its mailboxes are gone on a too.
      heard = hear('mailbox-delete');
      await b.removeAccount('alice@example.test');
      await heard;
      assert.equal(await a.store.getMailbox(account, 'INBOX'), null);
      assert.deepEqual(await a.store.listMessages(inbox), []);
    },
    { a: 'node-a', b: 'node-b' },
  ));

/**
 * Node a, on one connection (a prepared statement's counters are its connection's), and node
 * b, over a new database with one account: `inbox` its INBOX.
 */
async function withPlanStores(
  fn: (a: PostgresStore, b: PostgresStore, inbox: number) => Promise<void>,
): Promise<void> {
  const url = await server.createDatabase();
  const b = await PostgresStore.open({ connectionString: url, max: 2 });
  const a = await PostgresStore.open({ connectionString: url, max: 1 });
  try {
    await b.addDomain('example.test');
    const acct = await b.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    await hearAccount(a, acct.id);
    await hearAccount(b, acct.id);
    await fn(a, b, (await b.getMailbox(acct.id, 'INBOX'))!.id);
  } finally {
    await a.close();
    await b.close();
    await server.dropDatabase(url);
  }
}

/**
 * The one statement prepared on `store`'s connection whose text is like one of `like`: its
 * plan was kept. PostgreSQL plans a statement's first five calls for their values, then keeps
 * a plan when it is no dearer.
 */
async function assertPlanKept(
  store: PostgresStore,
  on: 'pool' | 'reads',
  ...like: string[]
): Promise<void> {
  const inner = store as unknown as {
    db: { pool: pg.Pool };
    reads: { query<R extends pg.QueryResultRow>(c: pg.QueryConfig): Promise<pg.QueryResult<R>> };
  };
  // The pool's one connection, or the node's shared reads connection (shared-reads.ts).
  const q = on === 'pool' ? inner.db.pool : inner.reads;
  const plans = await q.query<{ generic: number; custom: number }>({
    text: `SELECT generic_plans::int AS generic, custom_plans::int AS custom
     FROM pg_prepared_statements WHERE statement LIKE ANY($1::text[])`,
    values: [like],
  });
  assert.equal(plans.rows.length, 1);
  assert.ok(plans.rows[0]!.generic >= 1, JSON.stringify(plans.rows[0]));
  assert.ok(plans.rows[0]!.custom <= 5, JSON.stringify(plans.rows[0]));
}

test("FETCH of one message's bytes: its statement's plan is kept, not made at every call", () =>
  withPlanStores(async (a, b, inbox) => {
    for (let i = 0; i < 8; i++) await b.append(newMessage(`m${i}`), [{ mailboxId: inbox }]);
    // Each read one message not in a's memory.
    for (const r of await b.listMessages(inbox)) {
      const got = await a.readMessages([{ blobHash: r.blobHash, size: r.size }]);
      assert.deepEqual(got.get(r.blobHash), await b.readMessage(r.blobHash));
    }
    // With `= ANY($1)` PostgreSQL made a plan at all eight.
    // On the shared reads connection (a small message's bytes).
    await assertPlanKept(a, 'reads', '%LEFT JOIN blob_chunks c%');
  }));

test("a one-UID STORE the node's list says changes nothing reads its row by a statement whose plan is kept, and answers as the database says", () =>
  withPlanStores(async (a, b, inbox) => {
    for (let i = 0; i < 8; i++) {
      await b.append(newMessage(`m${i}`), [{ mailboxId: inbox, flags: ['\\Seen'] }]);
    }
    await a.listMessages(inbox); // a's list: each message \Seen
    // Another node takes \Seen off message 8 behind the list's back.
    await b.setFlags(inbox, [8], 'remove', ['\\Seen']);
    // Each +\Seen changes nothing by the list, which is not trusted for that: the row is read.
    for (let uid = 1; uid <= 7; uid++) {
      const r = await a.setFlags(inbox, [uid], 'add', ['\\Seen']);
      assert.deepEqual(r, { updated: [], modified: [] });
    }
    const r8 = await a.setFlags(inbox, [8], 'add', ['\\Seen']);
    assert.deepEqual(
      r8.updated.map((u) => [u.uid, u.flags]),
      [[8, ['\\Seen']]],
    );
    // A UID the mailbox does not have: nothing; a mailbox that is gone: NOT_FOUND.
    assert.deepEqual(await a.setFlags(inbox, [99], 'add', ['\\Seen']), {
      updated: [],
      modified: [],
    });
    await assert.rejects(a.setFlags(inbox + 1000, [1], 'add', ['\\Seen']), {
      code: 'NOT_FOUND',
    });
    const now = await b.listMessages(inbox);
    assert.ok(now.every((r) => r.flags.includes('\\Seen')));
    // Migration 14's function of an array, as a statement, was planned at every call; one
    // UID's read has scalar parameters.
    // On the shared reads connection (one row by its keys).
    await assertPlanKept(a, 'reads', '%mm.uid = $2)%');
  }));

test('a one-row STORE alone is one statement whose plan is kept; a stale one takes no modseq (RFC 7162: no gap), is read and written again', () =>
  withPlanStores(async (a, b, inbox) => {
    for (let i = 0; i < 8; i++) await b.append(newMessage(`m${i}`), [{ mailboxId: inbox }]);
    await a.listMessages(inbox); // each STORE from a's list: one write
    const account = (await b.getAccount('alice@example.test'))!.id;
    const heard: Array<{ modseq: number; uids: number[]; keywords?: string[] }> = [];
    const off = b.subscribe((ev) => {
      if (ev.mailboxId === inbox && ev.kind === 'flags')
        heard.push({ modseq: ev.modseq, uids: [...ev.uids], keywords: ev.keywords });
    });
    const modseqs: number[] = [];
    for (let uid = 1; uid <= 7; uid++) {
      const r = await a.setFlags(inbox, [uid], 'add', uid === 7 ? ['$Work'] : ['\\Flagged']);
      assert.deepEqual(
        r.updated.map((u) => [u.uid, u.flags]),
        [[uid, uid === 7 ? ['$Work'] : ['\\Flagged']]],
      );
      modseqs.push(r.updated[0]!.modseq);
    }
    // Another node changes message 8 behind a's list: a's write of it is stale, undone, and
    // written again from the row read; the modseq it took first is not left as a gap.
    const other = await b.setFlags(inbox, [8], 'add', ['\\Seen']);
    const m = other.updated[0]!.modseq;
    const r8 = await a.setFlags(inbox, [8], 'add', ['\\Flagged']);
    assert.deepEqual(
      r8.updated.map((u) => [u.uid, [...u.flags].sort(), u.modseq]),
      [[8, ['\\Flagged', '\\Seen'], m + 1]],
    );
    for (const [i, x] of modseqs.entries()) if (i > 0) assert.equal(x, modseqs[i - 1]! + 1);
    // The database: the rows, HIGHESTMODSEQ, the keyword kept; the other node heard each.
    const rows = await b.listMessages(inbox);
    assert.deepEqual(
      rows.map((r) => [r.uid, [...r.flags].sort(), r.modseq]),
      [
        ...modseqs.map((x, i) => [i + 1, i === 6 ? ['$Work'] : ['\\Flagged'], x]),
        [8, ['\\Flagged', '\\Seen'], m + 1],
      ],
    );
    const mb = await b.getMailbox(account, 'INBOX');
    assert.equal(mb!.highestModseq, m + 1);
    assert.deepEqual((await b.mailboxSummary(inbox)).keywords, ['$Work']);
    await eventually(() => heard.length >= 9, "the other node's notices", 20_000);
    off();
    assert.deepEqual(
      heard.map((e) => [e.uids, e.modseq, e.keywords]),
      [
        ...modseqs.map((x, i) => [[i + 1], x, i === 6 ? ['$Work'] : undefined]),
        [[8], m, undefined],
        [[8], m + 1, undefined],
      ],
    );
    // Not migration 13's PL/pgSQL function: one statement, its plan kept.
    const pool = (a as unknown as { db: { pool: pg.Pool } }).db.pool;
    const plans = await pool.query<{ statement: string; generic: number; custom: number }>(
      `SELECT statement, generic_plans::int AS generic, custom_plans::int AS custom
       FROM pg_prepared_statements
       WHERE statement LIKE '%letterbox_set_flags(%' OR statement LIKE '%SET flags = $5::text[]%'`,
    );
    assert.equal(plans.rows.length, 2, 'with and without keywords');
    const many = plans.rows.find((p) => !p.statement.includes('mailbox_keywords'))!;
    assert.ok(many.generic >= 1 && many.custom <= 5, JSON.stringify(many));
  }));

test("EXPUNGE is one statement whose plan is kept (expunge-one.ts), not migration 15's function: its rows, modseqs, VANISHED, usage and notices", () =>
  withPlanStores(async (a, b, inbox) => {
    for (let i = 0; i < 12; i++) await b.append(newMessage(`m${i}`), [{ mailboxId: inbox }]);
    const heard: Array<[number[], number]> = [];
    const off = b.subscribe((ev) => {
      if (ev.mailboxId === inbox && ev.kind === 'expunge') heard.push([[...ev.uids], ev.modseq]);
    });
    const highest = async () => (await a.mailboxStatus(inbox)).highestModseq;
    const want: Array<[number[], number]> = [];
    // The mix's EXPUNGE: one \Deleted row at a time, each at the modseq after its STORE's.
    for (let uid = 1; uid <= 7; uid++) {
      const m = (await a.setFlags(inbox, [uid], 'add', ['\\Deleted'])).updated[0]!.modseq;
      assert.deepEqual(await a.expunge(inbox, { onlyDeleted: true }), [uid]);
      assert.equal(await highest(), m + 1);
      assert.deepEqual(await a.expungedSince(inbox, m), [uid]);
      want.push([[uid], m + 1]);
    }
    // UID EXPUNGE (RFC 9051 §6.4.9): the \Deleted ones of the UIDs given.
    const m8 = (await a.setFlags(inbox, [8, 9], 'add', ['\\Deleted'])).updated[1]!.modseq;
    assert.deepEqual(await a.expunge(inbox, { uids: [8, 10], onlyDeleted: true }), [8]);
    want.push([[8], m8 + 1]);
    // The UIDs given whatever their flags (POP3, a delivery undone), then every row.
    assert.deepEqual(await a.expunge(inbox, { uids: [9, 10, 99], onlyDeleted: false }), [9, 10]);
    want.push([[9, 10], m8 + 2]);
    assert.deepEqual(await a.expunge(inbox, { onlyDeleted: false }), [11, 12]);
    want.push([[11, 12], m8 + 3]);
    // Nothing to remove: nothing changes, not even the modseq (no gap, RFC 7162 §3.1).
    assert.deepEqual(await a.expunge(inbox, { onlyDeleted: true }), []);
    assert.deepEqual(await a.expunge(inbox, { uids: [1, 2], onlyDeleted: false }), []);
    assert.equal(await highest(), m8 + 3);
    await assert.rejects(a.expunge(999_999, { onlyDeleted: true }), { code: 'NOT_FOUND' });
    assert.deepEqual(await b.listMessages(inbox), []);
    assert.deepEqual(
      await b.expungedSince(inbox, 0),
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    const pool = (a as unknown as { db: { pool: pg.Pool } }).db.pool;
    const used = await pool.query('SELECT used_bytes::int AS n FROM accounts');
    assert.deepEqual(
      used.rows.map((r) => r.n),
      [0],
    );
    // The other node heard each, in commit order.
    await eventually(() => heard.length >= want.length, "the other node's notices", 20_000);
    off();
    assert.deepEqual(heard, want);
    // One statement, its plan kept; migration 15's function not called.
    await assertPlanKept(a, 'pool', '%WHERE mm.mailbox_id = $1 AND _\\\\Deleted_ = ANY%');
    const fn = await pool.query(
      "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE '%letterbox_expunge(%'",
    );
    assert.equal(fn.rows[0].n, 0);
  }));

test('EXPUNGEs on one node while the other stores: a row whose \\Deleted went first stays, no modseq taken twice or skipped', () =>
  withPlanStores(async (a, b, inbox) => {
    for (let i = 0; i < 21; i++) await b.append(newMessage(`m${i}`), [{ mailboxId: inbox }]);
    const start = await a.mailboxStatus(inbox);
    const modseqs: number[] = [];
    let kept = 0;
    for (let uid = 1; uid <= 20; uid++) {
      modseqs.push((await a.setFlags(inbox, [uid], 'add', ['\\Deleted'])).updated[0]!.modseq);
      await b.listMessages(inbox);
      // At once: a's EXPUNGE, b taking the \Deleted off that row and b's keyword on another.
      const [gone, undo, other] = await Promise.all([
        a.expunge(inbox, { onlyDeleted: true }),
        b.setFlags(inbox, [uid], 'remove', ['\\Deleted']),
        b.setFlags(inbox, [21], 'add', [`k${uid}`]),
      ]);
      modseqs.push(...undo.updated.map((u) => u.modseq), other.updated[0]!.modseq);
      if (gone.length === 0) {
        // b's write went first: the row stays, without \Deleted. a's EXPUNGE removed nothing,
        // so it waited for no notice of b's: a's list has b's STORE once a has heard it, a
        // moment after b's answer (polled; a write never heard still fails at the deadline).
        assert.equal(undo.updated.length, 1);
        let row = (await a.listMessages(inbox)).find((r) => r.uid === uid);
        await eventually(
          async () => {
            row = (await a.listMessages(inbox)).find((r) => r.uid === uid);
            return row !== undefined && row.flags.length === 0;
          },
          "a's list with b's STORE",
          20_000,
        );
        assert.deepEqual(row?.flags, []);
        kept++;
      } else {
        assert.deepEqual(gone, [uid]);
        assert.equal(undo.updated.length, 0);
        const row = (await a.listMessages(inbox)).find((r) => r.uid === uid);
        assert.equal(row, undefined);
      }
    }
    const pool = (a as unknown as { db: { pool: pg.Pool } }).db.pool;
    const ex = await pool.query('SELECT modseq::int AS m FROM expunged ORDER BY uid');
    assert.equal(ex.rows.length, 20 - kept);
    modseqs.push(...ex.rows.map((r) => r.m as number));
    const end = await a.mailboxStatus(inbox);
    assert.deepEqual(
      [...modseqs].sort((x, y) => x - y),
      Array.from(
        { length: end.highestModseq - start.highestModseq },
        (_, i) => start.highestModseq + 1 + i,
      ),
    );
    assert.equal(end.messages, 1 + kept);
  }));

test('one-row STOREs of one message from two nodes at once: none lost, each its own modseq, none skipped', () =>
  withPlanStores(async (a, b, inbox) => {
    await b.append(newMessage('m'), [{ mailboxId: inbox }]);
    const start = (await b.getMailbox((await b.getAccount('alice@example.test'))!.id, 'INBOX'))!
      .highestModseq;
    const got: number[] = [];
    for (let i = 0; i < 20; i++) {
      // Each from its node's list, which the other's write may have made stale meanwhile.
      await Promise.all([a.listMessages(inbox), b.listMessages(inbox)]);
      const rs = await Promise.all([
        a.setFlags(inbox, [1], 'add', [`a${i}`]),
        b.setFlags(inbox, [1], 'add', [`b${i}`]),
      ]);
      for (const r of rs) got.push(r.updated[0]!.modseq);
    }
    // b's list has a's last write once b has heard its notice, a moment after a's answer:
    // polled, so that a write never heard (or lost) still fails, after the deadline.
    const want = Array.from({ length: 20 }, (_, i) => [`a${i}`, `b${i}`]).flat();
    let row = (await b.listMessages(inbox))[0]!;
    await eventually(async () => {
      row = (await b.listMessages(inbox))[0]!;
      return row.modseq === start + 40;
    }, "b's list with every write");
    assert.deepEqual([...row.flags].sort(), [...want].sort());
    assert.deepEqual(
      [...got].sort((x, y) => x - y),
      Array.from({ length: 40 }, (_, i) => start + 1 + i),
    );
    assert.equal(row.modseq, start + 40);
  }));

test("one-row STOREs that come while one is out go in one statement and commit (migration 18); a row changed since it was read is read again, the group's others written", () =>
  withStores(async (a, b, inbox) => {
    for (let i = 0; i < 6; i++) await a.store.append(newMessage(`m${i}`), [{ mailboxId: inbox }]);
    await a.store.listMessages(inbox); // each STORE from the node's list: one write
    const heard = (store: PostgresStore) => {
      const evs: Array<{ modseq: number; uids: number[]; keywords?: string[] }> = [];
      const off = store.subscribe((ev) => {
        if (ev.mailboxId === inbox && ev.kind === 'flags')
          evs.push({ modseq: ev.modseq, uids: [...ev.uids], keywords: ev.keywords });
      });
      return { evs, off };
    };
    const there = heard(b);
    a.order();
    // The first goes alone; the six that come while it is out go together, message 2 twice:
    // its second write was worked out from the row the first one changes, so it is read again
    // and written after, the group's others kept.
    const ops = [
      ...[1, 2, 3, 4, 5, 6].map((uid) => a.store.setFlags(inbox, [uid], 'add', ['\\Seen'])),
      a.store.setFlags(inbox, [2], 'add', ['$Work']),
    ];
    const got = await Promise.all(ops);
    const sent = a.order().filter((x) => x === 'write>').length;
    assert.equal(sent, 3, 'the first alone, the group, message 2 again');
    for (const [i, r] of got.slice(0, 6).entries()) {
      assert.deepEqual(
        r.updated.map((u) => [u.uid, u.flags]),
        [[i + 1, ['\\Seen']]],
      );
    }
    assert.deepEqual(
      got[6]!.updated.map((u) => [u.uid, [...u.flags].sort()]),
      [[2, ['$Work', '\\Seen']]],
    );
    const modseqs = got.map((r) => r.updated[0]!.modseq);
    assert.equal(new Set(modseqs).size, 7, `each write its own modseq: ${modseqs}`);
    // What the database has is what the answers said; the keyword is kept; every notice
    // heard by the other node, in commit order.
    const rows = await b.listMessages(inbox);
    for (const [i, r] of got.entries()) {
      const u = r.updated[0]!;
      const row = rows.find((x) => x.uid === u.uid)!;
      if (i !== 1) assert.deepEqual([...row.flags].sort(), [...u.flags].sort());
      if (u.uid === 2) assert.equal(row.modseq, got[6]!.updated[0]!.modseq);
    }
    const mb = await b.getMailbox((await b.getAccount('alice@example.test'))!.id, 'INBOX');
    assert.equal(mb!.highestModseq, Math.max(...modseqs));
    await eventually(() => there.evs.length >= 7, "the other node's notices", 20_000);
    there.off();
    assert.deepEqual(
      there.evs.map((e) => e.modseq),
      [...modseqs].sort((x, y) => x - y),
    );
    assert.deepEqual(there.evs.find((e) => e.modseq === got[6]!.updated[0]!.modseq)!.keywords, [
      '$Work',
    ]);
  }));
