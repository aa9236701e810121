// Issue 18 acceptance: a Maildir made by a real Dovecot (Debian's dovecot-imapd, a private
// instance on loopback with a temporary config) through IMAP APPEND with custom keywords,
// folders and dates, then imported into Letterbox: imapflow sees the same folders, UIDs,
// UIDVALIDITY, flags, keywords and internal dates on both. An mbsync state made against
// Dovecot, pointed at Letterbox, downloads nothing again (the UIDs were kept). And the way
// out: `export maildir` written into a second Dovecot user's home, which Dovecot then serves
// with the same UIDs, UIDVALIDITY, flags, keywords and dates.
// CI installs dovecot-imapd and isync; without them this test FAILS.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { imapProtocol } from '../../src/imap/index.js';
import { exportAccount } from '../../src/migrate-io/export.js';
import { importFolders } from '../../src/migrate-io/import.js';
import { maildirFolders } from '../../src/migrate-io/maildir-source.js';
import { type Dovecot, startDovecot as startDovecotServer } from '../helpers/dovecot.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const USER = 'dave@example.test';
const PASS = 'pw-dave-1';
const FOLDERS = ['Work', 'Work/Projects', 'Entwürfe'];
/** The Dovecot user that gets Letterbox's export back. */
const BACK = 'back@example.test';

function message(n: number): Buffer {
  return Buffer.from(
    `From: Eve <eve@example.test>\r\nTo: ${USER}\r\nSubject: message ${n}\r\n` +
      `Message-ID: <m${n}@example.test>\r\n\r\nBody ${n}\r\n`,
  );
}

interface Seen {
  uidValidity: string;
  messages: Array<{ uid: number; flags: string[]; date: string; subject: string }>;
}

/** Every folder's UIDVALIDITY and messages as imapflow sees them. */
async function look(flow: ImapFlow): Promise<Record<string, Seen>> {
  const out: Record<string, Seen> = {};
  for (const name of ['INBOX', ...FOLDERS]) {
    const lock = await flow.getMailboxLock(name, { readOnly: true });
    try {
      const mb = flow.mailbox;
      assert.ok(mb);
      const messages: Seen['messages'] = [];
      if (mb.exists > 0) {
        for await (const m of flow.fetch('1:*', {
          uid: true,
          flags: true,
          internalDate: true,
          envelope: true,
        })) {
          messages.push({
            uid: m.uid,
            flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(),
            date: new Date(m.internalDate as Date).toISOString(),
            subject: m.envelope?.subject ?? '',
          });
        }
      }
      out[name] = { uidValidity: String(mb.uidValidity), messages };
    } finally {
      lock.release();
    }
  }
  return out;
}

