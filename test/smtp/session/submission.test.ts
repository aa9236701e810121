// Submission on a raw socket: STARTTLS (and command injection), AUTH only over TLS, MAIL only
// after AUTH, sender ownership, header completion, and remote recipients queued with DSN.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../../helpers/eventually.js';
import { memoryLog } from '../../helpers/memory-log.js';
import { authPlain, ehlo, RawClient } from './client.js';
import { inbox, message, type SmtpTestServer, splitStored, startSmtpServer } from './helpers.js';

const USER = 'sam@example.test';
const PASS = 'pw-sam-secret';

describe('SMTP submission session', () => {
  let t: SmtpTestServer;
  let sub: number;
  const logs = memoryLog();
  before(async () => {
    t = await startSmtpServer({ log: logs.log });
    sub = t.port('submission');
    await t.addUser(USER, PASS);
    await t.addUser('rita@example.test', 'pw-rita-1');
    await t.server.ctx.store.addAlias('sam.alias@example.test', [USER]);
  });
  after(() => t.stop());

  /** Connected, TLS up, EHLO'd and authenticated. */
  async function authed(): Promise<RawClient> {
    const c = await RawClient.open(sub);
    await ehlo(c);
    await c.starttls();
    await ehlo(c);
    assert.equal((await c.cmd(authPlain(USER, PASS))).last, '235 2.7.0 Authentication successful');
    return c;
  }

  test('before STARTTLS: no AUTH offered, AUTH and MAIL get 530 5.7.0', async () => {
    const c = await RawClient.open(sub);
    const kw = await ehlo(c);
    assert.ok(kw.includes('STARTTLS'));
    assert.ok(!kw.some((k) => k.startsWith('AUTH')));
    assert.match((await c.cmd(authPlain(USER, PASS))).last, /^530 5\.7\.0 /);
    assert.match((await c.cmd(`MAIL FROM:<${USER}>`)).last, /^530 5\.7\.0 /);
    c.destroy();
  });

  test('after STARTTLS: EHLO lists AUTH and no longer STARTTLS; MAIL before AUTH is 530', async () => {
    const c = await RawClient.open(sub);
    await ehlo(c);
    await c.starttls();
    // RFC 3207 §4.2: the session starts over; MAIL before a new EHLO is out of sequence.
    assert.match((await c.cmd(`MAIL FROM:<${USER}>`)).last, /^503 /);
    const kw = await ehlo(c);
    assert.ok(!kw.includes('STARTTLS'));
    assert.ok(kw.includes('AUTH PLAIN LOGIN'), kw.join('|'));
    assert.match((await c.cmd(`MAIL FROM:<${USER}>`)).last, /^530 5\.7\.0 /);
    assert.match((await c.cmd('STARTTLS')).last, /^503 5\.5\.1 /);
    c.destroy();
  });

  test('commands pipelined after STARTTLS in the same packet are discarded', async () => {
    const c = await RawClient.open(sub);
    await ehlo(c);
    // RFC 3207 §6 (CVE-2011-0411): plaintext after STARTTLS must not run inside TLS.
    c.write(`STARTTLS\r\n${authPlain(USER, PASS)}\r\nMAIL FROM:<${USER}>\r\n`);
    assert.equal((await c.reply()).code, 220);
    await c.upgrade();
    const r = await c.cmd('EHLO client.test');
    assert.equal(r.code, 250, r.last);
    assert.ok(r.lines.length > 1, 'the EHLO answer, not a leftover reply');
    // Not authenticated: the injected AUTH did not run.
    assert.match((await c.cmd(`MAIL FROM:<${USER}>`)).last, /^530 5\.7\.0 /);
    c.destroy();
  });

  test('wrong password: 535 5.7.8; AUTH LOGIN works; AUTH twice is 503', async () => {
    const c = await RawClient.open(sub);
    await ehlo(c);
    await c.starttls();
    await ehlo(c);
    assert.equal(
      (await c.cmd(authPlain(USER, 'wrong'))).last,
      '535 5.7.8 Authentication credentials invalid',
    );
    assert.equal((await c.cmd('AUTH LOGIN')).code, 334);
    assert.equal((await c.cmd(Buffer.from(USER).toString('base64'))).code, 334);
    assert.equal((await c.cmd(Buffer.from(PASS).toString('base64'))).code, 235);
    assert.match((await c.cmd(authPlain(USER, PASS))).last, /^503 5\.5\.1 /);
    c.destroy();
  });

  test('an empty challenge is "334 " with its space (RFC 4954 §8); LOGIN prompts in base64', async () => {
    const c = await RawClient.open(sub);
    await ehlo(c);
    await c.starttls();
    await ehlo(c);
    const plain = await c.cmd('AUTH PLAIN');
    assert.equal(plain.last, '334 ');
    const msg = Buffer.from(`\0${USER}\0${PASS}`).toString('base64');
    assert.equal((await c.cmd(msg)).last, '235 2.7.0 Authentication successful');
    c.destroy();
    const d = await RawClient.open(sub);
    await ehlo(d);
    await d.starttls();
    await ehlo(d);
    assert.equal((await d.cmd('AUTH LOGIN')).last, '334 VXNlcm5hbWU6');
    assert.equal((await d.cmd(Buffer.from(USER).toString('base64'))).last, '334 UGFzc3dvcmQ6');
    assert.equal((await d.cmd(Buffer.from(PASS).toString('base64'))).code, 235);
    d.destroy();
  });

  test('an aborted AUTH is answered and logged: "*" is 501 5.7.0, a hang-up at 334 too', async () => {
    const c = await RawClient.open(sub);
    await ehlo(c);
    await c.starttls();
    await ehlo(c);
    assert.equal((await c.cmd('AUTH PLAIN')).last, '334 ');
    assert.equal((await c.cmd('*')).last, '501 5.7.0 Authentication cancelled');
    // The connection stays usable.
    assert.equal((await c.cmd(authPlain(USER, PASS))).code, 235);
    c.destroy();
    const aborted = (msg: string) => () =>
      logs.records.some((r) => r.msg === msg && r.mechanism === 'PLAIN' && r.event === 'auth');
    await eventually(aborted('authentication aborted by the client'), 'the cancel log line');
    const d = await RawClient.open(sub);
    await ehlo(d);
    await d.starttls();
    await ehlo(d);
    assert.equal((await d.cmd('AUTH PLAIN')).last, '334 ');
    d.destroy();
    await eventually(
      aborted('authentication aborted: connection closed at a challenge'),
      'the hang-up log line',
    );
    assert.ok(!logs.text().includes(PASS), 'no password in the log');
  });

  test('AUTH on the MX port: 502', async () => {
    const c = await RawClient.open(t.port('smtp'));
    await ehlo(c);
    assert.match((await c.cmd(authPlain(USER, PASS))).last, /^502 5\.5\.1 /);
    c.destroy();
  });

  test("a sender that is not the account's own: 553 5.7.1; an alias is accepted", async () => {
    const c = await authed();
    assert.match((await c.cmd('MAIL FROM:<rita@example.test>')).last, /^553 5\.7\.1 /);
    assert.match((await c.cmd('MAIL FROM:<>')).last, /^553 5\.7\.1 /);
    assert.equal((await c.cmd('MAIL FROM:<sam.alias@example.test>')).code, 250);
    c.destroy();
  });

  test('a forged From header: 550 5.7.1 after DATA (RFC 6409 §6.3), nothing delivered', async () => {
    const c = await authed();
    assert.equal((await c.cmd(`MAIL FROM:<${USER}>`)).code, 250);
    assert.equal((await c.cmd('RCPT TO:<rita@example.test>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    const forged = message('ceo@example.test', 'rita@example.test', 'forged');
    assert.equal(
      (await c.cmd(`${forged}.`)).last,
      '550 5.7.1 From address ceo@example.test not owned by authenticated user',
    );
    c.destroy();
    assert.equal(
      (await inbox(t, 'rita@example.test')).filter((m) => m.includes('forged')).length,
      0,
    );
  });

  test('local delivery over implicit TLS; Message-ID and Date added when missing', async () => {
    const c = await RawClient.open(t.port('submissions'), { tls: true });
    const kw = await ehlo(c);
    assert.ok(!kw.includes('STARTTLS'));
    assert.equal((await c.cmd(authPlain(USER, PASS))).code, 235);
    assert.equal((await c.cmd(`MAIL FROM:<${USER}>`)).code, 250);
    assert.equal((await c.cmd('RCPT TO:<rita@example.test>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    const sent = `From: <${USER}>\r\nTo: <rita@example.test>\r\nSubject: bare\r\n\r\nNo id.\r\n`;
    assert.match((await c.cmd(`${sent}.`)).last, /^250 2\.6\.0 /);
    c.destroy();
    const msgs = await inbox(t, 'rita@example.test');
    const parts = splitStored(msgs[msgs.length - 1]!, { mx: false });
    assert.equal(parts.returnPath, `Return-Path: <${USER}>\r\n`);
    assert.match(parts.received, /with ESMTPSA id /);
    const rest = parts.rest.toString('latin1');
    assert.match(
      rest,
      /^From: <sam@example\.test>\r\nTo: <rita@example\.test>\r\nSubject: bare\r\nMessage-ID: <[^>]+@localhost>\r\nDate: [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000\r\n\r\nNo id\.\r\n$/,
    );
  });

  test('a message that is all header: Message-ID and Date added after its last field', async () => {
    const c = await authed();
    assert.equal((await c.cmd(`MAIL FROM:<${USER}>`)).code, 250);
    assert.equal((await c.cmd('RCPT TO:<rita@example.test>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    // No empty line and no body: the fields went inside "Subject: header only" before.
    const sent = `From: <${USER}>\r\nSubject: header only\r\n`;
    assert.match((await c.cmd(`${sent}.`)).last, /^250 2\.6\.0 /);
    c.destroy();
    const msgs = await inbox(t, 'rita@example.test');
    const rest = splitStored(msgs[msgs.length - 1]!, { mx: false }).rest.toString('latin1');
    assert.match(
      rest,
      /^From: <sam@example\.test>\r\nSubject: header only\r\nMessage-ID: <[^>]+@localhost>\r\nDate: [^\r\n]+\r\n$/,
    );
  });

  test('a remote recipient goes to the outbound queue with its DSN parameters', async () => {
    const c = await authed();
    assert.equal((await c.cmd(`MAIL FROM:<${USER}> RET=HDRS ENVID=QQ+2B314`)).code, 250);
    assert.equal(
      (
        await c.cmd(
          'RCPT TO:<far@remote.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;far+2Bx@remote.test',
        )
      ).code,
      250,
    );
    assert.equal((await c.cmd('RCPT TO:<rita@example.test> NOTIFY=NEVER')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    const sent = message(USER, 'far@remote.test', 'outbound');
    assert.match((await c.cmd(`${sent}.`)).last, /^250 /);
    c.destroy();
    const queued = await t.server.ctx.store.listOutbound();
    assert.equal(queued.length, 1);
    const q = queued[0]!;
    assert.equal(q.sender, USER);
    assert.equal(q.ret, 'HDRS');
    assert.equal(q.envid, 'QQ+314'); // xtext: +2B is '+' (RFC 3461 §4)
    assert.deepEqual(
      q.recipients.map((r) => ({ address: r.address, notify: r.notify, orcpt: r.orcpt })),
      [
        {
          address: 'far@remote.test',
          notify: ['SUCCESS', 'FAILURE'],
          orcpt: 'rfc822;far+x@remote.test',
        },
      ],
    );
    // The queued blob is Received + the sent bytes (Return-Path is added at final delivery).
    const raw = await t.server.ctx.store.readMessage(q.blobHash);
    const text = raw.toString('latin1');
    assert.match(
      text,
      /^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby localhost \(Letterbox\) with ESMTPSA id /,
    );
    assert.ok(raw.subarray(raw.length - sent.length).equals(Buffer.from(sent)));
    // The local recipient got it directly.
    assert.ok((await inbox(t, 'rita@example.test')).some((m) => m.includes('Subject: outbound')));
  });
});
