// What `[search] full_text_index` moves (SQLite store): with "on-delivery" each delivery's text
// is extracted and indexed as it is stored; with "on-search" nothing is, and the first SEARCH
// BODY of the mailbox indexes what arrived since (fts-db.ts catchUp). One process, this
// checkout's build (`dist/`, npm run build), a fresh store per mode and round, the modes
// alternated (A B, B A, ...). Per mode: `N` 10 KB messages (bench/lib/message.ts prose, bodies
// from 64 seeds) parsed as delivery parses them (indexMessage with the store's mode, timed)
// and appended `--batch` at a time, as the MX's sessions wait for their 250; then a SEARCH
// BODY of the mailbox, then six more. Printed: the process's CPU (every thread:
// process.cpuUsage) per message for the appends and the first search together, counted until
// the process is idle again (a mailbox far behind is read by its first search and indexed
// after the answer), the first search's wall time and CPU, the second's (at once after it),
// the CPU after that until idle, the median of the last five (a few searches after a large
// catch-up cost more, then as on-delivery's), and the catch-up's CPU per message caught up
// (the two searches' CPU and what followed them until idle, less two later searches').
//   node --import tsx bench/imap/search-catch-up.ts [--root .] [--messages 2000] [--rounds 3]
//     [--batch 4]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    root: { type: 'string', default: '.' },
    messages: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '4' },
  },
});
const root = resolve(args.root);
const count = Number(args.messages);
const rounds = Number(args.rounds);
const batch = Number(args.batch);
const RECIPIENT = 'bench@bench.test';
const MODES = ['on-delivery', 'on-search'] as const;
type Mode = (typeof MODES)[number];

const dist = join(root, 'dist');
const { SqliteStore } = await import(join(dist, 'src/store/sqlite/sqlite-store.js'));
const { indexMessage } = await import(join(dist, 'src/delivery/local.js'));
const { bodyText } = await import(join(dist, 'bench/lib/message.js'));

const date = new Date().toUTCString().replace('GMT', '+0000');
const bodies = Array.from({ length: 64 }, (_, i) => bodyText(9800, i + 1) as Buffer);
const raws = Array.from({ length: count }, (_, n) =>
  Buffer.concat([
    Buffer.from(
      `From: Bench Sender <sender@bench-client.test>\r\nTo: <${RECIPIENT}>\r\n` +
        `Subject: Bench message ${n}\r\nDate: ${date}\r\n` +
        `Message-ID: <catch-up.${n}.${Date.now()}@bench.client>\r\nMIME-Version: 1.0\r\n` +
        'Content-Type: text/plain; charset=us-ascii\r\n\r\n',
      'latin1',
    ),
    bodies[n % bodies.length]!,
  ]),
);

const cpuUs = (c: NodeJS.CpuUsage) => c.user + c.system;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Result {
  /** Appends and the first search together, CPU us per message. */
  total: number;
  first: { wallMs: number; cpuMs: number };
  /** The process's CPU after the second search's answer until idle (the mailbox indexed). */
  afterMs: number;
  second: { wallMs: number; cpuMs: number };
  /** The median of the third to seventh searches. */
  later: { wallMs: number; cpuMs: number };
  hits: number;
}

/** The process's CPU (ms) until a 200 ms window in which it used under 2 ms. */
async function untilIdle(): Promise<number> {
  const c0 = process.cpuUsage();
  for (let last = process.cpuUsage(); ; ) {
    await new Promise((r) => setTimeout(r, 200));
    const now = process.cpuUsage();
    if (cpuUs(process.cpuUsage(last)) < 2000) return cpuUs(process.cpuUsage(c0)) / 1000;
    last = now;
  }
}

async function run(mode: Mode): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'letterbox-catch-up-'));
  const store = await SqliteStore.open({ dir, fullTextIndex: mode });
  try {
    await store.addDomain('bench.test');
    const account = await store.createAccount({ address: RECIPIENT, passwordHash: 'x' });
    const inbox = await store.getMailbox(account.id, 'INBOX');
    // The worker's start is not the appends' cost.
    await store.searchText(inbox.id, 'warm');
    const c0 = process.cpuUsage();
    for (let j = 0; j < count; j += batch) {
      await Promise.all(
        raws
          .slice(j, j + batch)
          .map((raw) =>
            store.append({ raw, index: indexMessage(raw, mode) }, [{ mailboxId: inbox.id }]),
          ),
      );
    }
    const search = async () => {
      const t = performance.now();
      const c = process.cpuUsage();
      const hits: number[] = await store.searchText(inbox.id, 'quarter budget');
      return {
        hits: hits.length,
        wallMs: performance.now() - t,
        cpuMs: cpuUs(process.cpuUsage(c)) / 1000,
      };
    };
    const first = await search();
    // At once, as a client searching again (during what the first left the worker to do).
    const second = await search();
    // What the first search left the worker to do (on-search reads a mailbox far behind and
    // indexes it after answering): the CPU after the second's answer until idle again.
    const after = await untilIdle();
    const total = cpuUs(process.cpuUsage(c0)) / count;
    const rest = [];
    for (let i = 0; i < 5; i++) rest.push(await search());
    const later = {
      wallMs: median(rest.map((x) => x.wallMs)),
      cpuMs: median(rest.map((x) => x.cpuMs)),
    };
    return { total, first, afterMs: after, second, later, hits: first.hits };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = new Map<Mode, Result[]>(MODES.map((m) => [m, []]));
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? MODES : [...MODES].reverse();
  for (const mode of order) {
    const res = await run(mode);
    results.get(mode)!.push(res);
    process.stderr.write(
      `round ${r} ${mode}: ${res.total.toFixed(0)} us/msg appends + first search; first search ` +
        `${res.first.wallMs.toFixed(0)} ms wall, ${res.first.cpuMs.toFixed(0)} ms CPU; second ` +
        `${res.second.wallMs.toFixed(1)} ms, ${res.second.cpuMs.toFixed(1)} ms, then ` +
        `${res.afterMs.toFixed(0)} ms CPU until idle; later ` +
        `${res.later.wallMs.toFixed(1)} ms, ${res.later.cpuMs.toFixed(1)} ms; ${res.hits} hits\n`,
    );
  }
}

console.log(`${count} messages of 10 KB, batches of ${batch}, ${rounds} rounds (medians):`);
for (const mode of MODES) {
  const rs = results.get(mode)!;
  const catchUp = rs.map(
    (x) => ((x.first.cpuMs + x.second.cpuMs + x.afterMs - 2 * x.later.cpuMs) * 1000) / count,
  );
  console.log(
    `  ${mode.padEnd(11)} appends + first search ${median(rs.map((x) => x.total)).toFixed(0)} us/msg ` +
      `(${rs.map((x) => x.total.toFixed(0)).join(' ')}); first SEARCH BODY ` +
      `${median(rs.map((x) => x.first.wallMs)).toFixed(0)} ms wall, ` +
      `${median(rs.map((x) => x.first.cpuMs)).toFixed(0)} ms CPU; second ` +
      `${median(rs.map((x) => x.second.wallMs)).toFixed(1)} ms, ` +
      `${median(rs.map((x) => x.second.cpuMs)).toFixed(1)} ms, then ` +
      `${median(rs.map((x) => x.afterMs)).toFixed(0)} ms CPU until idle; later ` +
      `${median(rs.map((x) => x.later.wallMs)).toFixed(1)} ms, ` +
      `${median(rs.map((x) => x.later.cpuMs)).toFixed(1)} ms` +
      (mode === 'on-search' ? `; catch-up ${median(catchUp).toFixed(0)} us CPU per message` : ''),
  );
}
