// bench/smtp --per-connection (issue 19 item 1): one connection per message, as an MX sees mail
// from many senders, driven by Postfix's smtp-source(1) and by the bench's own client, against
// Letterbox and the private Postfix in the same run. Besides messages/s it reports the server's
// CPU per message counted until the server is idle again: work put off past the 250 (the
// full-text index, purges, Postfix's delivery to the Maildir) is part of what a message costs.

import { messageTemplate } from '../lib/message.js';
import { runLoad } from '../lib/smtp-load.js';
import { runSmtpSource, smtpSourcePath } from '../lib/smtp-source.js';
import { fmt, table } from '../lib/stats.js';
import { treeCpuWithChildrenMs, waitIdle } from '../outbound/cpu.js';
import type { LetterboxSide } from './letterbox.js';
import type { PostfixSide } from './postfix.js';

export type Driver = 'smtp-source' | 'bench';

/** After the load, how long the server is given at least before its CPU counter is read:
 * Letterbox's deferred store work starts a second after the store is quiet. */
const SETTLE_MIN_MS = 1500;
/** Idle: under 20 ms of CPU (one or two 10 ms ticks) in 500 ms, all processes together. */
const IDLE = { windowMs: 500, busyMs: 20, maxMs: 120_000 };
const DELIVERY_TIMEOUT_MS = 120_000;
/**
 * Untimed messages per server before its first driver's rounds, and before each later
 * driver's (which runs mostly the same code). V8 was still optimizing for a long time: after
 * 300 messages, Letterbox's first timed round cost 30-40% more CPU per message than the next
 * ones; between the 1,500th and the 4,500th message it still made 224 optimized compilations
 * (on its background threads, counted), between the 4,500th and the 7,500th 42.
 */
const WARMUP_FIRST = 4500;
const WARMUP_NEXT = 1500;

interface Round {
  messages: number;
  /** Start of the load to the last 250 (Postfix delivered: to the last file in Maildir/new). */
  elapsedMs: number;
  deliveredMs?: number;
  cpuMs: number;
  quiet: boolean;
  error?: string;
}

interface Totals {
  messages: number;
  elapsedMs: number;
  deliveredMs?: number;
  cpuMs: number;
  quiet: boolean;
  error?: string;
}

interface Cell {
  driver: Driver;
  sessions: number;
  sizeName: string;
  letterbox?: Totals;
  postfix?: Totals;
}

export interface PerConnectionOptions {
  lb?: LetterboxSide;
  pf?: PostfixSide;
  drivers: Driver[];
  sessions: number[];
  sizes: { name: string; bytes: number }[];
  /** Messages per round and server. */
  messages: number;
  rounds: number;
  sender: string;
  recipient: string;
  log: (line: string) => void;
}

function add(t: Totals | undefined, r: Round): Totals {
  if (!t) return { ...r };
  const out: Totals = {
    messages: t.messages + r.messages,
    elapsedMs: t.elapsedMs + r.elapsedMs,
    cpuMs: t.cpuMs + r.cpuMs,
    quiet: t.quiet && r.quiet,
  };
  if (t.deliveredMs !== undefined && r.deliveredMs !== undefined)
    out.deliveredMs = t.deliveredMs + r.deliveredMs;
  const error = t.error ?? r.error;
  if (error) out.error = error;
  return out;
}

