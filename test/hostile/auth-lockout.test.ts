// Issue 15 item 6: wrong passwords from other addresses must not lock the real user out. Before
// the fix, five wrong passwords from anywhere locked the account for every address for 15
// minutes, the right password included: an attacker kept a user out with 5 guesses per 15
// minutes. Now failures lock out their source, and an account-wide lockout spares the sources
// the account logged in from (src/auth/throttle.ts). The real user's clients are real ones
// (imapflow, Python's poplib and smtplib), from 127.0.0.1; the attackers use 127.0.0.2 and up.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { requireTool, run } from '../e2e/smtp-clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { imapLogin } from './auth-clients.js';

const USER = 'victim@example.test';
const PASS = 'correct horse battery';

const POP3 = `
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=20)
p.user(sys.argv[2])
print(p.pass_(sys.argv[3]).decode())
p.quit()
`;

const SMTP = `
import smtplib, sys
with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20) as s:
    s.ehlo('py.client.test')
    code, text = s.login(sys.argv[2], sys.argv[3])
    print(code, text.decode())
`;

describe('hostile: guesses from elsewhere do not lock the real user out', () => {
  let ts: TestServer;
  before(async () => {
    requireTool('python3', 'apt-get install python3');
    ts = await startTestServer({ listeners: ['imap', 'pop3', 'submission'], allowPlaintext: true });
    await ts.addUser(USER, PASS);
  });
  after(() => ts.stop());

  /** The real user's mail client, from 127.0.0.1; throws when the login is refused. */
  async function imapflowLogin(): Promise<void> {
    const flow = new ImapFlow({
      host: '127.0.0.1',
      port: ts.port('imap'),
      secure: false,
      doSTARTTLS: false,
      auth: { user: USER, pass: PASS },
      logger: false,
    });
    try {
      await flow.connect();
    } catch (err) {
      const e = err as { responseText?: string; serverResponseCode?: string };
      throw new Error(`the real user was refused: [${e.serverResponseCode}] ${e.responseText}`);
    }
    await flow.logout();
  }

  const guesses = (source: string, n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        imapLogin(ts.port('imap'), source, USER, `guess-${source}-${i}`),
      ),
    );

  test('5+ wrong passwords from one address, then from many: the real user still logs in', async () => {
    // The user's usual place: it has logged in from here before.
    await imapflowLogin();

    // The attack: more than five wrong passwords, from one other address.
    for (const reply of await guesses('127.0.0.2', 6)) {
      assert.match(reply, /^a NO \[(AUTHENTICATIONFAILED|UNAVAILABLE)\]/);
    }
    await imapflowLogin();

    // A distributed attack: twelve more addresses, two guesses each, together past the
    // account-wide limit (20 by default).
    const sources = Array.from({ length: 12 }, (_, i) => `127.0.0.${10 + i}`);
    const replies = await Promise.all(
      sources.map(async (src) => [...(await guesses(src, 1)), ...(await guesses(src, 1))]),
    );
    for (const reply of replies.flat()) {
      assert.match(reply, /^a NO \[(AUTHENTICATIONFAILED|UNAVAILABLE)\]/);
    }
    // It worked: from an address the account never used, even the right password is refused
    // for now (RFC 5530 UNAVAILABLE: temporary).
    assert.match(
      await imapLogin(ts.port('imap'), '127.0.0.99', USER, PASS),
      /^a NO \[UNAVAILABLE\]/,
    );

    // And yet the real user, from its usual address, logs in over IMAP, POP3 and SMTP AUTH.
    await imapflowLogin();
    const pop = await run('python3', ['-c', POP3, String(ts.port('pop3')), USER, PASS]);
    assert.equal(pop.code, 0, pop.stderr);
    assert.match(pop.stdout, /^\+OK/);
    const smtp = await run('python3', ['-c', SMTP, String(ts.port('submission')), USER, PASS]);
    assert.equal(smtp.code, 0, smtp.stderr);
    assert.match(smtp.stdout, /^235 /);
  });
});
