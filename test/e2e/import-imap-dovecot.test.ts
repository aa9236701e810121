// Issue 18 acceptance: `letterbox import imap` (the built CLI) from a private Dovecot on
// loopback (Debian's dovecot-imapd, separator ".", its \Sent folder named "Sent Messages")
// copies every folder with flags, custom keywords and internal dates, and a second run
// copies only the new mail and the flags changed there (CONDSTORE). Bad input: a wrong
// password, a port nobody listens on, a folder Dovecot cannot open (reported by name, the
// rest copied, exit 1), a URL with the password in it.
// CI installs dovecot-imapd; without it this test FAILS.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ImapFlow } from 'imapflow';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import { runCli } from '../helpers/cli.js';
import { type Dovecot, startDovecot } from '../helpers/dovecot.js';

const USER = 'dave@example.test';
const PASS = 'pw-dave-1';
const TARGET = 'dave@example.test';
const FOLDERS = ['Work', 'Work.Projects', 'Entwürfe', 'Sent Messages'];
/** Where each Dovecot folder is to land in Letterbox. */
const OURS: Record<string, string> = {
  INBOX: 'INBOX',
  Work: 'Work',
  'Work.Projects': 'Work/Projects',
  Entwürfe: 'Entwürfe',
  'Sent Messages': 'Sent',
};

function message(n: number): Buffer {
  return Buffer.from(
    `From: Eve <eve@example.test>\r\nTo: ${USER}\r\nSubject: message ${n}\r\n` +
      `Message-ID: <m${n}@example.test>\r\n\r\nBody ${n}\r\n`,
  );
}

type Row = [string, string[], string];

