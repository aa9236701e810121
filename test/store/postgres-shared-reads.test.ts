// Issue 17: the node's short reads (RCPT's recipient look-ups, a small message's bytes, a
// STORE's read of its one row) share one pipelined connection of their node (shared-reads.ts)
// instead of each checking out one of the pool's.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { StoreError } from '../../src/store/errors.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

/** A store of one pool connection over a new database, with alice@example.test. */
async function withStore(
  fn: (store: PostgresStore, sql: pg.Client, account: number, url: string) => Promise<void>,
): Promise<void> {
  const url = await server.createDatabase();
  const store = await PostgresStore.open({ connectionString: url, max: 1, nodeId: 'n1' });
  const sql = new pg.Client({ connectionString: url });
  try {
    await sql.connect();
    await store.addDomain('example.test');
    const acct = await store.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    await fn(store, sql, acct.id, url);
  } finally {
    await sql.end().catch(() => {});
    await store.close();
    await server.dropDatabase(url);
  }
}

/** The backends of the node's shared reads connection. */
async function readers(sql: pg.Client): Promise<number[]> {
  const r = await sql.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'letterbox reads n1'",
  );
  return r.rows.map((x) => x.pid);
}

/** Resolves with p, or rejects once `ms` have passed without it. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

test("RCPT's look-ups go on one connection of their own, not the pool's", () =>
  withStore(async (store, sql, account) => {
    // The pool's only connection held (as by a long transaction): the look-ups do not wait
    // for it.
    const pool = (store as unknown as { db: { pool: pg.Pool } }).db.pool;
    const held = await pool.connect();
    try {
      const looked = await within(
        Promise.all(
          ['alice@example.test', 'Alice@Example.test', 'nobody@example.test'].map((a) =>
            store.resolveRecipient(a),
          ),
        ),
        20_000,
        'the look-ups while the pool is held',
      );
      assert.deepEqual(
        looked.map((r) => r?.accounts.map((x) => x.id) ?? null),
        [[account], [account], null],
      );
      assert.equal((await readers(sql)).length, 1, 'one connection for them all');
    } finally {
      held.release();
    }
  }));

test('the look-ups connection broken: the next look-up makes a new one', () =>
  withStore(async (store, sql, account) => {
    assert.deepEqual(
      (await store.resolveRecipient('alice@example.test'))?.accounts.map((x) => x.id),
      [account],
    );
    const [first] = await readers(sql);
    assert.ok(first !== undefined);
    await sql.query('SELECT pg_terminate_backend($1)', [first]);
    // A look-up already on its way when the connection goes fails as a temporary error (as
    // the pool's would); later ones are answered over a new connection. (An address with no
    // account: alice's answer is kept by the node, recipient-cache.ts.)
    await eventually(
      async () => {
        try {
          return (await store.resolveRecipient('nobody@example.test')) === null;
        } catch (err) {
          assert.ok(err instanceof StoreError && err.code === 'UNAVAILABLE', String(err));
          return false;
        }
      },
      'a look-up answered again',
      20_000,
    );
    const now = await readers(sql);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], first);
  }));

test("a small message's bytes and a STORE's read of its row go on the same connection, not the pool's", () =>
  withStore(async (store, sql, account, url) => {
    const inbox = (await store.getMailbox(account, 'INBOX'))!.id;
    const msg = newMessage('small');
    await store.append(msg, [{ mailboxId: inbox }]);
    const [rec] = await store.listMessages(inbox);
    assert.ok(rec);
    // Its bytes in memory since the append: dropped, as their 2 s running out would.
    (store as unknown as { messages: { forgetBytes(): void } }).messages.forgetBytes();
    const pool = (store as unknown as { db: { pool: pg.Pool } }).db.pool;
    const held = await pool.connect();
    try {
      // FETCH's read ahead and a FETCH of the body, with the pool's only connection held.
      const ahead = await within(
        store.readMessages([{ blobHash: rec.blobHash, size: rec.size }]),
        20_000,
        'the read ahead while the pool is held',
      );
      assert.deepEqual(ahead.get(rec.blobHash), msg.raw);
      (store as unknown as { messages: { forgetBytes(): void } }).messages.forgetBytes();
      const body = await within(
        store.readMessage(rec.blobHash, rec.size),
        20_000,
        "the body's read while the pool is held",
      );
      assert.deepEqual(body, msg.raw);
    } finally {
      held.release();
    }
    // A one-UID STORE with no list of the mailbox on this node (a new node's) reads its row
    // first (FLAG_ROW): there too, the last statement of that connection.
    const fresh = await PostgresStore.open({ connectionString: url, max: 1, nodeId: 'n2' });
    try {
      const r = await fresh.setFlags(inbox, [rec.uid], 'add', ['\\Seen']);
      assert.deepEqual(
        r.updated.map((u) => u.flags),
        [['\\Seen']],
      );
      const last = await sql.query<{ query: string }>(
        "SELECT query FROM pg_stat_activity WHERE application_name = 'letterbox reads n2'",
      );
      assert.equal(last.rows.length, 1);
      assert.match(last.rows[0]!.query, /LEFT JOIN LATERAL/);
    } finally {
      await fresh.close();
    }
  }));
