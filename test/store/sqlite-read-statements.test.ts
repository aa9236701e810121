// The read statements of the IMAP login mix's commands on the SQLite store (issue 19, twelfth
// session): SELECT's summary of a mailbox is one statement, its own read snapshot, where it was
// the mailbox's key and then four reads in a read transaction; a list with holes the store has
// not seen is read with its numbers in one transaction; EXPUNGE after an APPEND and a STORE
// reads its candidate rows once, and deletes them in the same statement; STORE of one message
// reads its row by the primary key. The answers are what the tables hold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newMessage } from '../helpers/messages.js';
import { statementsDuring, statementsOf } from '../helpers/sqlite-statements.js';
import { openAliceStore } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-read-statements-');

test("SELECT's summary is one statement, before and after the mailbox changes", async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    for (const s of ['a', 'b', 'c', 'd']) await store.append(newMessage(s), [{ mailboxId: inbox }]);
    await store.setFlags(inbox, [1, 2], 'add', ['\\Seen']);
    await store.mailboxSummary(inbox); // the mailbox's keywords, read once and kept
    await store.append(newMessage('later'), [{ mailboxId: inbox }]);
    const first = statementsOf(() => store.mailboxSummary(inbox));
    const summary = await first.value;
    assert.deepEqual(summary.uids.toArray(), [1, 2, 3, 4, 5]);
    assert.equal(summary.firstUnseen, 3);
    assert.equal(first.sql.length, 1, first.sql.join('\n'));
    // Changed since (an append, the oldest expunged): still one statement, a new answer.
    await store.append(newMessage('e'), [{ mailboxId: inbox }]);
    await store.setFlags(inbox, [1], 'add', ['\\Deleted']);
    await store.expunge(inbox, { onlyDeleted: true });
    const again = statementsOf(() => store.mailboxSummary(inbox));
    const changed = await again.value;
    assert.deepEqual(changed.uids.toArray(), [2, 3, 4, 5, 6]);
    assert.equal(changed.firstUnseen, 2);
    assert.equal(again.sql.length, 1, again.sql.join('\n'));
    // Unchanged: one statement too (the UID list found before is used again).
    const same = statementsOf(() => store.mailboxSummary(inbox));
    assert.equal((await same.value).uids, changed.uids);
    assert.equal(same.sql.length, 1, same.sql.join('\n'));
  } finally {
    await store.close();
  }
});

test('a summary with holes reads its list in one transaction, then answers from one statement', async () => {
  const { store } = await openAliceStore(dir());
  try {
    const account = (await store.getAccount('alice@example.test'))!;
    const box = (await store.createMailbox(account.id, 'Holes')).id;
    for (const s of ['a', 'b', 'c', 'd', 'e']) {
      await store.append(newMessage(s), [{ mailboxId: box }]);
    }
    await store.mailboxSummary(box); // the mailbox's keywords, read once and kept
    await store.expunge(box, { uids: [3], onlyDeleted: false });
    const first = statementsOf(() => store.mailboxSummary(box));
    const summary = await first.value;
    assert.deepEqual(summary.uids.toArray(), [1, 2, 4, 5]);
    assert.equal(summary.firstUnseen, 1);
    assert.equal(first.sql[1], 'BEGIN DEFERRED');
    assert.equal(first.sql.at(-1), 'COMMIT');
    const again = statementsOf(() => store.mailboxSummary(box));
    assert.deepEqual((await again.value).uids.toArray(), [1, 2, 4, 5]);
    assert.equal(again.sql.length, 1, again.sql.join('\n'));
    // A mailbox that is gone has an empty summary.
    await store.deleteMailbox(box);
    const gone = statementsOf(() => store.mailboxSummary(box));
    assert.deepEqual((await gone.value).uids.toArray(), []);
    assert.equal(gone.sql.length, 1, gone.sql.join('\n'));
  } finally {
    await store.close();
  }
});

