// RENAME onto a name that is subscribed already (a subscription may name a mailbox that does
// not exist, RFC 9051 §6.3.7): the rename succeeds and the subscription is not doubled. It
// failed with a UNIQUE constraint error (NO [SERVERBUG]); found by the session fuzz.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openAliceStore } from '../helpers/store.js';

test('rename a subscribed mailbox onto a subscribed name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-rename-'));
  const { store } = await openAliceStore(dir);
  try {
    const alice = (await store.getAccount('alice@example.test'))!;
    const x = await store.createMailbox(alice.id, 'x');
    await store.setSubscribed(alice.id, 'x', true);
    await store.setSubscribed(alice.id, 'y', true);
    await store.renameMailbox(x.id, 'y');
    assert.deepEqual(
      (await store.listSubscriptions(alice.id)).filter((n) => n === 'x' || n === 'y'),
      ['y'],
    );
    assert.equal((await store.getMailbox(alice.id, 'y'))?.subscribed, true);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
