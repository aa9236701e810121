// LOGIN's account and a mailbox's key on the SQLite store (issue 19, twenty-third session):
// answered from memory while only this process's write batches (deliveries, APPEND, STORE,
// EXPUNGE) have committed since they were read, as RCPT's look-ups are
// (sqlite-recipient-lookups.test.ts), and from the database after any other commit: another
// process's, and this store's own changes of accounts and mailboxes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { newMessage } from '../helpers/messages.js';
import { statementsDuring } from '../helpers/sqlite-statements.js';
import { openAliceStore } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-kept-keys-');
const ALICE = 'alice@example.test';
const KEY_SQL = 'SELECT account_id, uid_validity FROM mailboxes WHERE id = ?';

/** Another connection on the store's database, as a `letterbox` command has. */
function otherConnection(d: string): Database.Database {
  const db = new Database(join(d, 'letterbox.db'));
  db.pragma('busy_timeout = 5000');
  return db;
}

test("a login's account is read once while only write batches commit", async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    const first = await statementsDuring(() => store.loginAccount(ALICE));
    assert.equal(first.value?.address, ALICE);
    assert.equal(first.value?.passwordHash, 'h');
    assert.equal(first.sql.length, 1, first.sql.join('\n'));
    for (const s of ['a', 'b', 'c']) {
      await store.append(newMessage(s), [{ mailboxId: inbox }]);
      const again = await statementsDuring(() => store.loginAccount(ALICE.toUpperCase()));
      assert.deepEqual(again.value, first.value);
      assert.deepEqual(again.sql, []);
    }
    await store.setFlags(inbox, [1], 'add', ['\\Deleted']);
    await store.expunge(inbox, { onlyDeleted: true });
    const after = await statementsDuring(() => store.loginAccount(ALICE));
    assert.deepEqual(after.sql, []);
    // What the caller is given is its own: changing it changes nothing kept.
    after.value!.disabled = true;
    assert.equal((await store.loginAccount(ALICE))?.disabled, false);
    // No such account: kept too, until anything but a batch commits.
    assert.equal(await store.loginAccount('bob@example.test'), null);
    const none = await statementsDuring(() => store.loginAccount('bob@example.test'));
    assert.equal(none.value, null);
    assert.deepEqual(none.sql, []);
  } finally {
    await store.close();
  }
});

test("another connection's change of an account is seen at the next login", async () => {
  const d = dir();
  const { store, inbox } = await openAliceStore(d);
  const other = otherConnection(d);
  try {
    assert.equal((await store.loginAccount(ALICE))?.passwordHash, 'h');
    other.prepare('UPDATE accounts SET password_hash = ? WHERE address = ?').run('h2', ALICE);
    assert.equal((await store.loginAccount(ALICE))?.passwordHash, 'h2');
    // The other commit comes between the read and a delivery's batch, which then commits
    // before the next read: the batch sees that the count it starts from is not its last.
    other.prepare('UPDATE accounts SET disabled = 1 WHERE address = ?').run(ALICE);
    await store.append(newMessage('between'), [{ mailboxId: inbox }]);
    assert.equal((await store.loginAccount(ALICE))?.disabled, true);
    const at = Date.now();
    other.prepare('UPDATE accounts SET unlocked_at = ? WHERE address = ?').run(at, ALICE);
    assert.equal((await store.loginAccount(ALICE))?.unlockedAt?.getTime(), at);
    // An account made elsewhere, after its absence was read.
    assert.equal(await store.loginAccount('bob@example.test'), null);
    other
      .prepare(
        `INSERT INTO accounts (address, domain, password_hash, created_at)
         VALUES (?, 'example.test', 'hb', ?)`,
      )
      .run('bob@example.test', Date.now());
    assert.equal((await store.loginAccount('bob@example.test'))?.passwordHash, 'hb');
  } finally {
    other.close();
    await store.close();
  }
});

