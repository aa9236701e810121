// IMAP bench (d), issue 19 item 2: the login-heavy mix of phones waking up, fetch scripts and
// webmails. Each iteration of a client opens a connection and runs LOGIN, SELECT, FETCH,
// APPEND, STORE \Deleted of the oldest message, EXPUNGE and LOGOUT, so each mailbox stays at
// its ~30 messages (one appended, one expunged). Every client has its own account. Reported:
// commands/s and the server's CPU per command, counted from before the load until its
// processes are idle again (Dovecot forks: its exited processes are counted through cutime).

import { corpus } from '../lib/corpus.js';
import { expectOk, ImapClient, quote } from '../lib/imap-client.js';
import {
  fillLetterbox,
  type LetterboxServer,
  serveLetterbox,
  setupLetterbox,
} from '../lib/letterbox-server.js';
import { fmt, table } from '../lib/stats.js';
import { treeCpuWithChildrenMs, waitIdle } from '../outbound/cpu.js';

/** Commands per iteration: LOGIN, SELECT, FETCH, APPEND, STORE, EXPUNGE, LOGOUT. */
export const LOGIN_MIX_COMMANDS = 7;
/** Messages in each login-mix mailbox. */
export const LOGIN_MIX_MESSAGES = 30;

/** The login mix's accounts: client i logs in as the i-th. */
export function loginUsers(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `login${i}@bench.test`);
}
const IDLE = { windowMs: 500, busyMs: 20, maxMs: 120_000 };
/** Untimed iterations per client (10 clients) per server first: after 20, Letterbox's first
 * timed round still cost a tenth more CPU per command than the second. */
const WARMUP_ITERATIONS = 60;
/** At least this long after the load before the CPU is read: deferred store work. */
const SETTLE_MIN_MS = 1500;

export interface LoginServer {
  name: 'letterbox' | 'dovecot';
  port: number;
  /** The process whose tree is the server (Letterbox's pid, Dovecot's master). */
  pid: () => number | undefined;
}

interface Totals {
  iterations: number;
  elapsedMs: number;
  cpuMs: number;
  quiet: boolean;
  error?: string;
}

/** `iterations` per client, clients at once; the wall time and the first error. */
export async function loginLoad(
  port: number,
  users: string[],
  password: string,
  clients: number,
  iterations: number,
  appendMessage: (client: number, n: number) => Buffer,
): Promise<{ iterations: number; elapsedMs: number; error?: string }> {
  let done = 0;
  let error: string | undefined;
  const start = performance.now();
  const client = async (id: number) => {
    const user = users[id % users.length]!;
    for (let i = 0; i < iterations; i++) {
      const c = await ImapClient.connect('127.0.0.1', port);
      try {
        expectOk(await c.command(`LOGIN ${quote(user)} ${quote(password)}`), 'LOGIN');
        expectOk(await c.command('SELECT INBOX'), 'SELECT');
        // What a phone asks first: the flags of all, the headers of the newest.
        expectOk(
          await c.command('FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])', {
            keep: false,
          }),
          'FETCH',
        );
        expectOk(await c.command(['APPEND INBOX ', appendMessage(id, i)]), 'APPEND');
        expectOk(await c.command('STORE 1 +FLAGS.SILENT (\\Deleted)'), 'STORE');
        expectOk(await c.command('EXPUNGE'), 'EXPUNGE');
      } finally {
        await c.logout();
      }
      done++;
    }
  };
  await Promise.all(
    Array.from({ length: clients }, (_, id) =>
      client(id).catch((e: unknown) => {
        error ??= e instanceof Error ? e.message : String(e);
      }),
    ),
  );
  const elapsedMs = performance.now() - start;
  return { iterations: done, elapsedMs, ...(error ? { error } : {}) };
}

const loginFill = corpus({ size: 4096, to: 'mix@bench.test', tag: 'mix' });
const loginAppends = corpus({ size: 5120, to: 'mix@bench.test', tag: 'append' });

/** The login mix's APPENDs (5 KB) of one round: another message for each round, client, n. */
export function loginAppendMessage(round: number): (client: number, n: number) => Buffer {
  return (client, n) => loginAppends.message(client * 1_000_000 + round * 10_000 + n);
}

/**
 * A Letterbox built in `root` serving the login mix alone (ab-login.ts, node-floor.ts): a
 * fresh store in `dir` with the users, each INBOX filled with LOGIN_MIX_MESSAGES messages of
 * 4 KB, then `letterbox serve` with `nodeArgs`. Returns the server and its IMAP port.
 */
export async function serveLoginLetterbox(opts: {
  root: string;
  dir: string;
  users: string[];
  password: string;
  nodeArgs: string[];
}): Promise<{ server: LetterboxServer; port: number }> {
  const setup = await setupLetterbox({
    root: opts.root,
    dir: opts.dir,
    users: opts.users,
    password: opts.password,
    maxConnectionsPerIp: 1000,
  });
  for (const u of opts.users) await fillLetterbox(setup, u, LOGIN_MIX_MESSAGES, loginFill.message);
  const server = await serveLetterbox(setup, opts.nodeArgs);
  return { server, port: setup.ports.imap };
}

