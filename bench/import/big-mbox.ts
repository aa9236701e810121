// Issue 18 item 6: a very large import in bounded memory, and the big mailbox served after.
//
//   node --import tsx bench/import/big-mbox.ts [--count 1000000] [--size 1024] [--rounds 3]
//     [--keep]
//   node --import tsx bench/import/big-mbox.ts --data DIR [--rounds 3] [--root BUILD]
//     [--cpu-prof PROFDIR]
//
// Writes an mbox of COUNT small messages (bench/lib/corpus.ts, ~SIZE bytes each, the rare
// word of bench (b) in every 100th), runs the built `letterbox import mbox` on it and samples
// the importing process's RSS every 250 ms (VmRSS, and VmHWM for the peak), then serves the
// data directory and times what bench/imap (b) times on that mailbox (SELECT,
// `UID FETCH 1:* (UID FLAGS)`, `SEARCH BODY`), plus a QRESYNC resync (RFC 7162 §3.2.5:
// `SELECT INBOX (QRESYNC (uidvalidity modseq))` after 10 flag changes). Run it at 100,000 and
// at 1,000,000 to compare. Prints one JSON object.
//
// `--data DIR` serves the `letterbox` directory a `--keep` run left (DIR/letterbox) without
// importing again (building a million takes most of an hour): the same IMAP timings, each
// also as the server's CPU time (all its threads, /proc/PID/task/*/schedstat: what load on
// the machine does not stretch), and the first round apart (the first SELECT after a start,
// once the server is idle: settle);
// `perUnit` gives the server's CPU per FETCH line and per SEARCH BODY match (rounds after the
// first) and per QRESYNC resync. `--root BUILD` serves with another built checkout (A/B runs
// on one directory), `--cpu-prof PROFDIR` writes the server's CPU profiles there.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'smol-toml';
import { runBig } from '../imap/big.js';
import { corpus } from '../lib/corpus.js';
import { expectOk, ImapClient } from '../lib/imap-client.js';
import { type LetterboxSetup, serveLetterbox, setupLetterbox } from '../lib/letterbox-server.js';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    size: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
    data: { type: 'string' },
    root: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const USER = 'big@bench.test';
const PASSWORD = 'bench-password-1';
const count = Number(args.count);
const log = (s: string) => process.stderr.write(`${new Date().toISOString()} ${s}\n`);

/** mboxrd (RFC 4155 and mbox(5)): a From line, the message with `>*From ` quoted, an empty line. */
async function writeMbox(path: string): Promise<number> {
  const c = corpus({ size: Number(args.size), to: USER, tag: 'big' });
  const out = createWriteStream(path);
  const from = Buffer.from('From bench@example.org Mon Jan  1 00:00:00 2024\n');
  let bytes = 0;
  for (let n = 0; n < count; n++) {
    const text = c
      .message(n)
      .toString('latin1')
      .replace(/\r\n/g, '\n')
      .replace(/^(>*From )/gm, '>$1');
    const chunk = Buffer.concat([from, Buffer.from(text, 'latin1'), Buffer.from('\n')]);
    bytes += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}

function status(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
  } catch {
    return null;
  }
}

async function importMbox(configFile: string, mbox: string) {
  const child = spawn(
    process.execPath,
    [join(root, 'bin', 'letterbox.js'), '--config', configFile, 'import', 'mbox', USER, mbox],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let stdout = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  const started = performance.now();
  const samples: Array<[number, number]> = [];
  let hwm = 0;
  const timer = setInterval(() => {
    const s = status(child.pid!);
    if (!s) return;
    samples.push([(performance.now() - started) / 1000, s.rss]);
    hwm = Math.max(hwm, s.hwm);
  }, 250);
  const [code] = (await once(child, 'exit')) as [number];
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`import exited ${code}: ${stdout}`);
  const summary = JSON.parse(stdout.trim().split('\n').pop()!) as { imported: number };
  // RSS at each tenth of the run: flat if memory does not grow with the mailbox.
  const tenths: number[] = [];
  for (let i = 1; i <= 10; i++) {
    const at = (seconds * i) / 10;
    const before = samples.filter(([t]) => t <= at);
    tenths.push(Math.round((before[before.length - 1]?.[1] ?? 0) / 2 ** 20));
  }
  return {
    imported: summary.imported,
    seconds: Math.round(seconds),
    perSecond: Math.round(summary.imported / seconds),
    peakRssMiB: Math.round(hwm / 2 ** 20),
    rssMiBByTenth: tenths,
  };
}

