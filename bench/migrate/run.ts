// `letterbox store migrate` throughput: a SQLite store of N messages (one account, 2.4 KB
// each, a third unflagged) copied into a durable PostgreSQL (bench/lib/postgres.ts) and back
// into a new SQLite directory, each with the final check. Wall time on a shared machine says
// little; the figures to compare are the CPU per message of the migrating process and of
// PostgreSQL's process tree (the postmaster and its backends).
// Usage: node --import tsx bench/migrate/run.ts [--messages N]
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { indexMessage } from '../../src/delivery/local.js';
import { migrateStore } from '../../src/store/migrate/copy.js';
import type { Endpoint } from '../../src/store/migrate/endpoint.js';
import { PostgresEndpoint } from '../../src/store/migrate/postgres-endpoint.js';
import { SqliteEndpoint } from '../../src/store/migrate/sqlite-endpoint.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { startPostgres } from '../lib/postgres.js';
import { treeCpuMs } from '../lib/proc.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '20000' } } });
const N = Number(values.messages);
const work = await mkdtemp(join(tmpdir(), 'lb-bench-migrate-'));
// As root the cluster runs as `postgres`, which must be able to reach its directory.
await chmod(work, 0o711);
const pg = await startPostgres(join(work, 'pg')).catch(async (err) => {
  await rm(work, { recursive: true, force: true });
  throw err;
});
try {
  const dir = join(work, 'sqlite');
  const s = await SqliteStore.open({ dir, onFtsError: () => {} });
  await s.addDomain('example.test');
  const a = await s.createAccount({ address: 'a@example.test', passwordHash: 'h' });
  const inbox = (await s.getMailbox(a.id, 'INBOX'))!;
  const body = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n'.repeat(40);
  let bytes = 0;
  for (let i = 0; i < N; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, N - i) }, (_, j) => {
        const raw = Buffer.from(
          `From: x@example.net\r\nTo: a@example.test\r\nSubject: m ${i + j}\r\n` +
            `Message-ID: <m${i + j}@x>\r\n\r\n${body}`,
        );
        bytes += raw.length;
        const flags = (i + j) % 3 ? ['\\Seen'] : [];
        return s.append({ raw, index: indexMessage(raw) }, [{ mailboxId: inbox.id, flags }]);
      }),
    );
  }
  await s.close();

  const run = async (label: string, source: Endpoint, target: Endpoint) => {
    const pm = pg.postmasterPid();
    const pg0 = pm === undefined ? 0 : treeCpuMs(pm);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await migrateStore(source, target);
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const pgMs = pm === undefined ? Number.NaN : treeCpuMs(pm) - pg0;
    await source.close();
    await target.close();
    if (!r.verify.ok) throw new Error(r.verify.problems.join('\n'));
    const us = (x: number) => Math.round((x * 1000) / N);
    console.log(
      `${label}: ${N} messages (${(bytes / 1e6).toFixed(1)} MB) in ${(ms / 1000).toFixed(1)} s ` +
        `(${Math.round(N / (ms / 1000))}/s), CPU per message: migrate ${us((c.user + c.system) / 1000)} us, ` +
        `PostgreSQL ${us(pgMs)} us; peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`,
    );
  };
  await run(
    'sqlite -> postgres',
    await SqliteEndpoint.open(dir, 'source'),
    await PostgresEndpoint.open({ connectionString: pg.url }),
  );
  await run(
    'postgres -> sqlite',
    await PostgresEndpoint.open({ connectionString: pg.url }),
    await SqliteEndpoint.open(join(work, 'back'), 'target'),
  );
} finally {
  pg.stop();
  await rm(work, { recursive: true, force: true });
}
