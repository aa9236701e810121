// What the mix and big phases of bench/imap/run.ts leave for its IDLE phase (issue 14 §4: the
// full run's IDLE peak is read in the process those phases ran in). Starts `letterbox serve`
// with --expose-gc and a probe (as session-heap.ts), fills the mix and big mailboxes as
// run.ts does, and reads the server's memory after each phase: RSS, heap, external, what is
// anonymous and what is mapped from files (/proc/<pid>/smaps_rollup), as is and, with --gc,
// after forced GC. Then opens the IDLE connections, delivers K messages and reports CPU and
// heap allocated per session per delivery and the peak RSS, as (c) does. --profile PHASE
// takes a CPU profile (or, PHASE-heap, an allocation sampling) of one phase.
// Usage (from the repository root):
//   node --import tsx bench/imap/after-load.ts [--clients 10,50] [--duration 20] [--big 100000]
//     [--big-rounds 5] [--idle 10000] [--deliver 3] [--gc] [--snapshot]
//     [--profile mix10|mix50|big|deliveries|deliveries-heap] [--root DIR] [--keep]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { corpus } from '../lib/corpus.js';
import { summarizeProfile } from '../lib/cpu-profile.js';
import { raiseFdLimitOrReexec } from '../lib/fd-limit.js';
import { expectOk, ImapClient } from '../lib/imap-client.js';
import { fillLetterbox, serveLetterbox, setupLetterbox } from '../lib/letterbox-server.js';
import { peakRss, resetPeakRss, treeCpuMs, waitQuiet } from '../lib/proc.js';
import { runBig } from './big.js';
import { openIdlers } from './idle.js';
import { runMix } from './mix.js';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '10,50' },
    duration: { type: 'string', default: '20' },
    big: { type: 'string', default: '100000' },
    'big-rounds': { type: 'string', default: '5' },
    idle: { type: 'string', default: '10000' },
    deliver: { type: 'string', default: '3' },
    snapshot: { type: 'boolean', default: false },
    // Force GC before each reading (the full run does not: it sees the heap as it is).
    gc: { type: 'boolean', default: false },
    root: { type: 'string' },
    keep: { type: 'boolean', default: false },
    // A CPU profile of one phase: mix10, mix50 (the mix at that many clients), big, deliveries.
    profile: { type: 'string', default: '' },
  },
});
const idleTarget = Number(args.idle);
raiseFdLimitOrReexec(idleTarget + 1000);

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(args.root ?? join(here, '..', '..'));
const base = mkdtempSync(join(tmpdir(), 'letterbox-after-load-'));
const log = (line: string) => process.stderr.write(`${line}\n`);
const PASSWORD = 'bench-password';
const MIX_USERS = Array.from({ length: 10 }, (_, i) => `mix${i}@bench.test`);
const BIG_USER = 'big@bench.test';
const IDLE_USER = 'idle@bench.test';

