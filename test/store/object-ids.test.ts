// RFC 8474 object ids, RFC 8514 save dates and the RFC 8970 preview cache in the SQLite
// store, and migration 10, which gives them to rows stored before it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { indexMessage } from '../../src/delivery/local.js';
import type { NewMessage } from '../../src/store/types.js';
import { openAliceStore } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-oid-');

const OBJECT_ID = /^[A-Za-z0-9_-]{1,255}$/;

function mail(id: string, headers = '', internalDate?: Date): NewMessage {
  const raw = Buffer.from(
    `From: a@example.net\r\nTo: alice@example.test\r\nSubject: ${id}\r\nMessage-ID: <${id}@t>\r\n` +
      `${headers}\r\nBody of ${id}.\r\n`,
  );
  return { raw, index: indexMessage(raw), internalDate };
}

test('MAILBOXID: valid, distinct, kept across RENAME, new for a mailbox created again', async () => {
  const { store } = await openAliceStore(dir());
  try {
    const account = (await store.getAccount('alice@example.test'))!;
    const boxes = await store.listMailboxes(account.id);
    for (const b of boxes) assert.match(b.objectId, OBJECT_ID);
    assert.equal(new Set(boxes.map((b) => b.objectId)).size, boxes.length);
    const a = await store.createMailbox(account.id, 'Projects');
    await store.renameMailbox(a.id, 'Work');
    assert.equal((await store.getMailbox(account.id, 'Work'))!.objectId, a.objectId);
    await store.deleteMailbox(a.id);
    const again = await store.createMailbox(account.id, 'Work');
    assert.notEqual(again.objectId, a.objectId);
    assert.ok(!boxes.some((b) => b.objectId === again.objectId));
  } finally {
    await store.close();
  }
});

test('EMAILID per stored message (copies and moves keep it); THREADID by references', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    const account = (await store.getAccount('alice@example.test'))!;
    const other = await store.createMailbox(account.id, 'Other');
    const [root] = await store.append(mail('root'), [{ mailboxId: inbox }]);
    const [reply] = await store.append(mail('reply', 'In-Reply-To: <root@t>\r\n'), [
      { mailboxId: inbox },
    ]);
    const [deep] = await store.append(
      mail('deep', 'References: <root@t> <reply@t>\r\nIn-Reply-To: <reply@t>\r\n'),
      [{ mailboxId: inbox }],
    );
    const [lone] = await store.append(mail('lone', 'References: <nowhere@t>\r\n'), [
      { mailboxId: inbox },
    ]);
    // The same Message-ID with other bytes (delivered twice, other trace fields).
    const [twice] = await store.append(mail('root', 'X-Trace: 2\r\n'), [{ mailboxId: inbox }]);
    const ex = await store.getMessageExtras(inbox, [
      root!.uid,
      reply!.uid,
      deep!.uid,
      lone!.uid,
      twice!.uid,
    ]);
    const e = (uid: number) => ex.get(uid)!;
    for (const x of ex.values()) {
      assert.match(x.emailId, OBJECT_ID);
      assert.match(x.threadId, OBJECT_ID);
    }
    assert.equal(new Set([...ex.values()].map((x) => x.emailId)).size, 5);
    assert.equal(e(reply!.uid).threadId, e(root!.uid).threadId);
    assert.equal(e(deep!.uid).threadId, e(root!.uid).threadId);
    assert.equal(e(twice!.uid).threadId, e(root!.uid).threadId);
    assert.notEqual(e(lone!.uid).threadId, e(root!.uid).threadId);

    const copy = await store.copyMessages(inbox, [root!.uid], other.id);
    const moved = await store.moveMessages(inbox, [reply!.uid], other.id);
    const inOther = await store.getMessageExtras(other.id, [
      copy.mapping[0]![1],
      moved.mapping[0]![1],
    ]);
    assert.equal(inOther.get(copy.mapping[0]![1])!.emailId, e(root!.uid).emailId);
    assert.equal(inOther.get(copy.mapping[0]![1])!.threadId, e(root!.uid).threadId);
    assert.equal(inOther.get(moved.mapping[0]![1])!.emailId, e(reply!.uid).emailId);
    // The same bytes appended again are the same stored message.
    const [same] = await store.append(mail('lone', 'References: <nowhere@t>\r\n'), [
      { mailboxId: other.id },
    ]);
    assert.equal(
      (await store.getMessageExtras(other.id, [same!.uid])).get(same!.uid)!.emailId,
      e(lone!.uid).emailId,
    );
  } finally {
    await store.close();
  }
});

