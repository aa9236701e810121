// SqliteStore.readMessages (the FETCH read ahead, issue 19): the bytes of the small messages
// asked for in one statement, the same bytes readMessage gives; large ones (files) and
// messages whose stored copy was collected are left out, for readMessage to read or refuse.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INLINE_MAX } from '../../src/store/sqlite/messages.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage } from '../helpers/messages.js';
import { openAliceStore, storedMessages } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-readmany-');

test('readMessages: small messages in one read, large and collected ones left out', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    assert.ok(store.readMessages, 'the SQLite store reads many at once');
    for (let i = 0; i < 5; i++)
      await store.append(newMessage(`small ${i}`), [{ mailboxId: inbox }]);
    const big = newMessage('big', `${'large body line\r\n'.repeat(INLINE_MAX / 16)}`);
    await store.append(big, [{ mailboxId: inbox }]);
    const rows = await store.listMessages(inbox);
    assert.equal(rows.length, 6);
    const got = await store.readMessages(rows);
    const large = rows.find((r) => r.size > INLINE_MAX)!;
    assert.deepEqual(
      [...got.keys()].sort(),
      rows
        .filter((r) => r !== large)
        .map((r) => r.blobHash)
        .sort(),
    );
    for (const r of rows.filter((x) => x !== large))
      assert.deepEqual(got.get(r.blobHash), await store.readMessage(r.blobHash, r.size));
    assert.deepEqual(await store.readMessages([]), new Map());

    // The first small one expunged and collected: its bytes row waits for the purge, unread.
    const gone = rows[0]!;
    await store.setFlags(inbox, [gone.uid], 'add', ['\\Deleted']);
    assert.deepEqual(await store.expunge(inbox, { onlyDeleted: true }), [gone.uid]);
    await eventually(() => storedMessages(dir()) === 5, 'the collection', 10_000);
    const after = await store.readMessages(rows);
    assert.equal(after.has(gone.blobHash), false);
    assert.equal(after.size, 4);
    await assert.rejects(store.readMessage(gone.blobHash, gone.size));
  } finally {
    await store.close();
  }
});
