// The read-only message reader a POP3 worker process uses: it reads what the store committed,
// small messages from their rows and large ones from files, including a message committed
// while the reader holds a read transaction open (it looks again in a fresh one).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError } from '../../src/store/errors.js';
import { SqliteMessageReader } from '../../src/store/sqlite/message-reader.js';
import { INLINE_MAX } from '../../src/store/sqlite/messages.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newMessage } from '../helpers/messages.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-reader-');

test('a reader sees small and large messages, and one committed during its read transaction', async () => {
  const store = await SqliteStore.open({ dir: dir() });
  await store.addDomain('example.test');
  const a = await store.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
  const inbox = (await store.getMailbox(a.id, 'INBOX'))!.id;
  const reader = SqliteMessageReader.open(dir(), INLINE_MAX);
  try {
    const small = newMessage('small', 'short\r\n');
    const big = newMessage('big', 'long line of text\r\n'.repeat(INLINE_MAX / 16));
    await store.append(small, [{ mailboxId: inbox }]);
    await store.append(big, [{ mailboxId: inbox }]);
    const [s, b] = await store.listMessages(inbox);
    assert.deepEqual(await reader.read(s!.blobHash, s!.size), small.raw);
    assert.deepEqual(await reader.read(b!.blobHash, b!.size), big.raw);
    // The read above left a read transaction open for a few milliseconds: a message
    // committed now is not in its snapshot, and must be found all the same.
    const late = newMessage('late', 'arrived just now\r\n');
    await reader.read(s!.blobHash, s!.size);
    await store.append(late, [{ mailboxId: inbox }]);
    const l = (await store.listMessages(inbox)).find((r) => r.size === late.raw.length)!;
    assert.deepEqual(await reader.read(l.blobHash, l.size), late.raw);
    await assert.rejects(reader.read('0'.repeat(64), 10), (e) => isStoreError(e, 'NOT_FOUND'));
  } finally {
    reader.close();
    await store.close();
  }
});
