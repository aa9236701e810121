// Submission checks every originator field of the message, not only the first From (issue 15
// item 8): a second From, the `From :` spelling, Sender, addresses without a domain, groups
// with foreign members and encoded-word tricks are refused, over DATA and over BDAT.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authPlain, ehlo, RawClient } from './client.js';
import { inbox, type SmtpTestServer, startSmtpServer } from './helpers.js';
import { build, PASS, REFUSED, TO, USER } from './originator-cases.js';

describe('SMTP submission: originator fields', () => {
  let t: SmtpTestServer;
  before(async () => {
    t = await startSmtpServer();
    await t.addUser(USER, PASS);
    await t.addUser(TO, 'pw-rita-1');
    await t.server.ctx.store.addAlias('sam.alias@example.test', [USER]);
  });
  after(() => t.stop());

  async function authed(): Promise<RawClient> {
    const c = await RawClient.open(t.port('submission'));
    await ehlo(c);
    await c.starttls();
    await ehlo(c);
    assert.equal((await c.cmd(authPlain(USER, PASS))).code, 235);
    return c;
  }

  async function viaData(c: RawClient, data: string): Promise<string> {
    assert.equal((await c.cmd(`MAIL FROM:<${USER}>`)).code, 250);
    assert.equal((await c.cmd(`RCPT TO:<${TO}>`)).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    return (await c.cmd(`${data}.`)).last;
  }

  async function viaBdat(c: RawClient, data: string): Promise<string> {
    assert.equal((await c.cmd(`MAIL FROM:<${USER}>`)).code, 250);
    assert.equal((await c.cmd(`RCPT TO:<${TO}>`)).code, 250);
    const bytes = Buffer.from(data, 'latin1');
    c.write(Buffer.concat([Buffer.from(`BDAT ${bytes.length} LAST\r\n`), bytes]));
    return (await c.reply()).last;
  }

  for (const [name, originator, expected] of REFUSED) {
    test(`refused over DATA and BDAT: ${name}`, async () => {
      const c = await authed();
      const subject = `refused ${name}`;
      assert.match(await viaData(c, build(subject, originator)), expected);
      assert.match(await viaBdat(c, build(subject, originator)), expected);
      c.destroy();
      const got = await inbox(t, TO);
      assert.ok(!got.some((m) => m.includes(`Subject: ${subject}`)), name);
    });
  }

  test('a bare LF between two From fields over BDAT (no CRLF check there): both seen, refused', async () => {
    const c = await authed();
    const data = `From: <${USER}>\nFrom: <ceo@example.test>\r\nTo: <${TO}>\r\nSubject: lf\r\n\r\nx\r\n`;
    assert.match(await viaBdat(c, data), /^554 5\.6\.0 /);
    c.destroy();
  });

  test('owned addresses pass: aliases, a group of them, a Sender; several From get a Sender', async () => {
    const c = await authed();
    const ok = /^250 2\.6\.0 /;
    assert.match(await viaData(c, build('ok alias', ['From: Sam <sam.alias@example.test>'])), ok);
    assert.match(
      await viaData(c, build('ok sender', ['From: <sam.alias@example.test>', `Sender: ${USER}`])),
      ok,
    );
    assert.match(
      await viaData(c, build('ok two', [`From: ${USER}, "Sam Alias" <sam.alias@example.test>`])),
      ok,
    );
    assert.match(await viaData(c, build('ok group', [`From: Me: ${USER};`])), ok);
    c.destroy();
    const got = (await inbox(t, TO)).map((m) => m.toString('utf8'));
    const two = got.find((m) => m.includes('Subject: ok two'));
    assert.ok(two);
    // RFC 5322 §3.6.2: several From mailboxes need a Sender; RFC 6409 §8.1 lets us add it.
    assert.match(two, /\r\nSender: <sam@example\.test>\r\n/);
    const one = got.find((m) => m.includes('Subject: ok sender'));
    assert.ok(one);
    assert.equal(one.match(/^Sender:/gim)?.length, 1);
    for (const s of ['ok alias', 'ok group'])
      assert.ok(got.some((m) => m.includes(`Subject: ${s}`)));
  });
});
