// Issue 17: `[store] pool_idle_seconds` reaches the node's pool. A pool connection idle that
// long is closed down to the two kept warm; one opened again is a new backend that plans and
// Describes its statements again, so a deployment keeps them longer than pg-pool's 10 s.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { postgresOptions } from '../../src/store/open.js';
import { PgDb } from '../../src/store/postgres/db.js';
import { eventually } from '../helpers/eventually.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
let url: string;
before(async () => {
  server = await startPostgres();
  url = await server.createDatabase();
});
after(async () => {
  await server?.dropDatabase(url);
  await server?.stop();
});

function storeOf(toml: string) {
  const cfg = parseConfig(
    `[store]\nkind = "postgres"\nurl = ${JSON.stringify(url)}\n${toml}`,
    join('/etc/letterbox', 'letterbox.toml'),
  );
  assert.equal(cfg.store.kind, 'postgres');
  return cfg.store as Extract<typeof cfg.store, { kind: 'postgres' }>;
}

test('the setting, in milliseconds, is the pool option (300 s when not given, 0: never)', () => {
  assert.equal(postgresOptions(storeOf('')).idleTimeoutMs, 300_000);
  assert.equal(postgresOptions(storeOf('pool_idle_seconds = 0\n')).idleTimeoutMs, 0);
  assert.equal(postgresOptions(storeOf('pool_idle_seconds = 2.5\n')).idleTimeoutMs, 2_500);
  assert.throws(() => storeOf('pool_idle_seconds = -1\n'), /pool_idle_seconds/);
});

test("the pool closes connections idle the setting's time, down to the two kept", async () => {
  const db = await PgDb.open({ ...postgresOptions(storeOf('pool_idle_seconds = 0.2\n')), max: 5 });
  try {
    assert.equal(db.pool.options.idleTimeoutMillis, 200);
    const held = await Promise.all([1, 2, 3, 4, 5].map(() => db.pool.connect()));
    for (const c of held) c.release();
    assert.equal(db.pool.totalCount, 5);
    // pg-pool's own 10 s would not have closed them in this deadline.
    await eventually(() => db.pool.totalCount === 2, 'the idle connections closed', 8_000);
  } finally {
    await db.close();
  }
});

test('0 keeps every idle connection open', async () => {
  const db = await PgDb.open({ ...postgresOptions(storeOf('pool_idle_seconds = 0\n')), max: 3 });
  try {
    // pg-pool arms no idle timer when the option is 0 (pg-pool 3: `if (idleTimeoutMillis && ...)`).
    assert.equal(db.pool.options.idleTimeoutMillis, 0);
  } finally {
    await db.close();
  }
});