test("SELECT's mailbox by name with its summary is one statement, the same answers as the two reads", async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    const account = (await store.getAccount('alice@example.test'))!;
    for (const s of ['a', 'b', 'c']) await store.append(newMessage(s), [{ mailboxId: inbox }]);
    await store.setFlags(inbox, [1], 'add', ['\\Seen', 'kw1']);
    await store.setSubscribed(account.id, 'INBOX', true);
    await store.mailboxSummary(inbox); // the mailbox's keywords, read once and kept
    await store.append(newMessage('later'), [{ mailboxId: inbox }]);
    // The name as a client may give it: INBOX in any case.
    const opened = statementsOf(() => store.openMailbox(account.id, 'inbox'));
    const found = await opened.value;
    assert.equal(opened.sql.length, 1, opened.sql.join('\n'));
    assert.ok(found);
    assert.deepEqual(found.mailbox, await store.getMailbox(account.id, 'INBOX'));
    assert.equal(found.mailbox.subscribed, true);
    const summary = await store.mailboxSummary(inbox);
    assert.deepEqual(found.summary.uids.toArray(), [1, 2, 3, 4]);
    assert.deepEqual(found.summary.uids.toArray(), summary.uids.toArray());
    assert.deepEqual(found.summary.keywords, ['kw1']);
    assert.equal(found.summary.firstUnseen, 2);
    // With holes the memo does not hold: the list in a transaction of its own, as before.
    const box = (await store.createMailbox(account.id, 'Holes')).id;
    for (const s of ['a', 'b', 'c']) await store.append(newMessage(s), [{ mailboxId: box }]);
    await store.expunge(box, { uids: [2], onlyDeleted: false });
    const holes = await store.openMailbox(account.id, 'Holes');
    assert.deepEqual(holes?.summary.uids.toArray(), [1, 3]);
    assert.equal(holes?.mailbox.subscribed, false);
    assert.deepEqual(holes?.mailbox, await store.getMailbox(account.id, 'Holes'));
    // None by that name, or a name no mailbox can have: null.
    const none = statementsOf(() => store.openMailbox(account.id, 'Nowhere'));
    assert.equal(await none.value, null);
    assert.equal(none.sql.length, 1, none.sql.join('\n'));
    assert.equal(await store.openMailbox(account.id, 'a//b'), null);
    assert.equal(await store.getMailbox(account.id, 'a//b'), null);
  } finally {
    await store.close();
  }
});

test("EXPUNGE after an APPEND and a STORE \\Deleted reads its rows in one statement, the cache's lag not caught up first", async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    for (const s of ['a', 'b', 'c']) await store.append(newMessage(s), [{ mailboxId: inbox }]);
    await store.listMessages(inbox); // the rows kept in memory, as FETCH 1:* leaves them
    // The login mix's iteration (issue 19): an APPEND (one with \Deleted already), a STORE.
    await store.append(newMessage('d'), [{ mailboxId: inbox }]);
    await store.append(newMessage('e'), [{ mailboxId: inbox, flags: ['\\Deleted'] }]);
    await store.setFlags(inbox, [1], 'add', ['\\Deleted']);
    const run = await statementsDuring(() => store.expunge(inbox, { onlyDeleted: true }));
    assert.deepEqual(run.value, [1, 5]);
    const rows = run.sql.filter((q) => q.includes('mailbox_messages'));
    // Before: the STORE's row and the APPEND's read into the cache, then the candidates, then
    // (twenty-second session) the candidates read, then deleted: now one DELETE ... RETURNING.
    assert.equal(rows.length, 1, run.sql.join('\n'));
    assert.match(rows[0]!, /^DELETE FROM mailbox_messages .* RETURNING/);
    assert.deepEqual(
      (await store.listMessages(inbox)).map((r) => r.uid),
      [2, 3, 4],
    );
    // A \Deleted flag the cache still has but the database no longer: not expunged.
    await store.setFlags(inbox, [2], 'add', ['\\Deleted']);
    await store.listMessages(inbox);
    await store.setFlags(inbox, [2], 'remove', ['\\Deleted']);
    assert.deepEqual(await store.expunge(inbox, { onlyDeleted: true }), []);
    assert.deepEqual(
      (await store.listMessages(inbox)).map((r) => r.uid),
      [2, 3, 4],
    );
  } finally {
    await store.close();
  }
});

test('EXPUNGE after STOREs and EXPUNGEs with no read between looks up only the rows not expunged yet', async () => {
  // A client that deletes message after message and expunges each (a fetch script reading one
  // message at a time, never listing the mailbox again): the kept rows are not caught up
  // between its EXPUNGEs, and each one looked up again every row expunged since the last
  // catch-up, a list growing with every message deleted.
  const { store, inbox } = await openAliceStore(dir());
  try {
    for (let i = 1; i <= 6; i++) await store.append(newMessage(`m${i}`), [{ mailboxId: inbox }]);
    await store.listMessages(inbox); // the rows kept in memory
    for (const uid of [1, 2, 3, 4]) {
      await store.setFlags(inbox, [uid], 'add', ['\\Deleted']);
      const run = await statementsDuring(() => store.expunge(inbox, { onlyDeleted: true }));
      assert.deepEqual(run.value, [uid]);
      const i = run.sql.findIndex((q) => q.startsWith('DELETE FROM mailbox_messages'));
      assert.ok(i >= 0, run.sql.join('\n'));
      const looked = run.args[i]!.find((a) => typeof a === 'string' && a.startsWith('['));
      assert.deepEqual(JSON.parse(looked as string), [uid]);
    }
    assert.deepEqual(
      (await store.listMessages(inbox)).map((r) => r.uid),
      [5, 6],
    );
  } finally {
    await store.close();
  }
});

