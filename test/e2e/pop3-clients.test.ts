// POP3 with real clients on loopback: Python's poplib, curl (pop3:// and pop3s://) and
// fetchmail (Debian package `fetchmail`). A missing tool fails the test, it is not skipped.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rawMessage } from '../helpers/messages.js';
import { PASSWORD, type Pop3Fixture, startPop3, USER } from '../pop3/setup.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
        if (e && e.code === 'ENOENT') {
          reject(new Error(`${cmd} is not installed (CI installs it with apt-get)`));
          return;
        }
        resolve({ code: typeof e?.code === 'number' ? e.code : 0, stdout, stderr });
      },
    );
  });
}

/** Messages with the awkward cases: dot lines, no final CRLF, a large body. */
function corpus(): Buffer[] {
  const big = `${'0123456789abcdef'.repeat(6).concat('\r\n').repeat(4000)}.last\r\n`;
  return [
    rawMessage('plain', 'Hello.\r\n'),
    rawMessage('dots', '.\r\n..\r\n.leading\r\nend\r\n'),
    rawMessage('big', big),
  ];
}

let fx: Pop3Fixture;
let work: string;
before(async () => {
  fx = await startPop3({ allowPlaintext: false });
  work = await mkdtemp(join(tmpdir(), 'lb-pop3-clients-'));
});
after(async () => {
  await fx.stop();
  await rm(work, { recursive: true, force: true });
});

const store = () => fx.ts.server.ctx.store;

async function resetInbox(): Promise<Buffer[]> {
  await store().expunge(fx.inboxId, { onlyDeleted: false });
  const msgs = corpus();
  await fx.deliver(...msgs);
  return msgs;
}

const POPLIB = `
import base64, json, poplib, ssl, sys
port, mode, user, pw, delete = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == '1'
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if mode == 'ssl':
    p = poplib.POP3_SSL('127.0.0.1', port, context=ctx)
else:
    p = poplib.POP3('127.0.0.1', port)
    p.stls(context=ctx)
caps = p.capa()
p.user(user)
p.pass_(pw)
count, size = p.stat()
uidl = [l.decode() for l in p.uidl()[1]]
msgs = []
for i in range(1, count + 1):
    resp, lines, octets = p.retr(i)
    msgs.append(base64.b64encode(b'\\r\\n'.join(lines) + b'\\r\\n').decode())
    if delete:
        p.dele(i)
p.quit()
print(json.dumps({'caps': sorted(caps.keys()), 'count': count, 'size': size, 'uidl': uidl, 'msgs': msgs}))
`;

