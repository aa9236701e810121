// Two builds of Letterbox side by side, one connection per message (issue 19): both servers
// start at once, each gets the same warm-up, then rounds alternate between them (A B, B A,
// ...) so that the load of a shared machine falls on both. Per round and in total it prints
// the server's CPU per message until it is idle again, split by thread (main, the full-text
// worker as `fts`, and `other`: libuv's pool and V8's), from /proc/PID/task. No Postfix:
// bench/smtp/run.ts --per-connection compares with it.
//   node --import tsx bench/smtp/ab-builds.ts --roots /path/before,/path/after
//     [--driver smtp-source|bench] [--sessions 10] [--messages 2000] [--rounds 4]
//     [--warmup 4500] [--size 10240] [--cpu-prof] [--node-args '--heap-prof ...']
//     [--side-args 'ARGS FOR THE FIRST ROOT|ARGS FOR THE SECOND'] [--kept 0,1]
// A root may be named twice with different --side-args: one build under two sets of node
// flags (e.g. --max-semi-space-size).
// Or under two environments: --side-args=--env-file=A.env|--env-file=B.env (with the '=':
// Node 20 takes an --env-file it finds anywhere in its command line, the bench's own included).
// --kept '0,1' keeps each client connection for all its messages (smtp-source -d; the bench
// client sends them on one connection) on the sides marked 1: with one root named twice, the
// part of a message's CPU that its own connection costs, in the same minutes.
// Each root is a checkout with dist/ built (npm run build) and node_modules.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { messageTemplate } from '../lib/message.js';
import { runLoad } from '../lib/smtp-load.js';
import { runSmtpSource, smtpSourcePath } from '../lib/smtp-source.js';
import { waitIdle } from '../outbound/cpu.js';
import { type LetterboxSide, startLetterbox } from './letterbox.js';

const { values: args } = parseArgs({
  options: {
    roots: { type: 'string' },
    driver: { type: 'string', default: 'smtp-source' },
    sessions: { type: 'string', default: '10' },
    messages: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '4500' },
    size: { type: 'string', default: '10240' },
    'cpu-prof': { type: 'boolean', default: false },
    /** More options for the servers' node, space-separated (`--heap-prof`, `--trace-gc`). */
    'node-args': { type: 'string', default: '' },
    /** Node options per root, `|` between roots, in --roots' order (after --node-args). */
    'side-args': { type: 'string', default: '' },
    /** Per root, in --roots' order: 1 keeps the connections (no connection per message). */
    kept: { type: 'string', default: '' },
  },
});
if (!args.roots) throw new Error('--roots A,B: the checkouts to compare');
const roots = args.roots.split(',');
const sessions = Number(args.sessions);
const messages = Number(args.messages);
const rounds = Number(args.rounds);
const size = Number(args.size);
const SENDER = 'sender@bench-client.test';
const RECIPIENT = 'bench@bench.test';
const binary = smtpSourcePath();
if (args.driver === 'smtp-source' && !binary) throw new Error('smtp-source not found');

/** Each thread's CPU ms (utime + stime, proc(5) fields 14 and 15, ticks of 10 ms), by TID. */
function perThread(pid: number): Map<number, number> {
  const m = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      m.set(Number(tid), (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // The thread ended while we looked.
    }
  }
  return m;
}

/**
 * The full-text worker's thread: the busiest after the main one over the warm-up. Node names
 * every thread "node" here (its worker, libuv's pool, V8's helpers), so the name cannot tell.
 */
const ftsThread = new Map<number, number>();

/** CPU ms per thread group: main (the pid's own thread), fts (see ftsThread), the others. */
function threadCpu(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const [tid, ms] of perThread(pid)) {
    const key = tid === pid ? 'main' : tid === ftsThread.get(pid) ? 'fts' : 'other';
    m.set(key, (m.get(key) ?? 0) + ms);
  }
  return m;
}

const kept = args.kept.split(',').map((k) => k === '1');

