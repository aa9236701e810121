// SMTP bench: the same load against Letterbox and a private Postfix in one run, printed side by
// side. Usage (from the repository root):
//   node --import tsx bench/smtp/run.ts [--sessions 1,10,50] [--sizes 2k,10k,1m]
//     [--duration 6] [--rounds 2] [--max-messages N] [--only letterbox|postfix] [--cpu-prof] [--keep]
// One connection per message (per-connection.ts):
//   node --import tsx bench/smtp/run.ts --per-connection [--sessions 10,50] [--sizes 10k]
//     [--drivers smtp-source,bench] [--messages 3000] [--rounds 2] [--only ...] [--cpu-prof]
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { messageTemplate } from '../lib/message.js';
import { peakRss, RssSampler, resetPeakRss } from '../lib/proc.js';
import { type LoadResult, mergeResults, runLoad } from '../lib/smtp-load.js';
import { type LetterboxSide, startLetterbox, storedMessages } from './letterbox.js';
import { type Driver, runPerConnection } from './per-connection.js';
import { type PostfixSide, startPostfix } from './postfix.js';
import { type CellResult, printReport } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const SENDER = 'sender@bench-client.test';
const RECIPIENT = 'bench@bench.test';
/** After the load stops, how long Postfix may take to put the accepted messages in the Maildir. */
const DELIVERY_TIMEOUT_MS = 60_000;

const SIZES: Record<string, number> = { '2k': 2048, '10k': 10240, '1m': 1048576 };
/** Bounds per cell so that disk use and the whole run stay small whatever the machine. */
const DEFAULT_MAX: Record<string, number> = { '2k': 20_000, '10k': 20_000, '1m': 1_000 };

const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string' },
    sizes: { type: 'string' },
    duration: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    'max-messages': { type: 'string' },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'per-connection': { type: 'boolean', default: false },
    drivers: { type: 'string', default: 'smtp-source,bench' },
    messages: { type: 'string', default: '3000' },
  },
});
const perConnection = args['per-connection'];
const sessionCounts = (args.sessions ?? (perConnection ? '10,50' : '1,10,50'))
  .split(',')
  .map(Number);
const sizeNames = (args.sizes ?? (perConnection ? '10k' : '2k,10k,1m'))
  .split(',')
  .map((s) => s.toLowerCase());
const drivers = args.drivers.split(',') as Driver[];
for (const d of drivers)
  if (d !== 'smtp-source' && d !== 'bench')
    throw new Error(`unknown driver ${d} (smtp-source, bench)`);
for (const s of sizeNames) if (!(s in SIZES)) throw new Error(`unknown size ${s} (2k, 10k, 1m)`);
const durationMs = Number(args.duration) * 1000;
const rounds = Math.max(1, Number(args.rounds));
/** Each round of a cell gets its share of the duration. */
const roundMs = durationMs / rounds;
let perCellPeak = true;
const runLetterbox = args.only !== 'postfix';
const runPostfix = args.only !== 'letterbox';

const base = mkdtempSync(join(tmpdir(), 'letterbox-bench-smtp-'));
// Postfix's unprivileged processes must be able to search down to their directories.
chmodSync(base, 0o755);
let lb: LetterboxSide | undefined;
let pf: PostfixSide | undefined;

