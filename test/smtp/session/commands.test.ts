// Basic commands on a raw socket: pipelining order, RSET, NOOP, VRFY, HELP, QUIT, EXPN.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { PROTOCOLS } from '../../../src/server.js';
import { smtpProtocol } from '../../../src/smtp/index.js';
import { ehlo, RawClient } from './client.js';
import { inbox, message, type SmtpTestServer, startSmtpServer } from './helpers.js';

describe('SMTP session: basic commands', () => {
  let t: SmtpTestServer;
  let mx: number;
  before(async () => {
    t = await startSmtpServer();
    mx = t.port('smtp');
    await t.addUser('alice@example.test', 'pw-alice-1');
    await t.addUser('bob@example.test', 'pw-bob-1');
  });
  after(() => t.stop());

  test('EHLO lists the extensions of issue 4 on the MX, without AUTH', async () => {
    const c = await RawClient.open(mx);
    const kw = await ehlo(c);
    for (const k of [
      'PIPELINING',
      'SIZE',
      '8BITMIME',
      'SMTPUTF8',
      'ENHANCEDSTATUSCODES',
      'STARTTLS',
      'CHUNKING',
      'DSN',
    ]) {
      assert.ok(
        kw.some((l) => l === k || l.startsWith(`${k} `)),
        `${k} in ${kw}`,
      );
    }
    assert.ok(!kw.some((l) => l.startsWith('AUTH')), 'no AUTH on the MX');
    assert.equal((await c.cmd('QUIT')).code, 221);
    c.destroy();
  });

  test('pipelined commands in one write are answered in order', async () => {
    const c = await RawClient.open(mx);
    const body = message('x@sender.test', 'alice@example.test', 'pipelined');
    c.write(
      'EHLO client.test\r\nMAIL FROM:<x@sender.test>\r\nRCPT TO:<alice@example.test>\r\n' +
        'RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n',
    );
    const [e, m, r1, r2, r3, d] = await c.replies(6);
    assert.equal(e!.code, 250);
    assert.equal(m!.last, '250 2.1.0 Sender OK');
    assert.equal(r1!.code, 250);
    assert.match(r2!.last, /^550 5\.1\.1 /);
    assert.equal(r3!.code, 250);
    assert.equal(d!.code, 354);
    c.write(`${body}.\r\nNOOP\r\nQUIT\r\n`);
    const [done, noop, bye] = await c.replies(3);
    assert.match(done!.last, /^250 2\.6\.0 /);
    assert.equal(noop!.last, '250 2.0.0 OK');
    assert.equal(bye!.last, '221 2.0.0 Bye');
    await c.waitClosed();
    const [alice] = await inbox(t, 'alice@example.test');
    assert.ok(alice?.subarray(alice.length - body.length).equals(Buffer.from(body)));
  });

  test('an empty line gets its own reply, also when pipelined (RFC 2920 §3.1)', async () => {
    // Regression: an empty line following another command in the same read was dropped
    // without a reply, leaving a pipelining client one reply short.
    const c = await RawClient.open(mx);
    c.write('NOOP\r\n\r\nHELP\r\n');
    const [noop, empty, help] = await c.replies(3);
    assert.equal(noop!.last, '250 2.0.0 OK');
    assert.match(empty!.last, /^500 5\.5\.\d /);
    assert.equal(help!.code, 214);
    c.destroy();
  });

  test('RSET ends the transaction: RCPT then needs MAIL again', async () => {
    const c = await RawClient.open(mx);
    await ehlo(c);
    assert.equal((await c.cmd('MAIL FROM:<x@sender.test>')).code, 250);
    assert.equal((await c.cmd('RSET')).last, '250 2.0.0 OK');
    assert.match((await c.cmd('RCPT TO:<alice@example.test>')).last, /^503 5\.5\.1 /);
    assert.equal((await c.cmd('MAIL FROM:<x@sender.test>')).code, 250);
    assert.match((await c.cmd('MAIL FROM:<x@sender.test>')).last, /^503 5\.5\.1 Nested/);
    c.destroy();
  });

  test('MAIL before EHLO is out of sequence; DATA without recipients is refused', async () => {
    const c = await RawClient.open(mx);
    assert.match((await c.cmd('MAIL FROM:<x@sender.test>')).last, /^503 5\.5\.1 /);
    await ehlo(c);
    assert.match((await c.cmd('DATA')).last, /^503 5\.5\.1 /);
    assert.equal((await c.cmd('MAIL FROM:<>')).code, 250);
    assert.match((await c.cmd('DATA')).last, /^554 5\.5\.1 /);
    c.destroy();
  });

  test('NOOP, VRFY 252, EXPN 502, HELP 214, QUIT 221 and close', async () => {
    const c = await RawClient.open(mx);
    assert.equal((await c.cmd('NOOP')).last, '250 2.0.0 OK');
    const v = await c.cmd('VRFY alice@example.test');
    assert.equal(v.code, 252);
    assert.match(v.last, /^252 2\.1\.5 /);
    // A probe for an unknown user gets the same answer: nothing can be learned.
    assert.equal((await c.cmd('VRFY nobody@example.test')).last, v.last);
    assert.match((await c.cmd('EXPN staff')).last, /^502 5\.5\.1 /);
    assert.match((await c.cmd('HELP')).last, /^214 2\.0\.0 /);
    assert.equal((await c.cmd('QUIT')).last, '221 2.0.0 Bye');
    await c.waitClosed();
  });

  test('HELO then MAIL works; the Received header says SMTP', async () => {
    const c = await RawClient.open(mx);
    assert.equal((await c.cmd('HELO old.client.test')).code, 250);
    assert.equal((await c.cmd('MAIL FROM:<y@sender.test>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<bob@example.test>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    assert.equal(
      (await c.cmd(`${message('y@sender.test', 'bob@example.test', 'helo')}.`)).code,
      250,
    );
    c.destroy();
    const msgs = await inbox(t, 'bob@example.test');
    const last = msgs[msgs.length - 1]!.toString('latin1');
    assert.match(
      last,
      /Received: from old\.client\.test \(\[127\.0\.0\.1\]\)\r\n\tby localhost \(Letterbox\) with SMTP id /,
    );
  });
});

describe('SMTP session: shutdown signal', () => {
  test('many commands in one session add no listeners to the shutdown signal', async () => {
    // Regression: each command left an abort listener on the listener's shared signal until
    // shutdown (MaxListenersExceededWarning, and a leak for as long as the server runs).
    let signal: AbortSignal | undefined;
    const t = await startSmtpServer({
      protocols: {
        smtp: (ctx, l) => {
          const p = smtpProtocol(ctx, l);
          return {
            ...p,
            handler: (conn, c) => {
              signal = c.shuttingDown;
              return p.handler(conn, c);
            },
          };
        },
      },
    });
    try {
      const c = await RawClient.open(t.port('smtp'));
      c.write('NOOP\r\n'.repeat(30));
      assert.ok((await c.replies(30)).every((r) => r.code === 250));
      assert.ok(signal);
      assert.ok(getEventListeners(signal, 'abort').length <= 2);
      assert.equal((await c.cmd('QUIT')).code, 221);
      await c.waitClosed();
    } finally {
      PROTOCOLS.smtp = smtpProtocol;
      await t.stop();
    }
  });

  test('a session waiting for a command is told 421 4.3.2 at shutdown and closed', async () => {
    const t = await startSmtpServer();
    let stopped: Promise<void> | undefined;
    try {
      const c = await RawClient.open(t.port('smtp'));
      await ehlo(c);
      stopped = t.stop();
      const r = await c.reply();
      assert.equal(r.code, 421);
      assert.match(r.last, /^421 4\.3\.2 /);
      await c.waitClosed();
      assert.equal(c.pending(), '');
    } finally {
      await (stopped ?? t.stop());
    }
  });

  test('a message under way at shutdown is delivered, then 421 4.3.2 (RFC 5321 §3.8)', async () => {
    const t = await startSmtpServer();
    let stopped: Promise<void> | undefined;
    try {
      await t.addUser('carol@example.test', 'pw-carol-1');
      const c = await RawClient.open(t.port('smtp'));
      await ehlo(c);
      assert.equal((await c.cmd('MAIL FROM:<x@sender.test>')).code, 250);
      assert.equal((await c.cmd('RCPT TO:<carol@example.test>')).code, 250);
      assert.equal((await c.cmd('DATA')).code, 354);
      c.write('Subject: late\r\n\r\n');
      stopped = t.stop();
      c.write('Hello.\r\n.\r\n');
      assert.equal((await c.reply()).code, 250);
      assert.match((await c.reply()).last, /^421 4\.3\.2 /);
      await c.waitClosed();
    } finally {
      await (stopped ?? t.stop());
    }
  });
});
