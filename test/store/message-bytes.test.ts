// Small messages' bytes keyed by their message's id (sqlite/message-bytes.ts, schema 19): a
// delivery writes one row of `message_bytes` and no hash-keyed row; rows a store wrote into
// `message_data` before keep reading through every reader, and go once their message does.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { referencedBlobs } from '../../src/backup/blob-refs.js';
import { SqliteMessageReader } from '../../src/store/sqlite/message-reader.js';
import { INLINE_MAX } from '../../src/store/sqlite/messages.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage } from '../helpers/messages.js';
import { openAliceStore } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-msgbytes-');

function withDb<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(join(dir(), 'letterbox.db'));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const count = (table: string) =>
  withDb((db) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number);

test('a small message is one row keyed by its message id; no hash index is written', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    const a = newMessage('first', 'one\r\n');
    const b = newMessage('second', 'two\r\n');
    const big = newMessage('big', 'long line of text\r\n'.repeat(INLINE_MAX / 16));
    await store.append(a, [{ mailboxId: inbox }]);
    await store.append(b, [{ mailboxId: inbox }]);
    await store.append(big, [{ mailboxId: inbox }]);
    // The same bytes again: the stored message is shared, so are its bytes.
    await store.append(a, [{ mailboxId: inbox }]);
    const rows = await store.listMessages(inbox);
    assert.equal(rows.length, 4);
    withDb((db) => {
      const byId = db
        .prepare(
          `SELECT m.blob_hash, b.data FROM message_bytes b JOIN messages m ON m.id = b.id
           ORDER BY b.id`,
        )
        .raw()
        .all() as [string, Buffer][];
      assert.deepEqual(byId, [
        [rows[0]!.blobHash, a.raw],
        [rows[1]!.blobHash, b.raw],
      ]);
      assert.equal(db.prepare('SELECT count(*) FROM message_data').pluck().get(), 0);
      // The table's own rowid b-tree only: no index to insert into at a random place.
      const indexes = db
        .prepare(
          `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'message_bytes'`,
        )
        .pluck()
        .all();
      assert.deepEqual(indexes, []);
      // Backup copies only the large message's file.
      assert.deepEqual(referencedBlobs(db), [rows[2]!.blobHash]);
    });
    for (const r of rows)
      assert.deepEqual(
        await store.readMessage(r.blobHash, r.size),
        r.size > INLINE_MAX ? big.raw : r.uid === 2 ? b.raw : a.raw,
      );
  } finally {
    await store.close();
  }
});

test('bytes stored by hash before schema 19 read everywhere, and go after their message', async () => {
  let { store, inbox } = await openAliceStore(dir());
  const old = newMessage('stored before', 'an older zanzibar body\r\n');
  await store.append(old, [{ mailboxId: inbox }]);
  await store.close();
  // As schema 18 left it: the bytes in message_data by hash, no message_bytes.
  withDb((db) =>
    db.exec(`INSERT INTO message_data (hash, data)
               SELECT m.blob_hash, b.data FROM messages m JOIN message_bytes b ON b.id = m.id;
             DROP TABLE message_bytes;
             PRAGMA user_version = 18;`),
  );
  // The index is made again from the bytes (the worker reads them through the mail database).
  for (const s of ['', '-wal', '-shm', '-journal'])
    await rm(join(dir(), `fts.db${s}`), { force: true });
  ({ store, inbox } = await openAliceStore(dir()));
  const reader = SqliteMessageReader.open(dir(), INLINE_MAX);
  try {
    assert.equal(count('message_data'), 1);
    assert.equal(count('message_bytes'), 0);
    const fresh = newMessage('stored after', 'a newer zanzibar body\r\n');
    await store.append(fresh, [{ mailboxId: inbox }]);
    assert.equal(count('message_bytes'), 1);
    const [o, f] = await store.listMessages(inbox);
    assert.deepEqual(await store.readMessage(o!.blobHash, o!.size), old.raw);
    assert.deepEqual(await store.readMessage(f!.blobHash, f!.size), fresh.raw);
    const many = await store.readMessages!([o!, f!]);
    assert.deepEqual(many.get(o!.blobHash), old.raw);
    assert.deepEqual(many.get(f!.blobHash), fresh.raw);
    assert.deepEqual(await reader.read(o!.blobHash, o!.size), old.raw);
    assert.deepEqual(await reader.read(f!.blobHash, f!.size), fresh.raw);
    assert.deepEqual(await store.searchText(inbox, 'ZANZIBAR'), [o!.uid, f!.uid]);
    assert.deepEqual(
      withDb((db) => referencedBlobs(db)),
      [],
    );
    // Both expunged: the new row goes with its message, the old one with the purge after.
    await store.expunge(inbox, { onlyDeleted: false });
    await eventually(
      () => count('message_bytes') === 0 && count('message_data') === 0,
      'both rows gone once the store is quiet',
      10_000,
    );
    await assert.rejects(store.readMessage(o!.blobHash, o!.size));
    await assert.rejects(store.readMessage(f!.blobHash, f!.size));
  } finally {
    reader.close();
    await store.close();
  }
});
