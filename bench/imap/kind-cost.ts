// The login mix's CPU per command, one kind at a time, on SQLite (issue 19): each root's
// Letterbox serves the mix's store (login.ts: 10 accounts of 30 messages of 4 KB), and 10
// clients run one kind in a loop, kinds in turn, builds alternated kind by kind (A B, then B A
// next round). Kinds: CONNECT (connect, greeting, LOGOUT: counted as one command), LOGIN
// (connect, LOGIN, LOGOUT: one command; less CONNECT's figure, LOGIN's own), SELECT, FETCH
// (the mix's, 30 messages), WRITES (the mix's APPEND of 5 KB, STORE 1 +FLAGS.SILENT \Deleted,
// EXPUNGE: three commands, the mailbox stays at 30, never listed between) and NOOP, these four
// on connections logged in and selected once, outside the counted window; MIX, the mix's
// whole iteration (seven commands, login.ts's loginLoad). Prints each kind's server CPU per
// command until idle, main thread and other threads (/proc/PID/task). A warm-up of 100 steps
// a client of every kind on each side first. --keep leaves the servers' directories (logs).
//   node --import tsx bench/imap/kind-cost.ts --roots A[,B] [--count 300] [--rounds 3]
//     [--kinds CONNECT,LOGIN,SELECT,FETCH,WRITES,NOOP,MIX] [--node-args='...'] [--keep]
// --count is the steps of a kind a round, over all clients.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { expectOk, ImapClient, quote } from '../lib/imap-client.js';
import type { LetterboxServer } from '../lib/letterbox-server.js';
import { threadCpuTimes as threadCpu } from '../lib/proc.js';
import { waitIdle } from '../outbound/cpu.js';
import {
  LOGIN_MIX_COMMANDS,
  loginAppendMessage,
  loginUsers,
  serveLoginLetterbox,
} from './login.js';

const { values: args } = parseArgs({
  options: {
    roots: { type: 'string' },
    count: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    kinds: { type: 'string', default: 'CONNECT,LOGIN,SELECT,FETCH,WRITES,NOOP' },
    'node-args': { type: 'string', default: '' },
    keep: { type: 'boolean', default: false },
  },
});
if (!args.roots) throw new Error('--roots A[,B]: the checkouts to measure');
const CLIENTS = 10;
const PASSWORD = 'bench-password';
const USERS = loginUsers(CLIENTS);
const IDLE = { windowMs: 500, busyMs: 20, maxMs: 120_000 };
const count = Number(args.count);
const base = mkdtempSync(join(tmpdir(), 'letterbox-kind-cost-'));
const log = (line: string) => process.stderr.write(`${line}\n`);
const FETCH = 'FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])';

interface Side {
  root: string;
  server: LetterboxServer;
  port: number;
  /** Per kind: commands counted, main and other threads' CPU ms. */
  totals: Map<string, { commands: number; main: number; other: number }>;
}

/** One kind: commands per `step`, an optional per-client set-up, the step. */
interface Kind {
  commands: number;
  kept: boolean;
  step: (c: ImapClient | null, port: number, user: string, n: number) => Promise<void>;
}

const ok = async (c: ImapClient, cmd: string | Array<string | Buffer>, what: string) => {
  expectOk(await c.command(cmd, { keep: false }), what);
};
let appendSeq = 0;
const appendMessage = loginAppendMessage(77);
const KINDS: Record<string, Kind> = {
  CONNECT: {
    commands: 1,
    kept: false,
    step: async (_c, port) => {
      const c = await ImapClient.connect('127.0.0.1', port);
      await c.logout();
    },
  },
  LOGIN: {
    commands: 1,
    kept: false,
    step: async (_c, port, user) => {
      const c = await ImapClient.connect('127.0.0.1', port);
      await ok(c, `LOGIN ${quote(user)} ${quote(PASSWORD)}`, 'LOGIN');
      await c.logout();
    },
  },
  SELECT: { commands: 1, kept: true, step: (c) => ok(c!, 'SELECT INBOX', 'SELECT') },
  FETCH: { commands: 1, kept: true, step: (c) => ok(c!, FETCH, 'FETCH') },
  WRITES: {
    commands: 3,
    kept: true,
    step: async (c, _p, _u, n) => {
      await ok(c!, ['APPEND INBOX ', appendMessage(n % CLIENTS, appendSeq++)], 'APPEND');
      await ok(c!, 'STORE 1 +FLAGS.SILENT (\\Deleted)', 'STORE');
      await ok(c!, 'EXPUNGE', 'EXPUNGE');
    },
  },
  NOOP: { commands: 1, kept: true, step: (c) => ok(c!, 'NOOP', 'NOOP') },
  MIX: {
    commands: LOGIN_MIX_COMMANDS,
    kept: false,
    step: async (_c, port, user, n) => {
      const c = await ImapClient.connect('127.0.0.1', port);
      try {
        await ok(c, `LOGIN ${quote(user)} ${quote(PASSWORD)}`, 'LOGIN');
        await ok(c, 'SELECT INBOX', 'SELECT');
        await ok(c, FETCH, 'FETCH');
        await ok(c, ['APPEND INBOX ', appendMessage(n % CLIENTS, appendSeq++)], 'APPEND');
        await ok(c, 'STORE 1 +FLAGS.SILENT (\\Deleted)', 'STORE');
        await ok(c, 'EXPUNGE', 'EXPUNGE');
      } finally {
        await c.logout();
      }
    },
  },
};