test('save date: when the message came into this mailbox, not its internal date', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    const account = (await store.getAccount('alice@example.test'))!;
    const other = await store.createMailbox(account.id, 'Other');
    const old = new Date('2001-02-03T04:05:06Z');
    const before = Date.now();
    const [r] = await store.append(mail('dated', '', old), [{ mailboxId: inbox }]);
    const saved = (await store.getMessageExtras(inbox, [r!.uid])).get(r!.uid)!.saveDate;
    assert.ok(saved.getTime() >= before && saved.getTime() <= Date.now(), saved.toISOString());
    assert.equal(
      (await store.getRecords(inbox, [r!.uid]))[0]!.internalDate.getTime(),
      old.getTime(),
    );
    // A copy made later is saved later (RFC 8514 §2); the source keeps its date.
    while (Date.now() <= saved.getTime()) await new Promise((res) => setTimeout(res, 2));
    const c = await store.copyMessages(inbox, [r!.uid], other.id);
    const copied = (await store.getMessageExtras(other.id, [c.mapping[0]![1]])).get(
      c.mapping[0]![1],
    )!.saveDate;
    assert.ok(copied.getTime() > saved.getTime());
    assert.equal(
      (await store.getMessageExtras(inbox, [r!.uid])).get(r!.uid)!.saveDate.getTime(),
      saved.getTime(),
    );
  } finally {
    await store.close();
  }
});

test('preview cache: null until set, shared by copies, the first value stays', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    const [r] = await store.append(mail('p'), [{ mailboxId: inbox }]);
    assert.equal((await store.getMessageExtras(inbox, [r!.uid])).get(r!.uid)!.preview, null);
    const rec = (await store.getRecords(inbox, [r!.uid]))[0]!;
    await store.setPreview(rec.messageId, 'Body of p.');
    await store.setPreview(rec.messageId, 'other');
    assert.equal(
      (await store.getMessageExtras(inbox, [r!.uid])).get(r!.uid)!.preview,
      'Body of p.',
    );
  } finally {
    await store.close();
  }
});

test('migration 10: rows stored before get ids, threads in storage order, internal date as save date', async () => {
  let s = await openAliceStore(dir());
  const internal = new Date('2020-01-02T03:04:05Z');
  await s.store.append(mail('m1', '', internal), [{ mailboxId: s.inbox }]);
  await s.store.append(mail('m2', 'References: <m1@t>\r\n', internal), [{ mailboxId: s.inbox }]);
  await s.store.append(mail('m3', '', internal), [{ mailboxId: s.inbox }]);
  await s.store.close();
  // Back to schema 9, as an older letterbox left it.
  const db = new Database(join(dir(), 'letterbox.db'));
  db.exec(`DROP TABLE mailbox_columns;
           DROP TRIGGER mailbox_messages_counted;
           DROP TRIGGER mailbox_messages_uncounted;
           DROP INDEX mailbox_messages_unseen;
           ALTER TABLE mailboxes DROP COLUMN message_count;
           DROP INDEX messages_message_id;
           ALTER TABLE mailboxes DROP COLUMN object_id;
           ALTER TABLE messages DROP COLUMN email_id;
           ALTER TABLE messages DROP COLUMN thread_id;
           ALTER TABLE messages DROP COLUMN preview;
           ALTER TABLE mailbox_messages DROP COLUMN save_date;
           ALTER TABLE mailboxes DROP COLUMN first_recent_uid;
           DROP TABLE app_passwords;
           ALTER TABLE accounts DROP COLUMN unlocked_at;
           ALTER TABLE mailbox_messages DROP COLUMN internal_zone;
           DROP TABLE mailbox_keywords;
           ALTER TABLE accounts DROP COLUMN admin;
           DROP TABLE change_log;
           PRAGMA user_version = 9;`);
  db.close();
  s = await openAliceStore(dir());
  try {
    const account = (await s.store.getAccount('alice@example.test'))!;
    for (const b of await s.store.listMailboxes(account.id)) assert.match(b.objectId, OBJECT_ID);
    const ex = await s.store.getMessageExtras(s.inbox, [1, 2, 3]);
    assert.equal(ex.size, 3);
    assert.equal(new Set([...ex.values()].map((x) => x.emailId)).size, 3);
    for (const x of ex.values()) {
      assert.match(x.emailId, OBJECT_ID);
      assert.match(x.threadId, OBJECT_ID);
      assert.equal(x.saveDate.getTime(), internal.getTime());
    }
    assert.equal(ex.get(2)!.threadId, ex.get(1)!.threadId);
    assert.notEqual(ex.get(3)!.threadId, ex.get(1)!.threadId);
    // A reply delivered after the upgrade joins the thread worked out for the old rows.
    const [r] = await s.store.append(mail('m4', 'In-Reply-To: <m2@t>\r\n'), [
      { mailboxId: s.inbox },
    ]);
    assert.equal(
      (await s.store.getMessageExtras(s.inbox, [r!.uid])).get(r!.uid)!.threadId,
      ex.get(1)!.threadId,
    );
  } finally {
    await s.store.close();
  }
});
