// RCPT's look-up of an address on the SQLite store (issue 19, twenty-second session): answered
// from memory while only this process's write batches (deliveries, APPEND, STORE, EXPUNGE) have
// committed since it was read, and from the database after any other commit: another process's
// (`letterbox` commands on the same directory), this store's own changes of domains, accounts
// and aliases, and, for an account with a quota (RCPT refuses a full mailbox by its used
// bytes), any commit at all.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newMessage } from '../helpers/messages.js';
import { statementsDuring } from '../helpers/sqlite-statements.js';
import { openAliceStore } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-recipient-lookups-');
const ALICE = 'alice@example.test';

/** Another connection on the store's database, as a `letterbox` command has. */
function otherConnection(d: string): Database.Database {
  const db = new Database(join(d, 'letterbox.db'));
  db.pragma('busy_timeout = 5000');
  return db;
}

test('a recipient is read once while only deliveries commit', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    const first = await statementsDuring(() => store.resolveRecipient(ALICE));
    assert.equal(first.value?.accounts[0]?.address, ALICE);
    assert.equal(first.sql.length, 1, first.sql.join('\n'));
    for (const s of ['a', 'b', 'c']) {
      await store.append(newMessage(s), [{ mailboxId: inbox }]);
      const again = await statementsDuring(() => store.resolveRecipient(ALICE));
      assert.deepEqual(again.value, first.value);
      assert.deepEqual(again.sql, []);
    }
    // A flag change and an expunge pass through the same batch.
    await store.setFlags(inbox, [1], 'add', ['\\Deleted']);
    await store.expunge(inbox, { onlyDeleted: true });
    const after = await statementsDuring(() => store.resolveRecipient(ALICE));
    assert.deepEqual(after.sql, []);
    // What the caller is given is its own: changing it changes nothing kept.
    after.value!.accounts[0]!.disabled = true;
    assert.equal((await store.resolveRecipient(ALICE))?.accounts[0]?.disabled, false);
  } finally {
    await store.close();
  }
});

test("another connection's change is seen at the next look-up, a delivery in between or not", async () => {
  const d = dir();
  const { store, inbox } = await openAliceStore(d);
  const other = otherConnection(d);
  try {
    assert.equal((await store.resolveRecipient(ALICE))?.accounts[0]?.disabled, false);
    other.prepare('UPDATE accounts SET disabled = 1 WHERE address = ?').run(ALICE);
    assert.equal((await store.resolveRecipient(ALICE))?.accounts[0]?.disabled, true);
    // The other commit comes between the look-up and a delivery's batch, which then commits
    // before the next look-up: the batch sees that the count it starts from is not its last.
    other.prepare('UPDATE accounts SET disabled = 0 WHERE address = ?').run(ALICE);
    await store.append(newMessage('between'), [{ mailboxId: inbox }]);
    assert.equal((await store.resolveRecipient(ALICE))?.accounts[0]?.disabled, false);
    // An alias made elsewhere: the address that did not resolve now does.
    assert.equal(await store.resolveRecipient('info@example.test'), null);
    await store.append(newMessage('more'), [{ mailboxId: inbox }]);
    other
      .prepare('INSERT INTO aliases (address, domain, targets, created_at) VALUES (?, ?, ?, ?)')
      .run('info@example.test', 'example.test', JSON.stringify([ALICE]), Date.now());
    await store.append(newMessage('after'), [{ mailboxId: inbox }]);
    assert.equal((await store.resolveRecipient('info@example.test'))?.accounts[0]?.address, ALICE);
  } finally {
    other.close();
    await store.close();
  }
});

test("this store's own changes of accounts and aliases are seen at once", async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    assert.equal(await store.resolveRecipient('sales@example.test'), null);
    await store.addAlias('sales@example.test', [ALICE]);
    assert.equal((await store.resolveRecipient('sales@example.test'))?.accounts[0]?.address, ALICE);
    await store.append(newMessage('a'), [{ mailboxId: inbox }]);
    await store.setDisabled(ALICE, true);
    assert.equal((await store.resolveRecipient(ALICE))?.accounts[0]?.disabled, true);
    await store.removeAccount(ALICE);
    assert.equal(await store.resolveRecipient(ALICE), null);
  } finally {
    await store.close();
  }
});

test('an account with a quota is read again after a delivery: its used bytes', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    await store.setQuota(ALICE, 1_000_000);
    const before = (await store.resolveRecipient(ALICE))!.accounts[0]!;
    const kept = await statementsDuring(() => store.resolveRecipient(ALICE));
    assert.deepEqual(kept.sql, []);
    const message = newMessage('a');
    await store.append(message, [{ mailboxId: inbox }]);
    const after = await statementsDuring(() => store.resolveRecipient(ALICE));
    assert.equal(after.sql.length, 1);
    assert.equal(after.value!.accounts[0]!.usedBytes, before.usedBytes + message.raw.length);
  } finally {
    await store.close();
  }
});

test('a store reopened on the same directory reads its recipients again', async () => {
  const d = dir();
  const first = await SqliteStore.open({ dir: d });
  await first.addDomain('example.test');
  await first.createAccount({ address: ALICE, passwordHash: 'h' });
  assert.equal((await first.resolveRecipient(ALICE))?.accounts[0]?.disabled, false);
  await first.close();
  const other = otherConnection(d);
  other.prepare('UPDATE accounts SET disabled = 1 WHERE address = ?').run(ALICE);
  other.close();
  const second = await SqliteStore.open({ dir: d });
  try {
    assert.equal((await second.resolveRecipient(ALICE))?.accounts[0]?.disabled, true);
  } finally {
    await second.close();
  }
});
