// Which pages of the mail database a delivery writes (issue 19), without SMTP around it: 10 KB
// messages (the text of bench/lib/message.ts with Return-Path and Received in front, as the MX
// stores them) delivered into one INBOX through the SQLite store itself (`deliverLocal`),
// --batch of them at once (a group commit's batch: the store commits the writes made in one
// step together; the commits made are counted, not assumed), after --warmup deliveries. After each batch the frames its
// commit added to the WAL are read from the WAL's frame headers (page number, commit mark);
// at the end each page is named by its b-tree and page type (the dbstat table). Prints WAL
// frames per message and per commit by b-tree, and for checkpoint intervals of 500 to 16,000
// frames how many frames a checkpoint would copy into the database: each page written in the
// interval, once, however often it was written. Counts, not timings: two runs print the same
// figures but for page splits. --sql runs statements on the database before the warm-up (to
// price an index or a layout before building it). The bench's Message-IDs ascend; real ones
// are random, so their index takes a random leaf per message: --random-ids gives each message
// a random one.
//   node --import tsx bench/smtp/wal-pages.ts [--batch 4] [--messages 2000] [--warmup 3000]
//     [--size 10240] [--sql "DROP INDEX mailbox_messages_unseen"] [--random-ids]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { deliverLocal } from '../../src/delivery/local.js';
import { newDeliveryId, receivedHeader, returnPathField } from '../../src/delivery/trace.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { messageTemplate } from '../lib/message.js';
import { table } from '../lib/stats.js';
import { framesByBtree, WalReader } from '../lib/wal-frames.js';

const { values: args } = parseArgs({
  options: {
    batch: { type: 'string', default: '4' },
    messages: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '3000' },
    size: { type: 'string', default: '10240' },
    sql: { type: 'string', multiple: true, default: [] },
    'random-ids': { type: 'boolean', default: false },
  },
});
const batch = Number(args.batch);
const messages = Number(args.messages);
const SENDER = 'sender@bench-client.test';
const RECIPIENT = 'bench@bench.test';

const dir = mkdtempSync(join(tmpdir(), 'letterbox-wal-pages-'));
const file = join(dir, 'letterbox.db');
const store = await SqliteStore.open({ dir });
try {
  await store.addDomain('bench.test');
  const account = await store.createAccount({ address: RECIPIENT, passwordHash: 'x' });
  if (args.sql.length > 0) {
    const db = new Database(file);
    for (const sql of args.sql) db.exec(sql);
    db.close();
  }
  const tpl = messageTemplate({ size: Number(args.size), from: SENDER, to: RECIPIENT, tag: 'wal' });
  let n = 0;
  const message = (): Buffer => {
    const id = newDeliveryId();
    const trace =
      returnPathField(SENDER) +
      receivedHeader({
        helo: 'bench-client.test',
        ip: '127.0.0.1',
        hostname: 'mx.bench.test',
        protocol: 'ESMTP',
        id,
        recipient: RECIPIENT,
      });
    let header = tpl.header(++n);
    if (args['random-ids']) {
      const id = `Message-ID: <${randomBytes(12).toString('hex')}@bench.client>`;
      header = Buffer.from(
        header.toString('latin1').replace(/^Message-ID: <[^>]*>/im, id),
        'latin1',
      );
    }
    return Buffer.concat([Buffer.from(trace, 'latin1'), header, tpl.wireBody]);
  };
  const deliverBatch = () =>
    Promise.all(
      Array.from({ length: batch }, () =>
        deliverLocal(store, { raw: message(), accounts: [account] }),
      ),
    );
  for (let i = 0; i < Number(args.warmup); i += batch) await deliverBatch();
  const wal = new WalReader(`${file}-wal`);
  // Frames of the warm-up that are still in the WAL are not this run's.
  wal.reset();
  for (let i = 0; i < messages; i += batch) {
    await deliverBatch();
    wal.poll();
  }
  wal.close();

  const byName = framesByBtree(file, wal.pages);
  const frames = wal.pages.length;
  const perMsg = (x: number) => (x / messages).toFixed(2);
  const perCommit = (x: number) => (x / wal.commits).toFixed(2);
  console.log(
    `${messages} messages of ${tpl.size} bytes, ${batch} at a time after ${args.warmup}: ` +
      `${wal.commits} commits (${perCommit(messages)} messages each), ${frames} WAL frames ` +
      `of ${wal.pageSize} bytes`,
  );
  console.log(
    table(
      ['b-tree, page type', 'frames/msg', 'frames/commit'],
      [
        ...byName.map(([name, c]) => [name, perMsg(c), perCommit(c)]),
        ['all', perMsg(frames), perCommit(frames)],
      ],
    ),
  );
  const intervals: string[][] = [];
  for (const w of [500, 1000, 2000, 4000, 8000, 16000]) {
    const whole = Math.floor(frames / w) * w;
    if (whole === 0) break;
    let copies = 0;
    for (let i = 0; i < whole; i += w) copies += new Set(wal.pages.slice(i, i + w)).size;
    const msgs = (whole / frames) * messages;
    intervals.push([
      String(w),
      `${((copies / whole) * 100).toFixed(1)}%`,
      (copies / msgs).toFixed(2),
    ]);
  }
  console.log(table(['checkpoint every (frames)', 'frames copied', 'pages copied/msg'], intervals));
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