export async function runLoginMix(opts: {
  servers: LoginServer[];
  users: string[];
  password: string;
  clients: number[];
  /** Iterations per client and round. */
  iterations: number;
  rounds: number;
  appendMessage: (client: number, n: number) => Buffer;
  log: (line: string) => void;
}): Promise<string> {
  const round = async (s: LoginServer, clients: number, iterations: number, warm: boolean) => {
    const pid = s.pid();
    if (pid === undefined) throw new Error(`${s.name}: no pid`);
    await waitIdle(pid, { minMs: 0, ...IDLE });
    const cpu0 = treeCpuWithChildrenMs(pid);
    const r = await loginLoad(s.port, opts.users, opts.password, clients, iterations, (c, n) =>
      opts.appendMessage(c, (warm ? 500_000 : 0) + n),
    );
    const quiet = await waitIdle(pid, { minMs: SETTLE_MIN_MS, ...IDLE });
    const cpuMs = treeCpuWithChildrenMs(pid) - cpu0;
    const commands = r.iterations * LOGIN_MIX_COMMANDS;
    opts.log(
      `  ${s.name.padEnd(9)} login mix ${clients}${warm ? ' (warm-up)' : ''}: ${r.iterations} ` +
        `iterations, ${fmt((commands * 1000) / r.elapsedMs)} commands/s, CPU ` +
        `${fmt(commands ? (cpuMs * 1000) / commands : undefined, 0)} us/command` +
        (r.error ? ` [${r.error}]` : ''),
    );
    return { ...r, cpuMs, quiet };
  };

  // Warm-up, not counted: JIT, caches, Dovecot's first processes.
  for (const s of opts.servers) await round(s, 10, WARMUP_ITERATIONS, true);
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const clients of opts.clients) {
    const totals = new Map<string, Totals>();
    for (let i = 0; i < opts.rounds; i++) {
      // The order alternates, so a slow moment of the machine falls on both servers.
      const order = i % 2 === 0 ? opts.servers : [...opts.servers].reverse();
      for (const s of order) {
        const r = await round(s, clients, opts.iterations, false);
        const t = totals.get(s.name);
        totals.set(s.name, {
          iterations: (t?.iterations ?? 0) + r.iterations,
          elapsedMs: (t?.elapsedMs ?? 0) + r.elapsedMs,
          cpuMs: (t?.cpuMs ?? 0) + r.cpuMs,
          quiet: (t?.quiet ?? true) && r.quiet,
          ...((t?.error ?? r.error) ? { error: t?.error ?? r.error } : {}),
        });
      }
    }
    const rate = (t: Totals | undefined) =>
      t ? (t.iterations * LOGIN_MIX_COMMANDS * 1000) / t.elapsedMs : undefined;
    const perCommand = (t: Totals | undefined) =>
      t?.iterations ? (t.cpuMs * 1000) / (t.iterations * LOGIN_MIX_COMMANDS) : undefined;
    const lb = totals.get('letterbox');
    const dv = totals.get('dovecot');
    const ratio = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined || !(b > 0) ? '-' : `${(a / b).toFixed(2)}x`;
    rows.push([
      String(clients),
      fmt(rate(lb)),
      fmt(perCommand(lb), 0),
      fmt(rate(dv)),
      fmt(perCommand(dv), 0),
      ratio(rate(lb), rate(dv)),
      ratio(perCommand(lb), perCommand(dv)),
    ]);
    for (const [name, t] of totals) {
      if (t.error) notes.push(`${name} login mix ${clients}: ${t.error}`);
      if (!t.quiet) notes.push(`${name} login mix ${clients}: never idle, CPU is a floor`);
    }
  }
  return [
    '',
    `IMAP login-heavy mix: each client loops connect, LOGIN, SELECT, FETCH 1:* (UID FLAGS and`,
    'three header fields), APPEND (5 KB), STORE 1 +FLAGS.SILENT (\\Deleted), EXPUNGE, LOGOUT on',
    `an account of its own holding ${LOGIN_MIX_MESSAGES} messages; ${opts.iterations} iterations per client and round,`,
    `${opts.rounds} rounds alternating between the servers.`,
    '',
    table(
      [
        'clients',
        'LB commands/s',
        'LB CPU us/command',
        'DV commands/s',
        'DV CPU us/command',
        'LB/DV rate',
        'LB/DV CPU',
      ],
      rows,
    ),
    '',
    'commands/s: the 7 commands of an iteration over the wall time of the round. CPU: user +',
    "system time of the server's processes (all threads; Dovecot's processes that exited through",
    `cutime/cstime) from before the round until idle again (at least ${SETTLE_MIN_MS / 1000} s, then under`,
    `${IDLE.busyMs} ms in ${IDLE.windowMs} ms), over the commands.`,
    ...notes,
    '',
  ].join('\n');
}
