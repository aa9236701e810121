// How much of Letterbox's CPU per command in the IMAP login-heavy mix is Node's and the
// kernel's own (issue 19, beside bench/smtp/node-floor.ts): Letterbox's server (a built tree,
// --root) beside floor-responder.mjs, the least an IMAP responder on Node does (canned replies
// of the same shape and bytes, APPEND's literal read to its end, no store), both driven by the
// login mix's client (login.ts: connect, LOGIN, SELECT, FETCH, APPEND, STORE, EXPUNGE, LOGOUT)
// with the same clients and iterations. Rounds alternate between the two, so a shared
// machine's load falls on both. Per cell it prints the server's CPU per command counted until
// it is idle again (user and system apart, and the main thread apart from the others), and the
// rate; then Letterbox's cost above the floor.
//   node --import tsx bench/imap/node-floor.ts [--root DIR] [--clients 10] [--iterations 100]
//     [--rounds 4] [--warmup 200]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { waitForBanner } from '../lib/dovecot.js';
import { freePort, threadCpuTimes } from '../lib/proc.js';
import { waitIdle } from '../outbound/cpu.js';
import {
  LOGIN_MIX_COMMANDS,
  loginAppendMessage,
  loginLoad,
  loginUsers,
  serveLoginLetterbox,
} from './login.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    root: { type: 'string', default: resolve(here, '../..') },
    clients: { type: 'string', default: '10' },
    iterations: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '200' },
  },
});
const clients = Number(args.clients);
const PASSWORD = 'bench-password';
const USERS = loginUsers(clients);
const IDLE = { windowMs: 500, busyMs: 20, maxMs: 120_000 };
const base = mkdtempSync(join(tmpdir(), 'letterbox-imap-floor-'));
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Cell {
  name: string;
  pid: number;
  port: number;
  stop: () => Promise<void> | void;
  commands: number;
  elapsedMs: number;
  user: number;
  system: number;
  main: number;
  other: number;
}

const cells: Cell[] = [];
const cell = (name: string, pid: number, port: number, stop: Cell['stop']): Cell => ({
  name,
  pid,
  port,
  stop,
  commands: 0,
  elapsedMs: 0,
  user: 0,
  system: 0,
  main: 0,
  other: 0,
});
process.on('exit', () => {
  for (const c of cells) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {}
  }
  rmSync(base, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => process.exit(130));

async function main(): Promise<void> {
  const lb = await serveLoginLetterbox({
    root: args.root,
    dir: join(base, 'letterbox'),
    users: USERS,
    password: PASSWORD,
    nodeArgs: [],
  });
  cells.push(cell('letterbox', lb.server.pid, lb.port, () => lb.server.stop()));
  const floorPort = await freePort();
  const floor = spawn(process.execPath, [join(here, 'floor-responder.mjs'), String(floorPort)], {
    stdio: 'ignore',
  });
  cells.push(cell('node floor', floor.pid!, floorPort, () => void floor.kill()));
  await waitForBanner(floorPort, '* OK', 30_000);
  log(`letterbox ${args.root} pid ${lb.server.pid}, node floor pid ${floor.pid}`);

  let seq = 0;
  const run = async (c: Cell, iterations: number, count: boolean) => {
    const round = seq++;
    await waitIdle(c.pid, { minMs: 0, ...IDLE });
    const before = threadCpuTimes(c.pid);
    const r = await loginLoad(
      c.port,
      USERS,
      PASSWORD,
      clients,
      iterations,
      loginAppendMessage(round),
    );
    await waitIdle(c.pid, { minMs: 1500, ...IDLE });
    const after = threadCpuTimes(c.pid);
    if (r.error) throw new Error(`${c.name}: ${r.error}`);
    const d = {
      commands: r.iterations * LOGIN_MIX_COMMANDS,
      elapsedMs: r.elapsedMs,
      user: after.user - before.user,
      system: after.system - before.system,
      main: after.main - before.main,
      other: after.other - before.other,
    };
    if (count) {
      c.commands += d.commands;
      c.elapsedMs += d.elapsedMs;
      c.user += d.user;
      c.system += d.system;
      c.main += d.main;
      c.other += d.other;
    }
    return d;
  };
  const us = (ms: number, n: number) => Math.round((ms * 1000) / n);
  const line = (label: string, c: Cell, d: Omit<Cell, 'name' | 'pid' | 'port' | 'stop'>) =>
    `${label} ${c.name}: ${us(d.user + d.system, d.commands)} us/command (user ` +
    `${us(d.user, d.commands)}, system ${us(d.system, d.commands)}; main thread ` +
    `${us(d.main, d.commands)}, other threads ${us(d.other, d.commands)}), ` +
    `${Math.round((d.commands * 1000) / d.elapsedMs)} commands/s`;

  for (const c of cells) await run(c, Number(args.warmup), false);
  log('warm-up done');
  for (let i = 0; i < Number(args.rounds); i++) {
    const order = i % 2 === 0 ? cells : [...cells].reverse();
    for (const c of order) log(line(`round ${i}`, c, await run(c, Number(args.iterations), true)));
  }
  for (const c of cells) console.log(line('total', c, c));
  const [l, f] = cells as [Cell, Cell];
  const per = (c: Cell, k: 'user' | 'system' | 'main' | 'other') => us(c[k], c.commands);
  const total = (c: Cell) => per(c, 'user') + per(c, 'system');
  console.log(
    `above the floor: ${total(l) - total(f)} us/command (user ${per(l, 'user') - per(f, 'user')}, ` +
      `system ${per(l, 'system') - per(f, 'system')}); letterbox / floor ` +
      `${(total(l) / total(f)).toFixed(2)}x; an iteration (${LOGIN_MIX_COMMANDS} commands and ` +
      `its connection): letterbox ${total(l) * LOGIN_MIX_COMMANDS} us, floor ` +
      `${total(f) * LOGIN_MIX_COMMANDS} us`,
  );
  for (const c of cells) await c.stop();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(String(err instanceof Error ? (err.stack ?? err.message) : err));
    process.exit(1);
  },
);
