// IMAP bench: Letterbox and a private Dovecot, same users, same mail, same client, one run.
// Usage (from the repository root):
//   node --import tsx bench/imap/run.ts [--clients 10,50] [--duration 20] [--big 100000] [--big-rounds 5]
//     [--idle 10000] [--idle-budget 120] [--phases mix,big,idle,login] [--only letterbox|dovecot]
//     [--login-clients 10] [--login-iterations 100] [--login-rounds 2] [--cpu-prof] [--keep]
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { corpus } from '../lib/corpus.js';
import { summarizeProfile } from '../lib/cpu-profile.js';
import { type DovecotSide, startDovecot } from '../lib/dovecot.js';
import { fdLimits, raiseFdLimitOrReexec } from '../lib/fd-limit.js';
import { expectOk, ImapClient } from '../lib/imap-client.js';
import {
  fillLetterbox,
  type LetterboxPorts,
  type LetterboxServer,
  serveLetterbox,
  setupLetterbox,
} from '../lib/letterbox-server.js';
import { dotStuff } from '../lib/message.js';
import { peakRss, RssSampler, resetPeakRss } from '../lib/proc.js';
import { closeSession, expect, openSession } from '../lib/smtp-wire.js';
import { runBig } from './big.js';
import { openIdlers } from './idle.js';
import { LOGIN_MIX_MESSAGES, loginUsers, runLoginMix } from './login.js';
import { runMix } from './mix.js';
import { formatReport, type IdleResult, type ImapReport } from './report.js';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '10,50' },
    duration: { type: 'string', default: '20' },
    big: { type: 'string', default: '100000' },
    // Long-running servers are warm: the median of several rounds, the first shown apart.
    'big-rounds': { type: 'string', default: '5' },
    idle: { type: 'string', default: '10000' },
    'idle-budget': { type: 'string', default: '150' },
    phases: { type: 'string', default: 'mix,big,idle,login' },
    'login-clients': { type: 'string', default: '10' },
    'login-iterations': { type: 'string', default: '100' },
    'login-rounds': { type: 'string', default: '2' },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const idleTarget = Number(args.idle);
const phases = new Set(args.phases.split(','));
// The bench holds the IDLE connections; each server holds as many again.
if (phases.has('idle')) raiseFdLimitOrReexec(idleTarget + 1000);

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const PASSWORD = 'bench-password';
const MIX_USERS = Array.from({ length: 10 }, (_, i) => `mix${i}@bench.test`);
const BIG_USER = 'big@bench.test';
const IDLE_USER = 'idle@bench.test';
const LOGIN_USERS = loginUsers(50);
const MIX_MESSAGES = 1000;
const bigCount = Number(args.big);
const runLb = args.only !== 'dovecot';
const runDv = args.only !== 'letterbox';

const base = mkdtempSync(join(tmpdir(), 'letterbox-bench-imap-'));
// Dovecot's unprivileged processes must be able to search down to their files.
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

const log = (line: string) => process.stderr.write(`${line}\n`);
const mixCorpus = corpus({ size: 4096, to: 'mix@bench.test', tag: 'mix' });
const bigCorpus = corpus({ size: 2048, to: BIG_USER, tag: 'big' });
const appendCorpus = corpus({ size: 5120, to: 'mix@bench.test', tag: 'append' });
const appendMessage = (client: number, n: number) => appendCorpus.message(client * 1_000_000 + n);

/** A logged-in connection that APPENDs on demand (the login is not part of the timing). */
async function appender(port: number, user: string) {
  const c = await ImapClient.login('127.0.0.1', port, user, PASSWORD);
  return {
    run: async (n: number) => {
      expectOk(await c.command(['APPEND INBOX ', appendCorpus.message(900_000_000 + n)]), 'APPEND');
    },
    close: () => c.logout(),
  };
}

async function smtpOne(port: number, to: string, n: number): Promise<void> {
  const s = await openSession('127.0.0.1', port, 'bench-client.test');
  s.socket.write('MAIL FROM:<sender@bench-client.test>\r\n');
  expect(await s.replies.next(), 250, 'MAIL');
  s.socket.write(`RCPT TO:<${to}>\r\n`);
  expect(await s.replies.next(), 250, 'RCPT');
  s.socket.write('DATA\r\n');
  expect(await s.replies.next(), 354, 'DATA');
  s.socket.write(
    Buffer.concat([dotStuff(appendCorpus.message(800_000_000 + n)), Buffer.from('.\r\n')]),
  );
  expect(await s.replies.next(), 250, 'end of data');
  await closeSession(s);
}

