// Security and limits: cleartext refusal before STLS, the STLS injection guard, line length,
// bad-command limit, idle autologout, shutdown, too many connections.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawPop3 } from './client.js';
import { PASSWORD, type Pop3Fixture, startPop3, USER } from './setup.js';

describe('cleartext port without allow_plaintext', () => {
  let fx: Pop3Fixture;
  before(async () => {
    fx = await startPop3({ allowPlaintext: false });
    await fx.deliver('s1');
  });
  after(() => fx.stop());

  test('USER, PASS and AUTH are refused with -ERR [AUTH]; CAPA offers STLS but not USER', async () => {
    const c = await RawPop3.connect(fx.pop3);
    const caps = (await c.multi('CAPA')).lines;
    assert.ok(caps.includes('STLS'));
    assert.ok(!caps.includes('USER') && !caps.some((l) => l.startsWith('SASL')));
    assert.match(await c.cmd(`USER ${USER}`), /^-ERR \[AUTH\] .*STLS/);
    assert.match(await c.cmd(`PASS ${PASSWORD}`), /^-ERR \[AUTH\] /);
    const plain = Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64');
    assert.match(await c.cmd(`AUTH PLAIN ${plain}`), /^-ERR \[AUTH\] /);
    assert.match(await c.cmd('STLS'), /^\+OK/);
    await c.upgrade();
    const after = (await c.multi('CAPA')).lines;
    assert.ok(after.includes('USER') && after.includes('SASL PLAIN LOGIN'));
    assert.match(await c.login(USER, PASSWORD), /^\+OK /);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    await c.closed();
  });

  test('commands pipelined after STLS in cleartext are discarded, not run inside TLS', async () => {
    const c = await RawPop3.connect(fx.pop3);
    c.send('STLS\r\nCAPA\r\n');
    assert.match(await c.line(), /^\+OK/);
    await c.upgrade();
    // Had the injected CAPA run, its answer would come before NOOP's.
    assert.match(await c.cmd('NOOP'), /^-ERR .*AUTHORIZATION/);
    c.destroy();
  });
});

describe('limits', () => {
  let fx: Pop3Fixture;
  before(async () => {
    fx = await startPop3({ idleTimeoutMs: 300 });
    await fx.deliver('l1');
  });
  after(() => fx.stop());

  test('a command line beyond the limit is refused and skipped; the session goes on', async () => {
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.cmd(`USER ${'x'.repeat(5000)}`), /^-ERR Line too long/);
    assert.match(await c.cmd('CAPA'), /^\+OK/);
    await c.body();
    // 255-octet lines (RFC 2449 §4) and a bit more are fine.
    assert.match(await c.cmd(`USER ${'y'.repeat(600)}`), /^\+OK/);
    c.destroy();
  });

  test('too many bad commands close the connection', async () => {
    const c = await RawPop3.connect(fx.pop3);
    for (let i = 0; i < 9; i++) assert.match(await c.cmd('BOGUS'), /^-ERR Unknown/);
    assert.match(await c.cmd('BOGUS'), /^-ERR Unknown/);
    assert.match(await c.line(), /^-ERR Too many bad commands/);
    await c.closed();
  });

  test('idle timeout: the connection is closed without a response and without UPDATE', async () => {
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.login(USER, PASSWORD), /^\+OK /);
    assert.match(await c.cmd('DELE 1'), /^\+OK/);
    assert.equal(await c.rest(), '', 'RFC 1939 §3: nothing is sent at autologout');
    const recs = await fx.ts.server.ctx.store.listMessages(fx.inboxId);
    assert.equal(recs.length, 1);
  });

  test('binary garbage and bare-LF lines do not crash the session', async () => {
    const c = await RawPop3.connect(fx.pop3);
    c.send(Buffer.from([0xff, 0xfe, 0x00, 0x0d, 0x0a]));
    assert.match(await c.line(), /^-ERR Unknown/);
    c.send('NOOP\n');
    assert.match(await c.line(), /^-ERR /);
    c.send('\r\n');
    assert.match(await c.line(), /^-ERR Empty/);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    await c.closed();
  });
});

describe('shutdown', () => {
  test('an idle session is told -ERR [SYS/TEMP] and its deletions are dropped', async () => {
    const fx = await startPop3();
    await fx.deliver('d1');
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.login(USER, PASSWORD), /^\+OK /);
    assert.match(await c.cmd('DELE 1'), /^\+OK/);
    const kinds: string[] = [];
    fx.ts.server.ctx.store.subscribe((e) => kinds.push(e.kind));
    const stopping = fx.stop();
    assert.match(await c.line(), /^-ERR \[SYS\/TEMP\] Server shutting down/);
    await c.closed();
    await stopping;
    assert.deepEqual(kinds, [], 'no UPDATE: nothing expunged');
  });
});

describe('too many connections', () => {
  test('the refused client gets -ERR [SYS/TEMP]', async () => {
    const fx = await startPop3({ limitsToml: 'max_connections_per_ip = 1' });
    try {
      const first = await RawPop3.connect(fx.pop3);
      const second = await RawPop3.connect(fx.pop3);
      assert.match(second.greeting, /^-ERR \[SYS\/TEMP\] Too many connections/);
      await second.closed();
      first.destroy();
    } finally {
      await fx.stop();
    }
  });
});
