// Importing a Maildir++ tree and mbox files into a store: flags, keywords, internal dates,
// kept UIDs and UIDVALIDITY, a rerun that skips everything, and bad input reported with its
// path and reason while the rest goes in.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { indexMessage } from '../../src/delivery/local.js';
import { importFolders } from '../../src/migrate-io/import.js';
import { maildirFolders } from '../../src/migrate-io/maildir-source.js';
import { mboxFolders } from '../../src/migrate-io/mbox-source.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Account } from '../../src/store/types.js';
import { openAliceStore } from '../helpers/store.js';

const MAX = 1024 * 1024;

function message(subject: string, body = 'hello'): string {
  return `From: Bob <bob@example.test>\nTo: alice@example.test\nSubject: ${subject}\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\n\n${body}\n`;
}

async function put(dir: string, name: string, text: string, mtime?: Date): Promise<void> {
  await writeFile(join(dir, name), text);
  if (mtime) await utimes(join(dir, name), mtime, mtime);
}

async function mailbox(store: SqliteStore, account: Account, name: string) {
  const mb = await store.getMailbox(account.id, name);
  assert.ok(mb, `mailbox ${name}`);
  const recs = await store.listMessages(mb.id);
  const texts = await Promise.all(recs.map((r) => store.readMessage(r.blobHash)));
  return {
    mb,
    rows: recs.map((r, i) => ({
      uid: r.uid,
      flags: [...r.flags].sort(),
      date: r.internalDate.toISOString(),
      subject: /Subject: (.*)\r\n/.exec(texts[i]!.toString())?.[1],
      crlf: !/[^\r]\n/.test(texts[i]!.toString()),
    })),
  };
}

