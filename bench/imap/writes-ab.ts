// The login mix's three writes on the SQLite store alone, two or more builds in one process
// (issue 19): what kind-cost.ts's WRITES (~280 us of server CPU a write) cannot resolve under
// ~10%, measured without IMAP, the connection or the socket writes around it. Each root's own
// `dist/` is loaded: its SqliteStore over a fresh data directory, 10 accounts with an INBOX of
// 30 messages of 4 KB (the mix's), each listed once (the record cache kept, as FETCH 1:*
// leaves it). An iteration of an account is the mix's writes, each awaited: APPEND of a 5 KB
// message (login.ts's), STORE +FLAGS (\Deleted) of its oldest message, EXPUNGE; `--parallel`
// accounts iterate at once (their writes share group commits, as the mix's ten clients' do:
// ~3 a commit there). Rounds alternate between the builds (A B, B A, ...) after `--warmup`
// iterations each. Per round: the main thread's CPU per write (/proc/thread-self/schedstat)
// and the process's (process.cpuUsage: with the WAL fsyncs in the pool), each with the
// collection of what the round's EXPUNGEs let go of, done at its end.
//   node --import tsx bench/imap/writes-ab.ts --roots /work/bench-before,/work/wt-imap
//     [--parallel 3] [--iterations 600] [--warmup 600] [--rounds 8]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ownProcessNs, ownThreadNs } from '../lib/proc.js';
import { LOGIN_MIX_MESSAGES, loginAppendMessage } from './login.js';

const { values: args } = parseArgs({
  options: {
    roots: { type: 'string' },
    parallel: { type: 'string', default: '3' },
    iterations: { type: 'string', default: '600' },
    warmup: { type: 'string', default: '600' },
    rounds: { type: 'string', default: '8' },
  },
});
if (!args.roots) throw new Error('--roots A,B: checkouts with dist/ built');
const roots = args.roots.split(',');
const parallel = Number(args.parallel);
const perRound = Number(args.iterations);
const ACCOUNTS = 10;
const WRITES = 3;

interface Side {
  root: string;
  dir: string;
  close: () => Promise<void>;
  /** `n` iterations, `parallel` accounts at a time; CPU ns per write. */
  round: (n: number) => Promise<{ main: number; all: number }>;
  main: number[];
  all: number[];
}

const appendMessage = loginAppendMessage(91);
const fill = loginAppendMessage(92);
let seq = 0;

async function openSide(root: string, i: number): Promise<Side> {
  const dist = join(root, 'dist');
  const { SqliteStore } = await import(join(dist, 'src/store/sqlite/sqlite-store.js'));
  const { indexMessage } = await import(join(dist, 'src/delivery/local.js'));
  const dir = mkdtempSync(join(tmpdir(), `letterbox-writes-ab-${i}-`));
  const store = await SqliteStore.open({ dir });
  await store.addDomain('bench.test');
  const inboxes: number[] = [];
  for (let a = 0; a < ACCOUNTS; a++) {
    const account = await store.createAccount({
      address: `user${a}@bench.test`,
      passwordHash: 'x',
    });
    const inbox = (await store.getMailbox(account.id, 'INBOX')).id as number;
    for (let m = 0; m < LOGIN_MIX_MESSAGES; m++) {
      const raw = fill(a, m);
      await store.append({ raw, index: indexMessage(raw) }, [{ mailboxId: inbox }]);
    }
    await store.listMessages(inbox);
    inboxes.push(inbox);
  }
  const iterate = async (a: number) => {
    const inbox = inboxes[a]!;
    const raw = appendMessage(a, seq++);
    // The store's own mode, as the server's APPEND parses (delivery/mailbox.ts): with the
    // default on-search no text is extracted (~2 us an APPEND of the mix's message).
    await store.append({ raw, index: indexMessage(raw, store.fullTextIndex) }, [
      { mailboxId: inbox },
    ]);
    const oldest = (await store.mailboxSummary(inbox)).uids.toArray()[0] as number;
    await store.setFlags(inbox, [oldest], 'add', ['\\Deleted']);
    const gone = await store.expunge(inbox, { onlyDeleted: true });
    if (gone.length !== 1) throw new Error(`${root}: EXPUNGE removed ${gone.length}`);
  };
  // Runner j iterates the accounts a with a % parallel === j: no two at once in one account.
  const turns = Array.from({ length: parallel }, () => 0);
  // What an EXPUNGE leaves for the store's quiet time (the stored messages it let go of, their
  // bytes) is done before a round ends, inside it: the server's CPU is counted until idle too,
  // and here the next round (the other build's, on this thread) would pay it.
  const quiet = (store as unknown as { messages: Record<string, { drain(): Promise<void> }> })
    .messages;
  const settle = async () => {
    await quiet.unreferenced!.drain();
    await quiet.purge!.drain();
  };
  const round = async (n: number) => {
    await settle();
    const m0 = ownThreadNs();
    const p0 = ownProcessNs();
    let left = n;
    await Promise.all(
      turns.map(async (_, j) => {
        const mine = inboxes.map((_, a) => a).filter((a) => a % parallel === j);
        while (left > 0) {
          left--;
          await iterate(mine[turns[j]!++ % mine.length]!);
        }
      }),
    );
    await settle();
    return { main: (ownThreadNs() - m0) / (n * WRITES), all: (ownProcessNs() - p0) / (n * WRITES) };
  };
  return { root, dir, close: () => store.close(), round, main: [], all: [] };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const us = (ns: number) => (ns / 1000).toFixed(1);

async function main(): Promise<void> {
  const sides: Side[] = [];
  for (const [i, root] of roots.entries()) sides.push(await openSide(root, i));
  try {
    for (const s of sides) await s.round(Number(args.warmup));
    for (let r = 0; r < Number(args.rounds); r++) {
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const s of order) {
        const t = await s.round(perRound);
        s.main.push(t.main);
        s.all.push(t.all);
        process.stderr.write(
          `round ${r} ${s.root}: main ${us(t.main)} us/write, process ${us(t.all)}\n`,
        );
      }
    }
    for (const s of sides)
      process.stdout.write(
        `${s.root}: median main ${us(median(s.main))} us/write, process ${us(median(s.all))} ` +
          `(${s.main.length} rounds of ${perRound} iterations, ${parallel} at once)\n`,
      );
  } finally {
    for (const s of sides) {
      await s.close();
      rmSync(s.dir, { recursive: true, force: true });
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : err}\n`);
    process.exit(1);
  },
);