test("EXPUNGE of the mix's one message is four statements in its write, the modseq taken with the bytes", async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    for (const s of ['a', 'b', 'c']) await store.append(newMessage(s), [{ mailboxId: inbox }]);
    await store.listMessages(inbox);
    await store.setFlags(inbox, [2], 'add', ['\\Deleted']);
    const account = (await store.getAccount('alice@example.test'))!;
    const before = (await store.getMailbox(account.id, 'INBOX'))!;
    const run = await statementsDuring(() => store.expunge(inbox, { onlyDeleted: true }));
    assert.deepEqual(run.value, [2]);
    // The batch's own (its transaction, and the count of rows changed around its writes:
    // wal-changes.ts) are not the write's.
    const inWrite = run.sql.filter(
      (q) => !/^(BEGIN|COMMIT|SAVEPOINT|RELEASE|PRAGMA)\b|^SELECT total_changes\(\)$/.test(q),
    );
    // The DELETE ... RETURNING, the account's modseq and bytes in one UPDATE, the expunged
    // record, HIGHESTMODSEQ; the mailbox's key from memory (kept since the STORE's batch read
    // it: mailboxes.ts key). Before: seven (the key, the candidates read apart, the modseq and
    // the bytes in two UPDATEs), then five with the key.
    assert.equal(inWrite.length, 4, run.sql.join('\n'));
    // The same answers: one modseq past the STORE's, the bytes given back, VANISHED's record.
    const after = (await store.getMailbox(account.id, 'INBOX'))!;
    assert.equal(after.highestModseq, before.highestModseq + 1);
    const size = newMessage('b').raw.length;
    assert.equal(
      (await store.getAccount('alice@example.test'))!.usedBytes,
      account.usedBytes - size,
    );
    assert.deepEqual(await store.expungedSince(inbox, before.highestModseq), [2]);
    assert.deepEqual(
      (await store.listMessages(inbox)).map((r) => r.uid),
      [1, 3],
    );
  } finally {
    await store.close();
  }
});

test('EXPUNGE takes a row with \\Deleted anywhere in its flags, and none whose flags only begin like it', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    const flags = [
      ['\\Deleted'],
      ['\\Seen', '\\Deleted', 'x'],
      ['y', '\\Deleted'],
      ['\\Deletedx'],
      ['Deleted', '$Deleted'],
      [],
    ];
    for (const [i, f] of flags.entries())
      await store.append(newMessage(`m${i}`), [{ mailboxId: inbox, flags: f }]);
    // Both ways in: the kept rows' candidates (flagged) and, not kept, the whole list.
    assert.deepEqual(await store.expunge(inbox, { onlyDeleted: true }), [1, 2, 3]);
    assert.deepEqual(
      (await store.listMessages(inbox)).map((r) => r.uid),
      [4, 5, 6],
    );
    await store.setFlags(inbox, [5], 'add', ['\\Deleted']);
    assert.deepEqual(await store.expunge(inbox, { onlyDeleted: true }), [5]);
    // UID EXPUNGE (RFC 9051 §6.4.9): only the named UIDs with \Deleted.
    await store.setFlags(inbox, [4, 6], 'add', ['\\Deleted']);
    assert.deepEqual(await store.expunge(inbox, { uids: [6], onlyDeleted: true }), [6]);
    assert.deepEqual(
      (await store.listMessages(inbox)).map((r) => r.uid),
      [4],
    );
  } finally {
    await store.close();
  }
});

test("STORE of one message reads its row by the primary key, without the messages' table", async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    for (const s of ['a', 'b']) await store.append(newMessage(s), [{ mailboxId: inbox }]);
    const run = await statementsDuring(() => store.setFlags(inbox, [2], 'add', ['\\Flagged']));
    assert.deepEqual(
      run.value.updated.map((u) => [u.uid, u.flags]),
      [[2, ['\\Flagged']]],
    );
    const reads = run.sql.filter((q) => q.startsWith('SELECT') && q.includes('mailbox_messages'));
    assert.equal(reads.length, 1, run.sql.join('\n'));
    assert.ok(!reads[0]!.includes('JOIN messages'), reads[0]);
    assert.ok(!reads[0]!.includes('json_each'), reads[0]);
    // Several: one statement, in UID order.
    const many = await store.setFlags(inbox, [2, 1], 'add', ['\\Seen']);
    assert.deepEqual(
      many.updated.map((u) => u.uid),
      [1, 2],
    );
  } finally {
    await store.close();
  }
});
