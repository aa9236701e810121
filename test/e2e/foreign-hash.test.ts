// Accounts moved in with the password hashes of their old server (issue 18 item 3), against
// a running `letterbox serve`: hashes made by Dovecot's own `doveadm pw` are given to
// `user add --password-hash` and `import users`; each account logs in over IMAP (imapflow),
// POP3 (curl) or SMTP AUTH (nodemailer), after which its stored hash is the server's own
// scrypt; the lockout applies to foreign hashes as to ours.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import nodemailer from 'nodemailer';
import { runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { imapsLogsIn } from '../helpers/imaps-login.js';
import { type ServerProcess, startServerProcess } from '../hostile/spawn.js';
import { requireTool, run } from './smtp-clients.js';

const PASSWORD = 'moved in from dovecot';

function doveadm(scheme: string, password = PASSWORD): string {
  return execFileSync('doveadm', ['pw', '-s', scheme, '-p', password], { encoding: 'utf8' }).trim();
}

describe('foreign password hashes with a running server', () => {
  let srv: ServerProcess;
  const lb = (args: string[], input?: string) =>
    runCli(['--config', srv.config, ...args], { input });

  /** The stored hash, read as another process would (the server keeps running). */
  function storedHash(address: string): string {
    const db = new Database(join(srv.dir, 'letterbox.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT password_hash FROM accounts WHERE address = ?').get(address);
      return (row as { password_hash: string }).password_hash;
    } finally {
      db.close();
    }
  }

  const imapLogin = (user: string, pass: string) => imapsLogsIn(srv.port('imaps'), user, pass);

  before(async () => {
    requireTool('doveadm', 'apt-get install dovecot-core');
    requireTool('curl', 'apt-get install curl');
    srv = await startServerProcess({
      listeners: ['imaps', 'pop3s', 'submission'],
      sections: {
        auth: { max_failures_per_ip: 100, max_failures_per_account: 3, failure_delay_ms: 0 },
      },
    });
    const r = await lb(['domain', 'add', 'example.test']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await srv?.stop();
  });

  for (const scheme of [
    'SHA512-CRYPT',
    'SHA256-CRYPT',
    'BLF-CRYPT',
    'ARGON2ID',
    'ARGON2I',
    'SSHA512',
    'PLAIN',
  ]) {
    test(`{${scheme}}: user add --password-hash, IMAP login, then the stored hash is ours`, async () => {
      const user = `${scheme.toLowerCase()}@example.test`;
      const hash = doveadm(scheme);
      const add = await lb(['user', 'add', user, '--password-hash', hash]);
      assert.equal(add.code, 0, add.stderr);
      assert.equal(storedHash(user), hash, 'kept as given until the first login');
      assert.equal(await imapLogin(user, `${PASSWORD}!`), false, 'a wrong password fails');
      assert.equal(storedHash(user), hash, 'and changes nothing');
      assert.equal(await imapLogin(user, PASSWORD), true);
      await eventually(
        () => storedHash(user).startsWith('$scrypt$'),
        'the server’s own hash stored',
        15_000,
      );
      assert.equal(await imapLogin(user, PASSWORD), true, 'logs in with the new hash');
    });
  }

  test('user add refuses an unknown scheme with a one-line reason; the hash may come on stdin', async () => {
    const bad = await lb([
      'user',
      'add',
      'md5@example.test',
      '--password-hash',
      doveadm('MD5-CRYPT'),
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /MD5-CRYPT.*cannot be verified/);
    const stdin = await lb(
      ['user', 'add', 'stdin@example.test', '--password-hash', '-'],
      `${doveadm('SHA512-CRYPT')}\n`,
    );
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.equal(await imapLogin('stdin@example.test', PASSWORD), true);
  });

  test('import users: a Dovecot passwd-file; bad lines reported by number; POP3 and SMTP AUTH log in', async () => {
    const file = join(srv.dir, 'users.passwd');
    await writeFile(
      file,
      [
        '# from /etc/dovecot/users',
        `pop:${doveadm('SHA512-CRYPT')}:5000:5000::/var/vmail/pop::userdb_quota_rule=*:storage=1G`,
        `smtp@example.test:${doveadm('BLF-CRYPT')}:5000:5000::/var/vmail/smtp`,
        'ntlm@example.test:{NTLM}0123456789abcdef0123456789abcdef',
        `stranger@elsewhere.test:${doveadm('PLAIN')}`,
        '',
      ].join('\n'),
    );
    const r = await lb(['import', 'users', file, '--domain', 'example.test', '--json']);
    assert.equal(r.code, 1, 'some lines failed');
    const summary = JSON.parse(r.stdout) as {
      imported: string[];
      failed: Array<{ line: number; reason: string }>;
    };
    assert.deepEqual(summary.imported, ['pop@example.test', 'smtp@example.test']);
    assert.deepEqual(
      summary.failed.map((f) => f.line),
      [4, 5],
    );
    assert.match(r.stderr, /users\.passwd:4: .*unknown scheme \{NTLM\}/);
    assert.match(r.stderr, /users\.passwd:5: .*elsewhere\.test is not a local domain/);
    const list = JSON.parse(
      (await lb(['user', 'list', 'example.test', '--json'])).stdout,
    ) as Array<{
      address: string;
      quotaBytes: number | null;
    }>;
    assert.equal(list.find((a) => a.address === 'pop@example.test')?.quotaBytes, 1024 ** 3);

    const again = await lb(['import', 'users', file, '--domain', 'example.test']);
    assert.match(again.stdout, /imported 0 accounts, skipped 2 \(exist\), failed 2/);

    const pop = await run('curl', [
      '-sS',
      '-k',
      '--max-time',
      '15',
      '-u',
      `pop@example.test:${PASSWORD}`,
      `pop3s://127.0.0.1:${srv.port('pop3s')}/`,
    ]);
    assert.equal(pop.code, 0, `curl POP3: ${pop.stderr}`);
    await eventually(
      () => storedHash('pop@example.test').startsWith('$scrypt$'),
      'the server’s own hash stored',
      15_000,
    );

    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: srv.port('submission'),
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'smtp@example.test', pass: PASSWORD },
    });
    try {
      const info = await transport.sendMail({
        from: 'smtp@example.test',
        to: 'pop@example.test',
        subject: 'sent after moving in',
        text: 'hello',
      });
      assert.deepEqual(info.accepted, ['pop@example.test']);
    } finally {
      transport.close();
    }
    await eventually(
      () => storedHash('smtp@example.test').startsWith('$scrypt$'),
      'the server’s own hash stored',
      15_000,
    );
  });

  test('the lockout applies to an account with a foreign hash', async () => {
    const user = 'locked@example.test';
    const hash = doveadm('SHA512-CRYPT');
    assert.equal((await lb(['user', 'add', user, '--password-hash', hash])).code, 0);
    for (let i = 0; i < 3; i++) assert.equal(await imapLogin(user, `guess ${i}`), false);
    assert.equal(await imapLogin(user, PASSWORD), false, 'locked: the right password too');
    assert.equal(storedHash(user), hash, 'not replaced by a refused login');
    assert.equal((await lb(['user', 'unlock', user])).code, 0);
    assert.equal(await imapLogin(user, PASSWORD), true);
    await eventually(
      () => storedHash(user).startsWith('$scrypt$'),
      'the server’s own hash stored',
      15_000,
    );
  });
});