/**
 * The resync's wall time (median) and, given the server's pid, its CPU for each round: what
 * RFC 7162 §3.2.5.2 makes it answer (10 changed messages) should cost the same at any size.
 */
async function qresync(
  port: number,
  rounds: number,
  pid?: number,
): Promise<{ ms: number; cpuMs: number[] }> {
  const times: number[] = [];
  const cpuMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c = await ImapClient.login('127.0.0.1', port, USER, PASSWORD);
    expectOk(await c.command('ENABLE QRESYNC'), 'ENABLE');
    const s = expectOk(await c.command('SELECT INBOX'), 'SELECT');
    const uv = /UIDVALIDITY (\d+)/i.exec(s.untagged.join('\n'))?.[1];
    const hms = /HIGHESTMODSEQ (\d+)/i.exec(s.untagged.join('\n'))?.[1];
    for (let i = 0; i < 10; i++) {
      const uid = 1 + Math.floor(Math.random() * count);
      expectOk(
        await c.command(`UID STORE ${uid} ${r % 2 ? '-' : '+'}FLAGS.SILENT (\\Flagged)`),
        'STORE',
      );
    }
    expectOk(await c.command('UNSELECT'), 'UNSELECT');
    const cpu0 = pid === undefined ? 0 : processCpuMs(pid);
    const t = performance.now();
    expectOk(await c.command(`SELECT INBOX (QRESYNC (${uv} ${hms}))`, { keep: false }), 'QRESYNC');
    times.push(performance.now() - t);
    if (pid !== undefined) cpuMs.push(Math.round((processCpuMs(pid) - cpu0) * 100) / 100);
    await c.logout();
  }
  return { ms: median(times), cpuMs };
}

function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/**
 * CPU time of the process so far, all its threads (the full-text worker, V8's helpers), in ms
 * (proc(5): each task's schedstat, ns on the CPU; finer than stat's 10 ms ticks).
 */
function processCpuMs(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return ns / 1e6;
}

/** The setup a `--keep` run left in `dir` (its `letterbox` directory). */
function keptSetup(dir: string): LetterboxSetup {
  const dataDir = join(dir, 'data');
  const configFile = join(dataDir, 'letterbox.toml');
  const cfg = parse(readFileSync(configFile, 'utf8')) as {
    listeners: Record<string, { port: number }>;
  };
  const l = cfg.listeners;
  return {
    root: args.root ? resolve(args.root) : root,
    dir,
    dataDir,
    configFile,
    ports: { imap: l['imap']!.port, pop3: l['pop3']!.port, smtp: l['smtp']!.port },
  };
}

/**
 * Waits until the server is idle: at least `minMs` after its start (the store sweeps for what
 * a crash left 5 s after open, in slices: data-purge.ts), then until a second passes with
 * under 20 ms of its CPU. Background work would otherwise fall into the commands' CPU.
 */
async function settle(pid: number, minMs = 7000): Promise<number> {
  const started = performance.now();
  await new Promise((r) => setTimeout(r, minMs));
  let last = processCpuMs(pid);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = processCpuMs(pid);
    if (now - last < 20 || performance.now() - started > 120_000) break;
    last = now;
  }
  return Math.round(performance.now() - started);
}

