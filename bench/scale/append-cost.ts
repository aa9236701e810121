// What one delivery costs PostgreSQL (issue 17), without SMTP around it: appends of --size
// byte messages (distinct headers, the body text of bench/lib/message.ts) into one INBOX (the
// INBOXes of --accounts accounts: appends in flight number k to account k mod that), with
// --concurrency of them in flight at once, through the PostgreSQL store itself. Prints the CPU
// per append of this process and of the postmaster's tree (backends, WAL writer,
// checkpointer, autovacuum) measured until both are idle again, the commits per append, and
// WAL bytes per append. --sql runs statements on the database before the appends (to try a
// storage or index setting). Usage:
//   node --import tsx bench/scale/append-cost.ts [--messages 2000] [--size 10240]
//     [--concurrency 10] [--nodes 1] [--rounds 3] [--sql "ALTER ..."] [--statements] [--locks]
//     [--accounts 1] [--think-ms 0]
// With --think-ms T each of the appends in flight waits T ms after its answer before the next,
// as an SMTP sender does between its 250 and its next message: its appends then come back
// while the mailbox's next group is out (append-gather.ts). With --nodes N, N stores in this process stand for N nodes over the one database, the
// appends in flight split between them. --statements prints the statements PostgreSQL ran
// per append (pg_stat_statements): the group statement's calls per append is one over the
// mean group size. Commits are pg_stat_database's, which counts the listeners' reads of
// notifications too (each listening backend reads them in a transaction of its own) and which
// backends bring up to date within seconds: read them as approximate. --locks samples
// pg_locks every few milliseconds during each round and prints what the backends waited for
// (the sampling costs PostgreSQL CPU of its own: its CPU figures are then too high).
// --full-text-index on-search|on-delivery opens the stores with that mode ([search]
// full_text_index; else the store's default). --search NEEDLE then, after each round's
// appends, runs one SEARCH BODY NEEDLE (store.searchText) on the first INBOX and prints its
// latency and the CPU it took, this process's and PostgreSQL's until idle, and that per
// message of the round: with "on-search", the catch-up of the round's messages
// (text-catch-up.ts), which that INBOX gets all of with --accounts 1.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { indexMessage } from '../../src/delivery/local.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { messageTemplate } from '../lib/message.js';
import { STATEMENT_STATS, startPostgres, statementCounts } from '../lib/postgres.js';
import { treeCpuWithChildrenMs, waitIdle } from '../outbound/cpu.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    size: { type: 'string', default: '10240' },
    concurrency: { type: 'string', default: '10' },
    nodes: { type: 'string', default: '1' },
    'idle-nodes': { type: 'string', default: '0' },
    rounds: { type: 'string', default: '3' },
    sql: { type: 'string', multiple: true, default: [] },
    statements: { type: 'boolean', default: false },
    locks: { type: 'boolean', default: false },
    accounts: { type: 'string', default: '1' },
    'think-ms': { type: 'string', default: '0' },
    'full-text-index': { type: 'string' },
    search: { type: 'string' },
  },
});
const messages = Number(args.messages);
const concurrency = Number(args.concurrency);
const think = Number(args['think-ms']);

const base = mkdtempSync(join(tmpdir(), 'letterbox-append-cost-'));
// PostgreSQL's unprivileged processes must be able to search down to its directory.
chmodSync(base, 0o755);
const db = await startPostgres(join(base, 'pg'), args.statements ? STATEMENT_STATS : {});
process.on('exit', () => {
  db.stop();
  rmSync(base, { recursive: true, force: true });
});
const mode = args['full-text-index'];
if (mode !== undefined && mode !== 'on-search' && mode !== 'on-delivery') {
  throw new Error('--full-text-index: on-search or on-delivery');
}
const stores: PostgresStore[] = [];
for (let i = 0; i < Number(args.nodes); i++) {
  stores.push(
    await PostgresStore.open({
      connectionString: db.url,
      max: concurrency,
      ...(mode !== undefined ? { fullTextIndex: mode } : {}),
    }),
  );
}
// Nodes that only listen (what another node's deliveries cost a node with no work of its own).
const idle: PostgresStore[] = [];
for (let i = 0; i < Number(args['idle-nodes']); i++) {
  idle.push(await PostgresStore.open({ connectionString: db.url, max: concurrency }));
}
const store = stores[0]!;
const admin = new pg.Client({ connectionString: db.url });
await admin.connect();
for (const s of args.sql) await admin.query(s);
await store.addDomain('bench.test');
/** The INBOXes appended to: appends in flight number k go to account k mod --accounts. */
const inboxes: number[] = [];
for (let i = 0; i < Math.max(1, Number(args.accounts)); i++) {
  const account = await store.createAccount({ address: `a${i}@bench.test`, passwordHash: 'x' });
  inboxes.push((await store.getMailbox(account.id, 'INBOX'))!.id);
}
const template = messageTemplate({
  size: Number(args.size),
  from: 's@bench.test',
  to: 'a@bench.test',
  tag: 'cost',
});
let serial = 0;
const next = () => {
  const raw = Buffer.concat([template.header(serial++), template.wireBody]);
  return { raw, index: indexMessage(raw) };
};

