// Issue 17: the stored messages an EXPUNGE lets go of are collected by its node once quiet
// (src/store/postgres/quiet-collect.ts, migration 15), not in EXPUNGE's statement; what a
// crash leaves, the sweep after a start finds.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { QuietCollect, QuietCollectOptions } from '../../src/store/postgres/quiet-collect.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

async function withDb(fn: (url: string, sql: pg.Client) => Promise<void>): Promise<void> {
  const url = await server.createDatabase();
  const sql = new pg.Client({ connectionString: url });
  try {
    await sql.connect();
    await fn(url, sql);
  } finally {
    await sql.end().catch(() => {});
    await server.dropDatabase(url);
  }
}

const open = (url: string, collect: QuietCollectOptions) =>
  PostgresStore.open({ connectionString: url, max: 2, collect });

/** Polls (generous deadline) until the database holds this many stored messages and blobs. */
async function holds(sql: pg.Client, messages: number, blobs: number): Promise<void> {
  await eventually(
    async () => {
      const c = await counts(sql);
      return c.messages === messages && c.blobs === blobs;
    },
    `${messages} stored messages and ${blobs} blobs`,
    30_000,
  );
}

async function counts(sql: pg.Client): Promise<{ messages: number; blobs: number }> {
  const r = await sql.query(
    `SELECT (SELECT count(*) FROM messages)::int AS messages,
       (SELECT count(*) FROM blobs)::int AS blobs`,
  );
  return r.rows[0];
}

async function inboxOf(store: PostgresStore): Promise<number> {
  await store.addDomain('example.test');
  const a = await store.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
  return (await store.getMailbox(a.id, 'INBOX'))!.id;
}

test('EXPUNGE: the stored messages and their bytes go once the node is quiet', () =>
  withDb(async (url, sql) => {
    const s = await open(url, { idleMs: 20, sweepDelayMs: -1 });
    try {
      const inbox = await inboxOf(s);
      for (const x of ['a', 'b', 'c']) await s.append(newMessage(x), [{ mailboxId: inbox }]);
      const hashes = (await s.listMessages(inbox)).map((r) => r.blobHash);
      await s.setFlags(inbox, [1, 3], 'add', ['\\Deleted']);
      assert.deepEqual(await s.expunge(inbox, { onlyDeleted: true }), [1, 3]);
      await holds(sql, 1, 1);
      await assert.rejects(s.readMessage(hashes[0]!), { code: 'NOT_FOUND' });
      assert.deepEqual(await s.readMessage(hashes[1]!), newMessage('b').raw);
    } finally {
      await s.close();
    }
  }));

test('EXPUNGE: a stored message appended again before the collection stays', () =>
  withDb(async (url, sql) => {
    const s = await open(url, { idleMs: 600_000, maxWaitMs: 600_000, sweepDelayMs: -1 });
    const inbox = await inboxOf(s);
    await s.append(newMessage('again'), [{ mailboxId: inbox }]);
    const hash = (await s.listMessages(inbox))[0]!.blobHash;
    assert.deepEqual(await s.expunge(inbox, { onlyDeleted: false }), [1]);
    await s.append(newMessage('again'), [{ mailboxId: inbox }]);
    // The collection (here at once, not waiting for quiet) finds a row holding it.
    await (s as unknown as { collector: QuietCollect }).collector.drain();
    await s.close();
    assert.deepEqual(await counts(sql), { messages: 1, blobs: 1 });
    const t = await open(url, { sweepDelayMs: -1 });
    try {
      assert.deepEqual(await t.readMessage(hash), newMessage('again').raw);
      assert.deepEqual(
        (await t.listMessages(inbox)).map((r) => r.uid),
        [2],
      );
    } finally {
      await t.close();
    }
  }));

test('the sweep after a start collects the stored messages no row holds (a crash before the collection)', () =>
  withDb(async (url, sql) => {
    const s = await open(url, { sweepDelayMs: -1 });
    const inbox = await inboxOf(s);
    for (const x of ['a', 'b', 'c', 'd', 'e'])
      await s.append(newMessage(x), [{ mailboxId: inbox }]);
    await s.close();
    // As a node stopped between an EXPUNGE's commit and its collection leaves them.
    await sql.query('DELETE FROM mailbox_messages WHERE mailbox_id = $1 AND uid <> 3', [inbox]);
    assert.deepEqual(await counts(sql), { messages: 5, blobs: 5 });
    // Slices of two stored messages: three statements to go through five.
    const t = await open(url, { idleMs: 20, sweepDelayMs: 0, sweepSlice: 2 });
    try {
      await holds(sql, 1, 1);
      assert.deepEqual(
        (await t.listMessages(inbox)).map((r) => r.uid),
        [3],
      );
      assert.deepEqual(
        await t.readMessage((await t.listMessages(inbox))[0]!.blobHash),
        newMessage('c').raw,
      );
    } finally {
      await t.close();
    }
  }));

test('a node stopped with collections pending: the sweep after the next start does them', () =>
  withDb(async (url, sql) => {
    const s = await open(url, { idleMs: 600_000, maxWaitMs: 600_000, sweepDelayMs: -1 });
    const inbox = await inboxOf(s);
    for (const x of ['a', 'b']) await s.append(newMessage(x), [{ mailboxId: inbox }]);
    assert.deepEqual(await s.expunge(inbox, { onlyDeleted: false, uids: [1] }), [1]);
    // Stopping does not wait for the database to collect (it may not be answering).
    await s.close();
    assert.deepEqual(await counts(sql), { messages: 2, blobs: 2 });
    const t = await open(url, { idleMs: 20, sweepDelayMs: 0 });
    try {
      await holds(sql, 1, 1);
    } finally {
      await t.close();
    }
  }));