describe('import maildir', () => {
  let dir: string;
  let store: SqliteStore;
  let account: Account;
  const d1 = new Date('2020-01-02T03:04:05Z');
  const d2 = new Date('2021-06-07T08:09:10Z');
  const d3 = new Date('2022-11-12T13:14:15Z');
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-import-'));
    ({ store } = await openAliceStore(join(dir, 'data')));
    account = (await store.getAccount('alice@example.test'))!;
    const md = join(dir, 'Maildir');
    for (const f of ['', '.Sent', '.a.b', '.Entw&APw-rfe', '.bad*name']) {
      for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(md, f, sub), { recursive: true });
    }
    await put(md, 'dovecot-keywords', '0 $Junk\n1 project-x\n');
    await put(
      md,
      'dovecot-uidlist',
      '3 V1234567 N20 Gabc\n3 :1000.a.host,S=1:2,\n7 W99 :1001.b.host:2,S\n9 :gone.host:2,\n',
    );
    await put(md, 'cur/1000.a.host,S=1:2,Sa', message('one'), d1);
    await put(md, 'cur/1001.b.host:2,FRb', message('two'), d2);
    await put(md, 'new/1002.c.host', message('three'), d3);
    // Bad input: a broken link, an empty file, a directory among the messages.
    await symlink(join(md, 'nowhere'), join(md, 'cur', '1003.d.host:2,S'));
    await put(md, 'cur/1004.e.host:2,', '');
    await mkdir(join(md, 'cur', '1005.f.host:2,'));
    await put(join(md, '.Sent'), 'cur/2000.s.host:2,S', message('sent'), d1);
    await put(join(md, '.a.b'), 'cur/3000.x.host:2,T', message('deep'), d2);
    await put(join(md, '.Entw&APw-rfe'), 'cur/3001.x.host:2,D', message('draft'), d3);
    await put(join(md, '.bad*name'), 'cur/4000.x.host:2,', message('lost'), d3);
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('folders, flags, keywords, dates, UIDs kept; bad input reported, the rest imported', async () => {
    const md = join(dir, 'Maildir');
    const first = await importFolders(store, account, await maildirFolders(md), {
      maxMessageSize: MAX,
    });
    assert.deepEqual(first.failures.map((f) => [f.source.slice(md.length), f.reason]).sort(), [
      ['/.bad*name', 'not a valid mailbox name: mailbox name has a wildcard character'],
      ['/cur/1003.d.host:2,S', 'the file is gone (or a broken link)'],
      ['/cur/1004.e.host:2,', 'empty message'],
      ['/cur/1005.f.host:2,', 'a directory, not a message file'],
    ]);
    assert.deepEqual([first.imported, first.skipped, first.failed], [6, 0, 4]);
    const inbox = await mailbox(store, account, 'INBOX');
    assert.equal(inbox.mb.uidValidity, 1234567);
    assert.deepEqual(inbox.rows, [
      { uid: 3, flags: ['$Junk', '\\Seen'], date: d1.toISOString(), subject: 'one', crlf: true },
      {
        uid: 7,
        flags: ['\\Answered', '\\Flagged', 'project-x'],
        date: d2.toISOString(),
        subject: 'two',
        crlf: true,
      },
      // Not in dovecot-uidlist: from its N on (UIDs below may have been seen).
      { uid: 20, flags: [], date: d3.toISOString(), subject: 'three', crlf: true },
    ]);
    assert.ok(inbox.mb.uidNext > 20);
    const sent = await mailbox(store, account, 'Sent');
    assert.deepEqual(
      sent.rows.map((r) => [r.subject, r.flags]),
      [['sent', ['\\Seen']]],
    );
    assert.deepEqual(
      (await mailbox(store, account, 'a/b')).rows.map((r) => [r.subject, r.flags, r.date]),
      [['deep', ['\\Deleted'], d2.toISOString()]],
    );
    assert.deepEqual(
      (await mailbox(store, account, 'Entwürfe')).rows.map((r) => [r.subject, r.flags]),
      [['draft', ['\\Draft']]],
    );
    assert.deepEqual(
      first.folders.map((f) => [f.folder, f.imported, f.skipped, f.failed, f.uidsKept]),
      [
        ['INBOX', 3, 0, 3, true],
        ['Entwürfe', 1, 0, 0, false],
        ['Sent', 1, 0, 0, false],
        ['a/b', 1, 0, 0, false],
      ],
    );

    // No subscriptions file: the folders the import made are subscribed (INBOX and Sent were).
    const subs = await store.listSubscriptions(account.id);
    for (const n of ['INBOX', 'Sent', 'a/b', 'Entwürfe']) assert.ok(subs.includes(n), n);
    assert.ok(!subs.includes('a'), 'a parent the store made on the way is not');

    // A rerun finds everything there: nothing imported twice, UIDs unchanged.
    const again = await importFolders(store, account, await maildirFolders(md), {
      maxMessageSize: MAX,
    });
    assert.deepEqual([again.imported, again.skipped, again.failed], [0, 6, 4]);
    assert.deepEqual((await mailbox(store, account, 'INBOX')).rows, inbox.rows);
  });

  test('a mailbox that held mail keeps its UIDVALIDITY: new UIDs, nothing lost', async () => {
    const md = join(dir, 'Maildir2');
    for (const sub of ['cur', 'new']) await mkdir(join(md, '.Archive', sub), { recursive: true });
    await put(join(md, '.Archive'), 'dovecot-uidlist', '3 V777 N5\n4 :5000.z.host\n');
    await put(join(md, '.Archive'), 'cur/5000.z.host:2,S', message('archived'), d1);
    const archive = (await store.getMailbox(account.id, 'Archive'))!;
    const there = Buffer.from('Subject: there\r\n\r\nx\r\n');
    await store.append({ raw: there, index: indexMessage(there) }, [{ mailboxId: archive.id }]);
    const r = await importFolders(store, account, await maildirFolders(md), {
      maxMessageSize: MAX,
    });
    assert.deepEqual([r.imported, r.failed, r.folders[0]?.uidsKept], [1, 0, false]);
    const after = await mailbox(store, account, 'Archive');
    assert.equal(after.mb.uidValidity, archive.uidValidity);
    assert.deepEqual(
      after.rows.map((x) => [x.uid, x.subject]),
      [
        [1, 'there'],
        [2, 'archived'],
      ],
    );
  });

  test('a file over the size limit fails unread; the others go in', async () => {
    const md = join(dir, 'Maildir3');
    await mkdir(join(md, '.Big', 'cur'), { recursive: true });
    await put(join(md, '.Big'), 'cur/1.big:2,', message('big', 'x'.repeat(500)));
    await put(join(md, '.Big'), 'cur/2.small:2,', message('small'));
    const r = await importFolders(store, account, await maildirFolders(md), {
      maxMessageSize: 300,
    });
    assert.deepEqual(
      r.failures.map((f) => [f.source.slice(md.length), f.reason]),
      [['/.Big/cur/1.big:2,', '598 bytes, over the limit of 300 ([limits] max_message_size)']],
    );
    assert.deepEqual(
      (await mailbox(store, account, 'Big')).rows.map((x) => x.subject),
      ['small'],
    );
  });

  test('a path that is no Maildir is an error', async () => {
    await mkdir(join(dir, 'empty'), { recursive: true });
    await assert.rejects(maildirFolders(join(dir, 'empty')), /is not a Maildir/);
    await assert.rejects(maildirFolders(join(dir, 'missing')), /is not a directory/);
  });
});