async function load(s: Side, kind: Kind, steps: number): Promise<void> {
  await Promise.all(
    USERS.map(async (user, id) => {
      let c: ImapClient | null = null;
      if (kind.kept) {
        c = await ImapClient.connect('127.0.0.1', s.port);
        await ok(c, `LOGIN ${quote(user)} ${quote(PASSWORD)}`, 'LOGIN');
        await ok(c, 'SELECT INBOX', 'SELECT');
      }
      for (let i = 0; i < steps; i++) await kind.step(c, s.port, user, id + i * CLIENTS);
      if (c) await c.logout();
    }),
  );
}

async function measure(s: Side, name: string, kind: Kind, steps: number) {
  // The kept connections' own LOGIN, SELECT and LOGOUT are outside the window: they are made
  // first, and closed after it (a second load of zero steps would not separate them).
  await waitIdle(s.server.pid, { minMs: 0, ...IDLE });
  const before = threadCpu(s.server.pid);
  await load(s, kind, steps);
  await waitIdle(s.server.pid, { minMs: 1000, ...IDLE });
  const after = threadCpu(s.server.pid);
  return {
    name,
    commands: steps * CLIENTS * kind.commands,
    main: after.main - before.main,
    other: after.other - before.other,
  };
}

const sides: Side[] = [];
process.on('exit', () => {
  for (const s of sides) s.server.kill();
  if (!args.keep) rmSync(base, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => process.exit(130));

async function main(): Promise<void> {
  const roots = args.roots!.split(',');
  const kinds = args.kinds!.split(',');
  for (const k of kinds) if (!KINDS[k]) throw new Error(`unknown kind ${k}`);
  for (const [i, root] of roots.entries()) {
    const dir = join(base, `side${i}`);
    const nodeArgs = args['node-args']!.split(' ').filter((a) => a !== '');
    const { server, port } = await serveLoginLetterbox({
      root,
      dir,
      users: USERS,
      password: PASSWORD,
      nodeArgs,
    });
    sides.push({ root, server, port, totals: new Map() });
    log(`side ${i}: ${root}, pid ${server.pid}`);
  }
  // Warm-up: every kind, 100 steps a client, on each side.
  for (const s of sides) for (const k of kinds) await measure(s, k, KINDS[k]!, 100);
  log('warm-up done');
  const us = (ms: number, n: number) => ((ms * 1000) / n).toFixed(0);
  for (let r = 0; r < Number(args.rounds); r++) {
    for (const k of kinds) {
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const s of order) {
        const m = await measure(s, k, KINDS[k]!, count / CLIENTS);
        const t = s.totals.get(k) ?? { commands: 0, main: 0, other: 0 };
        t.commands += m.commands;
        t.main += m.main;
        t.other += m.other;
        s.totals.set(k, t);
        log(
          `round ${r} ${k.padEnd(7)} ${s.root}: ${us(m.main + m.other, m.commands)} us/command ` +
            `(main ${us(m.main, m.commands)}, other ${us(m.other, m.commands)})`,
        );
      }
    }
  }
  for (const k of kinds)
    for (const s of sides) {
      const t = s.totals.get(k)!;
      process.stdout.write(
        `total ${k.padEnd(7)} ${s.root}: ${us(t.main + t.other, t.commands)} us/command (main ` +
          `${us(t.main, t.commands)}, other ${us(t.other, t.commands)})\n`,
      );
    }
  for (const s of sides) await s.server.stop();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(String(err instanceof Error ? (err.stack ?? err.message) : err));
    process.exit(1);
  },
);
