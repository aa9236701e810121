// Account administration against a running server, as an operator does it: `letterbox` CLI
// commands in one process, `letterbox serve` in another, real clients (imapflow, curl's POP3,
// nodemailer) logging in. App passwords work for IMAP, POP3 and SMTP beside the main password
// and stop working when removed; a disabled account cannot log in; `user unlock` lifts a
// lockout that the running server's in-memory throttle holds (issue 16, item 5).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { imapsLogsIn } from '../helpers/imaps-login.js';
import { type ServerProcess, startServerProcess } from '../hostile/spawn.js';
import { requireTool, run } from './smtp-clients.js';

const ALICE = 'alice@example.test';
const ALICE_PW = 'alice main password';
const BOB = 'bob@example.test';
const BOB_PW = 'bob main password';

describe('accounts: app passwords, disable, unlock with a running server', () => {
  let srv: ServerProcess;
  const lb = async (args: string[]) => {
    const r = await runCli(['--config', srv.config, ...args]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    requireTool('curl', 'apt-get install curl');
    srv = await startServerProcess({
      listeners: ['imaps', 'pop3s', 'submission'],
      sections: { auth: { max_failures_per_ip: 3, failure_delay_ms: 0 } },
    });
    await srv.addUser(ALICE, ALICE_PW);
    await srv.addUser(BOB, BOB_PW);
  });
  after(async () => {
    await srv?.stop();
  });

  const imapLogin = (user: string, pass: string) => imapsLogsIn(srv.port('imaps'), user, pass);

  test('an app password logs in to IMAP, POP3 and SMTP; the main password still does', async () => {
    const out = await lb(['user', 'app-password', 'add', ALICE, 'phone', '--json']);
    const { password } = JSON.parse(out) as { password: string };
    assert.equal(await imapLogin(ALICE, password), true, 'IMAP with the app password');
    assert.equal(await imapLogin(ALICE, ALICE_PW), true, 'IMAP with the main password');

    const pop = await run('curl', [
      '-sS',
      '-k',
      '--max-time',
      '15',
      '-u',
      `${ALICE}:${password}`,
      `pop3s://127.0.0.1:${srv.port('pop3s')}/`,
    ]);
    assert.equal(pop.code, 0, `curl POP3: ${pop.stderr}`);

    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: srv.port('submission'),
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: ALICE, pass: password },
    });
    const info = await transport.sendMail({
      from: ALICE,
      to: ALICE,
      subject: 'sent with an app password',
      text: 'from the phone',
    });
    transport.close();
    assert.deepEqual(info.accepted, [ALICE]);

    const list = JSON.parse(await lb(['user', 'app-password', 'list', ALICE, '--json'])) as Array<{
      name: string;
      lastUsedAt: string | null;
    }>;
    assert.equal(list.length, 1);
    assert.equal(list[0]!.name, 'phone');
    assert.ok(list[0]!.lastUsedAt !== null, 'its last use is shown');
    assert.ok(
      srv
        .logs()
        .some((l) => l.includes('"appPassword":"phone"') && l.includes('"protocol":"pop3"')),
      'logins with it are logged with its name',
    );
    assert.ok(!srv.logs().some((l) => l.includes(password)), 'never the password itself');

    await lb(['user', 'app-password', 'remove', ALICE, 'phone']);
    assert.equal(await imapLogin(ALICE, password), false, 'revoked at once');
    assert.equal(await imapLogin(ALICE, ALICE_PW), true);
  });

  test('a disabled account cannot log in; enabled again, it can', async () => {
    await lb(['user', 'disable', ALICE]);
    assert.equal(await imapLogin(ALICE, ALICE_PW), false);
    await lb(['user', 'enable', ALICE]);
    assert.equal(await imapLogin(ALICE, ALICE_PW), true);
  });

  test('user unlock lifts a lockout held by the running server', async () => {
    // Bob never logged in from here, so nothing trusts this source for him.
    for (let i = 0; i < 3; i++) assert.equal(await imapLogin(BOB, 'not bob password'), false);
    assert.equal(await imapLogin(BOB, BOB_PW), false, 'locked out, right password or not');
    await eventually(
      () =>
        srv
          .logs()
          .some((l) => l.includes('"reason":"locked"') && l.includes(`"username":"${BOB}"`)),
      'the lockout in the log',
    );
    await lb(['user', 'unlock', BOB]);
    assert.equal(await imapLogin(BOB, BOB_PW), true, 'unlocked without a restart');
    assert.ok(srv.logs().some((l) => l.includes('lockout lifted by an administrator')));
  });
});
