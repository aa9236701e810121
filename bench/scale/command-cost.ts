// What each kind of IMAP command of the mix (bench/imap (a)) costs the server over SQLite and
// one node over PostgreSQL (issue 17): --clients sessions (one account each, 10 accounts of
// --messages messages, as bench/scale's mix) send one kind of command in a loop for --seconds
// after a short untimed warm-up, kind after kind, SQLite's server then the node, --rounds
// times. Prints per kind the commands a second and the CPU per command of the server and of
// the postmaster's tree (backends, WAL writer, checkpointer, autovacuum), measured until both
// are idle again: where the mix's gap between the stores is, command by command. Kinds:
// SELECT, FETCH FLAGS (1:*), FETCH HEADERS (the last 50), FETCH BODY (a message in turn),
// SEARCH (the mix's), STORE (+FLAGS then -FLAGS \Flagged, always a change), APPEND (5 KB,
// the mailbox grows), DEL+EXPUNGE (STORE * +FLAGS.SILENT \Deleted, EXPUNGE: two commands,
// the mailbox shrinks), APPEND+DEL+EXPUNGE (the mix's three writes: three commands). Per kind
// also the server's sleeps per command (its threads' voluntary context switches, /proc: each a
// wake-up of the process, for a socket's data, a fsync's end or a timer), and with
// --pg-statements the statements PostgreSQL ran per command of the node's (pg_stat_statements;
// those the node sent, each part of a round trip, marked `*`) and the WAL's commits and fsyncs
// per command. Usage:
//   node --import tsx bench/scale/command-cost.ts [--seconds 6] [--rounds 2] [--clients 10]
//     [--messages 500] [--kinds SELECT,STORE,...] [--root DIR] [--node-args='...']
//     [--pg-statements]
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { corpus } from '../lib/corpus.js';
import { expectOk, ImapClient } from '../lib/imap-client.js';
import {
  fillLetterbox,
  type LetterboxServer,
  type LetterboxSetup,
  serveLetterbox,
  setupLetterbox,
} from '../lib/letterbox-server.js';
import {
  type BenchPostgres,
  RECOMMENDED_SETTINGS,
  STATEMENT_STATS,
  startPostgres,
  statementCounts,
  walCounts,
} from '../lib/postgres.js';
import { treeCpuWithChildrenMs } from '../outbound/cpu.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    clients: { type: 'string', default: '10' },
    messages: { type: 'string', default: '500' },
    kinds: { type: 'string' },
    root: { type: 'string' },
    'node-args': { type: 'string', default: '' },
    'pg-statements': { type: 'boolean', default: false },
  },
});

const here = dirname(fileURLToPath(import.meta.url));
const root = args.root ? resolve(args.root) : resolve(here, '..', '..');
const PASSWORD = 'bench-password';
const USERS = Array.from({ length: 10 }, (_, i) => `mix${i}@bench.test`);
const seconds = Number(args.seconds);
const clients = Number(args.clients);
const messages = Number(args.messages);
const nodeArgs = args['node-args'].split(' ').filter((a) => a !== '');
const stats = args['pg-statements'];
const mixCorpus = corpus({ size: 4096, to: 'mix@bench.test', tag: 'mix' });
const appendCorpus = corpus({ size: 5120, to: 'mix@bench.test', tag: 'append' });
let appended = 0;

/** One kind: how many commands one `run` sends, and the run (per session state in `st`). */
interface Kind {
  name: string;
  commands: number;
  run: (c: ImapClient, st: { n: number }) => Promise<void>;
}

const send = async (c: ImapClient, cmd: string | Array<string | Buffer>) => {
  const r = await c.command(cmd, { keep: false });
  expectOk(r, typeof cmd === 'string' ? cmd : 'APPEND');
  return r;
};
const append = (c: ImapClient) =>
  send(c, ['APPEND INBOX (\\Seen) ', appendCorpus.message(10_000_000 + appended++)]);

