// Mail to postmaster is accepted without an account or alias for it (RFC 5321 §4.5.1, issue 15
// item 13): <Postmaster> without a domain and postmaster@<each local domain, our hostname>,
// in any case, on the MX and on submission. It lands in the directory's postmaster if there
// is one, else `[smtp] postmaster`, else the oldest account. Sent with Python's smtplib.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requireTool, run } from '../../e2e/smtp-clients.js';
import { ehlo, RawClient } from './client.js';
import { inbox, type SmtpTestServer, startSmtpServer } from './helpers.js';

// argv: port, mode (mx | submission), user, password, sender, recipient; stdin: the message.
// Prints "RCPT-REPLY|DATA-REPLY" ("CODE TEXT" each; DATA-REPLY empty when RCPT failed).
const SCRIPT = `
import smtplib, ssl, sys
port, mode, user, password, sender, rcpt = sys.argv[1:7]
data = sys.stdin.buffer.read()
with smtplib.SMTP('127.0.0.1', int(port), local_hostname='py.client.test', timeout=20) as s:
    s.ehlo()
    if mode == 'submission':
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo()
        s.login(user, password)
    s.mail(sender)
    code, resp = s.rcpt(rcpt)
    out = '%d %s|' % (code, resp.decode())
    if code == 250:
        code, resp = s.data(data)
        out += '%d %s' % (code, resp.decode())
    print(out)
`;

interface Sent {
  rcpt: string;
  data: string;
}

async function py(
  t: SmtpTestServer,
  mode: 'mx' | 'submission',
  rcpt: string,
  subject: string,
  auth: [string, string] = ['', ''],
): Promise<Sent> {
  const sender = mode === 'mx' ? 'someone@sender.test' : auth[0];
  const msg = `From: <${sender}>\r\nTo: <${rcpt}>\r\nSubject: ${subject}\r\n\r\nHello postmaster.\r\n`;
  const port = t.port(mode === 'mx' ? 'smtp' : 'submission');
  const r = await run('python3', ['-c', SCRIPT, String(port), mode, ...auth, sender, rcpt], msg);
  assert.equal(r.code, 0, r.stderr);
  const [rcptReply, dataReply] = r.stdout.trim().split('|');
  return { rcpt: rcptReply!, data: dataReply ?? '' };
}

async function hasSubject(t: SmtpTestServer, user: string, subject: string): Promise<boolean> {
  return (await inbox(t, user)).some((m) => m.includes(`Subject: ${subject}\r\n`));
}

describe('postmaster without an alias: the oldest account', () => {
  let t: SmtpTestServer;
  before(async () => {
    requireTool('python3', 'apt-get install python3');
    t = await startSmtpServer();
    // alice is the first account created: the default postmaster.
    await t.addUser('alice@example.test', 'pw-alice-1');
    await t.addUser('bob@example.test', 'pw-bob-1');
    await t.addUser('carol@other.test', 'pw-carol-1');
    // other.test has its own postmaster alias: the directory wins there.
    await t.server.ctx.store.addAlias('postmaster@other.test', ['carol@other.test']);
  });
  after(() => t.stop());

  const cases: Array<[string, 'mx' | 'submission', string, string]> = [
    ['MX, bare', 'mx', 'postmaster', 'alice@example.test'],
    ['MX, bare, upper case', 'mx', 'POSTMASTER', 'alice@example.test'],
    ['MX, local domain without alias', 'mx', 'PostMaster@Example.TEST', 'alice@example.test'],
    ['MX, our hostname (not a mail domain)', 'mx', 'postmaster@localhost', 'alice@example.test'],
    ['MX, a domain with its own alias', 'mx', 'postmaster@other.test', 'carol@other.test'],
    ['submission, bare', 'submission', 'Postmaster', 'alice@example.test'],
    ['submission, local domain', 'submission', 'postmaster@example.test', 'alice@example.test'],
  ];
  for (const [name, mode, rcpt, lands] of cases) {
    test(`${name}: <${rcpt}> lands in ${lands}`, async () => {
      const subject = `pm ${name}`;
      const r = await py(t, mode, rcpt, subject, ['bob@example.test', 'pw-bob-1']);
      assert.match(r.rcpt, /^250 /, r.rcpt);
      assert.match(r.data, /^250 2\.6\.0 /, r.data);
      assert.ok(await hasSubject(t, lands, subject), `not in ${lands}`);
    });
  }

  test('postmaster of a foreign domain is still relaying: 550 5.7.1 on the MX', async () => {
    const r = await py(t, 'mx', 'postmaster@foreign.test', 'pm foreign');
    assert.match(r.rcpt, /^550 5\.7\.1 /);
  });

  test('raw RCPT spellings: <postmaster>, <pOsTmAsTeR>, <postmaster@EXAMPLE.test>', async () => {
    const c = await RawClient.open(t.port('smtp'));
    await ehlo(c);
    assert.equal((await c.cmd('MAIL FROM:<x@sender.test>')).code, 250);
    for (const a of ['<postmaster>', '<pOsTmAsTeR>', '<postmaster@EXAMPLE.test>']) {
      assert.match((await c.cmd(`RCPT TO:${a}`)).last, /^250 2\.1\.5 /, a);
    }
    c.destroy();
  });
});

describe('postmaster with [smtp] postmaster set', () => {
  let t: SmtpTestServer;
  before(async () => {
    requireTool('python3', 'apt-get install python3');
    t = await startSmtpServer({ smtp: 'postmaster = "Bob@Example.test"' });
    await t.addUser('alice@example.test', 'pw-alice-1');
    await t.addUser('bob@example.test', 'pw-bob-1');
  });
  after(() => t.stop());

  test('bare and per-domain postmaster land in the configured address', async () => {
    for (const rcpt of ['postmaster', 'postmaster@example.test']) {
      const r = await py(t, 'mx', rcpt, `cfg ${rcpt}`);
      assert.match(r.data, /^250 2\.6\.0 /, `${rcpt}: ${r.rcpt} ${r.data}`);
      assert.ok(await hasSubject(t, 'bob@example.test', `cfg ${rcpt}`), rcpt);
      assert.ok(!(await hasSubject(t, 'alice@example.test', `cfg ${rcpt}`)), rcpt);
    }
  });
});

describe('postmaster: the oldest account changes when it is removed', () => {
  let t: SmtpTestServer;
  before(async () => {
    requireTool('python3', 'apt-get install python3');
    t = await startSmtpServer();
    await t.addUser('first@example.test', 'pw-first-1');
    await t.addUser('second@example.test', 'pw-second-1');
  });
  after(() => t.stop());

  test('after removing the first account, the next oldest gets postmaster mail', async () => {
    assert.match((await py(t, 'mx', 'postmaster', 'pm one')).data, /^250 /);
    assert.ok(await hasSubject(t, 'first@example.test', 'pm one'));
    await t.server.ctx.store.removeAccount('first@example.test');
    assert.match((await py(t, 'mx', 'postmaster', 'pm two')).data, /^250 /);
    assert.ok(await hasSubject(t, 'second@example.test', 'pm two'));
  });
});
