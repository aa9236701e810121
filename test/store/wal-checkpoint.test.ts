// The mail database's WAL is copied into letterbox.db by the checkpoint worker
// (checkpointer.ts), between the write batch's commits, not by the commit that crosses SQLite's
// mark on the main thread; the WAL stays bounded, and what was answered is stored.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHECKPOINT_FRAMES, WalCheckpointer } from '../../src/store/sqlite/checkpointer.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newMessage } from '../helpers/messages.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('letterbox-wal-checkpoint-');
const N = 800;

test('the checkpoint worker copies the WAL between batches; the WAL stays bounded', async () => {
  const checkpoints: Array<[number, number]> = [];
  const store = await SqliteStore.open({
    dir: dir(),
    onCheckpoint: (log, copied) => checkpoints.push([log, copied]),
  });
  const mailFile = join(dir(), 'letterbox.db');
  const probe = new WalCheckpointer({ mailFile, fallBack: () => {} });
  let pendingMax = 0;
  const body = `${'a line of a ten kilobyte message, not the same twice\r\n'.repeat(190)}`;
  try {
    await store.addDomain('example.test');
    const account = await store.createAccount({ address: 'a@example.test', passwordHash: 'x' });
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    // 800 messages of ~10 KB, four at a time (as the SMTP bench's batches): some 9,000 frames
    // (37 MB of WAL had it never started over), under the main connection's own bound.
    for (let i = 0; i < N; i += 4) {
      await Promise.all(
        [0, 1, 2, 3].map((k) =>
          store.append(newMessage(`m${i + k}`, `${i + k} ${body}`), [{ mailboxId: inbox.id }]),
        ),
      );
      // Never far past the mark once the worker runs (its first start takes a while).
      if (checkpoints.length > 0) pendingMax = Math.max(pendingMax, probe.pendingFrames());
    }
    assert.ok(checkpoints.length >= 2, `checkpoints by the worker: ${checkpoints.length}`);
    assert.ok(
      checkpoints.some(([log, copied]) => copied > 0 && copied === log),
      `a complete checkpoint: ${JSON.stringify(checkpoints)}`,
    );
    assert.ok(pendingMax < 2 * CHECKPOINT_FRAMES, `frames not copied, at most ${pendingMax}`);
    // Each checkpoint is complete (the batch's commits wait for it), so the next write starts
    // the WAL over: its file never grows past about two marks' frames (4 KB pages).
    const walBytes = statSync(`${mailFile}-wal`).size;
    assert.ok(walBytes < 2 * CHECKPOINT_FRAMES * 4200, `WAL of ${walBytes} bytes`);
    assert.equal((await store.listMessages(inbox.id)).length, N);
  } finally {
    await probe.close();
    await store.close();
  }
  // Everything answered is in the database after the close and a new open.
  const again = await SqliteStore.open({ dir: dir() });
  try {
    const account = (await again.getAccount('a@example.test'))!;
    const inbox = (await again.getMailbox(account.id, 'INBOX'))!;
    const rows = await again.listMessages(inbox.id);
    assert.equal(rows.length, N);
    const last = await again.readMessage(rows[N - 1]!.blobHash);
    assert.ok(last.toString('latin1').includes(`${N - 1} ${body}`));
  } finally {
    await again.close();
  }
});
