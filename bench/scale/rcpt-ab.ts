// RCPT's recipient look-up over PostgreSQL, two builds alternated (issue 17): each root's
// PostgresStore (its dist/, built) opened over one cluster and database, `--callers` callers
// each looking up one account's address in turn, `--lookups` a round, the builds alternated
// for `--rounds` rounds in the order given and then reversed. Prints, per build and round,
// this process's CPU and PostgreSQL's (the postmaster's tree, until idle) per look-up and
// the rate. The first root named must be the older schema: a store does not open a database
// migrated past what it knows. Usage (from the repository root):
//   node --import tsx bench/scale/rcpt-ab.ts --roots /work/bench-before,. [--callers 10]
//     [--lookups 4000] [--rounds 4]
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startPostgres } from '../lib/postgres.js';
import { treeCpuWithChildrenMs, waitIdle } from '../outbound/cpu.js';

const { values: args } = parseArgs({
  options: {
    roots: { type: 'string', default: '/work/bench-before,.' },
    callers: { type: 'string', default: '10' },
    lookups: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '4' },
  },
});
const roots = args.roots.split(',').map((r) => resolve(r));
const callers = Number(args.callers);
const lookups = Number(args.lookups);

interface Store {
  resolveRecipient(a: string): Promise<unknown>;
  addDomain(d: string): Promise<unknown>;
  createAccount(a: { address: string; passwordHash: string }): Promise<unknown>;
  close(): Promise<void>;
}

const base = mkdtempSync(join(tmpdir(), 'letterbox-rcpt-ab-'));
chmodSync(base, 0o755);
const db = await startPostgres(join(base, 'pg'));
process.on('exit', () => {
  db.stop();
  rmSync(base, { recursive: true, force: true });
});
const pid = db.postmasterPid()!;
const stores: Store[] = [];
for (const root of roots) {
  const mod = (await import(join(root, 'dist/src/store/postgres/postgres-store.js'))) as {
    PostgresStore: { open(o: object): Promise<Store> };
  };
  stores.push(await mod.PostgresStore.open({ connectionString: db.url, max: callers }));
}
await stores[0]!.addDomain('bench.test');
await stores[0]!.createAccount({ address: 'a@bench.test', passwordHash: 'x' });

async function round(store: Store): Promise<{ node: number; pg: number; rate: number }> {
  await waitIdle(pid, { minMs: 300 });
  const pg0 = treeCpuWithChildrenMs(pid);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let left = lookups;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (left-- > 0) await store.resolveRecipient('a@bench.test');
    }),
  );
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await waitIdle(pid, { minMs: 300 });
  const pgMs = treeCpuWithChildrenMs(pid) - pg0;
  return {
    node: (c.user + c.system) / lookups,
    pg: (pgMs * 1000) / lookups,
    rate: lookups / (wall / 1000),
  };
}

// Warm both up.
for (const s of stores) await round(s);
const order = Array.from({ length: Number(args.rounds) }, (_, r) =>
  r % 2 === 0 ? roots.map((_, i) => i) : roots.map((_, i) => roots.length - 1 - i),
).flat();
const sums = roots.map(() => ({ node: 0, pg: 0, n: 0 }));
for (const i of order) {
  const r = await round(stores[i]!);
  sums[i]!.node += r.node;
  sums[i]!.pg += r.pg;
  sums[i]!.n++;
  console.log(
    `${roots[i]}: ${r.node.toFixed(1)} us of this process, ${r.pg.toFixed(1)} us of PostgreSQL a look-up, ${Math.round(r.rate)}/s`,
  );
}
for (const [i, s] of sums.entries()) {
  console.log(
    `mean ${roots[i]}: ${(s.node / s.n).toFixed(1)} us of this process, ${(s.pg / s.n).toFixed(1)} us of PostgreSQL a look-up (${s.n} rounds, ${callers} callers)`,
  );
}
for (const s of stores) await s.close();
process.exit(0);
