// The SQLite store's append alone, two or more builds in one process (issue 19): the part of a
// delivery that whole-server runs (ab-builds.ts) cannot resolve under ~10%, measured without
// SMTP, the connection or the MIME parse around it. Each root's own `dist/` is loaded: its
// SqliteStore over a fresh data directory, one account, 10 KB messages with Return-Path and
// Received in front (bench/lib/message.ts) and a random Message-ID each, as real mail has (the
// Message-ID index then takes a random leaf per message). The messages of a round are made and
// parsed before its clock starts; `--batch` appends are then made at once (one group commit),
// and the next batch after their answers, as the MX's sessions wait for their 250. Rounds
// alternate between the builds (A B, B A, ...) after `--warmup` messages each. Per round it
// prints the main thread's CPU per message (/proc/self/task/PID/schedstat: what the event loop
// spends, the WAL fsyncs in the pool left out) and the process's (process.cpuUsage: with the
// pool and the index worker, each round starting once the workers are done), and per build the
// medians and the COMMITs' share: the CPU (the process's, while the main thread is inside it)
// and wall time inside COMMIT per message, and those of the commits that took
// over 2 ms of wall time (the ones that ran a WAL checkpoint, with its fsyncs, on the main
// thread). `--statements` also times every statement by its SQL (wall time per message and
// per call; it adds its own cost to the figures). To price a part of the schema or the file's
// layout before building it, name one root twice: `--sql` runs statements on the last side's
// database once its store is open (before the warm-up: `DROP INDEX ...`), and `--page-size`
// makes the last side's database with that page size before its store opens it.
//   node --import tsx bench/smtp/store-ab.ts --roots /work/bench-before,/work/wt-smtp
//     [--batch 4] [--messages 1000] [--warmup 3000] [--rounds 8] [--statements]
//     [--sql "DROP INDEX mailbox_messages_message"] [--page-size 8192]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ownProcessNs, ownThreadNs } from '../lib/proc.js';

const { values: args } = parseArgs({
  options: {
    roots: { type: 'string' },
    batch: { type: 'string', default: '4' },
    messages: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '8' },
    statements: { type: 'boolean', default: false },
    sql: { type: 'string' },
    'page-size': { type: 'string' },
  },
});
if (!args.roots) throw new Error('--roots A,B: checkouts with dist/ built');
const roots = args.roots.split(',');
const batch = Number(args.batch);
const perRound = Number(args.messages);
const rounds = Number(args.rounds);
const SENDER = 'sender@bench-client.test';
const RECIPIENT = 'bench@bench.test';

interface Timing {
  calls: number;
  wallNs: number;
  cpuNs: number;
}

/** What the current side's statements cost; null outside a timed round. */
let counting: { commit: Timing; slowCommit: Timing; bySql: Map<string, Timing> } | null = null;

function add(t: Timing, wallNs: number, cpuNs: number): void {
  t.calls++;
  t.wallNs += wallNs;
  t.cpuNs += cpuNs;
}

type Run = (this: { source: string }, ...a: unknown[]) => unknown;
const patched = new Set<object>();

/** Wraps each statement method of the root's better-sqlite3 (once per copy of the module). */
function patchStatements(root: string): void {
  const Database = createRequire(join(root, 'package.json'))('better-sqlite3') as new (
    f: string,
  ) => { prepare(sql: string): object; close(): void };
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, Run>;
  probe.close();
  if (patched.has(proto)) return;
  patched.add(proto);
  for (const name of ['run', 'get', 'all', 'iterate']) {
    const original = proto[name]!;
    proto[name] = function (this: { source: string }, ...a: unknown[]) {
      const c = counting;
      const isCommit = this.source === 'COMMIT';
      if (c === null || (!isCommit && !args.statements)) return original.apply(this, a);
      // The process's clock (getrusage), not the thread's schedstat: that one is brought up to
      // date only at the scheduler's ticks and switches, and around one statement of ~100 us
      // it read a quarter of the COMMIT's CPU. The other threads are mostly idle meanwhile.
      const cpu0 = isCommit ? ownProcessNs() : 0;
      const t0 = process.hrtime.bigint();
      try {
        return original.apply(this, a);
      } finally {
        const wall = Number(process.hrtime.bigint() - t0);
        if (isCommit) {
          const cpu = ownProcessNs() - cpu0;
          add(c.commit, wall, cpu);
          if (wall > 2e6) add(c.slowCommit, wall, cpu);
        }
        if (args.statements) {
          const sql = this.source.replace(/\s+/g, ' ').slice(0, 80);
          const t = c.bySql.get(sql) ?? { calls: 0, wallNs: 0, cpuNs: 0 };
          c.bySql.set(sql, t);
          add(t, wall, 0);
        }
      }
    };
  }
}

interface Side {
  root: string;
  dir: string;
  close: () => Promise<void>;
  /** Messages the index worker has not indexed yet. */
  backlog: () => number;
  /** Appends `n` messages, `batch` at a time; the CPU per message it took. */
  round: (n: number) => Promise<{ main: number; all: number }>;
  main: number[];
  all: number[];
  stats: { commit: Timing; slowCommit: Timing; bySql: Map<string, Timing> };
  messages: number;
}

/** better-sqlite3 as the root has it, for --sql and --page-size. */
function rootDatabase(
  root: string,
): new (
  file: string,
) => { exec(sql: string): void; close(): void } {
  return createRequire(join(root, 'package.json'))('better-sqlite3');
}