const probe = join(base, 'probe.mjs');
const target = join(base, 'probe-target');
writeFileSync(
  probe,
  `import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { GCProfiler, getHeapStatistics, writeHeapSnapshot } from 'node:v8';
let session = null;
let gcp = null;
let usedAtStart = 0;
const post = (method, params) =>
  new Promise((ok, fail) => session.post(method, params, (e, r) => (e ? fail(e) : ok(r))));
const field = (text, name) => {
  const m = new RegExp('^' + name + ':\\\\s+(\\\\d+) kB', 'm').exec(text);
  return m ? Number(m[1]) * 1024 : 0;
};
const series = ${JSON.stringify(join(base, 'series.txt'))};
setInterval(() => {
  const m = process.memoryUsage();
  appendFileSync(series, [Date.now(), m.rss, m.heapUsed, m.heapTotal, m.external].join(' ') + '\\n');
}, 100).unref();
// Anonymous memory by kind of mapping: [heap] is glibc malloc's main arena (the main thread's
// malloc: SQLite's page cache, Buffers, libuv and Node's native objects); a mapping that starts
// on a 64 MiB boundary is (by glibc's layout, HEAP_MAX_SIZE) another thread's arena; the rest
// is mostly V8's pages (both isolates) and large mmap'd allocations.
const mappings = () => {
  let brk = 0;
  let arenas = 0;
  let other = 0;
  let start = 0;
  let name = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ \\S+ \\S+ \\S+ \\S+\\s*(.*)$/.exec(line);
    if (head) {
      start = parseInt(head[1], 16);
      name = head[2];
      continue;
    }
    if (!line.startsWith('Anonymous:')) continue;
    const kb = Number(/(\\d+)/.exec(line)[1]) * 1024;
    if (name === '[heap]') brk += kb;
    else if (name !== '') continue;
    else if (start % (64 * 1048576) === 0) arenas += kb;
    else other += kb;
  }
  return { brk, arenas, otherAnon: other };
};
const proc = () => {
  const roll = readFileSync('/proc/self/smaps_rollup', 'utf8');
  const status = readFileSync('/proc/self/status', 'utf8');
  return {
    rss: field(status, 'VmRSS'),
    peakRss: field(status, 'VmHWM'),
    anon: field(roll, 'Anonymous'),
    file: field(status, 'RssFile'),
    shmem: field(status, 'RssShmem'),
    ...mappings(),
  };
};
process.on('SIGUSR2', async () => {
  const [out, withSnapshot, gc] = readFileSync(${JSON.stringify(target)}, 'utf8').split('\\n');
  // Bytes allocated on the heap between alloc-start and alloc-stop: what every GC found
  // used before it ran, less what the previous one left, and the rest at the end.
  if (out === 'alloc-start') {
    gcp = new GCProfiler();
    gcp.start();
    usedAtStart = getHeapStatistics().used_heap_size;
    return;
  }
  if (out.startsWith('alloc-stop ')) {
    const file = out.slice('alloc-stop '.length);
    const endUsed = getHeapStatistics().used_heap_size;
    const { statistics } = gcp.stop();
    let allocated = 0;
    let last = usedAtStart;
    for (const g of statistics) {
      allocated += g.beforeGC.heapStatistics.usedHeapSize - last;
      last = g.afterGC.heapStatistics.usedHeapSize;
    }
    allocated += endUsed - last;
    writeFileSync(file + '.tmp', JSON.stringify({ allocated, gcs: statistics.length }));
    renameSync(file + '.tmp', file);
    return;
  }
  if (out === 'heap-start') {
    session = new Session();
    session.connect();
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', { samplingInterval: 512 });
    return;
  }
  if (out.startsWith('heap-stop ')) {
    const file = out.slice('heap-stop '.length);
    const { profile } = await post('HeapProfiler.stopSampling');
    session.disconnect();
    writeFileSync(file + '.tmp', JSON.stringify(profile));
    renameSync(file + '.tmp', file);
    return;
  }
  if (out === 'prof-start') {
    session = new Session();
    session.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 200 });
    await post('Profiler.start');
    return;
  }
  if (out.startsWith('prof-stop ')) {
    const file = out.slice('prof-stop '.length);
    const { profile } = await post('Profiler.stop');
    session.disconnect();
    writeFileSync(file + '.tmp', JSON.stringify(profile));
    renameSync(file + '.tmp', file);
    return;
  }
  const before = { ...process.memoryUsage(), ...proc() };
  if (gc === '1') for (let i = 0; i < 6; i++) globalThis.gc();
  const after = { ...process.memoryUsage(), ...proc() };
  const snap = withSnapshot === '1' ? writeHeapSnapshot(out + '.heapsnapshot') : null;
  writeFileSync(out + '.tmp', JSON.stringify({ before, after, snap }));
  renameSync(out + '.tmp', out);
});
`,
);

interface Mem {
  rss: number;
  peakRss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  anon: number;
  brk: number;
  arenas: number;
  otherAnon: number;
  file: number;
  shmem: number;
}

let seq = 0;
const marks: [number, string][] = [];
const mark = (what: string) => marks.push([Date.now(), what]);