describe('import a Maildir made by Dovecot', () => {
  let dir: string;
  let dovecot: Dovecot | null = null;
  let dovecotPort: number;
  let ts: TestServer;
  let fromDovecot: Record<string, Seen>;
  let localFiles: string[];
  let subscribedInDovecot: string[];

  /** Starts the private Dovecot again; an imapflow client logged in as `user`. */
  const startDovecot = async (user: string): Promise<ImapFlow> => {
    dovecot!.resume();
    return dovecot!.connect(user, PASS);
  };
  const stopDovecot = async () => dovecot?.halt();
  /** Which of the test's folders are subscribed. */
  const subscribed = async (flow: ImapFlow) =>
    (await flow.list())
      .filter((m) => m.subscribed && ['INBOX', ...FOLDERS].includes(m.path))
      .map((m) => m.path)
      .sort();

  const mbsyncConfig = (server: string) => `IMAPAccount t
${server}
User ${USER}
Pass ${PASS}

IMAPStore remote
Account t

MaildirStore local
Path ${dir}/local/
Inbox ${dir}/local/INBOX
SubFolders Verbatim

Channel c
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
SyncState *
`;
  const mbsync = () =>
    run('mbsync', ['-c', join(dir, 'mbsyncrc'), '-a'], { timeout: 60_000 }).catch((err) => {
      throw new Error(`mbsync failed: ${err.stderr ?? err}`);
    });
  /** The local copy's message files (names carry mbsync's UID: ,U=n). */
  const listLocal = async () => {
    const out: string[] = [];
    const walk = async (d: string) => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(d, e.name));
        else if (/\/(cur|new)$/.test(d)) out.push(join(d, e.name).slice(dir.length));
      }
    };
    await walk(join(dir, 'local'));
    return out.sort();
  };

  before(async () => {
    dovecot = await startDovecotServer({
      users: [
        [USER, PASS],
        [BACK, PASS],
      ],
    });
    dir = dovecot.dir;
    dovecotPort = dovecot.port;
    const flow = await startDovecot(USER);
    for (const f of FOLDERS) await flow.mailboxCreate(f);
    const dates = (n: number) => new Date(Date.UTC(2020, 0, n, 10, 20, 30));
    const plan: Array<[string, string[]]> = [
      ['INBOX', ['\\Seen', '$Label1']],
      ['INBOX', ['\\Answered', '\\Flagged', 'project-x']],
      ['INBOX', []],
      ['INBOX', ['\\Seen', '\\Deleted']],
      ['INBOX', ['$Junk', 'project-x', '\\Draft']],
      ['Work', ['\\Seen', 'work']],
      ['Work/Projects', ['\\Flagged']],
      ['Entwürfe', ['\\Draft', '\\Seen']],
    ];
    let n = 0;
    for (const [box, flags] of plan) {
      n++;
      await flow.append(box, message(n), flags, dates(n));
    }
    await flow.mailboxUnsubscribe('Entwürfe');
    subscribedInDovecot = await subscribed(flow);
    // A gap in the UIDs: the third message is expunged.
    const lock = await flow.getMailboxLock('INBOX');
    try {
      await flow.messageDelete('3', { uid: true });
    } finally {
      lock.release();
    }
    fromDovecot = await look(flow);
    await flow.logout();
    // A client's copy made from Dovecot: mbsync pulls everything into a local Maildir.
    await mkdir(join(dir, 'local'));
    await writeFile(
      join(dir, 'mbsyncrc'),
      mbsyncConfig(`Host 127.0.0.1\nPort ${dovecotPort}\nSSLType None\nAuthMechs LOGIN`),
    );
    await mbsync();
    localFiles = await listLocal();
    assert.equal(localFiles.length, 7, localFiles.join('\n'));
    await stopDovecot();

    ts = await startTestServer({ listeners: ['imaps'], protocols: { imaps: imapProtocol } });
    await ts.addUser(USER, PASS);
  });
  after(async () => {
    await ts?.stop();
    await dovecot?.stop();
  });

  test('folders, UIDs, UIDVALIDITY, flags, keywords and internal dates match', async () => {
    assert.deepEqual(
      fromDovecot.INBOX?.messages.map((m) => m.uid),
      [1, 2, 4, 5],
      'Dovecot gave the UIDs this test expects',
    );
    const root = join(dir, 'mail', 'dave');
    assert.ok((await readdir(root)).includes('dovecot-uidlist'));
    const store = ts.server.ctx.store;
    const account = (await store.getAccount(USER))!;
    const summary = await importFolders(store, account, await maildirFolders(root), {
      maxMessageSize: 1 << 20,
    });
    assert.deepEqual([summary.imported, summary.failed], [7, 0], JSON.stringify(summary.failures));
    assert.ok(summary.folders.every((f) => f.uidsKept));
    const flow = new ImapFlow({
      host: '127.0.0.1',
      port: ts.port('imaps'),
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASS },
      logger: false,
    });
    await flow.connect();
    try {
      assert.deepEqual(await look(flow), fromDovecot);
      assert.deepEqual(await subscribed(flow), subscribedInDovecot);
      assert.deepEqual(subscribedInDovecot, ['INBOX', 'Work', 'Work/Projects']);
    } finally {
      await flow.logout();
    }
  });

  test('mbsync, its state made against Dovecot, downloads nothing from Letterbox', async () => {
    await writeFile(
      join(dir, 'mbsyncrc'),
      mbsyncConfig(
        `Host localhost\nPort ${ts.port('imaps')}\nSSLType IMAPS\nSystemCertificates no\n` +
          `CertificateFile ${join(ts.dir, 'tls', 'cert.pem')}`,
      ),
    );
    // A changed UIDVALIDITY would fail the sync; new UIDs would download every message again.
    await mbsync();
    assert.deepEqual(await listLocal(), localFiles);
  });

  test('exported back to a Maildir, Dovecot serves the same UIDs, flags, keywords and dates', async () => {
    const store = ts.server.ctx.store;
    const account = (await store.getAccount(USER))!;
    const target = join(dir, 'mail', 'back');
    const r = await exportAccount(store, account, 'maildir', target);
    assert.deepEqual([r.exported, r.failed], [7, 0]);
    await run('chown', ['-R', '65534:65534', target]);
    const flow = await startDovecot(BACK);
    try {
      assert.deepEqual(await look(flow), fromDovecot);
    } finally {
      await flow.logout();
      await stopDovecot();
    }
  });
});
