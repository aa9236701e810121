// Scale bench (issue 17): SMTP delivery and the IMAP mix (bench/imap (a)) on Letterbox over
// SQLite (one node), over one PostgreSQL with 1, 2 and 3 nodes, and the mix on a private
// Dovecot, in one run on one machine. Usage (from the repository root):
//   node --import tsx bench/scale/run.ts [--nodes 1,2,3] [--smtp-sessions 10] [--size 10240]
//     [--smtp-accounts 1]
//     [--smtp-messages 2000] [--clients 10] [--duration 15] [--rounds 2] [--warmup-messages 1000]
//     [--warmup-seconds 4] [--mix-messages 1000] [--pool-size 10] [--pool-idle-seconds S]
//     [--only smtp|mix|login]
//     [--no-dovecot] [--cpu-prof] [--pg-statements] [--pg-waits] [--pg-kinds] [--keep]
//     [--load-nodes K] [--root DIR] [--join-warmup 2500] [--join-mix 15]
//     [--login-iterations 60] [--pg-defaults]
//     [--pg-conf name=value,...] [--node-args='NODE OPTIONS']
// The cluster runs with the settings docs/scaling.md recommends (RECOMMENDED_SETTINGS of
// bench/lib/postgres.ts), or with --pg-defaults PostgreSQL's own; --pg-conf adds or overrides.
// --only login runs the login-heavy mix of bench/imap (d) instead (a connection per iteration:
// LOGIN, SELECT, FETCH, APPEND, STORE, EXPUNGE, LOGOUT; on the cell's first node): what a
// session's start costs each store, which the mix, logged in once per client, does not show.
// Beside each rate it prints CPU per operation, of the Letterbox processes and of PostgreSQL's
// (the postmaster's tree: backends, WAL writer, checkpointer, autovacuum), so that what a node
// and the database each cost can be read past this machine's two CPUs.
// --node-args='...' (with the '=') gives every Letterbox server of the run these Node
// options, split at spaces: --trace-gc (its lines go to each server's letterbox.log, kept with
// --keep), --perf-basic-prof for perf, or --import of a file that sets V8 flags, for an A/B.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LOGIN_MIX_COMMANDS, LOGIN_MIX_MESSAGES, loginLoad, loginUsers } from '../imap/login.js';
import { runMix } from '../imap/mix.js';
import { corpus } from '../lib/corpus.js';
import { summarizeProfile } from '../lib/cpu-profile.js';
import { type DovecotSide, startDovecot } from '../lib/dovecot.js';
import {
  fillLetterbox,
  type LetterboxServer,
  type LetterboxSetup,
  serveLetterbox,
  setupLetterbox,
} from '../lib/letterbox-server.js';
import { messageTemplate } from '../lib/message.js';
import {
  type BenchPostgres,
  parseSettings,
  RECOMMENDED_SETTINGS,
  STATEMENT_STATS,
  sampleKinds,
  sampleWaits,
  startPostgres,
  statementCounts,
  walCounts,
} from '../lib/postgres.js';
import { runLoad } from '../lib/smtp-load.js';
import { treeCpuWithChildrenMs } from '../outbound/cpu.js';
import { type Cell, formatScaleReport, mixCpuMs } from './report.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1,2,3' },
    'smtp-sessions': { type: 'string', default: '10' },
    'smtp-accounts': { type: 'string', default: '1' },
    size: { type: 'string', default: '10240' },
    'smtp-messages': { type: 'string', default: '2000' },
    clients: { type: 'string', default: '10' },
    duration: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
    'warmup-messages': { type: 'string', default: '1000' },
    'warmup-seconds': { type: 'string', default: '4' },
    'mix-messages': { type: 'string', default: '1000' },
    'pool-size': { type: 'string', default: '10' },
    'pool-idle-seconds': { type: 'string' },
    only: { type: 'string' },
    'no-dovecot': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'pg-statements': { type: 'boolean', default: false },
    'pg-waits': { type: 'boolean', default: false },
    'pg-kinds': { type: 'boolean', default: false },
    'pg-conf': { type: 'string' },
    'pg-defaults': { type: 'boolean', default: false },
    'pg-alternate': { type: 'string' },
    'alternate-rounds': { type: 'string', default: '4' },
    keep: { type: 'boolean', default: false },
    'load-nodes': { type: 'string' },
    root: { type: 'string' },
    'join-warmup': { type: 'string', default: '2500' },
    'join-mix': { type: 'string', default: '15' },
    'login-iterations': { type: 'string', default: '60' },
    'node-args': { type: 'string', default: '' },
  },
});

