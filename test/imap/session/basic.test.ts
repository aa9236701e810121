import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ImapTestEnv, last, PASS, RawClient, startImap, USER } from './client.js';

describe('IMAP session: greeting, capabilities, authentication', () => {
  let env: ImapTestEnv;
  let strict: ImapTestEnv;
  before(async () => {
    env = await startImap();
    strict = await startImap({ allowPlaintext: false });
  });
  after(async () => {
    await env.ts.stop();
    await strict.ts.stop();
  });

  test('port 143 without TLS: LOGINDISABLED, no AUTH=, STARTTLS; LOGIN refused', async () => {
    const sock = await import('node:net').then((n) =>
      n.connect({ port: strict.port, host: '127.0.0.1' }),
    );
    const c = new RawClient(sock);
    const greeting = await c.line();
    assert.match(greeting, /^\* OK \[CAPABILITY [^\]]*STARTTLS/);
    assert.match(greeting, /LOGINDISABLED/);
    assert.doesNotMatch(greeting, /AUTH=/);
    const r = await c.cmd('a', `LOGIN ${USER} ${PASS}`);
    assert.match(last(r), /^a NO \[PRIVACYREQUIRED\]/);
    const r2 = await c.cmd('b', 'AUTHENTICATE PLAIN');
    assert.match(last(r2), /^b NO \[PRIVACYREQUIRED\]/);
    // STARTTLS, with a command pipelined in cleartext: it must be dropped, not run in TLS.
    c.write('c STARTTLS\r\nd CAPABILITY\r\n');
    assert.match(last(await c.tagged('c')), /^c OK/);
    await c.startTls();
    const caps = await c.cmd('e', 'CAPABILITY');
    assert.equal(caps.length, 2, caps.join('\n'));
    assert.match(caps[0], /AUTH=PLAIN/);
    assert.doesNotMatch(caps[0], /LOGINDISABLED|STARTTLS/);
    assert.match(last(await c.cmd('f', `LOGIN ${USER} ${PASS}`)), /^f OK \[CAPABILITY /);
    assert.match(last(await c.cmd('g', 'STARTTLS')), /^g BAD/);
    c.close();
  });

  test('LOGIN failures, wrong state, unknown command, syntax errors', async () => {
    const c = await RawClient.connect(env.tlsPort, true);
    assert.match(last(await c.cmd('a', `LOGIN ${USER} wrong`)), /^a NO \[AUTHENTICATIONFAILED\]/);
    assert.match(last(await c.cmd('b', 'SELECT INBOX')), /^b BAD .*notAuthenticated/);
    assert.match(last(await c.cmd('c', 'FROBNICATE')), /^c BAD Unknown command/);
    assert.match(last(await c.cmd('d', 'LOGIN onlyuser')), /^d BAD/);
    assert.match(last(await c.cmd('e', `LOGIN "${USER}" {${PASS.length}+}\r\n${PASS}`)), /^e OK/);
    assert.match(last(await c.cmd('f', `LOGIN ${USER} ${PASS}`)), /^f BAD/);
    assert.match(last(await c.cmd('g', 'LOGOUT')), /^g OK/);
    c.close();
  });

  test('too many bad commands end the session; command bursts are slowed, not refused', async () => {
    const c = await RawClient.connect(env.tlsPort, true);
    let text = '';
    for (let i = 0; i < 20; i++) text += `t${i} FROB\r\n`;
    c.write(text);
    const out = await c.until((t) => (t.includes('* BYE') ? t.length : -1));
    assert.match(out, /\* BYE Too many invalid commands/);
    c.close();
    const d = await env.login();
    let burst = '';
    // IMAP_LIMITS: a burst of 2000, then 1000 a second: the last 1000 take about a second.
    for (let i = 0; i < 3000; i++) burst += `n${i} NOOP\r\n`;
    const t0 = Date.now();
    d.write(burst);
    const all = await d.tagged('n2999', 20_000);
    assert.equal(all.filter((l) => / OK /.test(l)).length, 3000);
    assert.ok(Date.now() - t0 >= 800, 'past the burst, commands wait for tokens');
    d.close();
  });

  test('AUTHENTICATE PLAIN with SASL-IR, with a continuation, LOGIN, and cancel', async () => {
    const b64 = Buffer.from(`\0${USER}\0${PASS}`).toString('base64');
    const c1 = await RawClient.connect(env.tlsPort, true);
    assert.match(last(await c1.cmd('a', `AUTHENTICATE PLAIN ${b64}`)), /^a OK/);
    c1.close();
    const c2 = await RawClient.connect(env.tlsPort, true);
    c2.write('a AUTHENTICATE PLAIN\r\n');
    assert.equal(await c2.line(), '+ ');
    c2.write(`${b64}\r\n`);
    assert.match(last(await c2.tagged('a')), /^a OK/);
    c2.close();
    const c3 = await RawClient.connect(env.tlsPort, true);
    c3.write('a AUTHENTICATE LOGIN\r\n');
    assert.match(await c3.line(), /^\+ /);
    c3.write(`${Buffer.from(USER).toString('base64')}\r\n`);
    assert.match(await c3.line(), /^\+ /);
    c3.write(`${Buffer.from(PASS).toString('base64')}\r\n`);
    assert.match(last(await c3.tagged('a')), /^a OK/);
    c3.close();
    const c4 = await RawClient.connect(env.tlsPort, true);
    c4.write('a AUTHENTICATE PLAIN\r\n');
    await c4.line();
    c4.write('*\r\n');
    assert.match(last(await c4.tagged('a')), /^a BAD/);
    assert.match(last(await c4.cmd('b', 'AUTHENTICATE CRAM-MD5')), /^b NO/);
    c4.close();
  });

  test('CAPABILITY after login; ID, NAMESPACE, ENABLE, NOOP, LOGOUT', async () => {
    const c = await env.login();
    const caps = await c.cmd('a', 'CAPABILITY');
    for (const cap of [
      'IMAP4rev2',
      'CONDSTORE',
      'QRESYNC',
      'MOVE',
      'UIDPLUS',
      'COMPRESS=DEFLATE',
      'APPENDLIMIT=',
    ]) {
      assert.ok(caps[0].includes(cap), cap);
    }
    const id = await c.cmd('b', 'ID ("name" "test")');
    assert.match(id[0], /^\* ID \("name" "Letterbox"/);
    assert.match(last(await c.cmd('b2', 'ID NIL')), /^b2 OK/);
    assert.match(last(await c.cmd('b3', 'ID ("odd")')), /^b3 BAD/);
    const ns = await c.cmd('c', 'NAMESPACE');
    assert.equal(ns[0], '* NAMESPACE (("" "/")) NIL NIL');
    const en = await c.cmd('d', 'ENABLE CONDSTORE X-UNKNOWN UTF8=ACCEPT');
    assert.equal(en[0], '* ENABLED CONDSTORE UTF8=ACCEPT');
    assert.equal((await c.cmd('e', 'ENABLE CONDSTORE'))[0], '* ENABLED');
    assert.match(last(await c.cmd('f', 'NOOP')), /^f OK/);
    const bye = await c.cmd('g', 'LOGOUT');
    assert.match(bye[0], /^\* BYE/);
    assert.match(last(bye), /^g OK/);
    c.close();
  });

  test('literals: + continuation only within the limit; TOOBIG otherwise', async () => {
    const small = await startImap({ extraToml: '[limits]\nmax_message_size = 2048\n' });
    try {
      const c = await small.login();
      // A command refused whatever its arguments is answered instead of the "+": the client
      // sends no literal (RFC 9051 §7.5).
      c.write('a LOGIN {5}\r\n');
      assert.match(await c.line(), /^a BAD LOGIN is not allowed in the authenticated state/);
      c.write('b APPEND INBOX {5000}\r\n');
      assert.match(await c.line(), /^b NO \[TOOBIG\]/);
      // A non-synchronizing literal that is too big is read and dropped, then BAD.
      c.write(`c APPEND INBOX {3000+}\r\n${'x'.repeat(3000)}\r\n`);
      assert.match(await c.line(), /^c BAD \[TOOBIG\]/);
      assert.match(last(await c.cmd('d', 'NOOP')), /^d OK/);
      c.write('e APPEND INBOX {12}\r\n');
      assert.equal(await c.line(), '+ Ready for literal data');
      c.write('Subject: x\r\n\r\n');
      assert.match(last(await c.tagged('e')), /^e OK \[APPENDUID/);
      c.close();
    } finally {
      await small.ts.stop();
    }
  });

  test('COMPRESS=DEFLATE: everything after the OK is deflated both ways', async () => {
    const zlib = await import('node:zlib');
    const c = await env.login();
    assert.match(last(await c.cmd('a', 'COMPRESS DEFLATE')), /^a OK/);
    const deflate = zlib.createDeflateRaw();
    const inflate = zlib.createInflateRaw();
    const got: Buffer[] = [];
    inflate.on('data', (d: Buffer) => got.push(d));
    c.socket.removeAllListeners('data');
    c.socket.on('data', (d: Buffer) => inflate.write(d));
    deflate.on('data', (d: Buffer) => c.socket.write(d));
    deflate.write('b NOOP\r\nc CAPABILITY\r\n');
    deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    const deadline = Date.now() + 3000;
    while (!Buffer.concat(got).toString().includes('c OK') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const text = Buffer.concat(got).toString();
    assert.match(text, /b OK/);
    assert.match(text, /\* CAPABILITY /);
    assert.doesNotMatch(text, /COMPRESS=DEFLATE/);
    c.close();
  });
});
