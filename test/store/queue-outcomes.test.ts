// Outcomes of queue attempts recorded together (store/sqlite/queue-outcomes.ts): those asked
// for in one turn of the event loop are one transaction and one WAL sync, nobody is answered
// before the sync, and an item whose update fails is undone alone (its own savepoint).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FileBlobStore } from '../../src/store/blobs/file-blobs.js';
import { type Db, openDatabase } from '../../src/store/sqlite/db.js';
import { SqliteQueue } from '../../src/store/sqlite/queue.js';
import { OutcomeBatch } from '../../src/store/sqlite/queue-outcomes.js';
import type { OutboundUpdate } from '../../src/store/types.js';

let dir: string;
let db: Db;
const removed: string[] = [];
const blobs = {
  async removeMany(hashes: string[]) {
    removed.push(...hashes);
  },
} as unknown as FileBlobStore;
let queue: SqliteQueue;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lb-outcomes-'));
  db = openDatabase(join(dir, 'letterbox.db'));
  queue = new SqliteQueue(db, blobs, { hold() {}, release() {} });
});
after(async () => {
  db.close();
  await rm(dir, { recursive: true, force: true });
});

/** Queues an item with one recipient (rows only: these tests need no bytes). */
function queued(tag: string): number {
  const now = Date.now();
  const r = db
    .prepare(
      `INSERT INTO outbound (blob_hash, size, sender, created_at, next_attempt_at)
       VALUES (?, 10, 'a@local.test', ?, ?)`,
    )
    .run(`hash-${tag}`, now, now);
  const id = Number(r.lastInsertRowid);
  db.prepare(
    `INSERT INTO outbound_recipients (outbound_id, address) VALUES (?, 'r@remote.test')`,
  ).run(id);
  return id;
}

/**
 * Commits in the WAL so far: frames whose header has a database size (only a transaction's
 * last frame has one; https://www.sqlite.org/fileformat.html#wal_file_format).
 */
function commitFrames(): number {
  const wal = readFileSync(join(dir, 'letterbox.db-wal'));
  const pageSize = wal.readUInt32BE(8);
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 4) !== 0) commits++;
  }
  return commits;
}

const sent: OutboundUpdate = {
  recipients: [{ address: 'r@remote.test', state: 'sent', lastError: null, status: '2.0.0' }],
  nextAttemptAt: new Date(),
  attempted: true,
};

test('outcomes of one turn: one transaction, one sync, answered after it', async () => {
  const ids = [queued('a'), queued('b'), queued('c')];
  const leased = queue.claim(Date.now(), 10, 60_000);
  assert.deepEqual(
    leased.map((i) => i.id),
    ids,
  );
  let syncs = 0;
  let release!: () => void;
  const batch = new OutcomeBatch(db, queue, () => {
    syncs++;
    return new Promise<void>((r) => {
      release = r;
    });
  });
  const before = commitFrames();
  let answered = 0;
  const done = ids.map((id) => batch.record(id, sent).then(() => answered++));
  await new Promise((r) => setImmediate(r));
  assert.equal(commitFrames() - before, 1, 'three outcomes, one commit');
  assert.equal(syncs, 1);
  assert.equal(answered, 0, 'nobody is answered before the WAL sync');
  release();
  await Promise.all(done);
  assert.equal(answered, 3);
  assert.equal(queue.list().length, 0, 'every recipient sent: the items are gone');
  assert.deepEqual(removed.sort(), ['hash-a', 'hash-b', 'hash-c']);
});

test('an item whose update fails is undone alone; the others are committed', async () => {
  const [a, b, c] = [queued('d'), queued('e'), queued('f')];
  queue.claim(Date.now(), 10, 60_000);
  db.exec(`CREATE TEMP TRIGGER fail_one BEFORE DELETE ON outbound WHEN OLD.id = ${b}
           BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
  try {
    const batch = new OutcomeBatch(db, queue, async () => {});
    const results = await Promise.allSettled([a, b, c].map((id) => batch.record(id, sent)));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /refused by the test/);
    const left = queue.list();
    assert.deepEqual(
      left.map((i) => i.id),
      [b],
    );
    // Its savepoint was rolled back whole: the recipient is still pending, under its lease.
    assert.equal(left[0]!.recipients[0]!.state, 'pending');
    assert.equal(left[0]!.attempts, 0);
  } finally {
    db.exec('DROP TRIGGER fail_one');
  }
});