async function stat(): Promise<{ commits: number; wal: number }> {
  const r = await admin.query<{ c: string; w: string }>(
    `SELECT xact_commit::text AS c, pg_current_wal_lsn() - '0/0'::pg_lsn AS w
     FROM pg_stat_database WHERE datname = current_database()`,
  );
  return { commits: Number(r.rows[0]!.c), wal: Number(r.rows[0]!.w) };
}

/**
 * Samples the lock requests not granted, on a connection of its own, until stopped: by lock
 * type, the relation or object class, and mode (the notification queue's lock, held by a
 * committing transaction that sent NOTIFY until its commit is flushed, is an `object` lock
 * of class pg_database, object 0).
 */
function sampleLockWaits(): {
  stop: () => Promise<{ samples: number; counts: Map<string, number> }>;
} {
  const c = new pg.Client({ connectionString: db.url });
  const counts = new Map<string, number>();
  let samples = 0;
  let stopped = false;
  const done = (async () => {
    await c.connect();
    while (!stopped) {
      const r = await c.query<{ what: string }>(
        `SELECT locktype || ' ' || COALESCE(relation::regclass::text, classid::regclass::text || ' ' || objid, '') || ' ' || mode AS what
         FROM pg_locks WHERE NOT granted`,
      );
      samples++;
      for (const { what } of r.rows) counts.set(what, (counts.get(what) ?? 0) + 1);
      await new Promise((res) => setTimeout(res, 2));
    }
    await c.end();
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return { samples, counts };
    },
  };
}

const pid = db.postmasterPid()!;
const self = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
for (let round = 1; round <= Number(args.rounds); round++) {
  await waitIdle(pid, { minMs: 500 });
  if (args.statements) await statementCounts(db.url);
  const before = await stat();
  const pg0 = treeCpuWithChildrenMs(pid);
  const me0 = self();
  const t0 = performance.now();
  let left = messages;
  const waits = args.locks ? sampleLockWaits() : null;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, k) => {
      const node = stores[k % stores.length]!;
      while (left > 0) {
        left--;
        await node.append(next(), [{ mailboxId: inboxes[k % inboxes.length]! }]);
        if (think > 0) await new Promise((r) => setTimeout(r, think));
      }
    }),
  );
  const wall = performance.now() - t0;
  if (waits) {
    const { samples, counts } = await waits.stop();
    process.stdout.write(`  lock waits in ${samples} samples of pg_locks (waiters per sample):\n`);
    for (const [what, n] of [...counts].sort((a, b) => b[1] - a[1])) {
      process.stdout.write(`    ${(n / samples).toFixed(2).padStart(6)}  ${what}\n`);
    }
  }
  await waitIdle(pid, { minMs: 1000 });
  // pg_stat_database is brought up to date by the backends within a second or so.
  await new Promise((r) => setTimeout(r, 1500));
  const after = await stat();
  const pgMs = treeCpuWithChildrenMs(pid) - pg0;
  if (args.statements) {
    for (const x of (await statementCounts(db.url)).slice(0, 12)) {
      const q = x.query.replace(/\s+/g, ' ').slice(0, 100);
      const each = (ms: number, n: number) => (n > 0 ? ((ms / n) * 1000).toFixed(0) : '-');
      process.stdout.write(
        `  ${(x.calls / messages).toFixed(3).padStart(7)}/append  plans ${x.plans}, ` +
          `${each(x.planMs, x.plans)} us each; run ${each(x.totalMs, x.calls)} us  ${q}\n`,
      );
    }
  }
  const meMs = self() - me0;
  process.stdout.write(
    `round ${round}: ${messages} appends of ${template.size} bytes, ${concurrency} at once` +
      (think > 0 ? ` (each ${think} ms after the last's answer)` : '') +
      ` on ${stores.length} node(s)` +
      (idle.length > 0 ? ` (and ${idle.length} idle)` : '') +
      ': ' +
      `${((messages / wall) * 1000).toFixed(0)}/s; CPU per append: this process ` +
      `${(meMs / messages).toFixed(3)} ms, PostgreSQL ${(pgMs / messages).toFixed(3)} ms; ` +
      `commits per append ${((after.commits - before.commits) / messages).toFixed(3)}; ` +
      `WAL ${((after.wal - before.wal) / messages / 1024).toFixed(1)} KiB per append\n`,
  );
  if (args.search !== undefined) {
    const held = (await store.mailboxStatus(inboxes[0]!)).messages;
    const pgS0 = treeCpuWithChildrenMs(pid);
    const meS0 = self();
    const s0 = performance.now();
    const found = await store.searchText(inboxes[0]!, args.search);
    const latency = performance.now() - s0;
    const meS = self() - meS0;
    await waitIdle(pid, { minMs: 1000 });
    const pgS = treeCpuWithChildrenMs(pid) - pgS0;
    process.stdout.write(
      `  search ${JSON.stringify(args.search)} of ${held} messages (${found.length} found): ` +
        `${latency.toFixed(1)} ms; CPU this process ${meS.toFixed(1)} ms, PostgreSQL ` +
        `${pgS.toFixed(1)} ms (${((meS / messages) * 1000).toFixed(0)} + ` +
        `${((pgS / messages) * 1000).toFixed(0)} us per message of the round)\n`,
    );
  }
}
await admin.end();
for (const s of [...stores, ...idle]) await s.close();
process.exit(0);