function cleanup(): void {
  lb?.kill();
  pf?.stop();
  // A CPU profile is only useful if it outlives the run.
  if (!args.keep && !args['cpu-prof']) rmSync(base, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => process.exit(130));
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function describe(r: LoadResult): string {
  return (
    `${r.messages} msgs in ${(r.elapsedMs / 1000).toFixed(1)} s, ` +
    `${r.messagesPerSecond.toFixed(1)} msg/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms` +
    (r.error ? ` [error: ${r.error}]` : '')
  );
}

async function load(port: number, sessions: number, size: number, tag: string, max: number) {
  return runLoad({
    host: '127.0.0.1',
    port,
    sessions,
    template: messageTemplate({ size, from: SENDER, to: RECIPIENT, tag }),
    sender: SENDER,
    recipient: RECIPIENT,
    durationMs: roundMs,
    maxMessages: max,
  });
}

async function postfixRound(sessions: number, size: number, tag: string, max: number) {
  const side = pf!;
  side.clearDelivered();
  const accepted = await load(side.port, sessions, size, tag, max);
  const at = await side.waitDelivered(accepted.messages, DELIVERY_TIMEOUT_MS);
  if (at === undefined) {
    log(`  postfix: only ${side.delivered()} of ${accepted.messages} delivered in time`);
    log(side.logTail(10));
  }
  side.clearDelivered();
  return { accepted, deliveryMs: at === undefined ? undefined : at - accepted.startedAt };
}

/** One cell on Letterbox: `rounds` loads, alternating with Postfix's so that noise on the
 * machine falls on both. */
async function cell(sessions: number, sizeName: string, max: number): Promise<CellResult> {
  const size = SIZES[sizeName]!;
  const result: CellResult = { sessions, sizeName };
  const lbRounds: LoadResult[] = [];
  const pfRounds: LoadResult[] = [];
  let deliveryMs: number | undefined = 0;
  const sampler = pf ? new RssSampler(() => pf?.masterPid()) : undefined;
  sampler?.start();
  if (lb && !resetPeakRss(lb.pid)) perCellPeak = false;
  for (let i = 0; i < rounds; i++) {
    const tag = `s${sessions}-${sizeName}-r${i}`;
    const roundMax = Math.ceil(max / rounds);
    if (lb) lbRounds.push(await load(lb.port, sessions, size, `lb-${tag}`, roundMax));
    if (pf) {
      const r = await postfixRound(sessions, size, `pf-${tag}`, roundMax);
      pfRounds.push(r.accepted);
      deliveryMs =
        deliveryMs === undefined || r.deliveryMs === undefined
          ? undefined
          : deliveryMs + r.deliveryMs;
    }
  }
  if (lb) {
    result.letterbox = mergeResults(lbRounds);
    result.letterboxRss = peakRss(lb.pid);
    log(`letterbox s${sessions}-${sizeName}: ${describe(result.letterbox)}`);
  }
  if (pf && sampler) {
    result.postfix = mergeResults(pfRounds);
    const mem = sampler.stop();
    result.postfixRss = mem.rss;
    result.postfixPss = mem.pss;
    result.postfixDeliveredPerSecond =
      deliveryMs === undefined ? undefined : result.postfix.messages / (deliveryMs / 1000);
    log(
      `postfix   s${sessions}-${sizeName}: ${describe(result.postfix)}, ` +
        `delivered ${result.postfixDeliveredPerSecond?.toFixed(1) ?? '-'} msg/s`,
    );
  }
  return result;
}

async function main(): Promise<void> {
  log(`bench/smtp: work directory ${base}`);
  if (runLetterbox) {
    const profDir = join(base, 'cpu-prof');
    const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    if (args['cpu-prof']) mkdirSync(profDir, { recursive: true });
    lb = await startLetterbox({
      root,
      dir: join(base, 'letterbox'),
      recipient: RECIPIENT,
      nodeArgs,
    });
    log(`letterbox: pid ${lb.pid}, MX on 127.0.0.1:${lb.port}`);
  }
  if (runPostfix) {
    if (process.getuid?.() !== 0) {
      log('postfix: skipped (a private Postfix instance has to be started as root)');
    } else {
      mkdirSync(join(base, 'postfix'));
      pf = await startPostfix({
        script: join(here, 'setup-postfix.sh'),
        dir: join(base, 'postfix'),
        recipient: RECIPIENT,
      });
      log(`postfix: master pid ${pf.masterPid()}, smtpd on 127.0.0.1:${pf.port}`);
    }
  }

  if (perConnection) {
    const out = await runPerConnection({
      ...(lb ? { lb } : {}),
      ...(pf ? { pf } : {}),
      drivers,
      sessions: sessionCounts,
      sizes: sizeNames.map((name) => ({ name, bytes: SIZES[name]! })),
      messages: Number(args.messages),
      rounds,
      sender: SENDER,
      recipient: RECIPIENT,
      log,
    });
    if (lb) {
      await lb.stop();
      if (args['cpu-prof']) log(`CPU profile of the server in ${join(base, 'cpu-prof')}`);
    }
    pf?.stop();
    process.stdout.write(`${out}\n`);
    return;
  }

  // Warm-up (not recorded): JIT, SQLite page cache, Postfix's first smtpd processes.
  const warm = { sessions: 10, size: 10240, max: 500 };
  const warmLb = lb ? await load(lb.port, warm.sessions, warm.size, 'warm-lb', warm.max) : null;
  if (pf) await postfixRound(warm.sessions, warm.size, 'warm-pf', warm.max);

  const cells: CellResult[] = [];
  for (const sizeName of sizeNames) {
    const max = args['max-messages'] ? Number(args['max-messages']) : DEFAULT_MAX[sizeName]!;
    for (const sessions of sessionCounts) cells.push(await cell(sessions, sizeName, max));
  }
  const lbTotal =
    (warmLb?.messages ?? 0) + cells.reduce((n, c) => n + (c.letterbox?.messages ?? 0), 0);

  let stored: string | undefined;
  if (lb) {
    await lb.stop();
    const n = storedMessages(root, lb.configFile, RECIPIENT);
    stored = `Letterbox store holds ${n} messages for ${RECIPIENT}; the bench got 250 for ${lbTotal}.`;
    if (args['cpu-prof']) log(`CPU profile of the server in ${join(base, 'cpu-prof')}`);
  }
  pf?.stop();
  printReport({
    cells,
    durationMs,
    rounds,
    cpus: cpus().length,
    perCellPeak,
    pipelining: cells.every(
      (c) => (c.letterbox?.pipelining ?? true) && (c.postfix?.pipelining ?? true),
    ),
    notes: stored ? [stored] : [],
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`bench/smtp failed: ${err instanceof Error ? err.message : String(err)}`);
    if (lb) log(`letterbox log: ${lb.logFile}`);
    if (pf) log(pf.logTail(20));
    process.exit(1);
  },
);
