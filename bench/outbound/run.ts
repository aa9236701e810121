// Outbound bench: the same queue of messages drained by Letterbox and by a private Postfix to
// the same loopback sink (Postfix's smtp-sink), at each connection count, printed side by side.
// Usage (from the repository root):
//   node --import tsx bench/outbound/run.ts [--connections 10,50] [--messages 10000]
//     [--size 10240] [--backlog 100000] [--rounds 1] [--feed-sessions 10]
//     [--route mx|smarthost]
//     [--only letterbox|postfix] [--cpu-prof] [--keep]
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startDnsServer, type TestDnsServer } from '../../test/helpers/dns-server.js';
import type { ServeProcess } from '../lib/letterbox-server.js';
import { messageTemplate } from '../lib/message.js';
import { freePort, peakRss, RssSampler } from '../lib/proc.js';
import { treeCpuWithChildrenMs, waitIdle } from './cpu.js';
import { feed } from './feed.js';
import { type RouteKind, setupLetterbox } from './letterbox.js';
import { type PostfixBench, startPostfix } from './postfix.js';
import { type DrainResult, printReport, type Row } from './report.js';
import { findSmtpSink, type Sink, type SinkTimes, startSink } from './sink.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const SENDER = 'bench@a.bench.test';
const PASSWORD = 'bench-password';
const DEST_DOMAIN = 'dest.bench.test';
const RECIPIENT = `sink@${DEST_DOMAIN}`;
const script = join(here, 'setup-postfix.sh');

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string' },
    messages: { type: 'string', default: '10000' },
    size: { type: 'string', default: '10240' },
    backlog: { type: 'string' },
    'feed-sessions': { type: 'string', default: '10' },
    rounds: { type: 'string', default: '1' },
    route: { type: 'string', default: 'mx' },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const backlog = args.backlog !== undefined;
const messages = Number(backlog ? args.backlog : args.messages);
// The backlog mode is about memory with a deep queue: one run, at 50 connections, by default.
const connectionCounts = (args.connections ?? (backlog ? '50' : '10,50')).split(',').map(Number);
const size = Number(args.size);
const feedSessions = Number(args['feed-sessions']);
const rounds = Math.max(1, Number(args.rounds));
const route = args.route as RouteKind;
if (route !== 'mx' && route !== 'smarthost') throw new Error('--route mx|smarthost');
const runLetterbox = args.only !== 'postfix';
let runPostfix = args.only !== 'letterbox';
/** Generous: a slow side is reported as incomplete, not waited for forever. */
const drainTimeoutMs = 120_000 + messages * 10;

const base = mkdtempSync(join(tmpdir(), 'letterbox-bench-outbound-'));
// Postfix's unprivileged processes must be able to search down to their directories.
chmodSync(base, 0o755);
const live: { stop(): void }[] = [];