async function serveKept(dir: string): Promise<void> {
  const setup = keptSetup(resolve(dir));
  const prof = args['cpu-prof'];
  const lb = await serveLetterbox(
    setup,
    prof ? ['--cpu-prof', '--cpu-prof-dir', resolve(prof)] : [],
  );
  try {
    const settledMs = await settle(lb.pid);
    const rounds = Number(args.rounds);
    const cpu: Array<Record<string, number>> = [];
    let last = processCpuMs(lb.pid);
    const big = await runBig({
      port: setup.ports.imap,
      user: USER,
      password: PASSWORD,
      rounds,
      // Called after each timed command: the server's CPU for it (the client waited for the
      // tagged OK, so the server's work for the command is done).
      onStep: (step, round) => {
        const now = processCpuMs(lb.pid);
        cpu[round] ??= {};
        cpu[round]![step] = Math.round((now - last) * 10) / 10;
        last = now;
      },
      beforeStep: () => {
        last = processCpuMs(lb.pid);
      },
    });
    const resync = await qresync(setup.ports.imap, rounds, lb.pid);
    // SEARCH UNSEEN (flags alone) in one session, after a SELECT: wall and server CPU.
    const unseen: Array<{ ms: number; cpuMs: number }> = [];
    const c = await ImapClient.login('127.0.0.1', setup.ports.imap, USER, PASSWORD);
    expectOk(await c.command('SELECT INBOX'), 'SELECT');
    for (let r = 0; r < rounds; r++) {
      const cpu0 = processCpuMs(lb.pid);
      const t = performance.now();
      expectOk(await c.command('SEARCH UNSEEN', { keep: false }), 'SEARCH UNSEEN');
      unseen.push({
        ms: Math.round((performance.now() - t) * 10) / 10,
        cpuMs: Math.round((processCpuMs(lb.pid) - cpu0) * 10) / 10,
      });
    }
    await c.logout();
    const ms = (x: number) => Math.round(x * 10) / 10;
    // Server CPU per message answered (FETCH: a line each) and per match (SEARCH BODY: the
    // corpus puts the rare word in every 100th message), rounds after the first: beside the
    // absolute figures, what says whether a larger mailbox costs more per unit of answer.
    const later = (step: string) => median(cpu.slice(1).map((r) => r[step]!));
    const us = (x: number) => Math.round(x * 1000) / 1000;
    process.stdout.write(
      `${JSON.stringify({
        data: dir,
        settledMs,
        perUnit: {
          fetchCpuMs: later('fetch'),
          fetchUsPerMessage: us((later('fetch') / big.exists) * 1000),
          searchCpuMs: later('search'),
          searchUsPerMatch: big.matches > 0 ? us((later('search') / big.matches) * 1000) : null,
          qresyncCpuMs: median(resync.cpuMs),
        },
        qresyncCpuMs: resync.cpuMs,
        searchUnseen: unseen,
        big: {
          exists: big.exists,
          firstSelectMs: ms(big.firstSelectMs),
          selectMs: ms(big.selectMs),
          firstFetchFlagsMs: ms(big.firstFetchFlagsMs),
          fetchFlagsMs: ms(big.fetchFlagsMs),
          firstSearchBodyMs: ms(big.firstSearchBodyMs),
          searchBodyMs: ms(big.searchBodyMs),
          qresyncMs: ms(resync.ms),
          matches: big.matches,
          serverCpuMs: cpu,
        },
      })}\n`,
    );
  } finally {
    await lb.stop();
  }
}

async function main(): Promise<void> {
  if (args.data) return serveKept(args.data);
  const base = mkdtempSync(join(tmpdir(), 'letterbox-bench-bigmbox-'));
  log(`work directory ${base}`);
  try {
    const setup = await setupLetterbox({
      root,
      dir: join(base, 'letterbox'),
      users: [USER],
      password: PASSWORD,
      maxConnectionsPerIp: 100,
    });
    const mbox = join(base, 'big.mbox');
    const bytes = await writeMbox(mbox);
    log(`mbox of ${count} messages, ${Math.round(bytes / 2 ** 20)} MiB`);
    const imp = await importMbox(setup.configFile, mbox);
    log(`imported ${imp.imported} in ${imp.seconds} s, peak RSS ${imp.peakRssMiB} MiB`);
    rmSync(mbox);
    const lb = await serveLetterbox(setup);
    try {
      const rounds = Number(args.rounds);
      const big = await runBig({ port: setup.ports.imap, user: USER, password: PASSWORD, rounds });
      const resync = await qresync(setup.ports.imap, rounds);
      const ms = (x: number) => Math.round(x * 10) / 10;
      process.stdout.write(
        `${JSON.stringify({
          messages: count,
          mboxMiB: Math.round(bytes / 2 ** 20),
          import: imp,
          big: {
            exists: big.exists,
            selectMs: ms(big.selectMs),
            fetchFlagsMs: ms(big.fetchFlagsMs),
            searchBodyMs: ms(big.searchBodyMs),
            qresyncMs: ms(resync.ms),
            matches: big.matches,
          },
        })}\n`,
      );
    } finally {
      await lb.stop();
    }
  } finally {
    if (!args.keep) rmSync(base, { recursive: true, force: true });
  }
}

await main();