async function drive(
  port: number,
  n: number,
  keep = false,
): Promise<{ elapsedMs: number; error?: string }> {
  if (args.driver === 'bench') {
    return runLoad({
      host: '127.0.0.1',
      port,
      sessions,
      template: messageTemplate({ size, from: SENDER, to: RECIPIENT, tag: 'ab' }),
      sender: SENDER,
      recipient: RECIPIENT,
      durationMs: 3_600_000,
      maxMessages: n,
      perConnection: !keep,
    });
  }
  return runSmtpSource({
    binary: binary!,
    host: '127.0.0.1',
    port,
    sessions,
    messages: n,
    bodyBytes: size,
    sender: SENDER,
    recipient: RECIPIENT,
    keepConnection: keep,
  });
}

const sides: LetterboxSide[] = [];
process.on('exit', () => {
  for (const s of sides) s.kill();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(1));
const sideArgs = args['side-args'].split('|');
const labels = roots.map(
  (r, i) => `${r}${sideArgs[i] ? ` [${sideArgs[i]}]` : ''}${kept[i] ? ' (kept connections)' : ''}`,
);
for (const [i, root] of roots.entries()) {
  const dir = mkdtempSync(join(tmpdir(), 'letterbox-ab-'));
  const prof = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'cpu-prof')}`] : [];
  for (const a of args['node-args'].split(' ')) if (a !== '') prof.push(a);
  for (const a of (sideArgs[i] ?? '').split(' ')) if (a !== '') prof.push(a);
  const side = await startLetterbox({ root, dir, recipient: RECIPIENT, nodeArgs: prof });
  sides.push(side);
  process.stderr.write(`${labels[i]}: pid ${side.pid}, ${dir}\n`);
}
for (const s of sides) {
  const r = await drive(s.port, Number(args.warmup), kept[sides.indexOf(s)]);
  if (r.error) throw new Error(r.error);
  let busiest: [number, number] = [0, -1];
  for (const [tid, ms] of perThread(s.pid))
    if (tid !== s.pid && ms > busiest[1]) busiest = [tid, ms];
  ftsThread.set(s.pid, busiest[0]);
}
const totals = sides.map(() => new Map<string, number>());
const sent = sides.map(() => 0);
const perMsg = (ms: number, n: number) => ((ms * 1000) / n).toFixed(0);
for (let round = 0; round < rounds; round++) {
  const order = sides.map((_, i) => i);
  if (round % 2 === 1) order.reverse();
  for (const i of order) {
    const s = sides[i]!;
    await waitIdle(s.pid, { minMs: 0 });
    const before = threadCpu(s.pid);
    const r = await drive(s.port, messages, kept[i]);
    if (r.error) throw new Error(r.error);
    // As bench/smtp/per-connection.ts: deferred work (indexing, purges) is counted.
    await waitIdle(s.pid, { minMs: 1500 });
    const after = threadCpu(s.pid);
    let all = 0;
    const parts: string[] = [];
    for (const [k, v] of after) {
      const d = v - (before.get(k) ?? 0);
      all += d;
      totals[i]!.set(k, (totals[i]!.get(k) ?? 0) + d);
      if (d > 0) parts.push(`${k} ${perMsg(d, messages)}`);
    }
    sent[i]! += messages;
    const rate = (messages / (r.elapsedMs / 1000)).toFixed(0);
    process.stderr.write(
      `round ${round} ${labels[i]}: ${perMsg(all, messages)} us/msg (${parts.join(', ')}), ${rate} msg/s\n`,
    );
  }
}
for (let i = 0; i < sides.length; i++) {
  let all = 0;
  const parts: string[] = [];
  for (const [k, v] of [...totals[i]!].sort((a, b) => b[1] - a[1])) {
    all += v;
    if (v > 0) parts.push(`${k} ${perMsg(v, sent[i]!)}`);
  }
  console.log(`${labels[i]}: ${perMsg(all, sent[i]!)} us/msg (${parts.join(', ')})`);
}
for (const s of sides) await s.stop();
