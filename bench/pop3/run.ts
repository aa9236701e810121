// POP3 bench: 10 clients, each on its own maildrop (RFC 1939 allows one session per maildrop),
// retrieve and delete every message, then QUIT (deletions happen in the UPDATE state). Letterbox
// and a private Dovecot get the same users and the same mail in the same run.
// Usage (from the repository root):
//   node --import tsx bench/pop3/run.ts [--clients 10] [--sizes 10k,1m] [--count-10k 1000]
//     [--count-1m 50] [--warmup-10k 200] [--warmup-1m 5] [--warmup-rounds 2] [--rounds 3]
//     [--only letterbox|dovecot] [--workers auto|N] [--timeline] [--cpu-prof] [--keep]
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
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
import { waitQuiet } from '../lib/proc.js';
import { fmt, table } from '../lib/stats.js';
import { Pop3Client } from './client.js';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '10' },
    sizes: { type: 'string', default: '10k,1m' },
    'count-10k': { type: 'string', default: '1000' },
    'count-1m': { type: 'string', default: '50' },
    // Untimed rounds on each server first (the same for both): the client's own code, and
    // Letterbox's, run compiled rather than cold in the timed round. Two rounds, because the
    // first sessions to end make V8 drop optimized code of the socket paths (their feedback
    // never saw a close), which the next round compiles again. --trace-opt counted 68 to 90
    // optimizations (with TurboFan's threads on most of a CPU for 200 ms) in the round after
    // one warm-up round, 21 after two and 2 after three.
    'warmup-10k': { type: 'string', default: '200' },
    'warmup-1m': { type: 'string', default: '5' },
    'warmup-rounds': { type: 'string', default: '2' },
    // Timed rounds per server; the table gives the median round (each round is half a second
    // for 10 KB, where one slow start moves a figure by 10 to 20%), the log every round.
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    /** `[pop3] workers` for Letterbox (default: the server's own, 'auto'). */
    workers: { type: 'string' },
    /** Log the messages completed per 50 ms of each round (where the time goes). */
    timeline: { type: 'boolean', default: false },
  },
});
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const PASSWORD = 'bench-password';
const clients = Number(args.clients);
const USERS = Array.from({ length: clients }, (_, i) => `pop${i}@bench.test`);
const SIZES: Record<string, { bytes: number; count: number; warm: number }> = {
  '10k': { bytes: 10_240, count: Number(args['count-10k']), warm: Number(args['warmup-10k']) },
  '1m': { bytes: 1_048_576, count: Number(args['count-1m']), warm: Number(args['warmup-1m']) },
};
const sizeNames = args.sizes.split(',');
for (const s of sizeNames) if (!(s in SIZES)) throw new Error(`unknown size ${s} (10k, 1m)`);

