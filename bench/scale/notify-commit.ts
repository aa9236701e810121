// What a pg_notify costs a commit (issue 17): ten connections each updating a row of their own
// and committing alone, for 4 s per variant, on a private PostgreSQL with fsync and
// synchronous_commit on (bench/lib/postgres.ts). Variants: the update alone; with a
// pg_notify in it; with the pg_notify and the commit not waiting for its WAL flush, followed
// on the connection by db.ts's FLUSH (what a Letterbox write does); and that without FLUSH
// (not durable: the bound). Prints commits per second, the mean time per commit and WAL
// fsyncs per commit (pg_stat_wal). PostgreSQL holds one lock of the whole cluster from a
// notifying commit through its WAL flush, so the second variant commits one at a time.
// Usage: node --import tsx bench/scale/notify-commit.ts [--seconds 4] [--rounds 2]
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startPostgres } from '../lib/postgres.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
  },
});
const CONNECTIONS = 10;
const UPDATE = 'WITH u AS (UPDATE t SET n = n + 1 WHERE id = $1 RETURNING n)';
const UNFLUSHED = "set_config('synchronous_commit', 'off', true)";
const FLUSH = { name: 'f', text: "SELECT pg_logical_emit_message(true, 'letterbox', '')" };

const dir = mkdtempSync(join(tmpdir(), 'letterbox-notify-commit-'));
// PostgreSQL's unprivileged processes must be able to search down to their directory.
chmodSync(dir, 0o755);
const server = await startPostgres(join(dir, 'pg'));
try {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('CREATE TABLE t (id int PRIMARY KEY, n bigint NOT NULL)');
  await admin.query(`INSERT INTO t SELECT g, 0 FROM generate_series(1, ${CONNECTIONS}) g`);
  // A listener, as every Letterbox node has.
  await admin.query('LISTEN ch');
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const c = new pg.Client({ connectionString: server.url, pipeline: true } as pg.ClientConfig);
      await c.connect();
      return c;
    }),
  );
  const variants: Record<string, (c: pg.Client, id: number) => Promise<unknown>> = {
    'update alone': (c, id) =>
      c.query({ name: 'p', text: 'UPDATE t SET n = n + 1 WHERE id = $1', values: [id] }),
    'with pg_notify': (c, id) =>
      c.query({
        name: 'n',
        text: `${UPDATE} SELECT pg_notify('ch', n::text) FROM u`,
        values: [id],
      }),
    'pg_notify, unflushed commit, FLUSH': async (c, id) => {
      const write = c.query({
        name: 'a',
        text: `${UPDATE} SELECT pg_notify('ch', n::text), ${UNFLUSHED} FROM u`,
        values: [id],
      });
      await Promise.all([write, c.query(FLUSH)]);
    },
    'pg_notify, unflushed commit (not durable)': (c, id) =>
      c.query({
        name: 'a',
        text: `${UPDATE} SELECT pg_notify('ch', n::text), ${UNFLUSHED} FROM u`,
        values: [id],
      }),
  };
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const [name, fn] of Object.entries(variants)) {
      await admin.query("SELECT pg_stat_reset_shared('wal')");
      const until = performance.now() + Number(args.seconds) * 1000;
      let n = 0;
      const t0 = performance.now();
      await Promise.all(
        clients.map(async (c, i) => {
          while (performance.now() < until) {
            await fn(c, i + 1);
            n++;
          }
        }),
      );
      const s = (performance.now() - t0) / 1000;
      const w = (await admin.query('SELECT wal_sync::bigint AS s FROM pg_stat_wal')).rows[0];
      console.log(
        `round ${round}, ${name}: ${(n / s).toFixed(0)} commits/s, ${((CONNECTIONS * s * 1000) / n).toFixed(1)} ms each, ${(Number(w.s) / n).toFixed(2)} WAL fsyncs per commit`,
      );
    }
  }
  for (const c of clients) await c.end();
  await admin.end();
} finally {
  server.stop();
  rmSync(dir, { recursive: true, force: true });
}