test("this store's own changes of an account are seen at once", async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    const a = (await store.loginAccount(ALICE))!;
    await store.setPassword(ALICE, 'h2');
    assert.equal((await store.loginAccount(ALICE))?.passwordHash, 'h2');
    await store.append(newMessage('a'), [{ mailboxId: inbox }]);
    assert.equal(await store.replacePasswordHash(a.id, 'h2', 'h3'), true);
    assert.equal((await store.loginAccount(ALICE))?.passwordHash, 'h3');
    await store.setDisabled(ALICE, true);
    assert.equal((await store.loginAccount(ALICE))?.disabled, true);
    assert.equal((await store.loginAccount(ALICE))?.unlockedAt, null);
    await store.unlockAccount(ALICE);
    assert.notEqual((await store.loginAccount(ALICE))?.unlockedAt, null);
    await store.removeAccount(ALICE);
    assert.equal(await store.loginAccount(ALICE), null);
  } finally {
    await store.close();
  }
});

test("a mailbox's key is read once while only write batches commit", async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    // The append's batch reads the key, once; every read and write after it takes it from memory.
    const append = await statementsDuring(() =>
      store.append(newMessage('a'), [{ mailboxId: inbox }]),
    );
    assert.equal(append.sql.filter((s) => s === KEY_SQL).length, 1, append.sql.join('\n'));
    const first = await statementsDuring(() => store.listMessages(inbox));
    assert.equal(first.value.length, 1);
    assert.deepEqual(
      first.sql.filter((s) => s === KEY_SQL),
      [],
    );
    for (const [s, flag] of [
      ['b', '\\Seen'],
      ['c', '\\Flagged'],
    ] as const) {
      // Each write changes rows: a batch that changed none leaves its count in doubt (read again).
      await store.append(newMessage(s), [{ mailboxId: inbox }]);
      await store.setFlags(inbox, [1], 'add', [flag]);
      const again = await statementsDuring(() => store.listMessages(inbox));
      assert.deepEqual(
        again.sql.filter((q) => q === KEY_SQL),
        [],
      );
    }
    // The writes' own transactions take it from memory too.
    const writes = await statementsDuring(async () => {
      await store.setFlags(inbox, [1], 'add', ['\\Deleted']);
      await store.expunge(inbox, { onlyDeleted: true });
    });
    assert.deepEqual(
      writes.sql.filter((q) => q === KEY_SQL),
      [],
    );
    assert.deepEqual(
      (await store.listMessages(inbox)).map((r) => r.uid),
      [2, 3],
    );
  } finally {
    await store.close();
  }
});

test('a mailbox deleted by another connection, or by this store, answers no rows', async () => {
  const d = dir();
  const { store } = await openAliceStore(d);
  const other = otherConnection(d);
  try {
    const account = (await store.getAccount(ALICE))!;
    const work = await store.createMailbox(account.id, 'Work');
    await store.append(newMessage('a'), [{ mailboxId: work.id }]);
    assert.equal((await store.listMessages(work.id)).length, 1);
    other.prepare('DELETE FROM mailboxes WHERE id = ?').run(work.id);
    assert.deepEqual(await store.listMessages(work.id), []);
    // A new mailbox under the same id, with another UIDVALIDITY: its own rows, not the old.
    other
      .prepare(
        `INSERT INTO mailboxes (id, account_id, name, uid_validity, highest_modseq, object_id)
         VALUES (?, ?, 'Work', ?, 1, 'Fnew')`,
      )
      .run(work.id, account.id, work.uidValidity + 7);
    assert.deepEqual(await store.listMessages(work.id), []);
    const play = await store.createMailbox(account.id, 'Play');
    await store.append(newMessage('b'), [{ mailboxId: play.id }]);
    assert.equal((await store.listMessages(play.id)).length, 1);
    await store.deleteMailbox(play.id);
    assert.deepEqual(await store.listMessages(play.id), []);
  } finally {
    other.close();
    await store.close();
  }
});
