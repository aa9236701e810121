// Issue 17 item 5 acceptance: a server on SQLite, mbsync syncs the mailbox (with flags) into
// a local Maildir; the server stops, `letterbox store migrate --to postgres URL` copies the
// store, the server starts on PostgreSQL, and mbsync downloads nothing again (the same
// UIDVALIDITY and UIDs: its Maildir and its sync state are unchanged) and the flags agree;
// a change on PostgreSQL still reaches the client; then back with `--to sqlite DIR`, the same.
// CI installs isync and postgresql; without them this test FAILS.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { hashPassword, TEST_SCRYPT_PARAMS } from '../../src/auth/password.js';
import { loadConfig } from '../../src/config/load.js';
import { LISTENER_NAMES } from '../../src/config/schema.js';
import { deliverLocal } from '../../src/delivery/local.js';
import { imapProtocol } from '../../src/imap/index.js';
import { silentLogger } from '../../src/log.js';
import { writeSelfSigned } from '../../src/net/selfsigned.js';
import { PROTOCOLS, type RunningServer, startServer } from '../../src/server.js';
import { runCli } from '../helpers/cli.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { RawClient } from '../imap/session/client.js';

const run = promisify(execFile);
const USER = 'dave@example.test';
const PASS = 'pw-dave-1';

function msg(n: number): Buffer {
  return Buffer.from(
    `From: Eve <eve@example.test>\r\nTo: ${USER}\r\nSubject: note ${n}\r\n` +
      `Message-ID: <note${n}@example.test>\r\n\r\nBody of note ${n}\r\n`,
  );
}