async function idlePhase(
  port: number,
  target: number,
  rss: { before: () => void; after: () => number | undefined },
  deliveries: { how: string; run: (n: number) => Promise<void> }[],
): Promise<IdleResult> {
  rss.before();
  const h = await openIdlers({
    port,
    user: IDLE_USER,
    password: PASSWORD,
    target,
    budgetMs: Number(args['idle-budget']) * 1000,
    onProgress: (n) => log(`  ${n} in IDLE`),
  });
  log(`  ${h.connected} connections in IDLE after ${(h.connectMs / 1000).toFixed(1)} s`);
  const result: IdleResult = {
    target,
    connected: h.connected,
    connectMs: h.connectMs,
    deliveries: [],
    error: h.error,
  };
  let n = 0;
  for (const d of deliveries) {
    for (let i = 0; i < 3; i++) {
      const r = await h.deliver(d.how, () => d.run(n++));
      log(`  ${d.how}: all ${r.reached}/${h.connected} in ${r.allMs.toFixed(1)} ms`);
      result.deliveries.push(r);
    }
  }
  result.peakRss = rss.after();
  h.close();
  return result;
}

async function main(): Promise<void> {
  log(`bench/imap: work directory ${base}; open-file limit ${fdLimits().soft}`);
  const report: ImapReport = { mix: [], notes: [] };
  const clientCounts = args.clients.split(',').map(Number);
  const durationMs = Number(args.duration) * 1000;
  const loginUsers = phases.has('login') ? LOGIN_USERS : [];
  const users = [...MIX_USERS, BIG_USER, IDLE_USER, ...loginUsers];
  const profDir = join(base, 'cpu-prof');
  let lbPorts: LetterboxPorts | undefined;

  if (runLb) {
    const setup = await setupLetterbox({
      root,
      dir: join(base, 'letterbox'),
      users,
      password: PASSWORD,
      maxConnectionsPerIp: idleTarget + 1000,
    });
    const t = performance.now();
    for (const u of MIX_USERS) await fillLetterbox(setup, u, MIX_MESSAGES, mixCorpus.message);
    if (phases.has('big')) await fillLetterbox(setup, BIG_USER, bigCount, bigCorpus.message);
    await fillLetterbox(setup, IDLE_USER, 10, mixCorpus.message);
    for (const u of loginUsers)
      await fillLetterbox(setup, u, LOGIN_MIX_MESSAGES, mixCorpus.message);
    log(`letterbox: store filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    if (args['cpu-prof']) mkdirSync(profDir, { recursive: true });
    const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    lb = await serveLetterbox(setup, nodeArgs);
    if (!lb.imap) {
      report.notes.push('Letterbox does not serve IMAP yet (no protocol registered): skipped.');
      await lb.stop();
      lb = undefined;
    } else log(`letterbox: pid ${lb.pid}, IMAP on 127.0.0.1:${setup.ports.imap}`);
    lbPorts = setup.ports;
  }
  if (runDv) {
    dv = await startDovecot({
      script: join(here, '..', 'lib', 'setup-dovecot.sh'),
      dir: join(base, 'dovecot'),
      users,
      password: PASSWORD,
    });
    const t = performance.now();
    for (const u of MIX_USERS) await dv.fill(u, MIX_MESSAGES, mixCorpus.message);
    if (phases.has('big')) await dv.fill(BIG_USER, bigCount, bigCorpus.message);
    await dv.fill(IDLE_USER, 10, mixCorpus.message);
    for (const u of loginUsers) await dv.fill(u, LOGIN_MIX_MESSAGES, mixCorpus.message);
    log(
      `dovecot ${dv.version}: IMAP on 127.0.0.1:${dv.imapPort}; Maildirs filled in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
  }

  if (phases.has('mix')) {
    for (const clients of clientCounts) {
      const cell: ImapReport['mix'][number] = { clients };
      const go = (port: number) =>
        runMix({ port, users: MIX_USERS, password: PASSWORD, clients, durationMs, appendMessage });
      if (lb) cell.letterbox = await go(lbPorts!.imap);
      if (lb) log(`letterbox mix ${clients}: ${cell.letterbox!.opsPerSecond.toFixed(0)} ops/s`);
      if (dv) cell.dovecot = await go(dv.imapPort);
      if (dv) log(`dovecot   mix ${clients}: ${cell.dovecot!.opsPerSecond.toFixed(0)} ops/s`);
      report.mix.push(cell);
    }
  }
  if (phases.has('big')) {
    const big: NonNullable<ImapReport['big']> = { messages: bigCount };
    const rounds = Number(args['big-rounds']);
    const go = (port: number) => runBig({ port, user: BIG_USER, password: PASSWORD, rounds });
    if (lb) big.letterbox = await go(lbPorts!.imap);
    if (dv) big.dovecot = await go(dv.imapPort);
    log('big mailbox done');
    report.big = big;
  }
  let loginReport = '';
  if (phases.has('login')) {
    // Before the IDLE phase, which replaces Dovecot with an instance for IDLE.
    const d = dv;
    loginReport = await runLoginMix({
      servers: [
        ...(lb ? [{ name: 'letterbox' as const, port: lbPorts!.imap, pid: () => lb?.pid }] : []),
        ...(d ? [{ name: 'dovecot' as const, port: d.imapPort, pid: () => d.masterPid() }] : []),
      ],
      users: LOGIN_USERS,
      password: PASSWORD,
      clients: args['login-clients'].split(',').map(Number),
      iterations: Number(args['login-iterations']),
      rounds: Number(args['login-rounds']),
      appendMessage,
      log,
    });
  }
  if (phases.has('idle')) {
    report.idle = {};
    if (lb) {
      log('letterbox: IDLE');
      const pid = lb.pid;
      let perProcess = true;
      const app = await appender(lbPorts!.imap, IDLE_USER);
      report.idle.letterbox = await idlePhase(
        lbPorts!.imap,
        idleTarget,
        { before: () => (perProcess = resetPeakRss(pid)), after: () => peakRss(pid) },
        [
          { how: 'APPEND from another connection', run: app.run },
          { how: 'SMTP to the MX', run: (n) => smtpOne(lbPorts!.smtp, IDLE_USER, n) },
        ],
      );
      await app.close();
      if (!perProcess)
        report.notes.push('Letterbox peak RSS could not be reset: it covers the whole run.');
    }
    if (dv) {
      // IDLE needs many connections per imap process (10,000 processes would not fit here),
      // so a second instance with imap { client_limit = 100 } takes over for this phase.
      dv.stop();
      dv = await startDovecot({
        script: join(here, '..', 'lib', 'setup-dovecot.sh'),
        dir: join(base, 'dovecot-idle'),
        users: [IDLE_USER],
        password: PASSWORD,
        imapClientLimit: 100,
      });
      await dv.fill(IDLE_USER, 10, mixCorpus.message);
      log('dovecot: IDLE');
      const side = dv;
      const sampler = new RssSampler(() => side.masterPid());
      let pss = 0;
      const stop = () => {
        const m = sampler.stop();
        pss = m.pss;
        return m.rss;
      };
      const app = await appender(dv.imapPort, IDLE_USER);
      // The same number of connections as Letterbox reached, so memory compares like for like.
      report.idle.dovecot = await idlePhase(
        dv.imapPort,
        report.idle.letterbox?.connected || idleTarget,
        { before: () => sampler.start(), after: stop },
        [{ how: 'APPEND from another connection', run: app.run }],
      );
      await app.close();
      report.idle.dovecot.peakPss = pss;
    }
  }

  if (lb) {
    await lb.stop();
    lb = undefined;
    if (args['cpu-prof']) {
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        const { byFile, byFunction } = summarizeProfile(
          JSON.parse(readFileSync(join(profDir, file), 'utf8')),
        );
        const show = (l: typeof byFile) =>
          l
            .slice(0, 15)
            .map((h) => `  ${(h.share * 100).toFixed(1).padStart(5)}%  ${h.name}`)
            .join('\n');
        log(
          `\nLetterbox CPU profile (${join(profDir, file)}), self time by file:\n${show(byFile)}\nby function:\n${show(byFunction)}`,
        );
      }
    }
  }
  dv?.stop();
  report.notes.push(
    `${cpus().length} CPUs; client and servers share them. Dovecot ${dv?.version ?? ''} with mail_fsync = always, no FTS plugin (SEARCH BODY reads the messages); Maildir files written directly and indexed by doveadm before timing.`,
    "Dovecot peak RSS is the largest sum of VmRSS over its processes (shared pages count once per process; PSS shares them out); Letterbox's is VmHWM of its one process.",
  );
  process.stdout.write(formatReport(report) + loginReport);
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`bench/imap failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (lb) log(`letterbox log: ${lb.logFile}`);
    if (dv) log(dv.logTail(20));
    process.exit(1);
  },
);