export async function runPerConnection(o: PerConnectionOptions): Promise<string> {
  const binary = smtpSourcePath();
  const drivers = o.drivers.filter((d) => {
    if (d === 'smtp-source' && !binary) {
      o.log('smtp-source not found (Debian postfix package): that driver is skipped');
      return false;
    }
    return true;
  });

  /** One load of `messages` on `port`, one connection per message. */
  const drive = async (
    driver: Driver,
    port: number,
    sessions: number,
    bytes: number,
    messages: number,
    tag: string,
  ) => {
    if (driver === 'smtp-source') {
      return runSmtpSource({
        binary: binary!,
        host: '127.0.0.1',
        port,
        sessions,
        messages,
        bodyBytes: bytes,
        sender: o.sender,
        recipient: o.recipient,
      });
    }
    return runLoad({
      host: '127.0.0.1',
      port,
      sessions,
      template: messageTemplate({ size: bytes, from: o.sender, to: o.recipient, tag }),
      sender: o.sender,
      recipient: o.recipient,
      durationMs: 3_600_000,
      maxMessages: messages,
      perConnection: true,
    });
  };

  /** A round on one server: idle first, CPU read, load, wait until idle, CPU read again. */
  const round = async (
    server: 'letterbox' | 'postfix',
    driver: Driver,
    sessions: number,
    bytes: number,
    messages: number,
    tag: string,
  ): Promise<Round> => {
    const root = server === 'letterbox' ? o.lb!.pid : o.pf!.masterPid();
    if (root === undefined) throw new Error('postfix master pid unknown');
    await waitIdle(root, { minMs: 0, ...IDLE });
    if (server === 'postfix') o.pf!.clearDelivered();
    const cpu0 = treeCpuWithChildrenMs(root);
    const port = server === 'letterbox' ? o.lb!.port : o.pf!.port;
    const r = await drive(driver, port, sessions, bytes, messages, tag);
    let deliveredMs: number | undefined;
    if (server === 'postfix') {
      const at = await o.pf!.waitDelivered(r.messages, DELIVERY_TIMEOUT_MS);
      if (at === undefined)
        o.log(`  postfix: only ${o.pf!.delivered()} of ${r.messages} delivered`);
      else deliveredMs = at - r.startedAt;
    }
    const quiet = await waitIdle(root, { minMs: SETTLE_MIN_MS, ...IDLE });
    const cpuMs = treeCpuWithChildrenMs(root) - cpu0;
    if (server === 'postfix') o.pf!.clearDelivered();
    const out: Round = { messages: r.messages, elapsedMs: r.elapsedMs, cpuMs, quiet };
    if (deliveredMs !== undefined) out.deliveredMs = deliveredMs;
    if (r.error) out.error = r.error;
    o.log(
      `  ${server.padEnd(9)} ${driver} s${sessions}: ${r.messages} msgs, ` +
        `${fmt((r.messages * 1000) / r.elapsedMs)} msg/s` +
        (deliveredMs ? `, delivered ${fmt((r.messages * 1000) / deliveredMs)} msg/s` : '') +
        `, CPU ${fmt(r.messages ? cpuMs / r.messages : undefined, 2)} ms/msg` +
        (quiet ? '' : ' (never idle)') +
        (r.error ? ` [${r.error}]` : ''),
    );
    return out;
  };

  const servers = [...(o.lb ? ['letterbox' as const] : []), ...(o.pf ? ['postfix' as const] : [])];
  // Warm-up (not counted): JIT, page cache, Postfix's first smtpd processes.
  for (const [i, driver] of drivers.entries()) {
    const n = i === 0 ? WARMUP_FIRST : WARMUP_NEXT;
    for (const s of servers) await round(s, driver, 10, 10240, n, `warm-${s}-${driver}`);
  }

  const cells: Cell[] = [];
  for (const size of o.sizes) {
    for (const driver of drivers) {
      for (const sessions of o.sessions) {
        const cell: Cell = { driver, sessions, sizeName: size.name };
        for (let i = 0; i < o.rounds; i++) {
          // The order alternates, so a slow moment of the machine falls on both servers.
          const order = i % 2 === 0 ? servers : [...servers].reverse();
          for (const s of order) {
            const tag = `pc-${s}-${driver}-s${sessions}-${size.name}-r${i}`;
            const r = await round(s, driver, sessions, size.bytes, o.messages, tag);
            cell[s] = add(cell[s], r);
          }
        }
        cells.push(cell);
      }
    }
  }
  return report(cells, o);
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0) || !Number.isFinite(a)) return '-';
  return `${(a / b).toFixed(2)}x`;
}

const rate = (n: number, ms: number | undefined) => (ms ? (n * 1000) / ms : undefined);
const perMsg = (t: Totals | undefined) => (t?.messages ? t.cpuMs / t.messages : undefined);

function report(cells: Cell[], o: PerConnectionOptions): string {
  const header = [
    'driver, sessions x size',
    'LB msg/s',
    'LB CPU ms/msg',
    'PF accepted msg/s',
    'PF delivered msg/s',
    'PF CPU ms/msg',
    'LB/PF delivered',
    'LB/PF CPU',
  ];
  const rows = cells.map((c) => {
    const lbRate = c.letterbox && rate(c.letterbox.messages, c.letterbox.elapsedMs);
    const pfDelivered = c.postfix && rate(c.postfix.messages, c.postfix.deliveredMs);
    return [
      `${c.driver}, ${c.sessions} x ${c.sizeName.toUpperCase()}`,
      fmt(lbRate),
      fmt(perMsg(c.letterbox), 2),
      fmt(c.postfix && rate(c.postfix.messages, c.postfix.elapsedMs)),
      fmt(pfDelivered),
      fmt(perMsg(c.postfix), 2),
      ratio(lbRate, pfDelivered),
      ratio(perMsg(c.letterbox), perMsg(c.postfix)),
    ];
  });
  const notes = cells.flatMap((c) =>
    (['letterbox', 'postfix'] as const).flatMap((s) => {
      const t = c[s];
      if (!t) return [];
      const what = `${s} ${c.driver} ${c.sessions} x ${c.sizeName}`;
      return [
        ...(t.error ? [`${what}: ${t.error}`] : []),
        ...(t.quiet ? [] : [`${what}: not idle within ${IDLE.maxMs / 1000} s, CPU is a floor`]),
      ];
    }),
  );
  return [
    '',
    `SMTP bench, one connection per message: ${o.messages} messages per round and server, ` +
      `${o.rounds} rounds alternating between the servers, client and servers on one machine, ` +
      '127.0.0.1, one recipient.',
    '',
    table(header, rows),
    '',
    'Each message on its own connection: greeting, EHLO (smtp-source: HELO, no pipelining),',
    "MAIL, RCPT, DATA, QUIT. smtp-source is Postfix's load tool (-s sessions -m messages -l",
    'size: the size is the body, after a header of about 150 bytes); "bench" is bench/lib/smtp-load.ts',
    'with perConnection (EHLO, MAIL/RCPT/DATA pipelined, the size is the whole message).',
    'msg/s: messages over the time from the start of the load until the last 250 and QUIT',
    '(smtp-source: until it exits). PF delivered: until the last message is in Maildir/new.',
    'CPU ms/msg: user + system time of every process of the server (threads, and children',
    'reaped meanwhile through cutime/cstime) from just before the load until it is idle again',
    `(at least ${SETTLE_MIN_MS / 1000} s after the load, then under ${IDLE.busyMs} ms in ` +
      `${IDLE.windowMs} ms), over the messages: deferred work is counted.`,
    'LB/PF delivered compares Letterbox (250 = in the mailbox, fsynced) with Postfix delivered;',
    'LB/PF CPU under 1 means Letterbox uses less CPU per message.',
    ...notes,
    '',
  ].join('\n');
}
