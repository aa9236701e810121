// mbsync (Debian isync) round-trips an account: server -> local Maildir, flags changed on
// both sides, local new message -> server, and a second sync agrees (issue 5 acceptance).
// CI installs isync; without mbsync this test FAILS (it is part of the acceptance).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { deliverLocal } from '../../src/delivery/local.js';
import { imapProtocol } from '../../src/imap/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const USER = 'dave@example.test';
const PASS = 'pw-dave-1';

function msg(subject: string): Buffer {
  return Buffer.from(
    `From: Eve <eve@example.test>\r\nTo: ${USER}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '')}@example.test>\r\n\r\nBody of ${subject}\r\n`,
  );
}

/** Maildir files of a folder's cur/ and new/, as name -> content. */
async function maildir(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const sub of ['cur', 'new']) {
    for (const f of await readdir(join(dir, sub)).catch(() => [] as string[])) {
      out.set(`${sub}/${f}`, await readFile(join(dir, sub, f), 'utf8'));
    }
  }
  return out;
}

describe('IMAP e2e: mbsync round trip', () => {
  let ts: TestServer;
  let config: string;
  let local: string;
  before(async () => {
    try {
      await run('mbsync', ['--version']);
    } catch {
      assert.fail('mbsync is not installed: apt-get install isync (CI installs it)');
    }
    ts = await startTestServer({
      listeners: ['imaps'],
      protocols: { imaps: imapProtocol },
    });
    await ts.addUser(USER, PASS);
    local = join(ts.dir, 'mail');
    await mkdir(local, { recursive: true });
    config = join(ts.dir, 'mbsyncrc');
    await writeFile(
      config,
      `IMAPAccount t
Host localhost
Port ${ts.port('imaps')}
User ${USER}
Pass ${PASS}
SSLType IMAPS
SystemCertificates no
CertificateFile ${join(ts.dir, 'tls', 'cert.pem')}

IMAPStore remote
Account t

MaildirStore local
Path ${local}/
Inbox ${local}/INBOX
SubFolders Verbatim

Channel c
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
`,
    );
  });
  after(async () => {
    await ts?.stop();
  });

  const sync = async () => {
    const r = await run('mbsync', ['-c', config, '-a'], { timeout: 30_000 }).catch((err) => {
      throw new Error(`mbsync failed: ${err.stderr ?? err}`);
    });
    return r;
  };

  test('sync to a local Maildir and back, flags both ways', async () => {
    const store = ts.server.ctx.store;
    const account = await store.getAccount(USER);
    assert.ok(account);
    await deliverLocal(store, { raw: msg('first'), accounts: [account] });
    await deliverLocal(store, { raw: msg('second'), accounts: [account] });
    await sync();
    const inbox = join(local, 'INBOX');
    let files = await maildir(inbox);
    assert.equal(files.size, 2);
    assert.ok([...files.values()].some((c) => c.includes('Subject: first')));

    // Server side: flag "first" \Flagged. Local side: mark "second" seen (Maildir S flag),
    // and add a new local message.
    const mb = await store.getMailbox(account.id, 'INBOX');
    assert.ok(mb);
    const rows = await store.listMessages(mb.id);
    await store.setFlags(mb.id, [rows[0].uid], 'add', ['\\Flagged']);
    const second = [...files.entries()].find(([, c]) => c.includes('Subject: second'));
    assert.ok(second);
    const [name] = second;
    const base = name.slice(name.indexOf('/') + 1).replace(/:2,.*$/, '');
    const flags = /:2,([A-Z]*)$/.exec(name)?.[1] ?? '';
    await rename(
      join(inbox, name),
      join(inbox, 'cur', `${base}:2,${[...new Set(`${flags}S`)].sort().join('')}`),
    );
    await writeFile(join(inbox, 'new', `${Date.now()}.local.test`), msg('third from local'));
    await sync();

    files = await maildir(inbox);
    const first = [...files.entries()].find(([, c]) => c.includes('Subject: first'));
    assert.ok(first && /:2,[A-Z]*F/.test(first[0]), `first is flagged locally: ${first?.[0]}`);
    const after = await store.listMessages(mb.id);
    assert.equal(after.length, 3);
    const full = await store.getMessages(
      mb.id,
      after.map((r) => r.uid),
    );
    const bySubject = (s: string) => full.find((d) => (d.index.search.subject ?? '').includes(s));
    assert.ok(bySubject('second')?.flags.includes('\\Seen'), 'second is \\Seen on the server');
    const third = bySubject('third from local');
    assert.ok(third, 'the local message reached the server');
    const bytes = await store.readMessage(third.blobHash);
    assert.ok(bytes.includes(Buffer.from('Body of third from local')));

    // A deletion on the server propagates on the next sync.
    await store.setFlags(mb.id, [rows[0].uid], 'add', ['\\Deleted']);
    await store.expunge(mb.id, { uids: [rows[0].uid], onlyDeleted: true });
    await sync();
    files = await maildir(inbox);
    assert.equal(files.size, 2);
    assert.ok(![...files.values()].some((c) => c.includes('Subject: first')));
  });
});
