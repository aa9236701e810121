// An import keeping a source's UIDs (AppendTarget.uid, adoptUidValidity): a UID at or above
// UIDNEXT is taken and UIDNEXT moves past it; one below is refused with nothing stored; a
// UIDVALIDITY is taken only by a mailbox that never held a message.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { indexMessage } from '../../src/delivery/local.js';
import { isStoreError } from '../../src/store/errors.js';
import { openAliceStore } from '../helpers/store.js';

test('kept UIDs and UIDVALIDITY', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-kept-uids-'));
  const { store, inbox } = await openAliceStore(dir);
  try {
    const raw = (s: string) => Buffer.from(`Subject: ${s}\r\n\r\n${s}\r\n`);
    const add = (s: string, uid?: number) =>
      store.append({ raw: raw(s), index: indexMessage(raw(s)) }, [
        { mailboxId: inbox, ...(uid === undefined ? {} : { uid }) },
      ]);
    assert.equal(await store.adoptUidValidity(inbox, 4242), true);
    assert.equal((await store.getMailboxById(inbox))?.uidValidity, 4242);
    const [a] = await add('a', 10);
    assert.deepEqual([a?.uid, a?.uidValidity], [10, 4242]);
    assert.equal((await store.getMailboxById(inbox))?.uidNext, 11);
    assert.equal((await add('b'))[0]?.uid, 11);
    await assert.rejects(add('c', 11), (e) => isStoreError(e, 'INVALID'));
    await assert.rejects(add('c', 0), (e) => isStoreError(e, 'INVALID'));
    assert.equal((await add('c', 12))[0]?.uid, 12);
    assert.deepEqual(
      (await store.listMessages(inbox)).map((r) => r.uid),
      [10, 11, 12],
    );
    // Held mail: the UIDVALIDITY stays.
    assert.equal(await store.adoptUidValidity(inbox, 99), false);
    assert.equal((await store.getMailboxById(inbox))?.uidValidity, 4242);
    await assert.rejects(store.adoptUidValidity(inbox, 0), (e) => isStoreError(e, 'INVALID'));
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
