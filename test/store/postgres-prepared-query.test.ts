// Issue 17: a named statement is Described once per connection (prepared-query.ts), its later
// executions sent as Bind, Execute and Sync with the row shape kept; the rows, types and
// errors are as the driver's own Query gives them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { PgDb, rows, run, statementName } from '../../src/store/postgres/db.js';
import { PreparedClient } from '../../src/store/postgres/prepared-query.js';
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

/** Counts the Describe messages a client sends. */
function countDescribes(client: pg.Client): () => number {
  const conn = (client as unknown as { connection: { describe: (m: unknown) => void } }).connection;
  let n = 0;
  const describe = conn.describe.bind(conn);
  conn.describe = (m: unknown) => {
    n++;
    describe(m);
  };
  return () => n;
}

const SHAPES = `SELECT $1::bigint AS id, $2::bytea AS data, $3::text AS t, $4::text[] AS flags,
  NULL::bigint AS missing, $5::boolean AS b`;

test('a named statement is Described at its first execution on a connection only', async () => {
  const client = new PreparedClient({ connectionString: url, pipeline: true });
  await client.connect();
  try {
    const describes = countDescribes(client);
    const values = (i: number) => [
      i,
      Buffer.from([0, 1, 255]),
      `t${i}`,
      ['\\Seen', 'a b'],
      i % 2 === 0,
    ];
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        client.query({ name: statementName(SHAPES), text: SHAPES, values: values(i) }),
      ),
    );
    // Pipelined: the first is not answered when the others go out, so they Describe too.
    const before = describes();
    const again = await client.query({
      name: statementName(SHAPES),
      text: SHAPES,
      values: values(5),
    });
    const more = await client.query({
      name: statementName(SHAPES),
      text: SHAPES,
      values: values(6),
    });
    assert.equal(describes(), before, 'no Describe once the shape is known');
    for (const [i, r] of [...results, again, more].entries()) {
      assert.deepEqual(r.rows, [
        {
          id: String(i + 1),
          data: Buffer.from([0, 1, 255]),
          t: `t${i + 1}`,
          flags: ['\\Seen', 'a b'],
          missing: null,
          b: (i + 1) % 2 === 0,
        },
      ]);
      assert.equal(r.rowCount, 1);
      assert.equal(r.command, 'SELECT');
      assert.deepEqual(
        r.fields.map((f) => f.name),
        ['id', 'data', 't', 'flags', 'missing', 'b'],
      );
    }
    // A statement with no rows (NoData) and one answering none.
    await client.query('CREATE TEMP TABLE pq (n bigint)');
    const insert = 'INSERT INTO pq VALUES ($1)';
    const none = 'SELECT n FROM pq WHERE n < 0';
    for (let i = 0; i < 3; i++) {
      const ins = await client.query({ name: statementName(insert), text: insert, values: [i] });
      assert.equal(ins.rowCount, 1);
      assert.deepEqual(ins.rows, []);
      const sel = await client.query({ name: statementName(none), text: none, values: [] });
      assert.deepEqual(sel.rows, []);
      assert.deepEqual(
        sel.fields.map((f) => f.name),
        ['n'],
      );
    }
    assert.equal(describes(), before + 2);
    // A failed execution fails alone; the next of the same statement is answered.
    const fail = 'SELECT 1 / $1::int AS q';
    const [bad, good] = await Promise.allSettled([
      client.query({ name: statementName(fail), text: fail, values: [0] }),
      client.query({ name: statementName(fail), text: fail, values: [1] }),
    ]);
    assert.equal(bad.status, 'rejected');
    assert.equal((bad as PromiseRejectedResult).reason.code, '22012');
    assert.deepEqual((good as PromiseFulfilledResult<pg.QueryResult>).value.rows, [{ q: 1 }]);
    const later = await client.query({ name: statementName(fail), text: fail, values: [1] });
    assert.deepEqual(later.rows, [{ q: 1 }]);
  } finally {
    await client.end();
  }
});

test("the node's pool: BIGINT as numbers, bytea as Buffers, nulls, through rows() and tx", async () => {
  const db = await PgDb.open({ connectionString: url, max: 1 });
  try {
    const text = 'SELECT $1::bigint AS n, $2::bytea AS b, NULL::bytea AS z';
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await rows(db, text, [2 ** 40 + i, Buffer.from('x')]), [
        { n: 2 ** 40 + i, b: Buffer.from('x'), z: null },
      ]);
      const inTx = await db.tx((q) => rows(q, text, [i, Buffer.alloc(0)]));
      assert.deepEqual(inTx, [{ n: i, b: Buffer.alloc(0), z: null }]);
    }
    assert.equal(await run(db, 'SELECT 1 WHERE $1::int > 0', [1]), 1);
    assert.equal(await run(db, 'SELECT 1 WHERE $1::int > 0', [0]), 0);
  } finally {
    await db.close();
  }
});
