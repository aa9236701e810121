// What one IDLE session costs the server, measured deterministically (issue 14 §4: 10,000 IDLE
// connections under 476.8 MiB RSS). Starts `letterbox serve` with --expose-gc and a small
// probe, opens a warm-up batch of IDLE connections exactly as bench/imap/idle.ts does (login,
// SELECT INBOX, IDLE), forces GC and reads heapUsed / external / RSS, opens N more, reads
// again, and prints the difference per session. With --snapshot it also takes a heap snapshot
// at both points and lists the constructors whose retained objects grew most per session.
// Usage (from the repository root):
//   node --import tsx bench/imap/session-heap.ts [--sessions 2000] [--warm 100] [--snapshot]
//     [--root DIR]   (DIR: another checkout's root, e.g. an older build, measured by this tool)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { corpus } from '../lib/corpus.js';
import { raiseFdLimitOrReexec } from '../lib/fd-limit.js';
import { expectOk, ImapClient } from '../lib/imap-client.js';
import { fillLetterbox, serveLetterbox, setupLetterbox } from '../lib/letterbox-server.js';
import { dotStuff } from '../lib/message.js';
import { closeSession, expect, openSession } from '../lib/smtp-wire.js';
import { openIdlers } from './idle.js';

const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string', default: '2000' },
    warm: { type: 'string', default: '100' },
    snapshot: { type: 'boolean', default: false },
    root: { type: 'string' },
    top: { type: 'string', default: '25' },
    deliver: { type: 'string', default: '0' },
    // How: imap (APPEND from another connection) or smtp (to the MX), as bench/imap/run.ts.
    by: { type: 'string', default: 'imap' },
  },
});
const n = Number(args.sessions);
const warm = Number(args.warm);
raiseFdLimitOrReexec(n + warm + 1000);

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(args.root ?? join(here, '..', '..'));
const base = mkdtempSync(join(tmpdir(), 'letterbox-session-heap-'));
const log = (line: string) => process.stderr.write(`${line}\n`);

// The probe runs inside the server: on SIGUSR2 it collects garbage several times, writes
// process.memoryUsage() (and a heap snapshot when asked) to the path named in `probe-target`,
// through a rename, so the tool never reads half a file.
const probe = join(base, 'probe.mjs');
const target = join(base, 'probe-target');
writeFileSync(
  probe,
  `import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
process.on('SIGUSR2', () => {
  const [out, withSnapshot] = readFileSync(${JSON.stringify(target)}, 'utf8').split('\\n');
  for (let i = 0; i < 6; i++) globalThis.gc();
  const m = process.memoryUsage();
  const hwm = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  m.peakRss = hwm ? Number(hwm[1]) * 1024 : 0;
  const snap = withSnapshot === '1' ? writeHeapSnapshot(out + '.heapsnapshot') : null;
  writeFileSync(out + '.tmp', JSON.stringify({ ...m, snap }));
  renameSync(out + '.tmp', out);
});
`,
);

interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  peakRss: number;
  snap: string | null;
}

