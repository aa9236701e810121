// The SQLite store answers a \Recent claim (RFC 3501 §2.3.2) from memory when it knows the
// mailbox's first recent UID is already past it (every IDLE session claims on each delivery).
// What it remembers must never outlive the mailbox row: a mailbox id used again after a
// delete, here or by another process, starts with every message recent.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { newMessage } from '../helpers/messages.js';
import { openAliceStore } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-recent-');

test('claims answered from memory match the table; a later claim still takes new UIDs', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    for (const s of ['a', 'b', 'c']) await store.append(newMessage(s), [{ mailboxId: inbox }]);
    assert.equal(await store.claimRecent(inbox, 3, true), 1);
    // Every later session of the same delivery: nothing left to take.
    for (let i = 0; i < 3; i++) assert.equal(await store.claimRecent(inbox, 3, true), 4);
    assert.equal(await store.claimRecent(inbox, 2, false), 4);
    await store.append(newMessage('d'), [{ mailboxId: inbox }]);
    assert.equal(await store.claimRecent(inbox, 4, false), 4);
    assert.equal(await store.claimRecent(inbox, 4, true), 4);
    assert.equal(await store.claimRecent(inbox, 4, true), 5);
    assert.equal((await store.mailboxStatus(inbox)).recent, 0);
  } finally {
    await store.close();
  }
});

test('a mailbox id used again after DELETE starts with nothing claimed', async () => {
  const { store } = await openAliceStore(dir());
  try {
    const account = (await store.getAccount('alice@example.test'))!;
    const old = await store.createMailbox(account.id, 'Old');
    for (const s of ['a', 'b', 'c']) await store.append(newMessage(s), [{ mailboxId: old.id }]);
    assert.equal(await store.claimRecent(old.id, 3, true), 1);
    await store.deleteMailbox(old.id);
    // SQLite gives the highest rowid + 1: the deleted mailbox's id.
    const again = await store.createMailbox(account.id, 'New');
    assert.equal(again.id, old.id);
    await store.append(newMessage('x'), [{ mailboxId: again.id }]);
    assert.equal(await store.claimRecent(again.id, 1, true), 1);
  } finally {
    await store.close();
  }
});

test('a mailbox replaced by another process is read again at SELECT (getMailbox)', async () => {
  const { store } = await openAliceStore(dir());
  try {
    const account = (await store.getAccount('alice@example.test'))!;
    const old = await store.createMailbox(account.id, 'Old');
    for (const s of ['a', 'b', 'c']) await store.append(newMessage(s), [{ mailboxId: old.id }]);
    assert.equal(await store.claimRecent(old.id, 3, true), 1);
    // Another process (a second writer on the same file) deletes it and makes a new one with
    // the same id and nothing claimed.
    const other = new Database(join(dir(), 'letterbox.db'));
    try {
      other.prepare('UPDATE mailboxes SET first_recent_uid = 1 WHERE id = ?').run(old.id);
    } finally {
      other.close();
    }
    const seen = (await store.getMailbox(account.id, 'Old'))!;
    assert.equal(seen.id, old.id);
    assert.equal(await store.claimRecent(seen.id, 3, false), 1);
  } finally {
    await store.close();
  }
});

test('an append with claimRecent takes \\Recent up to its UID in its own transaction', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    for (const s of ['a', 'b']) await store.append(newMessage(s), [{ mailboxId: inbox }]);
    // Nobody took 1 and 2 yet: the appending session gets them with its own message.
    const [r] = await store.append(newMessage('c'), [{ mailboxId: inbox, claimRecent: true }]);
    assert.equal(r!.uid, 3);
    assert.equal(r!.recentFrom, 1);
    assert.equal((await store.mailboxStatus(inbox)).recent, 0);
    // Later claimants find nothing left up to it, from memory and from the table alike.
    assert.equal(await store.claimRecent(inbox, 3, true), 4);
    const other = new Database(join(dir(), 'letterbox.db'));
    try {
      const first = other
        .prepare('SELECT first_recent_uid FROM mailboxes WHERE id = ?')
        .pluck()
        .get(inbox);
      assert.equal(first, 4);
    } finally {
      other.close();
    }
    // Without the option nothing is taken.
    const [d] = await store.append(newMessage('d'), [{ mailboxId: inbox }]);
    assert.equal(d!.recentFrom, undefined);
    assert.equal((await store.mailboxStatus(inbox)).recent, 1);
    const [e] = await store.append(newMessage('e'), [{ mailboxId: inbox, claimRecent: true }]);
    assert.equal(e!.recentFrom, 4);
    assert.equal((await store.mailboxStatus(inbox)).recent, 0);
  } finally {
    await store.close();
  }
});
