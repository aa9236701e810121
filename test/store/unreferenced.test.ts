// Stored messages whose last mailbox row was expunged are collected once the store is quiet
// (data-purge.ts): their rows, index entries and files go then, a delivery of the same bytes
// in the meantime keeps them, a close collects what waits, and rows a crash left are found
// by the sweep after open, a slice at a time.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { sliceSweep } from '../../src/store/sqlite/data-purge.js';
import { INLINE_MAX } from '../../src/store/sqlite/messages.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage } from '../helpers/messages.js';
import { openAliceStore, storedMessages } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-unref-');

const open = () => openAliceStore(dir());

const blobFile = (h: string) => join(dir(), 'blobs', h.slice(0, 2), h.slice(2, 4), h);

test('an expunged message is collected once the store is quiet: row, index entry, file', async () => {
  const { store, inbox } = await open();
  try {
    const big = newMessage('big', `${'large body line\r\n'.repeat(INLINE_MAX / 16)}`);
    await store.append(big, [{ mailboxId: inbox }]);
    const [rec] = await store.listMessages(inbox);
    assert.ok(existsSync(blobFile(rec!.blobHash)), 'a message over INLINE_MAX is a file');
    assert.deepEqual(await store.expunge(inbox, { onlyDeleted: false }), [1]);
    // Out of the mailbox at once, in every way a client can see.
    assert.deepEqual(await store.listMessages(inbox), []);
    assert.deepEqual(await store.searchText(inbox, 'large body'), []);
    // Collected later, when the store is quiet (how much later is timing, not asserted).
    await eventually(() => storedMessages(dir()) === 0, 'the collection', 10_000);
    await eventually(() => !existsSync(blobFile(rec!.blobHash)), 'the file unlinked');
    await assert.rejects(store.readMessage(rec!.blobHash, rec!.size));
  } finally {
    await store.close();
  }
});

test('the same bytes delivered again before the collection keep the stored message', async () => {
  const first = await open();
  const m = newMessage('again', 'unusual words here\r\n');
  await first.store.append(m, [{ mailboxId: first.inbox }]);
  await first.store.expunge(first.inbox, { onlyDeleted: false });
  await first.store.append(m, [{ mailboxId: first.inbox }]);
  // Close runs whatever collection waits (no waiting on a timer): it must leave this alone.
  await first.store.close();
  assert.equal(storedMessages(dir()), 1);
  const { store, inbox } = await open();
  try {
    const [rec] = await store.listMessages(inbox);
    assert.deepEqual(await store.readMessage(rec!.blobHash, rec!.size), m.raw);
    assert.deepEqual(await store.searchText(inbox, 'unusual words'), [rec!.uid]);
  } finally {
    await store.close();
  }
});

test('close collects what waits; the sweep after open collects what a crash left', async () => {
  let s = await open();
  await s.store.append(newMessage('one', 'one\r\n'), [{ mailboxId: s.inbox }]);
  await s.store.append(newMessage('two', 'two\r\n'), [{ mailboxId: s.inbox }]);
  await s.store.expunge(s.inbox, { uids: [1], onlyDeleted: false });
  await s.store.close();
  assert.equal(storedMessages(dir()), 1, 'collected at close');
  // A crash between an expunge's commit and the collection, as the database shows it.
  const db = new Database(join(dir(), 'letterbox.db'));
  db.prepare('DELETE FROM mailbox_messages').run();
  db.close();
  assert.equal(storedMessages(dir()), 1);
  s = await open();
  try {
    await eventually(() => storedMessages(dir()) === 0, 'the sweep after open', 15_000);
  } finally {
    await s.store.close();
  }
});

test('the sweep in slices finds every orphan, once, whatever the slice size', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 40 }),
      fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
      fc.integer({ min: 1, max: 12 }),
      (keys, orphan, slice) => {
        const db = new Database(':memory:');
        try {
          db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, held INTEGER)');
          const ins = db.prepare('INSERT INTO t (k, held) VALUES (?, ?)');
          for (const [i, k] of keys.entries()) ins.run(k, orphan[i] ? 0 : 1);
          const sweep = sliceSweep<number>(
            db,
            { table: 't', key: 'k', pick: 'id', orphan: 'x.held = 0' },
            slice,
          );
          const found: number[] = [];
          let from: string | null = null;
          let slices = 0;
          do {
            const s = sweep(from);
            found.push(...s.keys);
            from = s.next;
            slices++;
          } while (from !== null);
          const want = db.prepare('SELECT id FROM t WHERE held = 0').pluck().all() as number[];
          assert.deepEqual(
            found.sort((a, b) => a - b),
            want.sort((a, b) => a - b),
          );
          assert.ok(slices <= Math.floor(keys.length / slice) + 1, `${slices} slices`);
        } finally {
          db.close();
        }
      },
    ),
    { numRuns: 200 },
  );
});
