// The SQLite store's writes that arrive together (appends, STORE's flag changes, EXPUNGE, from
// different sessions) share one transaction and one WAL fsync (write-batch.ts); a failing one
// fails alone, and every one is answered only after that commit is durable.
import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { test } from 'node:test';
import { StoreError } from '../../src/store/errors.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ChangeEvent } from '../../src/store/types.js';
import { newMessage } from '../helpers/messages.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('letterbox-write-batch-');

test('writes of different accounts that arrive together share one commit; a failing one fails alone', async () => {
  // Each fsync reports how many sync() calls it made durable: one per transaction committed.
  const groups: number[] = [];
  const store = await SqliteStore.open({ dir: dir(), onCommitGroup: (n) => groups.push(n) });
  try {
    await store.addDomain('example.test');
    const inbox: number[] = [];
    for (const name of ['a', 'b', 'c']) {
      const account = await store.createAccount({
        address: `${name}@example.test`,
        passwordHash: 'x',
      });
      const mb = await store.getMailbox(account.id, 'INBOX');
      assert.ok(mb);
      inbox.push(mb.id);
      for (let i = 0; i < 3; i++)
        await store.append(newMessage(`${name} ${i}`), [{ mailboxId: mb.id }]);
    }
    const [a, b, c] = inbox as [number, number, number];
    await store.setFlags(b, [2], 'add', ['\\Deleted']);
    const events: ChangeEvent[] = [];
    store.subscribe((ev) => events.push(ev));
    groups.length = 0;

    // Five sessions' commands read in the same turn of the event loop.
    const outcomes = await Promise.allSettled([
      store.setFlags(a, [1], 'add', ['\\Seen']),
      store.expunge(b, { onlyDeleted: true }),
      store.expunge(1_000_000, { onlyDeleted: true }), // no such mailbox: NOT_FOUND
      store.append(newMessage('c new'), [{ mailboxId: c }]),
      store.setFlags(c, [3], 'add', ['\\Flagged']),
    ]);

    assert.deepEqual(groups, [1], 'one transaction, made durable by one fsync');
    const [flagsA, expungedB, missing, appendedC, flagsC] = outcomes;
    assert.equal(flagsA.status, 'fulfilled');
    assert.deepEqual(
      flagsA.status === 'fulfilled' && flagsA.value.updated.map((u) => [u.uid, u.flags]),
      [[1, ['\\Seen']]],
    );
    assert.deepEqual(expungedB, { status: 'fulfilled', value: [2] });
    assert.equal(missing.status, 'rejected');
    assert.ok(
      missing.status === 'rejected' &&
        missing.reason instanceof StoreError &&
        missing.reason.code === 'NOT_FOUND',
    );
    assert.equal(appendedC.status, 'fulfilled');
    assert.equal(appendedC.status === 'fulfilled' && appendedC.value[0]?.uid, 4);
    assert.equal(flagsC.status, 'fulfilled');

    // What was answered is stored.
    assert.deepEqual(
      (await store.listMessages(a)).map((r) => [r.uid, r.flags]),
      [
        [1, ['\\Seen']],
        [2, []],
        [3, []],
      ],
    );
    assert.deepEqual(
      (await store.listMessages(b)).map((r) => r.uid),
      [1, 3],
    );
    assert.deepEqual(
      (await store.listMessages(c)).map((r) => [r.uid, r.flags]),
      [
        [1, []],
        [2, []],
        [3, ['\\Flagged']],
        [4, []],
      ],
    );
    // Told in the order the writes were done, once each.
    assert.deepEqual(
      events.map((e) => [e.mailboxId, e.kind, e.uids]),
      [
        [a, 'flags', [1]],
        [b, 'expunge', [2]],
        [c, 'append', [4]],
        [c, 'flags', [3]],
      ],
    );
  } finally {
    await store.close();
  }
});

test('writes that arrive while a batch is committed join the next batch, answered in order', async () => {
  const groups: number[] = [];
  const store = await SqliteStore.open({ dir: dir(), onCommitGroup: (n) => groups.push(n) });
  try {
    await store.addDomain('example.test');
    const account = await store.createAccount({ address: 'a@example.test', passwordHash: 'x' });
    const mb = await store.getMailbox(account.id, 'INBOX');
    assert.ok(mb);
    for (let i = 0; i < 4; i++) await store.append(newMessage(`m ${i}`), [{ mailboxId: mb.id }]);
    groups.length = 0;
    const answered: string[] = [];
    const first = store.setFlags(mb.id, [1], 'add', ['\\Seen']).then(() => answered.push('first'));
    // After the first batch has committed (its fsync under way): the next batch.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const later = [
      store.setFlags(mb.id, [2], 'add', ['\\Seen']).then(() => answered.push('second')),
      store.setFlags(mb.id, [3], 'add', ['\\Seen']).then(() => answered.push('third')),
    ];
    await Promise.all([first, ...later]);
    assert.deepEqual(answered, ['first', 'second', 'third']);
    // Each answer came after its own batch's fsync; at most two transactions for three writes.
    assert.ok(groups.length <= 2 && groups.reduce((s, n) => s + n, 0) <= 2, String(groups));
    assert.deepEqual(
      (await store.listMessages(mb.id)).map((r) => r.flags),
      [['\\Seen'], ['\\Seen'], ['\\Seen'], []],
    );
  } finally {
    await store.close();
  }
});

test('a MOVE of a message whose append is still being synced is told after that append', async () => {
  const store = await SqliteStore.open({ dir: dir() });
  try {
    await store.addDomain('example.test');
    const account = await store.createAccount({ address: 'a@example.test', passwordHash: 'x' });
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!.id;
    const other = (await store.createMailbox(account.id, 'Other')).id;
    const events: ChangeEvent[] = [];
    store.subscribe((ev) => events.push(ev));
    // Every thread of libuv's pool busy, so the append's WAL fsync (wal-sync.ts) waits
    // behind them after its commit: the window in which another session's MOVE arrives.
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const busy = Array.from(
      { length: threads },
      () =>
        new Promise((resolve, reject) =>
          pbkdf2('x', 'salt', 400_000, 64, 'sha512', (e, k) => (e ? reject(e) : resolve(k))),
        ),
    );
    const appended = store.append(newMessage('moved soon'), [{ mailboxId: inbox }]);
    await new Promise((r) => setImmediate(r));
    const moved = store.moveMessages(inbox, [1], other);
    const [[a], m] = await Promise.all([appended, moved]);
    await Promise.all(busy);
    assert.equal(a?.uid, 1);
    assert.deepEqual(m.mapping, [[1, 1]]);
    // RFC 9051 §7.5.1: a client is told of a message before it is told of its expunge. The
    // session's view drops an expunge of a UID it has not been told of, so the other order
    // left it announcing a message that was gone.
    assert.deepEqual(
      events.map((e) => [e.mailboxId, e.kind, e.uids]),
      [
        [inbox, 'append', [1]],
        [other, 'append', [1]],
        [inbox, 'expunge', [1]],
      ],
    );
    const modseqs = events.map((e) => e.modseq);
    assert.deepEqual(
      modseqs,
      [...modseqs].sort((x, y) => x - y),
      'in commit order',
    );
  } finally {
    await store.close();
  }
});
