// How much of Letterbox's CPU per SMTP message is Node's own (issue 19): Letterbox's MX beside
// the least an SMTP responder on Node does (floor-responder.mjs: canned replies, the message
// read to its dot and dropped), both driven by Postfix's smtp-source (10 KB, HELO, no
// PIPELINING), with a new connection per message and with connections kept (-d). Rounds
// alternate between the four cells so that a shared machine's load falls on all. Per cell it
// prints the server's CPU per message (user and system, all threads, counted until it is idle
// again) and the rate; then Letterbox's cost above the floor, split into the connection's
// part (new minus kept) and the message's (kept).
//   node --import tsx bench/smtp/node-floor.ts [--root DIR] [--sessions 10] [--messages 3000]
//     [--rounds 4] [--warmup 3000]
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, treeCpuTimes, waitForGreeting } from '../lib/proc.js';
import { runSmtpSource, smtpSourcePath } from '../lib/smtp-source.js';
import { waitIdle } from '../outbound/cpu.js';
import { startLetterbox } from './letterbox.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    root: { type: 'string', default: resolve(here, '../..') },
    sessions: { type: 'string', default: '10' },
    messages: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '3000' },
  },
});
const binary = smtpSourcePath();
if (!binary) throw new Error('smtp-source not found (Debian package postfix)');
const sessions = Number(args.sessions);
const messages = Number(args.messages);
const SENDER = 'sender@bench-client.test';
const RECIPIENT = 'bench@bench.test';

interface Server {
  name: string;
  pid: number;
  port: number;
  stop: () => Promise<void> | void;
}

const servers: Server[] = [];
process.on('exit', () => {
  for (const s of servers) {
    try {
      process.kill(s.pid);
    } catch {}
  }
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(1));

const floorPort = await freePort();
const floor = spawn(process.execPath, [join(here, 'floor-responder.mjs'), String(floorPort)], {
  stdio: 'ignore',
});
await waitForGreeting(floorPort, 30_000);
servers.push({
  name: 'node floor',
  pid: floor.pid!,
  port: floorPort,
  stop: () => {
    floor.kill();
  },
});
const lb = await startLetterbox({
  root: args.root,
  dir: mkdtempSync(join(tmpdir(), 'letterbox-floor-')),
  recipient: RECIPIENT,
  nodeArgs: [],
});
servers.push({ name: 'letterbox', pid: lb.pid, port: lb.port, stop: () => lb.stop() });

const drive = (port: number, n: number, kept: boolean) =>
  runSmtpSource({
    binary,
    host: '127.0.0.1',
    port,
    sessions,
    messages: n,
    bodyBytes: 10_240,
    sender: SENDER,
    recipient: RECIPIENT,
    keepConnection: kept,
  });

for (const s of servers) {
  const r = await drive(s.port, Number(args.warmup), false);
  if (r.error) throw new Error(`${s.name}: ${r.error}`);
}

const cells = servers.flatMap((s) => [
  { s, kept: false, user: 0, system: 0, n: 0, ms: 0 },
  { s, kept: true, user: 0, system: 0, n: 0, ms: 0 },
]);
const label = (c: (typeof cells)[number]) =>
  `${c.s.name}, ${c.kept ? 'kept connections' : 'a connection per message'}`;
const us = (ms: number, n: number) => Math.round((ms * 1000) / n);
for (let round = 0; round < Number(args.rounds); round++) {
  const order = round % 2 === 0 ? cells : [...cells].reverse();
  for (const c of order) {
    await waitIdle(c.s.pid, { minMs: 0 });
    const before = treeCpuTimes(c.s.pid);
    const r = await drive(c.s.port, messages, c.kept);
    if (r.error) throw new Error(`${c.s.name}: ${r.error}`);
    await waitIdle(c.s.pid, { minMs: 1500 });
    const after = treeCpuTimes(c.s.pid);
    const user = after.user - before.user;
    const system = after.system - before.system;
    c.user += user;
    c.system += system;
    c.n += messages;
    c.ms += r.elapsedMs;
    process.stderr.write(
      `round ${round} ${label(c)}: ${us(user + system, messages)} us/msg (user ${us(user, messages)}, system ${us(system, messages)}), ${Math.round((messages * 1000) / r.elapsedMs)} msg/s\n`,
    );
  }
}
const total = (c: (typeof cells)[number]) => us(c.user + c.system, c.n);
for (const c of cells) {
  console.log(
    `${label(c)}: ${total(c)} us/msg (user ${us(c.user, c.n)}, system ${us(c.system, c.n)}), ${Math.round((c.n * 1000) / c.ms)} msg/s`,
  );
}
const [fNew, fKept, lNew, lKept] = cells.map(total) as [number, number, number, number];
console.log(
  `connection (new minus kept): letterbox ${lNew - lKept} us, node floor ${fNew - fKept} us, above the floor ${lNew - lKept - (fNew - fKept)} us`,
);
console.log(
  `message (kept): letterbox ${lKept} us, node floor ${fKept} us, above the floor ${lKept - fKept} us; ratio letterbox / floor per message with its connection ${(lNew / fNew).toFixed(2)}x`,
);
for (const s of servers) await s.stop();