describe('import mbox', () => {
  let dir: string;
  let store: SqliteStore;
  let account: Account;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-import-mbox-'));
    ({ store } = await openAliceStore(join(dir, 'data')));
    account = (await store.getAccount('alice@example.test'))!;
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a directory of mbox files: folders, state fields, From dates, bad parts reported', async () => {
    const root = join(dir, 'mail');
    await mkdir(join(root, 'Lists.sbd'), { recursive: true });
    await writeFile(
      join(root, 'Inbox'),
      'From a@b Sat Jan  3 01:05:34 1996\nSubject: one\nStatus: RO\nX-Status: AF\nX-Keywords: $Label1 work\n\n>From the start\n\n' +
        'From c@d Sun Jan  4 01:05:34 1996\r\nSubject: two\r\nStatus: O\r\n\r\nbody\r\n',
    );
    await writeFile(join(root, 'Inbox.msf'), 'mork index, not mail');
    await writeFile(
      join(root, 'Lists.sbd', 'dev.mbox'),
      'junk before\n\nFrom x@y Mon Feb  5 06:07:08 2001\nX-IMAP: 1 2\nSubject: folder data\n\n' +
        'From x@y Mon Feb  5 06:07:09 2001\nSubject: dev\n\nd\n',
    );
    const folders = await mboxFolders(root, 'mboxrd', MAX);
    const r = await importFolders(store, account, folders, { maxMessageSize: MAX });
    assert.deepEqual(
      r.failures.map((f) => [f.source.slice(root.length), f.reason]),
      [['/Lists.sbd/dev.mbox:1', 'text before the first From line']],
    );
    assert.deepEqual([r.imported, r.skipped, r.failed], [3, 0, 1]);
    const inbox = await mailbox(store, account, 'INBOX');
    assert.deepEqual(
      inbox.rows.map((x) => [x.subject, x.flags, x.date, x.crlf]),
      [
        [
          'one',
          ['$Label1', '\\Answered', '\\Flagged', '\\Seen', 'work'],
          '1996-01-03T01:05:34.000Z',
          true,
        ],
        ['two', [], '1996-01-04T01:05:34.000Z', true],
      ],
    );
    const one = await store.readMessage((await store.listMessages(inbox.mb.id))[0]!.blobHash);
    assert.equal(one.toString(), 'Subject: one\r\n\r\nFrom the start\r\n');
    assert.deepEqual(
      (await mailbox(store, account, 'Lists/dev')).rows.map((x) => [x.subject, x.date]),
      [['dev', '2001-02-05T06:07:09.000Z']],
    );
    const again = await importFolders(store, account, await mboxFolders(root, 'mboxrd', MAX), {
      maxMessageSize: MAX,
    });
    assert.deepEqual([again.imported, again.skipped], [0, 3]);
  });

  test('one file into a named mailbox; a message over the limit fails alone', async () => {
    const file = join(dir, 'one.mbox');
    await writeFile(
      file,
      `From a@b Sat Jan  3 01:05:34 1996\nSubject: big\n\n${'x'.repeat(300)}\n\nFrom a@b Sat Jan  3 01:05:35 1996\nSubject: small\n\ns\n`,
    );
    const r = await importFolders(
      store,
      account,
      await mboxFolders(file, 'mboxrd', 200, 'Old/2019'),
      {
        maxMessageSize: 200,
      },
    );
    assert.deepEqual(
      r.failures.map((f) => [f.source.slice(dir.length), f.reason]),
      [['/one.mbox:1', '318 bytes, over the limit of 200 ([limits] max_message_size)']],
    );
    assert.deepEqual(
      (await mailbox(store, account, 'Old/2019')).rows.map((x) => x.subject),
      ['small'],
    );
  });
});