const here = dirname(fileURLToPath(import.meta.url));
/** The Letterbox build under test (--root: another worktree's, built, for an A/B run). */
const root = args.root ? resolve(args.root) : resolve(here, '..', '..');
const PASSWORD = 'bench-password';
const MIX_USERS = Array.from({ length: 10 }, (_, i) => `mix${i}@bench.test`);
const LOGIN_USERS = loginUsers(10);
const SMTP_USER = 'smtp@bench.test';
/**
 * SMTP's recipients: one account (the worst case for several nodes: every delivery takes its
 * turn on that account's row), or with --smtp-accounts K one per session, session j to
 * account j mod K.
 */
const smtpAccounts = Math.max(1, Number(args['smtp-accounts']));
const SMTP_USERS =
  smtpAccounts === 1
    ? [SMTP_USER]
    : Array.from({ length: smtpAccounts }, (_, i) => `smtp${i}@bench.test`);
const SENDER = 'sender@bench-client.test';
const nodeCounts = args.nodes.split(',').map(Number);
const maxNodes = Math.max(...nodeCounts);
const smtpSessions = Number(args['smtp-sessions']);
const smtpMessages = Number(args['smtp-messages']);
const clients = Number(args.clients);
const durationMs = Number(args.duration) * 1000;
const rounds = Math.max(1, Number(args.rounds));
const warmMessages = Number(args['warmup-messages']);
const warmMs = Number(args['warmup-seconds']) * 1000;
const doSmtp = args.only === undefined || args.only === 'smtp';
const doMix = args.only === undefined || args.only === 'mix';
const doLogin = args.only === 'login';
const loginIterations = Number(args['login-iterations']);
/**
 * With --load-nodes K, SMTP and the mix go to the first K nodes of a cell only (the others
 * just listen): each node's CPU, printed apart, then shows what the notices of other nodes'
 * work cost a node that has none of its own.
 */
const loadNodes = args['load-nodes'] ? Math.max(1, Number(args['load-nodes'])) : Infinity;
/**
 * SMTP messages a node started for a cell of more nodes takes alone before that cell's own
 * warm-up (--join-warmup): the first node ran every earlier cell by then. In a scratch run of
 * three nodes with one session each, the spread load cost 3.7-4.1 ms of the nodes' CPU per
 * delivery after 500 messages per node and 2.0-2.2 after 3,000, against 1.5-2.0 on the first
 * node alone in the same minutes.
 */
const joinWarm = Number(args['join-warmup']);
/**
 * Seconds of the IMAP mix a node started for a cell of more nodes runs alone (every client on
 * it) before that cell's own warm-up (--join-mix; 0: none), then the bench waits until it and
 * the database are idle, so that the messages its mix expunged are collected before the cell.
 * Without it the three-node cell measured two nodes and twenty PostgreSQL connections a few
 * seconds old: with nine clients (three a node) and the three nodes started together, the
 * mix repeated on them cost 2,273, 1,716, 1,298, 1,164 and 1,335 us of the nodes and 1,061,
 * 728, 726, 653 and 706 us of PostgreSQL an operation, each node alike (docs/design-notes.md,
 * "The three-node mix measured cold nodes").
 */
const joinMix = Number(args['join-mix']) * 1000;