describe('Python poplib', () => {
  for (const mode of ['stls', 'ssl'] as const) {
    test(`${mode}: CAPA, STAT, UIDL, RETR of exact bytes, DELE + QUIT empties the INBOX`, async () => {
      await fx.setPolicy('delete');
      const msgs = await resetInbox();
      const port = mode === 'ssl' ? fx.pop3s : fx.pop3;
      const r = await run('python3', ['-c', POPLIB, String(port), mode, USER, PASSWORD, '1']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as {
        caps: string[];
        count: number;
        size: number;
        uidl: string[];
        msgs: string[];
      };
      assert.ok(out.caps.includes('UIDL') && out.caps.includes('SASL'), out.caps.join(','));
      assert.equal(out.count, 3);
      assert.equal(
        out.size,
        msgs.reduce((s, m) => s + m.length, 0),
      );
      assert.equal(new Set(out.uidl.map((l) => l.split(' ')[1])).size, 3);
      assert.deepEqual(
        out.msgs.map((b) => Buffer.from(b, 'base64')),
        msgs,
      );
      assert.equal((await store().listMessages(fx.inboxId)).length, 0);
    });
  }
});

describe('curl', () => {
  test('pop3:// with STLS (--ssl-reqd) lists and retrieves; pop3s:// retrieves', async () => {
    await fx.setPolicy('delete');
    const msgs = await resetInbox();
    const base = ['-s', '-S', '-k', '--ssl-reqd', '-u', `${USER}:${PASSWORD}`];
    const list = await run('curl', [...base, `pop3://127.0.0.1:${fx.pop3}/`]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      list.stdout.trim().split(/\r?\n/),
      msgs.map((m, i) => `${i + 1} ${m.length}`),
    );
    const file = join(work, 'curl-msg');
    const retr = await run('curl', [...base, '-o', file, `pop3://127.0.0.1:${fx.pop3}/2`]);
    assert.equal(retr.code, 0, retr.stderr);
    assert.deepEqual(await readFile(file), msgs[1]);
    const big = await run('curl', [...base, '-o', file, `pop3s://127.0.0.1:${fx.pop3s}/3`]);
    assert.equal(big.code, 0, big.stderr);
    assert.deepEqual(await readFile(file), msgs[2]);
    const uidl = await run('curl', [...base, '-X', 'UIDL', `pop3s://127.0.0.1:${fx.pop3s}/`]);
    assert.equal(uidl.code, 0, uidl.stderr);
    assert.equal(uidl.stdout.trim().split(/\r?\n/).length, 3);
  });

  test('a wrong password fails with a login error', async () => {
    const r = await run('curl', [
      '-s',
      '-k',
      '--ssl-reqd',
      '-u',
      `${USER}:nope`,
      `pop3://127.0.0.1:${fx.pop3}/`,
    ]);
    assert.equal(r.code, 67, `curl exit ${r.code} (67 = login denied)`);
  });
});

describe('fetchmail', () => {
  async function fetchmail(port: number, ssl: boolean): Promise<{ run: Run; mbox: Buffer }> {
    const home = await mkdtemp(join(work, 'fm-'));
    const mbox = join(home, 'mbox');
    await writeFile(mbox, '');
    const rc = join(home, 'fetchmailrc');
    await writeFile(
      rc,
      `poll 127.0.0.1 service ${port} protocol pop3 auth password\n` +
        `  user "${USER}" there with password "${PASSWORD}" is "${process.env.USER ?? 'root'}" here\n` +
        `  fetchall ${ssl ? 'ssl' : 'sslproto TLS1.2+'} no sslcertck\n` +
        `  mda "/bin/sh -c 'cat >> ${mbox}'"\n`,
    );
    await chmod(rc, 0o600);
    const r = await run(
      'fetchmail',
      ['-f', rc, '--idfile', join(home, 'ids'), '--nosyslog', '-v'],
      { FETCHMAILHOME: home, HOME: home },
    );
    return { run: r, mbox: await readFile(mbox) };
  }

  test('delete policy: downloads everything and leaves the mailbox empty', async () => {
    await fx.setPolicy('delete');
    const msgs = await resetInbox();
    const { run: r, mbox } = await fetchmail(fx.pop3, false);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /STLS/);
    for (const m of msgs) {
      const subject = /Subject: (\w+)/.exec(m.toString())![1];
      assert.match(mbox.toString(), new RegExp(`Subject: ${subject}\\n`));
    }
    assert.ok(mbox.toString().includes('\n.leading\n'), 'dot-stuffing removed by the client');
    assert.equal((await store().listMessages(fx.inboxId)).length, 0);
  });

  test('keep policy: downloads everything, the store keeps it all, POP3 shows none again', async () => {
    await fx.setPolicy('keep');
    const msgs = await resetInbox();
    const first = await fetchmail(fx.pop3s, true);
    assert.equal(first.run.code, 0, first.run.stdout + first.run.stderr);
    assert.equal(first.mbox.toString().match(/^Subject: /gm)?.length, msgs.length);
    assert.equal((await store().listMessages(fx.inboxId)).length, msgs.length);
    const second = await fetchmail(fx.pop3s, true);
    // fetchmail exits 1 for "no mail".
    assert.equal(second.run.code, 1, second.run.stdout + second.run.stderr);
    assert.equal(second.mbox.length, 0);
  });
});
