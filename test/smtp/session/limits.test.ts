// Limits and bad input on a raw socket (issue 4, item 6): each gets its reply and the server
// keeps serving.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ehlo, RawClient } from './client.js';
import { inbox, message, type SmtpTestServer, startSmtpServer } from './helpers.js';

describe('SMTP session: limits', () => {
  let t: SmtpTestServer;
  let mx: number;
  before(async () => {
    t = await startSmtpServer({
      smtp: 'max_recipients = 3\nmax_errors = 4',
      limits: 'max_message_size = 2048',
    });
    mx = t.port('smtp');
    for (const u of ['u1', 'u2', 'u3', 'u4']) await t.addUser(`${u}@example.test`, 'pw-12345');
  });
  after(() => t.stop());

  test('a command line over 512 octets gets 500 5.5.2 and the session goes on', async () => {
    const c = await RawClient.open(mx);
    await ehlo(c);
    const long = `MAIL FROM:<${'a'.repeat(600)}@sender.test>`;
    assert.match((await c.cmd(long)).last, /^500 5\.5\.2 /);
    // The rest of the long line was dropped, not taken as a command.
    assert.equal((await c.cmd('NOOP')).last, '250 2.0.0 OK');
    assert.equal((await c.cmd('MAIL FROM:<x@sender.test>')).code, 250);
    // Exactly 512 octets with the CRLF is still a command (RFC 5321 §4.5.3.1.4).
    const fill = 'x'.repeat(510 - 'RCPT TO:<u1@example.test> '.length);
    const r = await c.cmd(`RCPT TO:<u1@example.test> ${fill}`);
    assert.notEqual(r.code, 500, r.last);
    c.destroy();
  });

  test('too many bad commands: 421 4.7.0 and the server closes', async () => {
    const c = await RawClient.open(mx);
    for (let i = 0; i < 3; i++) assert.match((await c.cmd('FOO')).last, /^500 5\.5\.1 /);
    const r = await c.cmd('BAR');
    assert.equal(r.code, 500);
    const bye = await c.reply();
    assert.match(bye.last, /^421 4\.7\.0 /);
    await c.waitClosed();
  });

  test('binary garbage is answered and the server still serves', async () => {
    const c = await RawClient.open(mx);
    c.write(Buffer.from([0x00, 0xff, 0xfe, 0x01, 0x80, 0x0d, 0x0a]));
    assert.equal((await c.reply()).code, 500);
    c.write(Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n', 'latin1'));
    assert.equal((await c.reply()).code, 500);
    assert.equal((await c.cmd('NOOP')).code, 250);
    c.destroy();
    const other = await RawClient.open(mx);
    assert.equal((await other.cmd('NOOP')).code, 250);
    other.destroy();
  });

  test('MAIL with SIZE over the limit: 552 5.3.4; at the limit: accepted', async () => {
    const c = await RawClient.open(mx);
    await ehlo(c);
    assert.match((await c.cmd('MAIL FROM:<x@sender.test> SIZE=2049')).last, /^552 5\.3\.4 /);
    assert.equal((await c.cmd('MAIL FROM:<x@sender.test> SIZE=2048')).code, 250);
    c.destroy();
  });

  test('DATA over the limit: 552 5.3.4 after the terminator; nothing stored', async () => {
    const before = (await inbox(t, 'u2@example.test')).length;
    const c = await RawClient.open(mx);
    await ehlo(c);
    assert.equal((await c.cmd('MAIL FROM:<x@sender.test>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<u2@example.test>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    const big = message(
      'x@sender.test',
      'u2@example.test',
      'big',
      `${'y'.repeat(76)}\r\n`.repeat(2000),
    );
    c.write(big);
    // No reply before the terminator: the server reads (and drops) the rest.
    c.write('.\r\n');
    const r = await c.reply();
    assert.match(r.last, /^552 5\.3\.4 /);
    assert.equal(c.pending(), '');
    // The session is usable, and the transaction is over.
    assert.match((await c.cmd('RCPT TO:<u2@example.test>')).last, /^503 /);
    assert.equal((await c.cmd('MAIL FROM:<x@sender.test>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<u2@example.test>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    assert.equal(
      (await c.cmd(`${message('x@sender.test', 'u2@example.test', 'small')}.`)).code,
      250,
    );
    c.destroy();
    assert.equal((await inbox(t, 'u2@example.test')).length, before + 1);
  });

  test('a fourth recipient over max_recipients = 3 gets 452 4.5.3', async () => {
    const c = await RawClient.open(mx);
    await ehlo(c);
    c.write('MAIL FROM:<x@sender.test>\r\n');
    for (const u of ['u1', 'u2', 'u3', 'u4']) c.write(`RCPT TO:<${u}@example.test>\r\n`);
    const [m, r1, r2, r3, r4] = await c.replies(5);
    assert.equal(m!.code, 250);
    for (const r of [r1, r2, r3]) assert.equal(r!.code, 250);
    assert.match(r4!.last, /^452 4\.5\.3 /);
    const d = await c.cmd('DATA');
    assert.equal(d.code, 354);
    assert.equal(
      (await c.cmd(`${message('x@sender.test', 'u1@example.test', 'three')}.`)).code,
      250,
    );
    c.destroy();
    const u4 = await inbox(t, 'u4@example.test');
    assert.ok(!u4.some((m) => m.includes('Subject: three')));
    assert.ok((await inbox(t, 'u3@example.test')).some((m) => m.includes('Subject: three')));
  });
});

describe('SMTP session: timeouts and greeting', () => {
  let t: SmtpTestServer;
  before(async () => {
    t = await startSmtpServer({ smtp: 'greet_delay_ms = 300\nidle_timeout_seconds = 1' });
  });
  after(() => t.stop());

  test('idle timeout: 421 4.4.2 and close', async () => {
    const c = await RawClient.open(t.port('smtp'));
    await ehlo(c);
    const started = Date.now();
    const r = await c.reply(3000);
    assert.match(r.last, /^421 4\.4\.2 /);
    assert.ok(Date.now() - started >= 500, 'not long before the timeout');
    await c.waitClosed();
  });

  test('talking before the greeting on the MX port: 554 and close, no 220', async () => {
    const c = await RawClient.connect(t.port('smtp'));
    c.write('EHLO eager.test\r\n');
    const r = await c.reply();
    assert.match(r.last, /^554 5\.5\.1 /);
    await c.waitClosed();
  });

  test('a client that waits gets the greeting after the delay', async () => {
    const started = Date.now();
    const c = await RawClient.open(t.port('smtp'));
    assert.ok(Date.now() - started >= 250);
    assert.equal((await c.cmd('QUIT')).code, 221);
    c.destroy();
  });

  test('submission has no greeting delay: a client that talks at once is served', async () => {
    const c = await RawClient.connect(t.port('submission'));
    c.write('EHLO eager.test\r\n');
    assert.equal((await c.reply()).code, 220);
    assert.equal((await c.reply()).code, 250);
    c.destroy();
  });
});