const KINDS: Kind[] = [
  { name: 'SELECT', commands: 1, run: (c) => send(c, 'SELECT INBOX').then(() => {}) },
  { name: 'FETCH FLAGS', commands: 1, run: (c) => send(c, 'FETCH 1:* (FLAGS)').then(() => {}) },
  {
    name: 'FETCH HEADERS',
    commands: 1,
    run: (c) =>
      send(
        c,
        `FETCH ${Math.max(1, messages - 49)}:* (UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])`,
      ).then(() => {}),
  },
  {
    name: 'FETCH BODY',
    commands: 1,
    run: async (c, st) => {
      st.n++;
      await send(c, `FETCH ${1 + ((st.n * 7919) % messages)} (BODY.PEEK[])`);
    },
  },
  {
    name: 'SEARCH',
    commands: 1,
    run: (c) => send(c, 'UID SEARCH FROM "carol" SUBJECT "quarterly"').then(() => {}),
  },
  {
    name: 'STORE',
    commands: 1,
    run: async (c, st) => {
      st.n++;
      const sign = Math.floor(st.n / 250) % 2 === 0 ? '+' : '-';
      await send(c, `STORE ${1 + (st.n % 250)} ${sign}FLAGS (\\Flagged)`);
    },
  },
  { name: 'APPEND', commands: 1, run: (c) => append(c).then(() => {}) },
  {
    name: 'DEL+EXPUNGE',
    commands: 2,
    run: async (c) => {
      await send(c, 'STORE * +FLAGS.SILENT (\\Deleted)');
      await send(c, 'EXPUNGE');
    },
  },
  {
    name: 'APPEND+DEL+EXPUNGE',
    commands: 3,
    run: async (c) => {
      const a = await append(c);
      const uid = /APPENDUID \d+ (\d+)/i.exec(a.text)?.[1];
      if (!uid) throw new Error('APPEND without APPENDUID');
      await send(c, `UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`);
      await send(c, 'EXPUNGE');
    },
  },
];
const chosen = args.kinds ? args.kinds.split(',') : KINDS.map((k) => k.name);
for (const name of chosen) {
  if (!KINDS.some((k) => k.name === name)) throw new Error(`no such kind: ${name}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Voluntary context switches of all of a process's threads (each thread's /proc status). */
function sleepsOf(pid: number): number {
  let n = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(
        readFileSync(`/proc/${pid}/task/${t}/status`, 'latin1'),
      );
      n += Number(m?.[1] ?? 0);
    } catch {
      // the thread ended
    }
  }
  return n;
}

/** Waits at least 1 s, then until the processes used under 10 ms of CPU in half a second. */
async function waitIdle(pids: number[]): Promise<void> {
  const all = () => pids.reduce((s, p) => s + treeCpuWithChildrenMs(p), 0);
  await sleep(1000);
  const start = performance.now();
  let before = all();
  while (performance.now() - start < 30_000) {
    await sleep(500);
    const now = all();
    if (now - before < 10) return;
    before = now;
  }
}

async function measure(port: number, server: number, db: number | undefined, kind: Kind) {
  const conns = await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      ImapClient.login('127.0.0.1', port, USERS[i % USERS.length]!, PASSWORD),
    ),
  );
  for (const c of conns) await send(c, 'SELECT INBOX');
  const states = conns.map((_, i) => ({ n: i * 37 }));
  const go = async (ms: number) => {
    let n = 0;
    const until = performance.now() + ms;
    await Promise.all(
      conns.map(async (c, i) => {
        while (performance.now() < until) {
          await kind.run(c, states[i]!);
          n += kind.commands;
        }
      }),
    );
    return n;
  };
  await go(1500);
  const pids = db === undefined ? [server] : [server, db];
  await waitIdle(pids);
  if (stats && db !== undefined && pgSide) {
    await statementCounts(pgSide.url);
    await walCounts(pgSide.url);
  }
  const cpu0 = pids.map((p) => treeCpuWithChildrenMs(p));
  const sleeps0 = sleepsOf(server);
  const t0 = performance.now();
  const n = await go(seconds * 1000);
  const elapsed = performance.now() - t0;
  await waitIdle(pids);
  const cpu1 = pids.map((p) => treeCpuWithChildrenMs(p));
  const sleeps = (sleepsOf(server) - sleeps0) / n;
  await Promise.all(conns.map((c) => c.logout()));
  const us = (i: number) => (i < pids.length ? ((cpu1[i]! - cpu0[i]!) / n) * 1000 : 0);
  if (stats && db !== undefined && pgSide) await logStatements(kind.name, n);
  return { perSecond: n / (elapsed / 1000), serverUs: us(0), dbUs: us(1), sleeps };
}

/**
 * With --pg-statements: what PostgreSQL ran for the kind just measured, per command (the
 * statements until idle, the logouts' few included), and the WAL's commits and fsyncs.
 */
async function logStatements(kind: string, n: number): Promise<void> {
  const list = await statementCounts(pgSide!.url);
  const sent = list.reduce((s, x) => s + (x.toplevel ? x.calls : 0), 0);
  const all = list.reduce((s, x) => s + x.calls, 0);
  log(
    `  ${kind}: ${(all / n).toFixed(2)} statements a command, ${(sent / n).toFixed(2)} sent by the node (*)`,
  );
  for (const x of list.filter((x) => x.calls / n >= 0.01)) {
    const q = x.query.replace(/\s+/g, ' ').slice(0, 110);
    log(
      `    ${(x.calls / n).toFixed(2).padStart(5)}${x.toplevel ? '*' : ' '} ${(x.totalMs / x.calls).toFixed(3).padStart(7)} ms  ${q}`,
    );
  }
  const w = await walCounts(pgSide!.url);
  log(
    `  ${kind}: WAL ${(w.bytes / n).toFixed(0)} bytes, ${(w.commits / n).toFixed(2)} commits, ${(w.syncs / n).toFixed(2)} fsyncs a command`,
  );
}

const base = mkdtempSync(join(tmpdir(), 'letterbox-bench-command-cost-'));
chmodSync(base, 0o755);
const running = new Set<LetterboxServer>();
let pgSide: BenchPostgres | undefined;
process.on('exit', () => {
  for (const s of running) s.kill();
  pgSide?.stop();
  rmSync(base, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => process.exit(130));

const log = (line: string) => process.stderr.write(`${line}\n`);
log(`bench/scale/command-cost: work directory ${base}, root ${root}`);
const lite = await setupLetterbox({
  root,
  dir: join(base, 'sqlite'),
  users: USERS,
  password: PASSWORD,
  maxConnectionsPerIp: 1000,
});
for (const u of USERS) await fillLetterbox(lite, u, messages, mixCorpus.message);
pgSide = await startPostgres(join(base, 'postgres'), {
  ...RECOMMENDED_SETTINGS,
  ...(stats ? STATEMENT_STATS : {}),
});
const node = await setupLetterbox({
  root,
  dir: join(base, 'node-1'),
  users: USERS,
  password: PASSWORD,
  maxConnectionsPerIp: 1000,
  config: { store: { kind: 'postgres', url: pgSide.url, pool_size: 10, node_id: 'node-1' } },
});
for (const u of USERS) await fillLetterbox(node, u, messages, mixCorpus.message);

const results = new Map<
  string,
  Array<{ perSecond: number; serverUs: number; dbUs: number; sleeps: number }>
>();
for (let round = 1; round <= Number(args.rounds); round++) {
  for (const [store, setup] of [
    ['sqlite', lite],
    ['postgres', node],
  ] as Array<[string, LetterboxSetup]>) {
    const s = await serveLetterbox(setup, nodeArgs);
    running.add(s);
    for (const kind of KINDS.filter((k) => chosen.includes(k.name))) {
      const db = store === 'postgres' ? pgSide.postmasterPid() : undefined;
      const m = await measure(setup.ports.imap, s.pid, db, kind);
      const key = `${store} ${kind.name}`;
      results.set(key, [...(results.get(key) ?? []), m]);
      log(
        `round ${round} ${store.padEnd(8)} ${kind.name.padEnd(18)} ${m.perSecond.toFixed(0).padStart(6)}/s  server ${m.serverUs.toFixed(0).padStart(5)} us  PostgreSQL ${m.dbUs.toFixed(0).padStart(5)} us a command, server sleeps ${m.sleeps.toFixed(2)}`,
      );
    }
    await s.stop();
    running.delete(s);
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(
  '| kind | SQLite server us | node us | PostgreSQL us | node + PostgreSQL / SQLite | sleeps: SQLite / node |',
);
console.log('|---|--:|--:|--:|--:|--:|');
for (const kind of KINDS.filter((k) => chosen.includes(k.name))) {
  const l = results.get(`sqlite ${kind.name}`) ?? [];
  const p = results.get(`postgres ${kind.name}`) ?? [];
  const ls = mean(l.map((x) => x.serverUs));
  const ns = mean(p.map((x) => x.serverUs));
  const ds = mean(p.map((x) => x.dbUs));
  const sleeps = `${mean(l.map((x) => x.sleeps)).toFixed(2)} / ${mean(p.map((x) => x.sleeps)).toFixed(2)}`;
  console.log(
    `| ${kind.name} | ${ls.toFixed(0)} | ${ns.toFixed(0)} | ${ds.toFixed(0)} | ${((ns + ds) / ls).toFixed(2)}x | ${sleeps} |`,
  );
}
console.log(
  `\n- ${clients} sessions, one account each, of ${messages} messages; ${seconds} s a kind after 1.5 s untimed, ${args.rounds} rounds (means); CPU until idle again.`,
);
process.exit(0);