/** The server's own memory readings (every 100 ms), the largest RSS between two marks. */
function seriesReport(): void {
  const rows = readFileSync(join(base, 'series.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ').map(Number) as [number, number, number, number, number]);
  for (let i = 0; i < marks.length; i++) {
    const [from, what] = marks[i]!;
    const to = marks[i + 1]?.[0] ?? Number.POSITIVE_INFINITY;
    let top: (typeof rows)[number] | undefined;
    for (const r of rows) if (r[0] >= from && r[0] < to && (!top || r[1] > top[1])) top = r;
    if (top)
      console.log(
        `${what.padEnd(14)} max rss ${mib(top[1])} (heapUsed ${mib(top[2])} heapTotal ${mib(top[3])} external ${mib(top[4])})`,
      );
  }
}
async function measure(pid: number, snapshot = false): Promise<{ before: Mem; after: Mem }> {
  const out = join(base, `probe-${seq++}.json`);
  writeFileSync(target, `${out}\n${snapshot ? 1 : 0}\n${args.gc ? 1 : 0}`);
  mark(`probe ${seq}`);
  process.kill(pid, 'SIGUSR2');
  const until = Date.now() + 300_000;
  for (;;) {
    try {
      return JSON.parse(readFileSync(out, 'utf8'));
    } catch {
      if (Date.now() > until) throw new Error('probe did not answer');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Allocation sampling (--profile PHASE-heap): bytes allocated by function, and by stack. */
async function heapProfiled<T>(pid: number, phase: string, run: () => Promise<T>): Promise<T> {
  writeFileSync(target, 'heap-start');
  process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 500));
  const value = await run();
  const file = join(tmpdir(), `after-load-${phase}-${pid}.heapprofile`);
  writeFileSync(target, `heap-stop ${file}`);
  process.kill(pid, 'SIGUSR2');
  interface Node {
    callFrame: { functionName: string; url: string; lineNumber: number };
    selfSize: number;
    children: Node[];
  }
  for (const until = Date.now() + 60_000; ; ) {
    try {
      const head = (JSON.parse(readFileSync(file, 'utf8')) as { head: Node }).head;
      const self = new Map<string, number>();
      const stacks = new Map<string, number>();
      let total = 0;
      const walk = (n: Node, path: string[]) => {
        const f = n.callFrame;
        const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*\/dist\//, '')}:${f.lineNumber + 1}`;
        const here = [...path, name];
        if (n.selfSize > 0) {
          total += n.selfSize;
          self.set(name, (self.get(name) ?? 0) + n.selfSize);
          const key = here.slice(-4).join(' < ');
          stacks.set(key, (stacks.get(key) ?? 0) + n.selfSize);
        }
        for (const c of n.children) walk(c, here);
      };
      walk(head, []);
      const top = (m: Map<string, number>, k: number) =>
        [...m]
          .sort((a, b) => b[1] - a[1])
          .slice(0, k)
          .map(([n, b]) => `  ${mib(b)} MiB ${((b / total) * 100).toFixed(1).padStart(5)}%  ${n}`)
          .join('\n');
      console.log(`allocation sampling of ${phase} (${file}): ${mib(total)} MiB sampled`);
      console.log(
        `by function:\n${top(self, 30)}\nby stack (innermost last 4):\n${top(stacks, 25)}`,
      );
      return value;
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function profiled<T>(pid: number, phase: string, run: () => Promise<T>): Promise<T> {
  if (args.profile === `${phase}-heap`) return heapProfiled(pid, phase, run);
  if (args.profile !== phase) return run();
  writeFileSync(target, 'prof-start');
  process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 500));
  const value = await run();
  // Outside the work directory, which goes at exit: read it again with bench/lib/cpu-profile.ts.
  const file = join(tmpdir(), `after-load-${phase}-${pid}.cpuprofile`);
  writeFileSync(target, `prof-stop ${file}`);
  process.kill(pid, 'SIGUSR2');
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      const { byFile, byFunction } = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')));
      const list = (l: typeof byFile) =>
        l
          .slice(0, 25)
          .map((h) => `  ${(h.share * 100).toFixed(1).padStart(5)}%  ${h.name}`)
          .join('\n');
      console.log(`CPU profile of ${phase} (${file}), self time by file:\n${list(byFile)}`);
      console.log(`by function:\n${list(byFunction)}`);
      return value;
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const mib = (x: number) => (x / 1048576).toFixed(1).padStart(6);
function show(step: string, m: { before: Mem; after: Mem }): void {
  const row = (k: string, x: Mem) =>
    `${step.padEnd(12)} ${k.padEnd(6)} rss ${mib(x.rss)} anon ${mib(x.anon)} file ${mib(x.file)} heapTotal ${mib(x.heapTotal)} heapUsed ${mib(x.heapUsed)} external ${mib(x.external)} (arrayBuffers ${mib(x.arrayBuffers)}); anon: [heap] ${mib(x.brk)} arenas ${mib(x.arenas)} other ${mib(x.otherAnon)}`;
  console.log(row('as is', m.before));
  console.log(row('gc', m.after));
}

async function main(): Promise<void> {
  log(`after-load: measuring ${root} in ${base}`);
  const setup = await setupLetterbox({
    root,
    dir: join(base, 'letterbox'),
    users: [...MIX_USERS, BIG_USER, IDLE_USER],
    password: PASSWORD,
    maxConnectionsPerIp: idleTarget + 1000,
  });
  const mixCorpus = corpus({ size: 4096, to: 'mix@bench.test', tag: 'mix' });
  const bigCorpus = corpus({ size: 2048, to: BIG_USER, tag: 'big' });
  const appendCorpus = corpus({ size: 5120, to: 'mix@bench.test', tag: 'append' });
  for (const u of MIX_USERS) await fillLetterbox(setup, u, 1000, mixCorpus.message);
  const bigCount = Number(args.big);
  if (bigCount > 0) await fillLetterbox(setup, BIG_USER, bigCount, bigCorpus.message);
  await fillLetterbox(setup, IDLE_USER, 10, mixCorpus.message);
  const lb = await serveLetterbox(setup, ['--expose-gc', '--import', pathToFileURL(probe).href]);
  process.on('exit', () => {
    lb.kill();
    if (!args.keep) rmSync(base, { recursive: true, force: true });
  });
  try {
    show('start', await measure(lb.pid));
    mark('start');
    for (const clients of args.clients.split(',').filter(Boolean).map(Number)) {
      mark(`mix ${clients}`);
      const cpu0 = treeCpuMs(lb.pid);
      const r = await profiled(lb.pid, `mix${clients}`, () =>
        runMix({
          port: setup.ports.imap,
          users: MIX_USERS,
          password: PASSWORD,
          clients,
          durationMs: Number(args.duration) * 1000,
          appendMessage: (c, n) => appendCorpus.message(c * 1_000_000 + n),
        }),
      );
      await waitQuiet(lb.pid, { minMs: 200 });
      const cpu = treeCpuMs(lb.pid) - cpu0;
      console.log(
        `mix ${clients}: ${r.ops} ops, ${r.opsPerSecond.toFixed(0)} ops/s, server CPU ${((cpu / r.ops) * 1000).toFixed(0)} us/op${r.error ? `, ${r.error}` : ''}`,
      );
      show(`mix ${clients}`, await measure(lb.pid));
    }
    if (bigCount > 0) {
      mark('big');
      const cpu0 = treeCpuMs(lb.pid);
      const b = await profiled(lb.pid, 'big', () =>
        runBig({
          port: setup.ports.imap,
          user: BIG_USER,
          password: PASSWORD,
          rounds: Number(args['big-rounds']),
        }),
      );
      console.log(
        `big: SELECT ${b.selectMs.toFixed(1)} ms, UID FETCH ${b.fetchFlagsMs.toFixed(1)} ms, SEARCH BODY ${b.searchBodyMs.toFixed(1)} ms; server CPU ${(treeCpuMs(lb.pid) - cpu0).toFixed(0)} ms`,
      );
      for (const r of b.rounds)
        console.log(
          `  round: SELECT ${r.selectMs.toFixed(1)} ms, UID FETCH ${r.fetchFlagsMs.toFixed(1)} ms, SEARCH BODY ${r.searchBodyMs.toFixed(1)} ms`,
        );
      show('big', await measure(lb.pid, args.snapshot));
      // What is still kept a few seconds later (caches let go after their grace).
      await waitQuiet(lb.pid, { minMs: 3000 });
      show('big +3 s', await measure(lb.pid));
    }
    if (idleTarget > 0) {
      resetPeakRss(lb.pid);
      mark('idle connect');
      const h = await openIdlers({
        port: setup.ports.imap,
        user: IDLE_USER,
        password: PASSWORD,
        target: idleTarget,
        budgetMs: 600_000,
      });
      if (h.error) throw new Error(h.error);
      const c = await ImapClient.login('127.0.0.1', setup.ports.imap, IDLE_USER, PASSWORD);
      writeFileSync(target, 'alloc-start');
      process.kill(lb.pid, 'SIGUSR2');
      await new Promise((r) => setTimeout(r, 500));
      await profiled(lb.pid, 'deliveries', async () => {
        for (let i = 0; i < Number(args.deliver); i++) {
          mark(`delivery ${i + 1}`);
          const cpu0 = treeCpuMs(lb.pid);
          const d = await h.deliver('imap', async () => {
            expectOk(
              await c.command(['APPEND INBOX ', appendCorpus.message(900_000_000 + i)]),
              'APPEND',
            );
          });
          await waitQuiet(lb.pid, { minMs: 100 });
          console.log(
            `delivery ${i + 1}: ${d.reached}/${h.connected} in ${d.allMs.toFixed(0)} ms, server CPU ${(treeCpuMs(lb.pid) - cpu0).toFixed(0)} ms`,
          );
        }
      });
      const allocFile = join(base, 'alloc.json');
      writeFileSync(target, `alloc-stop ${allocFile}`);
      process.kill(lb.pid, 'SIGUSR2');
      for (const until = Date.now() + 60_000; ; ) {
        try {
          const a = JSON.parse(readFileSync(allocFile, 'utf8')) as {
            allocated: number;
            gcs: number;
          };
          const per = a.allocated / Number(args.deliver) / h.connected;
          console.log(
            `deliveries: heap allocated ${mib(a.allocated)} MiB in ${a.gcs} GCs, ${per.toFixed(0)} B per session per delivery`,
          );
          break;
        } catch (e) {
          if (Date.now() > until) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      show('idle end', await measure(lb.pid));
      console.log(`idle ${h.connected}: peak RSS ${mib(peakRss(lb.pid) ?? 0)} MiB`);
      c.destroy();
      h.close();
      mark('end');
    }
    seriesReport();
  } finally {
    await lb.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    log(String(e instanceof Error ? e.stack : e));
    process.exit(1);
  },
);
