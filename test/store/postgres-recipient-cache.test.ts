// Issue 17: a node keeps RCPT's answer for an account's own address (recipient-cache.ts)
// while nothing may have changed the directory: changes made by another node, by another
// process's plain SQL (a `letterbox` command), or while its LISTEN connection was down are
// seen by its next look-ups; its own changes at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { Queryable } from '../../src/store/postgres/db.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Resolution } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

interface Nodes {
  a: PostgresStore;
  b: PostgresStore;
  sql: pg.Client;
  /** Statements node a sent for RCPT's look-ups (its shared reads) since the last call. */
  lookUps(): number;
  /** Node a has heard the notices of every directory change committed so far. */
  heard(): Promise<void>;
}

/** Two nodes over a new database with example.test and alice@example.test. */
async function withNodes(fn: (n: Nodes) => Promise<void>): Promise<void> {
  const url = await server.createDatabase();
  const a = await PostgresStore.open({ connectionString: url, max: 2, nodeId: 'na' });
  const b = await PostgresStore.open({ connectionString: url, max: 2, nodeId: 'nb' });
  const sql = new pg.Client({ connectionString: url });
  let sent = 0;
  const reads = (a as unknown as { reads: Queryable }).reads;
  const query = reads.query.bind(reads);
  reads.query = ((config: pg.QueryConfig) => {
    sent++;
    return query(config);
  }) as Queryable['query'];
  try {
    await sql.connect();
    await b.addDomain('example.test');
    await b.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    await fn({
      a,
      b,
      sql,
      lookUps: () => {
        const n = sent;
        sent = 0;
        return n;
      },
      heard: async () => {
        // Notices come in commit order: once this one is heard, the earlier ones were. It is
        // known by its payload, not by the clock moving: a notice of the setup still on its way
        // would move the clock first, and this one would then move it again later.
        const events = (a as unknown as { events: { client: pg.Client | null } }).events;
        await eventually(() => events.client !== null, 'listening', 20_000);
        const client = events.client!;
        const probe = `probe-${process.pid}-${Date.now()}`;
        let seen = false;
        const on = (m: pg.Notification) => {
          if (m.channel === 'letterbox_directory' && m.payload === probe) seen = true;
        };
        client.on('notification', on);
        try {
          await sql.query("SELECT pg_notify('letterbox_directory', $1)", [probe]);
          await eventually(() => seen, 'the notice', 20_000);
        } finally {
          client.off('notification', on);
        }
      },
    });
  } finally {
    await sql.end().catch(() => {});
    await a.close();
    await b.close();
    await server.dropDatabase(url);
  }
}

const ids = (r: Resolution | null) => r?.accounts.map((x) => x.id) ?? null;
const disabled = (r: Resolution | null) => r?.accounts[0]?.disabled;

test("an account's address is looked up once; unknown addresses and quota'd accounts every time", () =>
  withNodes(async ({ a, b, lookUps, heard }) => {
    const alice = (await a.getAccount('alice@example.test'))!.id;
    // The setup's own notices are not on their way any more (each would drop what is kept).
    await heard();
    lookUps();
    assert.deepEqual(ids(await a.resolveRecipient('alice@example.test')), [alice]);
    assert.equal(lookUps(), 1);
    for (const address of ['alice@example.test', 'Alice@Example.TEST']) {
      assert.deepEqual(ids(await a.resolveRecipient(address)), [alice]);
    }
    assert.equal(lookUps(), 0, 'answered from what the node kept');
    // "No such recipient" is never kept: an account made on another node is found at once.
    assert.equal(await a.resolveRecipient('bob@example.test'), null);
    assert.equal(lookUps(), 1);
    const bob = await b.createAccount({ address: 'bob@example.test', passwordHash: 'h' });
    assert.deepEqual(ids(await a.resolveRecipient('bob@example.test')), [bob.id]);
    assert.equal(lookUps(), 1);
    // A quota'd account's usage moves with every delivery: read at every RCPT.
    await a.createAccount({ address: 'carol@example.test', passwordHash: 'h', quotaBytes: 1e6 });
    for (let i = 0; i < 2; i++) await a.resolveRecipient('carol@example.test');
    assert.equal(lookUps(), 2);
    // An alias's answer is not kept either.
    await a.addAlias('team@example.test', ['alice@example.test']);
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(ids(await a.resolveRecipient('team@example.test')), [alice]);
    }
    assert.equal(lookUps(), 2);
  }));

test("this node's own directory change is seen by its next look-up", () =>
  withNodes(async ({ a, lookUps }) => {
    assert.equal(disabled(await a.resolveRecipient('alice@example.test')), false);
    await a.setDisabled('alice@example.test', true);
    lookUps();
    assert.equal(disabled(await a.resolveRecipient('alice@example.test')), true);
    assert.equal(lookUps(), 1, 'read again');
    await a.setQuota('alice@example.test', 5000);
    assert.equal((await a.resolveRecipient('alice@example.test'))?.accounts[0]?.quotaBytes, 5000);
    await a.removeAccount('alice@example.test');
    assert.equal(await a.resolveRecipient('alice@example.test'), null);
  }));

test("another node's and another process's directory changes are seen by the node's look-ups", () =>
  withNodes(async ({ a, b, sql }) => {
    const resolve = () => a.resolveRecipient('alice@example.test');
    assert.equal(disabled(await resolve()), false);
    assert.equal(disabled(await resolve()), false);
    await b.setDisabled('alice@example.test', true);
    await eventually(async () => disabled(await resolve()) === true, "node b's change", 20_000);
    // Plain SQL on a connection of its own, as a `letterbox` command in another process.
    await sql.query("UPDATE accounts SET disabled = false WHERE address = 'alice@example.test'");
    await eventually(async () => disabled(await resolve()) === false, 'the SQL change', 20_000);
    await sql.query("UPDATE accounts SET quota_bytes = 7 WHERE address = 'alice@example.test'");
    await eventually(
      async () => (await resolve())?.accounts[0]?.quotaBytes === 7,
      'the quota set',
      20_000,
    );
    await sql.query("UPDATE accounts SET quota_bytes = NULL WHERE address = 'alice@example.test'");
    assert.equal(disabled(await resolve()), false);
    await b.removeAccount('alice@example.test');
    await eventually(async () => (await resolve()) === null, 'the account removed', 20_000);
    // A domain removed with its accounts (and made again, empty).
    await b.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    await eventually(async () => (await resolve()) !== null, 'the account made again', 20_000);
    await b.removeDomain('example.test', { force: true });
    await eventually(async () => (await resolve()) === null, 'the domain removed', 20_000);
  }));

test('a change committed while the LISTEN connection was down is seen once it is made again', () =>
  withNodes(async ({ a, sql }) => {
    const resolve = () => a.resolveRecipient('alice@example.test');
    assert.equal(disabled(await resolve()), false);
    assert.equal(disabled(await resolve()), false);
    const listener = async () =>
      (
        await sql.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name = 'letterbox events na'",
        )
      ).rows.map((r) => r.pid);
    const [old] = await listener();
    assert.ok(old !== undefined);
    await sql.query('SELECT pg_terminate_backend($1)', [old]);
    // Its notice goes to no connection of node a's (or, should the backend not be gone yet,
    // to the old one).
    await sql.query("UPDATE accounts SET disabled = true WHERE address = 'alice@example.test'");
    // No look-up while it is down: the node listens again on a new connection first.
    const events = (a as unknown as { events: { live: boolean } }).events;
    await eventually(
      async () => events.live && (await listener()).some((pid) => pid !== old),
      'listening again',
      20_000,
    );
    assert.equal(disabled(await resolve()), true);
  }));
