// Two (or more) builds of Letterbox side by side on the IMAP login-heavy mix (issue 19, the
// iteration of login.ts): every server starts at once on a store of its own filled alike, each
// gets the same warm-up, then rounds alternate between them (A B, B A, ...) so that the load
// of a shared machine falls on all. Per round and in total it prints commands/s and the
// server's CPU per command until it is idle again, split into the main thread and the others
// (the full-text worker, libuv's pool, V8's), from /proc/PID/task. No Dovecot: run.ts
// --phases login compares with it.
//   node --import tsx bench/imap/ab-login.ts --roots /path/before,/path/after
//     [--clients 10] [--iterations 100] [--rounds 4] [--warmup 200] [--cpu-prof]
//     [--node-args="--trace-opt ..."]  (more flags for every server, space-separated)
//     [--side-args 'FLAGS FOR THE FIRST ROOT|FLAGS FOR THE SECOND']  (a root may be named
//     twice with different flags: one build under two sets of node flags, as
//     bench/smtp/ab-builds.ts)  [--keep]  (the servers' directories and logs left, as with
//     --cpu-prof: e.g. --node-args=--trace-gc's lines are in each side's letterbox.log)
// Each root is a checkout with dist/ built (npm run build) and node_modules.
// The warm-up is 200 iterations per client: after 60, V8 still compiled through the first
// rounds (the threads besides main at 129, 96, 74, 60, 59 us per command in six rounds of one
// build, 1,273 optimizations logged by --trace-opt), and the first pairs of two A/Bs ran at
// 420/420, and 424/356 then 323/416 us per command, against 217-389 in their later rounds;
// after 200, 309/320 against 251-310 (thirteenth session).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LetterboxServer } from '../lib/letterbox-server.js';
import { threadCpuTimes as threadCpu } from '../lib/proc.js';
import { waitIdle } from '../outbound/cpu.js';
import {
  LOGIN_MIX_COMMANDS,
  loginAppendMessage,
  loginLoad,
  loginUsers,
  serveLoginLetterbox,
} from './login.js';

const { values: args } = parseArgs({
  options: {
    roots: { type: 'string' },
    clients: { type: 'string', default: '10' },
    iterations: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '200' },
    'cpu-prof': { type: 'boolean', default: false },
    'node-args': { type: 'string', default: '' },
    'side-args': { type: 'string', default: '' },
    keep: { type: 'boolean', default: false },
  },
});
if (!args.roots) throw new Error('--roots A,B: the checkouts to compare');
const clients = Number(args.clients);
const PASSWORD = 'bench-password';
const USERS = loginUsers(clients);
const IDLE = { windowMs: 500, busyMs: 20, maxMs: 120_000 };
const base = mkdtempSync(join(tmpdir(), 'letterbox-ab-login-'));
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Side {
  root: string;
  /** The root and its --side-args, as the lines name the side. */
  name: string;
  server: LetterboxServer;
  port: number;
  commands: number;
  elapsedMs: number;
  main: number;
  other: number;
}

const sides: Side[] = [];
process.on('exit', () => {
  for (const s of sides) s.server.kill();
  if (!args['cpu-prof'] && !args.keep) rmSync(base, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => process.exit(130));

async function main(): Promise<void> {
  log(`ab-login: work directory ${base}`);
  const roots = args.roots!.split(',');
  const sideArgs = args['side-args']!.split('|');
  for (const [i, root] of roots.entries()) {
    const dir = join(base, `side${i}`);
    const nodeArgs = [
      ...(args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'prof')}`] : []),
      ...args['node-args']!.split(' ').filter((a) => a !== ''),
      ...(sideArgs[i] ?? '').split(' ').filter((a) => a !== ''),
    ];
    const { server, port } = await serveLoginLetterbox({
      root,
      dir,
      users: USERS,
      password: PASSWORD,
      nodeArgs,
    });
    sides.push({
      root,
      name: sideArgs[i] ? `${root} [${sideArgs[i]}]` : root,
      server,
      port,
      commands: 0,
      elapsedMs: 0,
      main: 0,
      other: 0,
    });
    log(`side ${i}: ${sides[i]!.name}, pid ${server.pid}`);
  }
  let seq = 0;
  const run = async (s: Side, iterations: number, count: boolean) => {
    const round = seq++;
    await waitIdle(s.server.pid, { minMs: 0, ...IDLE });
    const before = threadCpu(s.server.pid);
    const r = await loginLoad(
      s.port,
      USERS,
      PASSWORD,
      clients,
      iterations,
      loginAppendMessage(round),
    );
    await waitIdle(s.server.pid, { minMs: 1500, ...IDLE });
    const after = threadCpu(s.server.pid);
    if (r.error) throw new Error(`${s.root}: ${r.error}`);
    const commands = r.iterations * LOGIN_MIX_COMMANDS;
    const main = after.main - before.main;
    const other = after.other - before.other;
    if (count) {
      s.commands += commands;
      s.elapsedMs += r.elapsedMs;
      s.main += main;
      s.other += other;
    }
    return { commands, elapsedMs: r.elapsedMs, main, other };
  };
  const line = (
    label: string,
    s: Side,
    r: { commands: number; elapsedMs: number; main: number; other: number },
  ) =>
    `${label} ${s.name}: ${((r.commands * 1000) / r.elapsedMs).toFixed(0)} commands/s, CPU ` +
    `${(((r.main + r.other) * 1000) / r.commands).toFixed(0)} us/command (main ` +
    `${((r.main * 1000) / r.commands).toFixed(0)}, other threads ${((r.other * 1000) / r.commands).toFixed(0)})`;
  for (const s of sides) await run(s, Number(args.warmup), false);
  log('warm-up done');
  for (let i = 0; i < Number(args.rounds); i++) {
    const order = i % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) log(line(`round ${i}`, s, await run(s, Number(args.iterations), true)));
  }
  for (const s of sides) process.stdout.write(`${line('total', s, s)}\n`);
  for (const s of sides) await s.server.stop();
  if (args['cpu-prof']) log(`CPU profiles kept under ${base}/side*/prof`);
  else if (args.keep) log(`servers' directories kept under ${base}/side*`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(String(err instanceof Error ? (err.stack ?? err.message) : err));
    process.exit(1);
  },
);