const base = mkdtempSync(join(tmpdir(), 'letterbox-bench-pop3-'));
chmodSync(base, 0o755);
let lb: LetterboxServer | undefined;
let dv: DovecotSide | undefined;
process.on('exit', () => {
  lb?.kill();
  dv?.stop();
  if (!args.keep && !args['cpu-prof']) rmSync(base, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => process.exit(130));
/** Least pause after a warm-up round; then until the server's processes are quiet. */
const SETTLE_MS = 3000;
const warmupRounds = Number(args['warmup-rounds']);
const timedRounds = Number(args.rounds);
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Result {
  messages: number;
  bytes: number;
  seconds: number;
  left: number;
  pipelining: boolean;
}

/**
 * Every client logs in, then (timed) RETR + DELE every message (or the first `limit`) and
 * QUIT; then a STAT check of what is left.
 */
async function drain(port: number, limit?: number): Promise<Result> {
  const conns = await Promise.all(
    USERS.map((u) => Pop3Client.login('127.0.0.1', port, u, PASSWORD)),
  );
  let messages = 0;
  let bytes = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let lastDele = 0;
  let slowestQuit = 0;
  const done: number[] = [];
  await Promise.all(
    conns.map(async (c) => {
      const stat = await c.send('STAT', false);
      const count = Math.min(limit ?? Infinity, Number(stat.line.split(' ')[1]));
      for (let i = 1; i <= count; i++) {
        // RFC 2449 PIPELINING: RETR and DELE go out together when the server allows it.
        const retr = c.send(`RETR ${i}`, true);
        if (!c.pipelining) await retr;
        const dele = c.send(`DELE ${i}`, false);
        const [r, d] = await Promise.all([retr, dele]);
        if (!r.ok || !d.ok) throw new Error(`RETR/DELE ${i}: ${r.line} / ${d.line}`);
        messages++;
        bytes += r.bytes;
        if (args.timeline) done.push(performance.now() - start);
      }
      // RFC 1939 §6: the deletions are committed in the UPDATE state, after QUIT.
      const quitAt = performance.now();
      lastDele = Math.max(lastDele, quitAt);
      const q = await c.send('QUIT', false);
      slowestQuit = Math.max(slowestQuit, performance.now() - quitAt);
      if (!q.ok) throw new Error(`QUIT: ${q.line}`);
      c.destroy();
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  log(`client CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s of ${seconds.toFixed(2)} s`);
  log(
    `last DELE answered after ${((lastDele - start) / 1000).toFixed(2)} s; slowest QUIT ${slowestQuit.toFixed(1)} ms`,
  );
  if (args.timeline) {
    const bins: number[] = [];
    for (const t of done) bins[Math.floor(t / 50)] = (bins[Math.floor(t / 50)] ?? 0) + 1;
    log(`messages per 50 ms: ${Array.from(bins, (n) => n ?? 0).join(' ')}`);
  }
  let left = 0;
  for (const u of USERS) {
    const c = await Pop3Client.login('127.0.0.1', port, u, PASSWORD);
    left += Number((await c.send('STAT', false)).line.split(' ')[1]);
    await c.send('QUIT', false);
    c.destroy();
  }
  return { messages, bytes, seconds, left, pipelining: conns.every((c) => c.pipelining) };
}

async function main(): Promise<void> {
  log(`bench/pop3: work directory ${base}`);
  const profDir = join(base, 'cpu-prof');
  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  if (args['cpu-prof']) mkdirSync(profDir, { recursive: true });
  let setup: LetterboxSetup | undefined;
  if (args.only !== 'letterbox') {
    dv = await startDovecot({
      script: join(here, '..', 'lib', 'setup-dovecot.sh'),
      dir: join(base, 'dovecot'),
      users: USERS,
      password: PASSWORD,
    });
    log(`dovecot ${dv.version}: POP3 on 127.0.0.1:${dv.pop3Port}`);
  }
  if (args.only !== 'dovecot') {
    setup = await setupLetterbox({
      root,
      dir: join(base, 'letterbox'),
      users: USERS,
      password: PASSWORD,
      maxConnectionsPerIp: 1000,
      config:
        args.workers === undefined
          ? {}
          : { pop3: { workers: args.workers === 'auto' ? 'auto' : Number(args.workers) } },
    });
  }
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const name of sizeNames) {
    const { bytes, count, warm } = SIZES[name]!;
    /** The untimed rounds, then the timed ones; the median timed round by messages/s. */
    const rounds = async (who: string, port: number, pid: () => number | undefined) => {
      const proper = who.trim() === 'letterbox' ? 'Letterbox' : 'Dovecot';
      // Work a server leaves for a quiet moment after deletions (Letterbox drops the freed
      // messages and their full-text entries once idle) is done before the next round.
      const settle = async () => {
        const q = await waitQuiet(pid(), { minMs: SETTLE_MS });
        log(
          `${who} settled in ${(q.waitedMs / 1000).toFixed(1)} s${q.quiet ? '' : ' (not quiet)'}`,
        );
      };
      for (let round = 1; warm > 0 && round <= warmupRounds; round++) {
        const w = await drain(port, warm);
        log(
          `${who} ${name} warm-up ${round}: ${(w.messages / w.seconds).toFixed(1)} msg/s (untimed)`,
        );
        await settle();
      }
      const timed: Result[] = [];
      for (let round = 1; round <= timedRounds; round++) {
        if (round > 1) await settle();
        const r = await drain(port, count);
        const expected = count * clients * (timedRounds - round);
        if (r.left !== expected)
          notes.push(`${proper} ${name}: ${r.left} messages left, expected ${expected}.`);
        log(`${who} ${name} round ${round}: ${(r.messages / r.seconds).toFixed(1)} msg/s`);
        timed.push(r);
      }
      const rates = timed.map((r) => (r.messages / r.seconds).toFixed(0));
      notes.push(`${proper} ${name}: msg/s of each timed round ${rates.join(', ')}.`);
      return [...timed].sort((a, b) => a.messages / a.seconds - b.messages / b.seconds)[
        (timed.length - 1) >> 1
      ]!;
    };
    const mail = corpus({ size: bytes, to: 'pop@bench.test', tag: `pop${name}` });
    let lbr: Result | undefined;
    let dvr: Result | undefined;
    if (setup) {
      const t = performance.now();
      for (const [i, u] of USERS.entries())
        await fillLetterbox(
          setup,
          u,
          warm * warmupRounds + count * timedRounds,
          (n) => mail.message(i * 1_000_000 + n),
          64,
        );
      log(
        `letterbox: ${name} maildrops filled in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
      lb = await serveLetterbox(setup, nodeArgs);
      if (lb.pop3) {
        const server = lb;
        lbr = await rounds('letterbox', setup.ports.pop3, () => server.pid);
        log(`letterbox ${name} (median): ${(lbr.messages / lbr.seconds).toFixed(1)} msg/s`);
      } else notes.push('Letterbox does not serve POP3 yet (no protocol registered): skipped.');
      await lb.stop();
      lb = undefined;
    }
    if (dv) {
      for (const [i, u] of USERS.entries())
        await dv.fill(u, warm * warmupRounds + count * timedRounds, (n) =>
          mail.message(i * 1_000_000 + n),
        );
      const side = dv;
      dvr = await rounds('dovecot  ', dv.pop3Port, () => side.masterPid());
      log(`dovecot   ${name} (median): ${(dvr.messages / dvr.seconds).toFixed(1)} msg/s`);
    }
    const rate = (r?: Result) => r && r.messages / r.seconds;
    const mb = (r?: Result) => r && r.bytes / 1e6 / r.seconds;
    const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}x` : '-');
    const label = `${name}, ${clients} x ${count} msgs`;
    rows.push([
      `${label}: messages/s`,
      fmt(rate(lbr)),
      fmt(rate(dvr)),
      ratio(rate(lbr), rate(dvr)),
    ]);
    rows.push([`${label}: MB/s`, fmt(mb(lbr)), fmt(mb(dvr)), ratio(mb(lbr), mb(dvr))]);
    for (const [who, r] of [
      ['Letterbox', lbr],
      ['Dovecot', dvr],
    ] as const) {
      if (r && !r.pipelining)
        notes.push(`${who} does not offer PIPELINING: RETR and DELE went one by one.`);
    }
  }
  dv?.stop();
  if (args['cpu-prof']) {
    for (const file of readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'))) {
      const { byFunction } = summarizeProfile(
        JSON.parse(readFileSync(join(profDir, file), 'utf8')),
      );
      const top = byFunction
        .slice(0, 15)
        .map((h) => `  ${(h.share * 100).toFixed(1).padStart(5)}%  ${h.name}`);
      log(`\nLetterbox CPU profile ${file}, self time by function:\n${top.join('\n')}`);
    }
  }
  const out = [
    '### POP3: retrieve and delete (higher is better)\n',
    table(['', 'Letterbox', 'Dovecot', 'LB / DV'], rows),
    '',
    `- ${clients} clients, one maildrop each; timed from all logged in to the last QUIT answered (deletions committed); the median of ${timedRounds} timed rounds.`,
    `- Before the timed rounds, each server gets the same ${warmupRounds} untimed rounds (${SIZES['10k']!.warm} x 10k or ${SIZES['1m']!.warm} x 1m messages per client, retrieved, deleted, QUIT; then a pause of at least ${SETTLE_MS / 1000} s, until the server's processes are idle), so that neither the client nor a server is measured while its code is still being compiled.`,
    `- ${cpus().length} CPUs shared by client and servers; Dovecot ${dv?.version ?? ''} with mail_fsync = always; Maildir files written directly and indexed before timing.`,
    ...notes.map((n) => `- ${n}`),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`bench/pop3 failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (lb) log(`letterbox log: ${lb.logFile}`);
    if (dv) log(dv.logTail(20));
    process.exit(1);
  },
);