const base = mkdtempSync(join(tmpdir(), 'letterbox-bench-scale-'));
// Dovecot's and PostgreSQL's unprivileged processes must be able to search down to theirs.
chmodSync(base, 0o755);
const profDir = join(base, 'cpu-prof');
const running = new Set<LetterboxServer>();
let pg: BenchPostgres | undefined;
let dv: DovecotSide | undefined;
/** A failed run keeps its work directory: the logs it names are there. */
let failed = false;
process.on('exit', () => {
  for (const s of running) s.kill();
  dv?.stop();
  pg?.stop();
  if (!args.keep && !args['cpu-prof'] && !failed) rmSync(base, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => process.exit(130));

const log = (line: string) => process.stderr.write(`${line}\n`);
const mixCorpus = corpus({ size: 4096, to: 'mix@bench.test', tag: 'mix' });
const appendCorpus = corpus({ size: 5120, to: 'mix@bench.test', tag: 'append' });
let appendSerial = 0;
const appendMessage = (client: number, n: number) =>
  appendCorpus.message(appendSerial * 10_000_000 + client * 100_000 + n);
const template = messageTemplate({
  size: Number(args.size),
  from: SENDER,
  to: SMTP_USER,
  tag: 'scale',
});
let smtpSerial = 0;

/** One side under test: its SMTP and IMAP ports, and the processes whose CPU is its own. */
interface Side {
  name: string;
  smtpPorts: number[];
  imapPorts: number[];
  serverPids: () => number[];
  /** PostgreSQL's postmaster, when the side runs over it. */
  dbPid?: () => number | undefined;
}

/** Which settings the cluster runs with, for the log and the report. */
function settingsLine(): string {
  const base = args['pg-defaults']
    ? "PostgreSQL's defaults"
    : `docs/scaling.md's recommended settings (${Object.entries(RECOMMENDED_SETTINGS)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')})`;
  const extra = args['pg-conf'] ? `, with --pg-conf ${args['pg-conf']}` : '';
  return base + extra;
}

function cpuOf(pids: number[]): number {
  let ms = 0;
  for (const p of pids) ms += treeCpuWithChildrenMs(p);
  return ms;
}

/**
 * Waits at least 1.5 s, then until the servers and the database together used under 20 ms of
 * CPU in half a second: work put off past the answers (indexing, purges, WAL writes,
 * autovacuum) is counted with the load that caused it.
 */
async function waitIdle(side: Side): Promise<void> {
  const all = () => cpuOf([...side.serverPids(), ...(side.dbPid ? [side.dbPid() ?? 0] : [])]);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(1500);
  const start = performance.now();
  let before = all();
  while (performance.now() - start < 60_000) {
    await sleep(500);
    const now = all();
    if (now - before < 20) return;
    before = now;
  }
}

type Measured = Awaited<ReturnType<typeof measured>>;

/** Runs `load` and returns it with the CPU the servers and the database spent on it. */
async function measured<T>(
  side: Side,
  load: () => Promise<T>,
): Promise<{
  result: T;
  serverMs: number;
  dbMs: number;
  perNodeMs: number[];
  byKind: Awaited<ReturnType<Awaited<ReturnType<typeof sampleKinds>>>>;
}> {
  await waitIdle(side);
  const db0 = side.dbPid ? treeCpuWithChildrenMs(side.dbPid() ?? 0) : 0;
  const each0 = side.serverPids().map((p) => cpuOf([p]));
  const pm = side.dbPid?.();
  const kinds = args['pg-kinds'] && pm !== undefined && pg ? await sampleKinds(pg.url, pm) : null;
  const sessions =
    args['pg-statements'] && pm !== undefined && pg ? await sessionCount(pg.url) : null;
  const result = await load();
  await waitIdle(side);
  const byKind = kinds ? await kinds() : [];
  if (sessions) log(`${side.name}: backends started during the load: ${await sessions()}`);
  const perNodeMs = side.serverPids().map((p, i) => cpuOf([p]) - each0[i]!);
  const serverMs = perNodeMs.reduce((a, b) => a + b, 0);
  const dbMs = side.dbPid ? treeCpuWithChildrenMs(side.dbPid() ?? 0) - db0 : 0;
  return { result, serverMs, dbMs, perNodeMs, byKind };
}

/**
 * With --pg-kinds: PostgreSQL's CPU and context switches per operation by kind of process
 * (bench/lib/postgres.ts sampleKinds): the pool's backends, the LISTEN backends (each woken by
 * every notifying commit in the database, whatever its channel), the WAL writer, ...
 */
function logKinds(side: Side, what: string, byKind: Measured['byKind'], ops: number): void {
  if (byKind.length === 0) return;
  const each = byKind.map(
    (k) =>
      `${k.kind} (${k.procs}) ${((k.cpuMs / ops) * 1000).toFixed(0)} us, ${(k.voluntary / ops).toFixed(2)} / ${(k.involuntary / ops).toFixed(2)} sw`,
  );
  log(
    `${side.name} ${what}: PostgreSQL by process kind, per operation (CPU, voluntary / involuntary switches): ${each.join('; ')}`,
  );
}

/**
 * Each node's CPU per operation, when a cell has more than one; with `ownOps` (the mix's
 * operations by node) also per operation of the node's own sessions, which with clients i mod
 * N (4, 3 and 3 of ten on three nodes) is what compares one node with another.
 */
function logPerNode(
  side: Side,
  what: string,
  perNodeMs: number[],
  ops: number,
  ownOps?: number[],
): void {
  if (perNodeMs.length < 2) return;
  const each = perNodeMs.map((ms, i) => `node ${i + 1} ${((ms / ops) * 1000).toFixed(0)} us`);
  log(`${side.name} ${what}: CPU per operation by node: ${each.join(', ')}`);
  if (ownOps?.length !== perNodeMs.length) return;
  const own = perNodeMs.map(
    (ms, i) =>
      `node ${i + 1} ${((ms / Math.max(1, ownOps[i]!)) * 1000).toFixed(0)} us of ${ownOps[i]}`,
  );
  log(`${side.name} ${what}: CPU per operation of the node's own sessions: ${own.join(', ')}`);
}

/** With --pg-statements: the statements of the load just measured, per operation. */
async function logStatements(side: Side, what: string, ops: number): Promise<void> {
  if (!args['pg-statements'] || !side.dbPid || !pg) return;
  const list = await statementCounts(pg.url);
  const calls = list.reduce((s, x) => s + x.calls, 0);
  const sent = list.reduce((s, x) => s + (x.toplevel ? x.calls : 0), 0);
  log(
    `${side.name} ${what}: ${(calls / ops).toFixed(1)} statements per operation, ${(sent / ops).toFixed(2)} of them sent by the nodes (* below; the others run inside functions and triggers)`,
  );
  // The 25 most called, and every statement sent by the nodes (each one a round trip's part).
  for (const x of list.filter((x, i) => i < 25 || x.toplevel)) {
    const q = x.query.replace(/\s+/g, ' ').slice(0, 150);
    log(
      `  ${(x.calls / ops).toFixed(2).padStart(6)}/op${x.toplevel ? '*' : ' '} ${(x.totalMs / x.calls).toFixed(3).padStart(8)} ms ${((x.plans / x.calls) * 100).toFixed(0).padStart(3)}% planned ${(x.plans > 0 ? x.planMs / x.plans : 0).toFixed(3)} ms  ${q}`,
    );
  }
  const w = await walCounts(pg.url);
  log(
    `${side.name} ${what}: WAL per operation ${(w.bytes / ops).toFixed(0)} bytes, ${(w.records / ops).toFixed(1)} records, ${(w.fullPages / ops).toFixed(2)} full pages, ${(w.commits / ops).toFixed(2)} commits, ${(w.syncs / ops).toFixed(2)} fsyncs (${(w.syncMs / Math.max(1, w.syncs)).toFixed(2)} ms each, ${(w.writeMs / Math.max(1, w.writes)).toFixed(2)} ms per write)`,
  );
}

/**
 * With --pg-statements: a counter of the backends PostgreSQL starts (pg_stat_database's
 * sessions, PostgreSQL 14 on), read now and when the returned function is called: each one
 * a pool connection (re)opened, whose statements are planned and Described again. Its own
 * connection is open before the first read; a backend's count reaches the statistics within
 * about a second of its start (the wait before the second read).
 */
async function sessionCount(url: string): Promise<() => Promise<number>> {
  const { default: pgc } = await import('pg');
  const c = new pgc.Client({ connectionString: url });
  await c.connect();
  const read = async () =>
    Number(
      (await c.query<{ n: string }>('SELECT sum(sessions)::bigint AS n FROM pg_stat_database'))
        .rows[0]!.n,
    );
  const before = await read();
  return async () => {
    await new Promise((r) => setTimeout(r, 1500));
    try {
      return (await read()) - before;
    } finally {
      await c.end();
    }
  };
}

/** With --pg-statements: the counters logStatements reads, started afresh before a load. */
async function resetStatements(side: Side): Promise<void> {
  if (!args['pg-statements'] || !side.dbPid || !pg) return;
  await statementCounts(pg.url);
  await walCounts(pg.url);
}

/** `total` split as evenly as possible over `n` parts. */
function split(total: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
}

/**
 * SMTP delivery spread over the side's nodes: sessions and messages split between them (with
 * several accounts, each session on its own with its share of the messages).
 */
async function smtp(side: Side, messages: number) {
  const n = side.smtpPorts.length;
  const sessions = split(smtpSessions, n).map((k) => Math.max(1, k));
  const counts = split(messages, n);
  /** One load per node, or per session when the sessions go to different accounts. */
  const loads: Array<{ port: number; sessions: number; count: number; recipient: string }> = [];
  let session = 0;
  for (const [i, port] of side.smtpPorts.entries()) {
    if (SMTP_USERS.length === 1) {
      loads.push({ port, sessions: sessions[i]!, count: counts[i]!, recipient: SMTP_USER });
      continue;
    }
    for (const count of split(counts[i]!, sessions[i]!)) {
      loads.push({ port, sessions: 1, count, recipient: SMTP_USERS[session++ % smtpAccounts]! });
    }
  }
  const results = await Promise.all(
    loads.map((l) => {
      const first = smtpSerial;
      smtpSerial += l.count;
      return runLoad({
        host: '127.0.0.1',
        port: l.port,
        sessions: l.sessions,
        template: {
          ...template,
          header: (k: number) => template.header(first + k),
        },
        sender: SENDER,
        recipient: l.recipient,
        durationMs: 3_600_000,
        maxMessages: l.count,
      });
    }),
  );
  const error = results.find((r) => r.error)?.error;
  if (error) throw new Error(`${side.name}: SMTP: ${error}`);
  const delivered = results.reduce((s, r) => s + r.messages, 0);
  const start = Math.min(...results.map((r) => r.startedAt));
  const end = Math.max(...results.map((r) => r.endedAt));
  return { messages: delivered, perSecond: delivered / ((end - start) / 1000) };
}

async function mix(side: Side, ms: number) {
  appendSerial++;
  const r = await runMix({
    port: side.imapPorts[0]!,
    ports: side.imapPorts,
    users: MIX_USERS,
    password: PASSWORD,
    clients,
    durationMs: ms,
    appendMessage,
  });
  if (r.error) throw new Error(`${side.name}: IMAP mix: ${r.error}`);
  return r;
}

/** The login mix (bench/imap (d)) on the side's first node: `iterations` per client. */
async function login(side: Side, iterations: number) {
  appendSerial++;
  const r = await loginLoad(
    side.imapPorts[0]!,
    LOGIN_USERS,
    PASSWORD,
    clients,
    iterations,
    appendMessage,
  );
  if (r.error) throw new Error(`${side.name}: login mix: ${r.error}`);
  return { ...r, commands: r.iterations * LOGIN_MIX_COMMANDS };
}

async function runCells(side: Side, nodes: number, store: Cell['store']): Promise<Cell> {
  const cell: Cell = { store, nodes };
  log(`${side.name}: warm-up`);
  // Each node gets the whole warm-up: split over the nodes, the last node of a cell (started
  // just before it) ran its SMTP path a few hundred times before the measure, and its JIT
  // compiling and code not yet optimised counted as the cost of more nodes.
  if (doSmtp && side.smtpPorts.length > 0) await smtp(side, warmMessages * side.smtpPorts.length);
  if (doMix) await mix(side, warmMs);
  if (doLogin) await login(side, Math.max(1, Math.round(loginIterations / 3)));
  if (doSmtp && side.smtpPorts.length > 0) {
    await resetStatements(side);
    const m = await measured(side, () => smtp(side, smtpMessages));
    await logStatements(side, 'SMTP', m.result.messages);
    logPerNode(side, 'SMTP', m.perNodeMs, m.result.messages);
    logKinds(side, 'SMTP', m.byKind, m.result.messages);
    cell.smtp = {
      perSecond: m.result.perSecond,
      serverMsPerOp: m.serverMs / m.result.messages,
      dbMsPerOp: m.dbMs / m.result.messages,
    };
    log(
      `${side.name}: SMTP ${m.result.perSecond.toFixed(0)} msg/s, server ${cell.smtp.serverMsPerOp.toFixed(2)} ms/msg, PostgreSQL ${cell.smtp.dbMsPerOp.toFixed(2)} ms/msg`,
    );
  }
  if (doLogin) {
    await resetStatements(side);
    const m = await measured(side, () => login(side, loginIterations));
    const n = m.result.commands;
    await logStatements(side, 'login mix', n);
    logKinds(side, 'login mix', m.byKind, n);
    log(
      `${side.name}: login mix ${((n * 1000) / m.result.elapsedMs).toFixed(0)} commands/s, server ${mixCpuMs(m.serverMs / n)}, PostgreSQL ${mixCpuMs(m.dbMs / n)} per command`,
    );
  }
  if (doMix) {
    await resetStatements(side);
    // The sampling's own statements cost PostgreSQL CPU: its figures are then too high.
    const sampling = args['pg-waits'] && side.dbPid && pg ? await sampleWaits(pg.url) : null;
    const m = await measured(side, () => mix(side, durationMs));
    if (sampling) log(`${side.name} mix: client backends per sample: ${await sampling()}`);
    await logStatements(side, 'mix', m.result.ops);
    logPerNode(side, 'mix', m.perNodeMs, m.result.ops, m.result.opsByPort);
    logKinds(side, 'mix', m.byKind, m.result.ops);
    cell.mix = {
      perSecond: m.result.opsPerSecond,
      p50Ms: m.result.p50Ms,
      p99Ms: m.result.p99Ms,
      serverMsPerOp: m.serverMs / m.result.ops,
      dbMsPerOp: m.dbMs / m.result.ops,
    };
    log(
      `${side.name}: mix ${m.result.opsPerSecond.toFixed(0)} ops/s, server ${mixCpuMs(cell.mix.serverMsPerOp)}, PostgreSQL ${mixCpuMs(cell.mix.dbMsPerOp)} per op`,
    );
    log(
      `${side.name}: mix ms per command, mean / p99: ${Object.keys(m.result.perCommandMeanMs)
        .map(
          (k) =>
            `${k} ${m.result.perCommandMeanMs[k]!.toFixed(1)} / ${m.result.perCommandP99[k]!.toFixed(0)}`,
        )
        .join(', ')}`,
    );
    if (args['pg-alternate'] && side.dbPid && pg) await alternateSettings(side, pg.url);
  }
  return cell;
}

/**
 * --pg-alternate name=value,...: after a PostgreSQL cell's mix, the mix again
 * --alternate-rounds times with the cluster as started and as many with these settings
 * (ALTER SYSTEM and a reload between the phases, so only settings a reload changes), in turn
 * on the same cluster and the same warm nodes: a settings A/B where two bench runs at
 * different minutes would differ more by the machine's load than by the setting.
 */
async function alternateSettings(side: Side, url: string): Promise<void> {
  const alt = parseSettings(args['pg-alternate']);
  const { default: pgDriver } = await import('pg');
  const c = new pgDriver.Client({ connectionString: url });
  await c.connect();
  const apply = async (on: boolean) => {
    for (const [k, v] of Object.entries(alt)) {
      await c.query(
        on
          ? `ALTER SYSTEM SET ${c.escapeIdentifier(k)} = ${c.escapeLiteral(v)}`
          : `ALTER SYSTEM RESET ${c.escapeIdentifier(k)}`,
      );
    }
    await c.query('SELECT pg_reload_conf()');
  };
  const sums = { base: [0, 0, 0, 0], alt: [0, 0, 0, 0] };
  try {
    for (let i = 0; i < Number(args['alternate-rounds']) * 2; i++) {
      const on = i % 2 === 1;
      await apply(on);
      const m = await measured(side, () => mix(side, durationMs));
      const ops = m.result.ops;
      const label = on ? 'alt' : 'base';
      const sum = sums[label];
      sum[0]! += ops;
      sum[1]! += m.serverMs;
      sum[2]! += m.dbMs;
      sum[3]! += (ops * 1000) / m.result.opsPerSecond;
      log(
        `${side.name} mix, ${on ? args['pg-alternate'] : 'as started'}: ${m.result.opsPerSecond.toFixed(0)} ops/s, server ${mixCpuMs(m.serverMs / ops)}, PostgreSQL ${mixCpuMs(m.dbMs / ops)} per op`,
      );
      logPerNode(
        side,
        `mix, ${on ? args['pg-alternate'] : 'as started'}`,
        m.perNodeMs,
        ops,
        m.result.opsByPort,
      );
    }
  } finally {
    await apply(false).catch(() => {});
    await c.end();
  }
  for (const label of ['base', 'alt'] as const) {
    const [ops, server, db, elapsed] = sums[label] as [number, number, number, number];
    log(
      `${side.name} mix, ${label === 'alt' ? args['pg-alternate'] : 'as started'}, all phases: ${((ops * 1000) / elapsed).toFixed(0)} ops/s, server ${mixCpuMs(server / ops)}, PostgreSQL ${mixCpuMs(db / ops)} per op`,
    );
  }
}

/** --node-args, for every server. */
const extraNodeArgs = args['node-args'].split(' ').filter((a) => a !== '');

function nodeArgs(name: string): string[] {
  if (!args['cpu-prof']) return extraNodeArgs;
  const dir = join(profDir, name);
  mkdirSync(dir, { recursive: true });
  return [...extraNodeArgs, '--cpu-prof', `--cpu-prof-dir=${dir}`];
}

async function serve(setup: LetterboxSetup, name: string): Promise<LetterboxServer> {
  const s = await serveLetterbox(setup, nodeArgs(name));
  if (!s.imap) throw new Error(`${name} does not serve IMAP; see ${s.logFile}`);
  running.add(s);
  return s;
}

async function stop(s: LetterboxServer): Promise<void> {
  await s.stop();
  running.delete(s);
}

function printProfiles(): void {
  for (const name of readdirSync(profDir)) {
    const file = readdirSync(join(profDir, name)).find((f) => f.endsWith('.cpuprofile'));
    if (!file) continue;
    const path = join(profDir, name, file);
    const { byFile, byFunction } = summarizeProfile(JSON.parse(readFileSync(path, 'utf8')));
    const show = (l: typeof byFile) =>
      l
        .slice(0, 15)
        .map((h) => `  ${(h.share * 100).toFixed(1).padStart(5)}%  ${h.name}`)
        .join('\n');
    log(`\n${name} CPU profile (${path}), self time by file:\n${show(byFile)}`);
    log(`by function:\n${show(byFunction)}`);
  }
}

async function main(): Promise<void> {
  log(`bench/scale: work directory ${base}`);
  const users = [...MIX_USERS, ...SMTP_USERS, ...(doLogin ? LOGIN_USERS : [])];
  const mixMessages = Number(args['mix-messages']);
  const maxConnectionsPerIp = 1000;

  // SQLite, one node.
  const sqliteSetup = await setupLetterbox({
    root,
    dir: join(base, 'sqlite'),
    users,
    password: PASSWORD,
    maxConnectionsPerIp,
  });
  let t = performance.now();
  if (doMix) {
    for (const u of MIX_USERS) await fillLetterbox(sqliteSetup, u, mixMessages, mixCorpus.message);
  }
  if (doLogin) {
    for (const u of LOGIN_USERS)
      await fillLetterbox(sqliteSetup, u, LOGIN_MIX_MESSAGES, mixCorpus.message);
  }
  log(`sqlite: filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // PostgreSQL, and the nodes' configs (each node its own data directory: keys, logs).
  pg = await startPostgres(join(base, 'postgres'), {
    ...(args['pg-defaults'] ? {} : RECOMMENDED_SETTINGS),
    ...(args['pg-statements'] ? STATEMENT_STATS : {}),
    ...parseSettings(args['pg-conf']),
  });
  log(`${pg.version}: ${pg.url}`);
  log(`postgres settings: ${settingsLine()}`);
  const pgSetups: LetterboxSetup[] = [];
  for (let i = 1; i <= maxNodes; i++) {
    pgSetups.push(
      await setupLetterbox({
        root,
        dir: join(base, `node-${i}`),
        // The directory is in the database: the first node's CLI makes the users for all.
        users: i === 1 ? users : [],
        password: PASSWORD,
        maxConnectionsPerIp,
        config: {
          store: {
            kind: 'postgres',
            url: pg.url,
            pool_size: Number(args['pool-size']),
            ...(args['pool-idle-seconds'] === undefined
              ? {}
              : { pool_idle_seconds: Number(args['pool-idle-seconds']) }),
            node_id: `node-${i}`,
          },
        },
      }),
    );
  }
  t = performance.now();
  if (doMix) {
    for (const u of MIX_USERS) await fillLetterbox(pgSetups[0]!, u, mixMessages, mixCorpus.message);
  }
  if (doLogin) {
    for (const u of LOGIN_USERS)
      await fillLetterbox(pgSetups[0]!, u, LOGIN_MIX_MESSAGES, mixCorpus.message);
  }
  log(`postgres: filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  if (doMix && !args['no-dovecot']) {
    dv = await startDovecot({
      script: join(here, '..', 'lib', 'setup-dovecot.sh'),
      dir: join(base, 'dovecot'),
      users: MIX_USERS,
      password: PASSWORD,
    });
    for (const u of MIX_USERS) await dv.fill(u, mixMessages, mixCorpus.message);
    log(`dovecot ${dv.version}: IMAP on 127.0.0.1:${dv.imapPort}`);
  }

  const cells: Cell[] = [];
  /** SQLite's cell of `round`: its server started for it and stopped after. */
  const sqliteCell = async (round: number) => {
    const lite = await serve(sqliteSetup, `sqlite-r${round}`);
    cells.push(
      await runCells(
        {
          name: 'sqlite',
          smtpPorts: [sqliteSetup.ports.smtp],
          imapPorts: [sqliteSetup.ports.imap],
          serverPids: () => [lite.pid],
        },
        1,
        'sqlite',
      ),
    );
    await stop(lite);
  };
  /** Dovecot's cell (the mix only), when it runs. */
  const dovecotCell = async () => {
    if (!dv) return;
    const d = dv;
    cells.push(
      await runCells(
        {
          name: 'dovecot',
          smtpPorts: [],
          imapPorts: [d.imapPort],
          serverPids: () => {
            const p = d.masterPid();
            return p ? [p] : [];
          },
        },
        1,
        'dovecot',
      ),
    );
  };
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round} of ${rounds}`);
    // The cells run one after another, and this machine's speed moves by 10-40% within
    // minutes: odd rounds run SQLite, the nodes, Dovecot; even rounds Dovecot, the nodes,
    // SQLite, so that over a pair of rounds a drift falls on every cell alike and the ratios
    // to SQLite hold (two tables minutes apart gave one node 0.85x and 0.46x of SQLite).
    const reversed = round % 2 === 0;
    if (reversed) await dovecotCell();
    else await sqliteCell(round);

    const nodes: LetterboxServer[] = [];
    for (const n of [...nodeCounts].sort((a, b) => a - b)) {
      while (nodes.length < n) {
        const i = nodes.length;
        nodes.push(await serve(pgSetups[i]!, `node-${i + 1}-r${round}`));
        // A node started for this cell has not run the earlier cells' load as the others
        // have: alone first, so that its JIT is as warm as theirs when the cell is measured.
        if (i > 0 && doSmtp) {
          await smtp(
            {
              name: `node ${i + 1}`,
              smtpPorts: [pgSetups[i]!.ports.smtp],
              imapPorts: [],
              serverPids: () => [],
            },
            joinWarm,
          );
        }
        if (i > 0 && doMix && joinMix > 0) {
          const node = nodes[i]!;
          const alone: Side = {
            name: `node ${i + 1}`,
            smtpPorts: [],
            imapPorts: [pgSetups[i]!.ports.imap],
            serverPids: () => [node.pid],
            dbPid: () => pg?.postmasterPid(),
          };
          await mix(alone, joinMix);
          await waitIdle(alone);
        }
      }
      const up = nodes.slice(0, n);
      cells.push(
        await runCells(
          {
            name: `postgres x${n}`,
            smtpPorts: pgSetups.slice(0, Math.min(n, loadNodes)).map((s) => s.ports.smtp),
            imapPorts: pgSetups.slice(0, Math.min(n, loadNodes)).map((s) => s.ports.imap),
            serverPids: () => up.map((s) => s.pid),
            dbPid: () => pg?.postmasterPid(),
          },
          n,
          'postgres',
        ),
      );
    }
    for (const s of nodes) await stop(s);

    if (reversed) await sqliteCell(round);
    else await dovecotCell();
  }

  dv?.stop();
  pg?.stop();
  if (args['cpu-prof']) printProfiles();
  process.stdout.write(
    formatScaleReport(cells, {
      notes: [
        `${cpus().length} CPUs, shared by the client, the servers and PostgreSQL.`,
        `${pg.version}, on 127.0.0.1, fsync and synchronous_commit on, ${settingsLine()}; Letterbox pool_size ${args['pool-size']} per node.`,
        `SMTP: ${smtpMessages} messages of ${template.size} bytes per cell over ${smtpSessions} sessions (split over the nodes) ${smtpAccounts === 1 ? 'to one account' : `to ${smtpAccounts} accounts (session j to account j mod ${smtpAccounts})`}, after ${warmMessages} untimed.`,
        `IMAP mix (bench/imap (a)): ${clients} clients for ${args.duration} s (client i on node i mod N), after ${args['warmup-seconds']} s untimed; ${MIX_USERS.length} accounts of ${mixMessages} messages.`,
        dv
          ? `Dovecot ${dv.version} (mail_fsync = always) in the mix only: it has no SMTP server.`
          : 'Dovecot not run.',
        'CPU per operation: user + system time of the Letterbox processes (all nodes of the cell) and of the postmaster tree, from before the load until all are idle again.',
      ],
    }),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    failed = true;
    log(`bench/scale failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    for (const s of running) log(`letterbox log: ${s.logFile}`);
    process.exit(1);
  },
);
