// Which pages of the mail database the login mix's writes make (issue 19), without IMAP
// around them: the accounts of bench/imap/login.ts (ten, 30 messages each, the same 5 KB
// messages as ab-login.ts appends) through the SQLite store itself, each account in turn
// running the mix's three writes (APPEND, STORE +\Deleted of its oldest message, EXPUNGE),
// --at-once writes of different accounts started together, so that the store's group commit
// makes them one commit as the server does for its sessions' writes (the commits are counted
// from the WAL, not assumed). After --warmup groups, each group's frames are read from the
// WAL's frame headers and at the end named by b-tree (bench/lib/wal-frames.ts). Prints WAL
// frames per iteration of the mix (three writes) and per commit by b-tree. Counts, not
// timings: the server's batches are what arrives during the previous commit and its fsync
// (about three writes in the mix with ten clients); compare --at-once 1, 3 and 6 to see what
// a batch's size does.
//   node --import tsx bench/imap/wal-pages.ts [--at-once 3] [--groups 1500] [--warmup 600]
//     [--accounts 10]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { indexMessage } from '../../src/delivery/local.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { corpus } from '../lib/corpus.js';
import { table } from '../lib/stats.js';
import { framesByBtree, WalReader } from '../lib/wal-frames.js';
import { LOGIN_MIX_MESSAGES } from './login.js';

const { values: args } = parseArgs({
  options: {
    'at-once': { type: 'string', default: '3' },
    groups: { type: 'string', default: '1500' },
    warmup: { type: 'string', default: '600' },
    accounts: { type: 'string', default: '10' },
  },
});
const atOnce = Number(args['at-once']);
const groups = Number(args.groups);
const accounts = Number(args.accounts);
const mixCorpus = corpus({ size: 5120, to: 'mix@bench.test', tag: 'append' });

interface Box {
  id: number;
  uids: number[];
  /** The next of the mix's writes: 0 APPEND, 1 STORE, 2 EXPUNGE. */
  next: number;
}

const dir = mkdtempSync(join(tmpdir(), 'letterbox-imap-wal-pages-'));
const file = join(dir, 'letterbox.db');
const store = await SqliteStore.open({ dir });
try {
  let n = 0;
  const append = async (box: Box) => {
    const raw = mixCorpus.message(n++);
    const r = await store.append({ raw, index: indexMessage(raw, store.fullTextIndex) }, [
      { mailboxId: box.id },
    ]);
    box.uids.push(r[0]!.uid);
  };
  await store.addDomain('bench.test');
  const boxes: Box[] = [];
  for (let i = 0; i < accounts; i++) {
    const account = await store.createAccount({
      address: `login${i}@bench.test`,
      passwordHash: 'x',
    });
    const inbox = await store.getMailbox(account.id, 'INBOX');
    if (!inbox) throw new Error('no INBOX');
    const box: Box = { id: inbox.id, uids: [], next: 0 };
    for (let k = 0; k < LOGIN_MIX_MESSAGES; k++) await append(box);
    boxes.push(box);
  }
  const write = async (box: Box) => {
    const step = box.next++ % 3;
    if (step === 0) await append(box);
    else if (step === 1) await store.setFlags(box.id, [box.uids[0]!], 'add', ['\\Deleted']);
    else {
      await store.expunge(box.id, { onlyDeleted: true });
      box.uids.shift();
    }
  };
  let turn = 0;
  const wal = new WalReader(`${file}-wal`);
  const run = async (count: number) => {
    for (let g = 0; g < count; g++) {
      await Promise.all(Array.from({ length: atOnce }, () => write(boxes[turn++ % accounts]!)));
      wal.poll();
    }
  };
  await run(Number(args.warmup));
  wal.reset();
  await run(groups);
  wal.close();

  const byName = framesByBtree(file, wal.pages);
  const iterations = (groups * atOnce) / 3;
  const perIteration = (x: number) => (x / iterations).toFixed(2);
  const perCommit = (x: number) => (x / wal.commits).toFixed(2);
  console.log(
    `${groups * atOnce} writes of the login mix, ${atOnce} at once, after ${args.warmup} ` +
      `groups: ${wal.commits} commits (${perCommit(groups * atOnce)} writes each), ` +
      `${wal.pages.length} WAL frames of ${wal.pageSize} bytes`,
  );
  console.log(
    table(
      ['b-tree, page type', 'frames/iteration', 'frames/commit'],
      [
        ...byName.map(([name, c]) => [name, perIteration(c), perCommit(c)]),
        ['all', perIteration(wal.pages.length), perCommit(wal.pages.length)],
      ],
    ),
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
