// Export then import again (issue 18 item 4): Maildir and mbox round trips keep the
// mailboxes, bytes, flags, keywords and internal dates; Maildir keeps the UIDs and UIDVALIDITY
// (dovecot-uidlist) too. And the files are as Dovecot and mbox readers expect them.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { indexMessage } from '../../src/delivery/local.js';
import { exportAccount, mboxMessage, mboxPath } from '../../src/migrate-io/export.js';
import { importFolders } from '../../src/migrate-io/import.js';
import { maildirFolders } from '../../src/migrate-io/maildir-source.js';
import { mboxFolders } from '../../src/migrate-io/mbox-source.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Account } from '../../src/store/types.js';
import { openAliceStore } from '../helpers/store.js';

const MAX = 1024 * 1024;

async function snapshot(store: SqliteStore, account: Account, withUids: boolean) {
  const out: unknown[] = [];
  for (const mb of await store.listMailboxes(account.id)) {
    const recs = await store.listMessages(mb.id);
    out.push({
      name: mb.name,
      ...(withUids ? { uidValidity: mb.uidValidity } : {}),
      messages: await Promise.all(
        recs.map(async (r) => ({
          ...(withUids ? { uid: r.uid } : {}),
          flags: [...r.flags].sort(),
          date: r.internalDate.toISOString(),
          bytes: (await store.readMessage(r.blobHash)).toString('latin1'),
        })),
      ),
    });
  }
  return out;
}