async function openSide(root: string, i: number, last: boolean): Promise<Side> {
  patchStatements(root);
  const dist = join(root, 'dist');
  const { SqliteStore } = await import(join(dist, 'src/store/sqlite/sqlite-store.js'));
  const { indexMessage } = await import(join(dist, 'src/delivery/local.js'));
  const trace = await import(join(dist, 'src/delivery/trace.js'));
  const { messageTemplate } = await import(join(dist, 'bench/lib/message.js'));
  const dir = mkdtempSync(join(tmpdir(), `letterbox-store-ab-${i}-`));
  if (last && args['page-size']) {
    // The page size holds from the database's first table on (SQLite cannot change it in WAL).
    const db = new (rootDatabase(root))(join(dir, 'letterbox.db'));
    db.exec(`PRAGMA page_size = ${Number(args['page-size'])}; CREATE TABLE page_size_probe (a);
      DROP TABLE page_size_probe;`);
    db.close();
  }
  const store = await SqliteStore.open({ dir });
  if (last && args.sql) {
    const db = new (rootDatabase(root))(join(dir, 'letterbox.db'));
    db.exec(args.sql);
    db.close();
  }
  await store.addDomain('bench.test');
  const account = await store.createAccount({ address: RECIPIENT, passwordHash: 'x' });
  const inbox = await store.getMailbox(account.id, 'INBOX');
  const target = {
    mailboxId: inbox.id,
    expect: { accountId: account.id, uidValidity: inbox.uidValidity, name: 'INBOX' },
  };
  const tpl = messageTemplate({ size: 10240, from: SENDER, to: RECIPIENT, tag: 'store' });
  let n = 0;
  const make = () => {
    const fields =
      trace.returnPathField(SENDER) +
      trace.receivedHeader({
        helo: 'bench-client.test',
        ip: '127.0.0.1',
        hostname: 'mx.bench.test',
        protocol: 'ESMTP',
        id: trace.newDeliveryId(),
        recipient: RECIPIENT,
      });
    const header = (tpl.header(++n) as Buffer)
      .toString('latin1')
      .replace(/^Message-ID: <[^>]*>/im, `Message-ID: <${randomBytes(12).toString('hex')}@b.test>`);
    const raw = Buffer.concat([Buffer.from(fields + header, 'latin1'), tpl.wireBody]);
    return { raw, index: indexMessage(raw) };
  };
  const stats = {
    commit: { calls: 0, wallNs: 0, cpuNs: 0 },
    slowCommit: { calls: 0, wallNs: 0, cpuNs: 0 },
    bySql: new Map<string, Timing>(),
  };
  return {
    root: last && (args.sql || args['page-size']) ? `${root} (--sql / --page-size)` : root,
    dir,
    close: () => store.close(),
    backlog: () => store.stats().ftsBacklogMessages,
    main: [],
    all: [],
    stats,
    messages: 0,
    async round(count) {
      const messages = Array.from({ length: count }, make);
      const main0 = ownThreadNs();
      const all0 = process.cpuUsage();
      for (let j = 0; j < count; j += batch) {
        await Promise.all(messages.slice(j, j + batch).map((m) => store.append(m, [target])));
      }
      const all = process.cpuUsage(all0);
      return { main: (ownThreadNs() - main0) / 1000 / count, all: (all.user + all.system) / count };
    },
  };
}

const sides: Side[] = [];
for (const [i, root] of roots.entries())
  sides.push(await openSide(root, i, i === roots.length - 1));
try {
  for (const s of sides) await s.round(Number(args.warmup));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [...sides] : [...sides].reverse();
    for (const s of order) {
      // The index workers' work of the rounds before is not this round's.
      while (sides.some((x) => x.backlog() > 0)) await new Promise((r) => setTimeout(r, 20));
      counting = s.stats;
      const res = await s.round(perRound);
      counting = null;
      s.main.push(res.main);
      s.all.push(res.all);
      s.messages += perRound;
      process.stderr.write(
        `round ${r} ${s.root}: main ${res.main.toFixed(0)}, process ${res.all.toFixed(0)} us/msg\n`,
      );
    }
  }
} finally {
  for (const s of sides) {
    await s.close();
    rmSync(s.dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const us = (ns: number, n: number) => (ns / 1000 / n).toFixed(1);
for (const s of sides) {
  const { commit, slowCommit } = s.stats;
  console.log(
    `${s.root}: main ${median(s.main).toFixed(1)} us/msg (rounds ${s.main.map((x) => x.toFixed(0)).join(' ')}), ` +
      `process ${median(s.all).toFixed(1)} (${s.all.map((x) => x.toFixed(0)).join(' ')}); ` +
      `${(s.messages / commit.calls).toFixed(2)} messages per commit; COMMIT CPU ` +
      `${us(commit.cpuNs, s.messages)}, wall ${us(commit.wallNs, s.messages)} us/msg, of which ` +
      `the ${slowCommit.calls} over 2 ms ${us(slowCommit.cpuNs, s.messages)} and ` +
      `${us(slowCommit.wallNs, s.messages)}`,
  );
  if (args.statements) {
    for (const [sql, t] of [...s.stats.bySql].sort((a, b) => b[1].wallNs - a[1].wallNs)) {
      if (t.calls / s.messages < 0.01) continue;
      console.log(
        `  ${us(t.wallNs, s.messages).padStart(7)} us/msg ${(t.calls / s.messages).toFixed(2).padStart(5)}/msg ${us(t.wallNs, t.calls).padStart(7)} us/call  ${sql}`,
      );
    }
  }
}