let seq = 0;
async function measure(pid: number): Promise<Mem> {
  const out = join(base, `probe-${seq++}.json`);
  writeFileSync(target, `${out}\n${args.snapshot ? 1 : 0}`);
  process.kill(pid, 'SIGUSR2');
  const until = Date.now() + 300_000;
  for (;;) {
    try {
      return JSON.parse(readFileSync(out, 'utf8')) as Mem;
    } catch {
      if (Date.now() > until) throw new Error('probe did not answer');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Per constructor (node type and name): count and self size of the live objects. */
function census(file: string): Map<string, { count: number; size: number }> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const f = s.snapshot.meta.node_fields;
  const width = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const types = s.snapshot.meta.node_types[0];
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!;
    let name = s.strings[s.nodes[i + iName]!]!;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string')
      name = '(string)';
    else if (type === 'code' || type === 'hidden') name = `(${name.slice(0, 40)})`;
    else name = name.slice(0, 60);
    const key = `${type}:${name}`;
    const e = out.get(key) ?? { count: 0, size: 0 };
    e.count++;
    e.size += s.nodes[i + iSize]!;
    out.set(key, e);
  }
  return out;
}

async function smtpOne(port: number, to: string, raw: Buffer): Promise<void> {
  const s = await openSession('127.0.0.1', port, 'bench-client.test');
  s.socket.write('MAIL FROM:<sender@bench-client.test>\r\n');
  expect(await s.replies.next(), 250, 'MAIL');
  s.socket.write(`RCPT TO:<${to}>\r\n`);
  expect(await s.replies.next(), 250, 'RCPT');
  s.socket.write('DATA\r\n');
  expect(await s.replies.next(), 354, 'DATA');
  s.socket.write(Buffer.concat([dotStuff(raw), Buffer.from('.\r\n')]));
  expect(await s.replies.next(), 250, 'end of data');
  await closeSession(s);
}

async function main(): Promise<void> {
  const PASSWORD = 'bench-password';
  const USER = 'idle@bench.test';
  log(`session-heap: measuring ${root} in ${base}`);
  const setup = await setupLetterbox({
    root,
    dir: join(base, 'letterbox'),
    users: [USER],
    password: PASSWORD,
    maxConnectionsPerIp: n + warm + 1000,
  });
  const mix = corpus({ size: 4096, to: USER, tag: 'mix' });
  await fillLetterbox(setup, USER, 10, mix.message);
  const lb = await serveLetterbox(setup, ['--expose-gc', '--import', pathToFileURL(probe).href]);
  process.on('exit', () => {
    lb.kill();
    rmSync(base, { recursive: true, force: true });
  });
  try {
    const open = (count: number) =>
      openIdlers({
        port: setup.ports.imap,
        user: USER,
        password: PASSWORD,
        target: count,
        budgetMs: 600_000,
      });
    const w = await open(warm);
    if (w.error) throw new Error(w.error);
    const a = await measure(lb.pid);
    const h = await open(n);
    if (h.error) throw new Error(h.error);
    const b = await measure(lb.pid);
    const per = (k: 'rss' | 'peakRss' | 'heapUsed' | 'external' | 'arrayBuffers') =>
      ((b[k] - a[k]) / h.connected).toFixed(0);
    const mib = (x: number) => (x / 1048576).toFixed(1);
    console.log(`root ${root}`);
    console.log(`sessions ${h.connected} (after ${w.connected} warm-up)`);
    console.log(
      `heapUsed ${mib(a.heapUsed)} -> ${mib(b.heapUsed)} MiB: ${per('heapUsed')} B/session`,
    );
    console.log(
      `external ${mib(a.external)} -> ${mib(b.external)} MiB: ${per('external')} B/session`,
    );
    console.log(`arrayBuffers ${per('arrayBuffers')} B/session`);
    console.log(`peak rss ${mib(a.peakRss)} -> ${mib(b.peakRss)} MiB: ${per('peakRss')} B/session`);
    console.log(`rss ${mib(a.rss)} -> ${mib(b.rss)} MiB: ${per('rss')} B/session`);
    // Deliveries to every IDLE session (APPEND from another connection, as the bench does):
    // the transient memory of turning one change into N untagged EXISTS shows in the peak.
    const deliveries = Number(args.deliver);
    if (deliveries > 0) {
      const c = await ImapClient.login('127.0.0.1', setup.ports.imap, USER, PASSWORD);
      for (let i = 0; i < deliveries; i++) {
        const d = await h.deliver(args.by, async () => {
          const raw = mix.message(1_000_000 + i);
          if (args.by === 'smtp') await smtpOne(setup.ports.smtp, USER, raw);
          else expectOk(await c.command(['APPEND INBOX ', raw]), 'APPEND');
        });
        log(`delivery ${i + 1}: ${d.reached}/${h.connected} in ${d.allMs.toFixed(0)} ms`);
      }
      c.destroy();
      const d = await measure(lb.pid);
      console.log(
        `after ${deliveries} deliveries: peak rss ${mib(d.peakRss)} MiB, rss ${mib(d.rss)} MiB, heapUsed ${mib(d.heapUsed)} MiB`,
      );
    }
    if (a.snap && b.snap) {
      const ca = census(a.snap);
      const cb = census(b.snap);
      const rows = [...cb].map(([k, v]) => {
        const o = ca.get(k) ?? { count: 0, size: 0 };
        return {
          k,
          count: (v.count - o.count) / h.connected,
          size: (v.size - o.size) / h.connected,
        };
      });
      rows.sort((x, y) => y.size - x.size);
      console.log('per session: objects, bytes, type:constructor');
      for (const r of rows.slice(0, Number(args.top)))
        console.log(`${r.count.toFixed(2).padStart(8)} ${r.size.toFixed(0).padStart(7)}  ${r.k}`);
    }
    h.close();
    w.close();
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