/** Dovecot's folders as [subject, flags, internal date] rows, by our name. */
async function lookDovecot(flow: ImapFlow): Promise<Record<string, Row[]>> {
  const out: Record<string, Row[]> = {};
  for (const name of ['INBOX', ...FOLDERS]) {
    const lock = await flow.getMailboxLock(name, { readOnly: true });
    try {
      const rows: Row[] = [];
      if (flow.mailbox && flow.mailbox.exists > 0) {
        for await (const m of flow.fetch('1:*', {
          flags: true,
          internalDate: true,
          envelope: true,
        })) {
          rows.push([
            m.envelope?.subject ?? '',
            [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(),
            new Date(m.internalDate as Date).toISOString(),
          ]);
        }
      }
      out[OURS[name]!] = rows;
    } finally {
      lock.release();
    }
  }
  return out;
}

describe('letterbox import imap from Dovecot', () => {
  let dir: string;
  let cfg: string;
  let dovecot: Dovecot;
  const lb = (args: string[], env: NodeJS.ProcessEnv = { LETTERBOX_IMPORT_PASSWORD: PASS }) =>
    runCli(['--config', cfg, ...args], { env });
  const from = () => `imap://${encodeURIComponent(USER)}@127.0.0.1:${dovecot.port}`;
  const lines = (s: string) =>
    s
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  /** Letterbox's folders (the CLI has exited: the store is opened here). */
  const lookOurs = async (): Promise<Record<string, Row[]>> => {
    const store = await openStore(loadConfig(cfg));
    try {
      const account = (await store.getAccount(TARGET))!;
      const out: Record<string, Row[]> = {};
      for (const name of Object.values(OURS)) {
        const mb = await store.getMailbox(account.id, name);
        assert.ok(mb, name);
        const rows: Row[] = [];
        for (const r of await store.listMessages(mb.id)) {
          const text = (await store.readMessage(r.blobHash)).toString();
          rows.push([
            /Subject: (.*)\r\n/.exec(text)?.[1] ?? '',
            [...r.flags].sort(),
            r.internalDate.toISOString(),
          ]);
        }
        out[name] = rows;
      }
      return out;
    } finally {
      await store.close();
    }
  };

  before(async () => {
    dovecot = await startDovecot({
      users: [[USER, PASS]],
      separator: '.',
      specialUse: { 'Sent Messages': '\\Sent' },
    });
    const flow = await dovecot.connect(USER, PASS);
    try {
      for (const f of ['Work', 'Work.Projects', 'Entwürfe', 'Broken']) await flow.mailboxCreate(f);
      const plan: Array<[string, string[]]> = [
        ['INBOX', ['\\Seen', '$Label1']],
        ['INBOX', ['\\Answered', '\\Flagged', 'project-x']],
        ['INBOX', []],
        ['INBOX', ['$Junk', 'project-x', '\\Draft']],
        ['Work', ['\\Seen', 'work']],
        ['Work.Projects', ['\\Flagged']],
        ['Entwürfe', ['\\Draft', '\\Seen']],
        ['Sent Messages', ['\\Seen']],
        ['Broken', []],
      ];
      let n = 0;
      for (const [box, flags] of plan) {
        n++;
        await flow.append(box, message(n), flags, new Date(Date.UTC(2020, 0, n, 10, 20, 30)));
      }
    } finally {
      await flow.logout();
    }
    dir = await mkdtemp(join(tmpdir(), 'lb-import-imap-'));
    cfg = join(dir, 'data', 'letterbox.toml');
    assert.equal(
      (await runCli(['init', '--dir', join(dir, 'data'), '--hostname', 'mx.example.test'])).code,
      0,
    );
    assert.equal((await lb(['domain', 'add', 'example.test'])).code, 0);
    const r = await runCli(['--config', cfg, 'user', 'add', TARGET, '--password-stdin'], {
      input: 'pw-long-enough\n',
    });
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await dovecot?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('everything copied: folders, flags, keywords, dates, \\Sent onto ours', async () => {
    const r = await lb(['import', 'imap', TARGET, '--from', from()]);
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    const summary = out.pop()!;
    assert.deepEqual([summary.imported, summary.failed], [9, 0], r.stdout);
    const flow = await dovecot.connect(USER, PASS);
    let theirs: Record<string, Row[]>;
    try {
      theirs = await lookDovecot(flow);
    } finally {
      await flow.logout();
    }
    assert.equal(theirs.INBOX?.length, 4);
    const ours = await lookOurs();
    assert.deepEqual(ours, theirs);
  });

  test('a second run copies only the new mail and changed flags; a failing folder is named', async () => {
    const flow = await dovecot.connect(USER, PASS);
    try {
      await flow.append(
        'Work',
        message(10),
        ['\\Flagged', 'late'],
        new Date('2020-02-02T02:02:02Z'),
      );
      const lock = await flow.getMailboxLock('INBOX');
      try {
        await flow.messageFlagsAdd('3', ['\\Seen', 'done'], { uid: true });
      } finally {
        lock.release();
      }
    } finally {
      await flow.logout();
    }
    // Dovecot (as nobody) can no longer open this folder.
    const broken = join(dovecot.maildir(USER), '.Broken');
    await chmod(broken, 0);
    let r: Awaited<ReturnType<typeof lb>>;
    try {
      r = await lb(['import', 'imap', TARGET, '--from', from()]);
    } finally {
      await chmod(broken, 0o700);
    }
    assert.equal(r.code, 1, r.stderr);
    const summary = lines(r.stdout).pop()!;
    assert.deepEqual([summary.imported, summary.skipped, summary.failed], [1, 0, 1], r.stdout);
    const failures = summary.failures as Array<{ source: string; reason: string }>;
    assert.match(failures[0]!.source, /\/Broken$/);
    assert.match(r.stderr, /failed: imap:\/\/.*\/Broken: /);
    assert.match(r.stderr, /flags brought up to date from the source on 1 message/);
    const flow2 = await dovecot.connect(USER, PASS);
    try {
      assert.deepEqual(await lookOurs(), await lookDovecot(flow2));
    } finally {
      await flow2.logout();
    }
    // The folder readable again: only its message comes, once.
    const again = await lb(['import', 'imap', TARGET, '--from', from()]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      [lines(again.stdout).pop()!.imported, lines(again.stdout).pop()!.failed],
      [0, 0],
      again.stdout,
    );
  });

  test('bad input: wrong password, nobody listening, password in the URL, no password', async () => {
    const wrong = await lb(['import', 'imap', TARGET, '--from', from()], {
      LETTERBOX_IMPORT_PASSWORD: 'not-it',
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /refused the login of dave@example\.test/);
    assert.doesNotMatch(wrong.stderr + wrong.stdout, /not-it/);

    const closed = createServer();
    await new Promise<void>((res) => closed.listen(0, '127.0.0.1', res));
    const port = (closed.address() as { port: number }).port;
    await new Promise((res) => closed.close(res));
    const refused = await lb(['import', 'imap', TARGET, '--from', `imaps://u@127.0.0.1:${port}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot connect to 127\.0\.0\.1:\d+: connection refused/);

    const inUrl = await lb(['import', 'imap', TARGET, '--from', 'imaps://u:secret@127.0.0.1']);
    assert.equal(inUrl.code, 2);
    assert.match(inUrl.stderr, /must not carry the password/);

    const none = await lb(['import', 'imap', TARGET, '--from', from()], {
      LETTERBOX_IMPORT_PASSWORD: undefined,
    });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no password for the source/);

    const pwFile = join(dir, 'pw');
    await writeFile(pwFile, `${PASS}\n`);
    const viaFile = await lb(
      ['import', 'imap', TARGET, '--from', from(), '--password-file', pwFile],
      {
        LETTERBOX_IMPORT_PASSWORD: undefined,
      },
    );
    assert.equal(viaFile.code, 0, viaFile.stderr);
  });
});