function cleanup(): void {
  for (const x of live.splice(0)) x.stop();
  if (!args.keep && !args['cpu-prof']) rmSync(base, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => process.exit(130));
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function template(tag: string) {
  return messageTemplate({ size, from: SENDER, to: RECIPIENT, tag });
}

async function newSink(binary: string): Promise<Sink> {
  const sink = await startSink(binary, await freePort());
  live.push(sink);
  return sink;
}

/**
 * Several rounds as one: the median rate and, on its own, the median CPU per message; the
 * largest peaks; the rest from the round of the median rate.
 */
function median(results: DrainResult[]): DrainResult {
  const mid = <T>(xs: T[], key: (x: T) => number) =>
    [...xs].sort((a, b) => key(a) - key(b))[Math.floor((xs.length - 1) / 2)]!;
  const byRate = mid(results, (r) => r.perSecond);
  const byCpu = mid(results, (r) => r.cpuSeconds / r.messages);
  const max = (f: (r: DrainResult) => number | undefined) => {
    const v = results.map(f).filter((x): x is number => x !== undefined);
    return v.length > 0 ? Math.max(...v) : undefined;
  };
  const peakRss = max((r) => r.peakRss);
  const peakPss = max((r) => r.peakPss);
  return {
    ...byRate,
    cpuSeconds: (byCpu.cpuSeconds / byCpu.messages) * byRate.messages,
    complete: results.every((r) => r.complete),
    ...(peakRss === undefined ? {} : { peakRss }),
    ...(peakPss === undefined ? {} : { peakPss }),
    all: results,
  };
}

function rate(count: number, t: SinkTimes | undefined, sink: Sink) {
  const n = t ? count : sink.messages();
  const seconds = t ? (t.lastAt - t.firstAt) / 1000 : Number.NaN;
  return { n, seconds, perSecond: n > 1 ? (n - 1) / seconds : Number.NaN };
}

async function letterboxRun(sinkBin: string, dns: TestDnsServer, conns: number, round: number) {
  const sink = await newSink(sinkBin);
  const dir = join(base, `letterbox-c${conns}-r${round}`);
  mkdirSync(dir);
  const lb = await setupLetterbox({
    root,
    dir,
    sender: SENDER,
    password: PASSWORD,
    sinkPort: sink.port,
    dns: dns.address,
    connections: conns,
    route,
  });
  let proc: ServeProcess | undefined;
  const track = (p: ServeProcess) => {
    proc = p;
    live.push({ stop: () => p.kill() });
    return p;
  };
  try {
    // 1. Fill through submission, delivery off.
    track(await lb.serve());
    const filled = await feed({
      port: lb.submissionPort,
      sessions: feedSessions,
      count: messages,
      template: template(`lb-c${conns}`),
      sender: SENDER,
      recipient: RECIPIENT,
      auth: { user: SENDER, password: PASSWORD },
      progress: (n) => log(`  letterbox: ${n} queued`),
    });
    if (filled.error) throw new Error(`filling Letterbox: ${filled.error}`);
    await proc!.stop();
    log(
      `letterbox c${conns}: ${filled.messages} queued in ${(filled.elapsedMs / 1000).toFixed(1)} s`,
    );

    // 2. What a start costs without delivery, on the same store: subtracted below.
    const idle = track(await lb.serve());
    await waitIdle(idle.pid, { minMs: 1000 });
    const startCpu = treeCpuWithChildrenMs(idle.pid);
    await idle.stop();

    // 3. The drain.
    lb.setDeliver(true);
    const profDir = join(base, 'cpu-prof');
    if (args['cpu-prof']) mkdirSync(profDir, { recursive: true });
    const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    const dnsBefore = dns.queries.length;
    const run = track(await lb.serve(nodeArgs));
    const sampler = new RssSampler(() => run.pid);
    sampler.start();
    const times = await sink.waitFor(messages, drainTimeoutMs);
    await waitIdle(run.pid, { minMs: 6000 });
    const cpuMs = treeCpuWithChildrenMs(run.pid) - startCpu;
    const hwm = peakRss(run.pid);
    const sampled = sampler.stop();
    const dnsQueries = dns.queries.length - dnsBefore;
    await run.stop();
    await sink.settle(1000, 10_000);
    const r = rate(messages, times, sink);
    const result: DrainResult = {
      messages: r.n,
      complete: times !== undefined,
      drainSeconds: r.seconds,
      perSecond: r.perSecond,
      cpuSeconds: cpuMs / 1000,
      peakRss: hwm ?? sampled.rss,
      sessions: sink.sessions(),
      left: lb.queued(),
      fillPerSecond: filled.messages / (filled.elapsedMs / 1000),
      dnsQueries,
    };
    log(
      `letterbox c${conns}: ${result.messages} delivered in ${result.drainSeconds.toFixed(2)} s ` +
        `(${result.perSecond.toFixed(0)} msg/s), CPU ${result.cpuSeconds.toFixed(2)} s ` +
        `(start-up ${(startCpu / 1000).toFixed(2)} s subtracted)`,
    );
    if (!result.complete) log(`  letterbox log: ${run.logFile}`);
    return result;
  } finally {
    proc?.kill();
    sink.stop();
    if (!args.keep && !args['cpu-prof']) rmSync(dir, { recursive: true, force: true });
  }
}

async function postfixRun(sinkBin: string, conns: number, round: number) {
  const sink = await newSink(sinkBin);
  const dir = join(base, `postfix-c${conns}-r${round}`);
  mkdirSync(dir);
  let pf: PostfixBench | undefined;
  try {
    pf = await startPostfix({ script, dir, sinkPort: sink.port, connections: conns });
    live.push(pf);
    const side = pf;
    const filled = await feed({
      port: side.port,
      sessions: feedSessions,
      count: messages,
      template: template(`pf-c${conns}`),
      sender: SENDER,
      recipient: RECIPIENT,
      progress: (n) => log(`  postfix: ${n} queued`),
    });
    if (filled.error) throw new Error(`filling Postfix: ${filled.error}`);
    if (!(await side.waitDeferred(filled.messages, drainTimeoutMs))) {
      throw new Error(`Postfix did not defer every message: ${JSON.stringify(side.queueFiles())}`);
    }
    log(
      `postfix c${conns}: ${filled.messages} queued in ${(filled.elapsedMs / 1000).toFixed(1)} s`,
    );
    side.release();
    const master = side.masterPid();
    if (master === undefined) throw new Error('no Postfix master pid');
    await waitIdle(master, { minMs: 2000 });
    const before = treeCpuWithChildrenMs(master);
    const sampler = new RssSampler(() => side.masterPid());
    sampler.start();
    side.flush();
    const times = await sink.waitFor(messages, drainTimeoutMs);
    await waitIdle(master, { minMs: 6000 });
    const cpuMs = treeCpuWithChildrenMs(master) - before;
    const mem = sampler.stop();
    const q = side.queueFiles();
    side.stop();
    await sink.settle(1000, 10_000);
    const r = rate(messages, times, sink);
    const result: DrainResult = {
      messages: r.n,
      complete: times !== undefined,
      drainSeconds: r.seconds,
      perSecond: r.perSecond,
      cpuSeconds: cpuMs / 1000,
      peakRss: mem.rss,
      peakPss: mem.pss,
      sessions: sink.sessions(),
      left: q.incoming + q.active + q.deferred + q.hold,
      fillPerSecond: filled.messages / (filled.elapsedMs / 1000),
    };
    log(
      `postfix c${conns}: ${result.messages} delivered in ${result.drainSeconds.toFixed(2)} s ` +
        `(${result.perSecond.toFixed(0)} msg/s), CPU ${result.cpuSeconds.toFixed(2)} s`,
    );
    if (!result.complete) log(side.logTail(20));
    return result;
  } finally {
    pf?.stop();
    sink.stop();
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  log(`bench/outbound: work directory ${base}`);
  if (runPostfix && process.getuid?.() !== 0) {
    log('postfix: skipped (a private Postfix instance has to be started as root)');
    runPostfix = false;
  }
  const sinkBin = findSmtpSink(() => {
    const r = spawnInstall();
    if (r !== 0) throw new Error(`setup-postfix.sh --install failed (exit ${r})`);
  });
  const dns = await startDnsServer();
  live.push({ stop: () => void dns.close() });
  dns.set(DEST_DOMAIN, { MX: [{ priority: 10, exchange: `mx.${DEST_DOMAIN}` }] });
  dns.set(`mx.${DEST_DOMAIN}`, { A: ['127.0.0.1'] });

  const rows: Row[] = [];
  for (const conns of connectionCounts) {
    // Rounds alternate between the servers, so that load from elsewhere on the machine falls
    // on both; each round fills and drains a fresh queue.
    const lb: DrainResult[] = [];
    const pf: DrainResult[] = [];
    for (let round = 1; round <= rounds; round++) {
      if (rounds > 1) log(`${conns} connections, round ${round} of ${rounds}`);
      if (runLetterbox) lb.push(await letterboxRun(sinkBin, dns, conns, round));
      if (runPostfix) pf.push(await postfixRun(sinkBin, conns, round));
    }
    const row: Row = { connections: conns, rounds };
    if (lb.length > 0) row.letterbox = median(lb);
    if (pf.length > 0) row.postfix = median(pf);
    rows.push(row);
  }
  await dns.close();
  if (args['cpu-prof']) log(`CPU profiles of the Letterbox server in ${join(base, 'cpu-prof')}`);
  printReport({
    rows,
    messages,
    size: template('x').size,
    cpus: cpus().length,
    route,
    backlog,
    notes: [
      `Command: node --import tsx bench/outbound/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    ],
  });
}

function spawnInstall(): number {
  return spawnSync('bash', [script, '--install'], { stdio: 'inherit' }).status ?? 1;
}

main().then(
  () => process.exit(0),
  (err) => {
    log(
      `bench/outbound failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    process.exit(1);
  },
);