describe('store migrate: mbsync needs no resync after SQLite -> PostgreSQL -> SQLite', () => {
  let pg: TestPostgres;
  let url: string;
  let dir: string;
  let server: RunningServer | undefined;
  /** UIDVALIDITY and a HIGHESTMODSEQ from before UID 5 was expunged, for QRESYNC. */
  let uidValidity = 0;
  let modseqBefore = 0;
  const config = () => join(dir, 'letterbox.toml');
  const local = () => join(dir, 'local');

  const writeConfig = (store: string) => {
    const listeners = LISTENER_NAMES.map(
      (n) => `[listeners.${n}]\nenabled = ${n === 'imaps'}\naddress = "127.0.0.1"\nport = 0\n`,
    ).join('\n');
    return writeFile(
      config(),
      `hostname = "localhost"\n[log]\nlevel = "silent"\n${listeners}\n[queue]\ndeliver = false\n${store}`,
    );
  };
  const start = async () => {
    server = await startServer(loadConfig(config()), silentLogger());
    const port = server.listeners.find((l) => l.name === 'imaps')!.port;
    await writeFile(
      join(dir, 'mbsyncrc'),
      `IMAPAccount t
Host localhost
Port ${port}
User ${USER}
Pass ${PASS}
SSLType IMAPS
SystemCertificates no
CertificateFile ${join(dir, 'tls', 'cert.pem')}

IMAPStore remote
Account t

MaildirStore local
Path ${local()}/
Inbox ${local()}/INBOX
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
  };
  const stop = async () => {
    await server?.stop();
    server = undefined;
  };
  const mbsync = async () =>
    run('mbsync', ['-V', '-c', join(dir, 'mbsyncrc'), '-a'], { timeout: 60_000 }).catch((err) => {
      throw new Error(`mbsync failed: ${err.stderr ?? err}`);
    });
  /** The local copy: file names carry mbsync's UID (,U=n) and the flags (:2,FS). */
  const listLocal = async () => {
    const out: string[] = [];
    for (const sub of ['cur', 'new']) {
      for (const f of await readdir(join(local(), 'INBOX', sub)).catch(() => [] as string[])) {
        out.push(`${sub}/${f}`);
      }
    }
    return out.sort();
  };
  /** mbsync's state of INBOX: the far side's UIDVALIDITY and the UIDs it has seen. */
  const syncState = async () => {
    const s = await readFile(join(local(), 'INBOX', '.mbsyncstate'), 'utf8');
    return s.split('\n').filter((l) => /^(FarUidValidity|MaxPulledUid)/.test(l));
  };
  /** Each message's flags on the server, by subject, as Maildir letters. */
  const serverFlags = async () => {
    const store = server!.ctx.store;
    const account = (await store.getAccount(USER))!;
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    const records = await store.listMessages(inbox.id);
    const details = await store.getMessages(
      inbox.id,
      records.map((r) => r.uid),
    );
    const letter: Record<string, string> = {
      '\\Draft': 'D',
      '\\Flagged': 'F',
      '\\Answered': 'R',
      '\\Seen': 'S',
      '\\Deleted': 'T',
    };
    return Object.fromEntries(
      details.map((d) => [
        d.index.search.subject,
        d.flags
          .map((f) => letter[f] ?? '')
          .sort()
          .join(''),
      ]),
    );
  };
  /** The local copy's flags by subject (the ,U=n of a Maildir name is mbsync's own UID). */
  const localFlags = async () => {
    const out: Record<string, string> = {};
    for (const f of await listLocal()) {
      const text = await readFile(join(local(), 'INBOX', f), 'utf8');
      const subject = /^Subject: (.*)\r?$/m.exec(text)?.[1] ?? f;
      out[subject.toLowerCase()] = /:2,([A-Z]*)$/.exec(f)?.[1] ?? '';
    }
    return out;
  };
  /**
   * What a QRESYNC client (RFC 7162 §3.2.5) hears when it selects INBOX with the state it
   * saved before UID 5 was expunged: the expunged UIDs (VANISHED (EARLIER)), the messages
   * changed since, and the mailbox's counters.
   */
  const qresync = async () => {
    const port = server!.listeners.find((l) => l.name === 'imaps')!.port;
    const c = await RawClient.connect(port, true);
    try {
      await c.cmd('a', `LOGIN ${USER} ${PASS}`);
      await c.cmd('b', 'ENABLE QRESYNC');
      const lines = await c.cmd('c', `SELECT INBOX (QRESYNC (${uidValidity} ${modseqBefore} 1:*))`);
      await c.cmd('d', 'LOGOUT');
      return lines.filter((l) =>
        /^\* (VANISHED|\d+ FETCH|\d+ EXISTS|OK \[(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ))|^c /.test(l),
      );
    } finally {
      c.socket.destroy();
    }
  };
  let qresyncSeen: string[] = [];
  const migrate = async (to: string, where: string) => {
    const r = await runCli(['-c', config(), 'store', 'migrate', '--to', to, where]);
    assert.equal(r.code, 0, `store migrate --to ${to} failed: ${r.stderr}`);
    const done = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(done.event, 'done');
    assert.equal(done.verified, true);
    return done;
  };

  before(async () => {
    try {
      await run('mbsync', ['--version']);
    } catch {
      assert.fail('mbsync is not installed: apt-get install isync (CI installs it)');
    }
    Object.assign(PROTOCOLS, { imaps: imapProtocol });
    pg = await startPostgres();
    url = await pg.createDatabase();
    dir = await mkdtemp(join(tmpdir(), 'lb-migrate-e2e-'));
    await writeSelfSigned(dir, 'localhost');
    await mkdir(local(), { recursive: true });
    await writeConfig('');
    await start();
    const store = server!.ctx.store;
    await store.addDomain('example.test');
    const account = await store.createAccount({
      address: USER,
      passwordHash: await hashPassword(PASS, TEST_SCRYPT_PARAMS),
    });
    for (let n = 1; n <= 5; n++) await deliverLocal(store, { raw: msg(n), accounts: [account] });
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    await store.setFlags(inbox.id, [1, 3], 'add', ['\\Seen']);
    await store.setFlags(inbox.id, [2], 'add', ['\\Flagged', '\\Answered']);
    uidValidity = inbox.uidValidity;
    modseqBefore = (await store.mailboxStatus(inbox.id)).highestModseq;
    // One expunged: its UID stays unused after the switch.
    await store.expunge(inbox.id, { uids: [5], onlyDeleted: false });
  });
  after(async () => {
    await stop();
    await pg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let files: string[] = [];
  let state: string[] = [];

  test('on SQLite: mbsync pulls the mailbox with its flags', async () => {
    await mbsync();
    files = await listLocal();
    assert.equal(files.length, 4);
    assert.deepEqual(await localFlags(), await serverFlags());
    state = await syncState();
    qresyncSeen = await qresync();
    assert.ok(qresyncSeen.includes('* VANISHED (EARLIER) 5'), qresyncSeen.join('\n'));
    assert.ok(!qresyncSeen.some((l) => / FETCH /.test(l)), qresyncSeen.join('\n'));
    await stop();
  });

  test('refusals: the same backend, an unknown one, a password in the URL', async () => {
    const cli = (args: string[]) => runCli(['-c', config(), 'store', 'migrate', ...args]);
    let r = await cli(['--to', 'sqlite', join(dir, 'elsewhere')]);
    assert.deepEqual(
      [r.code, r.stderr.trim()],
      [2, "letterbox: the config's store is sqlite already: nothing to migrate"],
    );
    r = await cli(['--to', 'mysql', url]);
    assert.deepEqual(
      [r.code, r.stderr.trim()],
      [2, 'letterbox: --to: postgres or sqlite, not mysql'],
    );
    const withPassword = new URL(url);
    withPassword.password = 'secret';
    r = await cli(['--to', 'postgres', withPassword.toString()]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /must not hold a password/);
    assert.doesNotMatch(r.stderr, /secret/);
    // `letterbox serve` writes letterbox.pid; a live process there is a running server.
    await writeFile(join(dir, 'letterbox.pid'), `${process.pid}\n`);
    r = await cli(['--to', 'postgres', url]);
    await rm(join(dir, 'letterbox.pid'));
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`a server \\(pid ${process.pid}\\) is running on the source`),
    );
  });

  test('migrated to PostgreSQL: nothing downloaded again, flags equal, changes still flow', async () => {
    const done = await migrate('postgres', url);
    assert.equal(done.tables.mailbox_messages, 4);
    // Done and checked: a second run finds a target that holds data, and changes nothing.
    const again = await runCli(['-c', config(), 'store', 'migrate', '--to', 'postgres', url]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds mail data: the target of a migration must be empty/);
    await writeConfig(`[store]\nkind = "postgres"\nurl = ${JSON.stringify(url)}\npool_size = 4\n`);
    await start();
    const r = await mbsync();
    assert.deepEqual(await listLocal(), files, `mbsync changed the local copy:\n${r.stdout}`);
    assert.deepEqual(await syncState(), state);
    assert.deepEqual(await localFlags(), await serverFlags());
    // A QRESYNC client hears the same: the same UIDVALIDITY, HIGHESTMODSEQ and VANISHED.
    assert.deepEqual(await qresync(), qresyncSeen);

    // The store goes on from where it was: a new message gets UID 6, a flag change arrives.
    const store = server!.ctx.store;
    const account = (await store.getAccount(USER))!;
    await deliverLocal(store, { raw: msg(6), accounts: [account] });
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    await store.setFlags(inbox.id, [4], 'add', ['\\Flagged']);
    await mbsync();
    files = await listLocal();
    assert.equal(files.length, 5);
    assert.ok('note 6' in (await localFlags()), files.join(' '));
    assert.deepEqual(await localFlags(), await serverFlags());
    state = await syncState();
    qresyncSeen = await qresync();
    assert.ok(
      qresyncSeen.some((l) => / FETCH \(UID 4 /.test(l) || /UID 4[ )]/.test(l)),
      qresyncSeen.join('\n'),
    );
    await stop();
  });

  test('back to SQLite: nothing downloaded again, flags equal', async () => {
    // The old SQLite store is still in the data directory: moved aside, as an operator would.
    const old = join(dir, 'old-sqlite');
    await mkdir(old);
    for (const f of await readdir(dir)) {
      if (/^(letterbox\.db|fts\.db)/.test(f) || f === 'blobs')
        await rename(join(dir, f), join(old, f));
    }
    const done = await migrate('sqlite', dir);
    assert.equal(done.tables.mailbox_messages, 5);
    await writeConfig('');
    await start();
    const r = await mbsync();
    assert.deepEqual(await listLocal(), files, `mbsync changed the local copy:\n${r.stdout}`);
    assert.deepEqual(await syncState(), state);
    assert.deepEqual(await localFlags(), await serverFlags());
    assert.deepEqual(await qresync(), qresyncSeen);
    await stop();
  });
});