describe('export and import again', () => {
  let dir: string;
  let store: SqliteStore;
  let alice: Account;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-export-'));
    ({ store } = await openAliceStore(join(dir, 'data')));
    alice = (await store.getAccount('alice@example.test'))!;
    const msgs: Array<[string, string, string[], string]> = [
      ['INBOX', 'one', ['\\Seen', '$Junk'], '2020-01-02T03:04:05Z'],
      [
        'INBOX',
        'two',
        ['\\Answered', '\\Flagged', 'project-x', '$Forwarded'],
        '2021-01-02T03:04:05Z',
      ],
      ['INBOX', 'three', [], '2022-01-02T03:04:05Z'],
      ['Sent', 'sent', ['\\Seen', '\\Draft', '\\Deleted'], '2019-05-06T07:08:09Z'],
      ['Lists/dev', 'deep', ['work'], '2018-05-06T07:08:09Z'],
      ['Entwürfe', 'utf8', ['\\Draft'], '2017-05-06T07:08:09Z'],
    ];
    for (const name of ['Lists', 'Lists/dev', 'Entwürfe'])
      await store.createMailbox(alice.id, name);
    for (const [mailbox, subject, flags, date] of msgs) {
      const mb = (await store.getMailbox(alice.id, mailbox))!;
      const raw = Buffer.from(
        `Return-Path: <bob@example.test>\r\nFrom: bob@example.test\r\nSubject: ${subject}\r\n` +
          `Message-ID: <${subject}@example.test>\r\n\r\nFrom the top\r\n>From quoted\r\n` +
          `>>From twice\r\n\r\nFrom \r\nend of ${subject}\r\n`,
      );
      await store.append({ raw, index: indexMessage(raw), internalDate: new Date(date) }, [
        { mailboxId: mb.id, flags },
      ]);
    }
    // A gap in the UIDs (an expunged message) that the export must keep.
    const inbox = (await store.getMailbox(alice.id, 'INBOX'))!;
    await store.expunge(inbox.id, { uids: [2], onlyDeleted: false });
    for (const who of ['bob', 'carol']) {
      await store.createAccount({ address: `${who}@example.test`, passwordHash: 'h' });
    }
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('Maildir: everything back, UIDs and UIDVALIDITY included; Dovecot file names', async () => {
    const path = join(dir, 'out-maildir');
    const ex = await exportAccount(store, alice, 'maildir', path);
    assert.deepEqual([ex.exported, ex.failed], [5, 0]);
    assert.deepEqual((await readdir(path)).sort(), [
      '.Archive',
      '.Drafts',
      '.Entw&APw-rfe',
      '.Junk',
      '.Lists',
      '.Lists.dev',
      '.Sent',
      '.Trash',
      'cur',
      'dovecot-keywords',
      'dovecot-uidlist',
      'new',
      'tmp',
    ]);
    const inbox = (await store.getMailbox(alice.id, 'INBOX'))!;
    assert.equal(
      await readFile(join(path, 'dovecot-uidlist'), 'utf8'),
      `3 V${inbox.uidValidity} N${inbox.uidNext}\n` +
        `1 :1577934245.U1V${inbox.uidValidity}.letterbox,S=157,W=168\n` +
        `3 :1641092645.U3V${inbox.uidValidity}.letterbox,S=163,W=174\n`,
    );
    assert.equal(await readFile(join(path, 'dovecot-keywords'), 'utf8'), '0 $Junk\n');
    const cur = (await readdir(join(path, 'cur'))).sort();
    assert.deepEqual(cur, [
      `1577934245.U1V${inbox.uidValidity}.letterbox,S=157,W=168:2,Sa`,
      `1641092645.U3V${inbox.uidValidity}.letterbox,S=163,W=174:2,`,
    ]);
    const st = await stat(join(path, 'cur', cur[0]!));
    assert.equal(st.mtime.toISOString(), '2020-01-02T03:04:05.000Z');
    assert.equal(st.mode & 0o777, 0o600);
    assert.doesNotMatch(await readFile(join(path, 'cur', cur[0]!), 'utf8'), /\r/);

    const bob = (await store.getAccount('bob@example.test'))!;
    const im = await importFolders(store, bob, await maildirFolders(path), { maxMessageSize: MAX });
    assert.deepEqual([im.imported, im.failed], [5, 0]);
    assert.deepEqual(await snapshot(store, bob, true), await snapshot(store, alice, true));
  });

  test('mbox: everything back but the UIDs; Thunderbird layout, mboxrd quoting', async () => {
    const path = join(dir, 'out-mbox');
    const ex = await exportAccount(store, alice, 'mbox', path);
    assert.deepEqual([ex.exported, ex.failed], [5, 0]);
    assert.deepEqual((await readdir(path)).sort(), [
      'Archive',
      'Drafts',
      'Entwürfe',
      'INBOX',
      'Junk',
      'Lists',
      'Lists.sbd',
      'Sent',
      'Trash',
    ]);
    const inboxText = await readFile(join(path, 'INBOX'), 'utf8');
    assert.ok(
      inboxText.startsWith(
        'From bob@example.test Thu Jan  2 03:04:05 2020\nReturn-Path: <bob@example.test>\n' +
          'From: bob@example.test\nSubject: one\nMessage-ID: <one@example.test>\n' +
          'Status: RO\nX-Keywords: $Junk\n\n>From the top\n>>From quoted\n>>>From twice\n\n>From \n' +
          'end of one\n\nFrom bob@example.test Sun Jan  2 03:04:05 2022\n',
      ),
      inboxText,
    );
    const carol = (await store.getAccount('carol@example.test'))!;
    const im = await importFolders(store, carol, await mboxFolders(path, 'mboxrd', MAX), {
      maxMessageSize: MAX,
    });
    assert.deepEqual([im.imported, im.failed], [5, 0]);
    assert.deepEqual(await snapshot(store, carol, false), await snapshot(store, alice, false));
  });

  test('mbox pieces: a message without a header end or a final line break; paths', () => {
    const r = { flags: ['\\Seen', '\\Flagged'], internalDate: new Date('2024-02-29T12:00:00Z') };
    assert.equal(
      mboxMessage(r, Buffer.from('Subject: x\r\nFrom me')).toString(),
      'From MAILER-DAEMON Thu Feb 29 12:00:00 2024\nSubject: x\n>From me\nStatus: RO\nX-Status: F\n\n',
    );
    assert.deepEqual(mboxPath('INBOX'), ['INBOX']);
    assert.deepEqual(mboxPath('a/b/c'), ['a.sbd', 'b.sbd', 'c']);
  });
});
