// The POP3 conversation over real sockets: states, commands, answers (RFC 1939, 2449, 5034).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.js';
import { rawMessage } from '../helpers/messages.js';
import { RawPop3 } from './client.js';
import { PASSWORD, type Pop3Fixture, startPop3, USER } from './setup.js';

let fx: Pop3Fixture;
let uids: number[];
const m1 = rawMessage('one', 'First body.\r\n');
const m2 = rawMessage('two', 'Line a\r\n.dot line\r\n..two dots\r\n.\r\nend\r\n');
const m3 = rawMessage('three', 'no final newline');

before(async () => {
  fx = await startPop3();
  uids = await fx.deliver(m1, m2, m3);
});
after(() => fx.stop());

/** End with QUIT so that the maildrop lock is free for the next test at once. */
async function quit(c: RawPop3): Promise<void> {
  assert.match(await c.cmd('QUIT'), /^\+OK/);
  await c.closed();
}

async function loggedIn(): Promise<RawPop3> {
  const c = await RawPop3.connect(fx.pop3);
  assert.match(await c.login(USER, PASSWORD), /^\+OK /);
  return c;
}

describe('AUTHORIZATION state', () => {
  test('greeting, CAPA lists the RFC 2449 capabilities with STLS on the cleartext port', async () => {
    const c = await RawPop3.connect(fx.pop3);
    assert.match(c.greeting, /^\+OK .*POP3/);
    assert.doesNotMatch(c.greeting, /<.*@.*>/, 'no APOP timestamp: APOP is not offered');
    const { status, lines } = await c.multi('CAPA');
    assert.match(status, /^\+OK/);
    for (const cap of ['TOP', 'UIDL', 'USER', 'SASL PLAIN LOGIN', 'RESP-CODES', 'AUTH-RESP-CODE']) {
      assert.ok(lines.includes(cap), `${cap} in ${lines.join('|')}`);
    }
    for (const cap of ['PIPELINING', 'STLS', 'EXPIRE NEVER', 'IMPLEMENTATION Letterbox']) {
      assert.ok(lines.includes(cap), cap);
    }
    assert.equal(await c.cmd('QUIT'), '+OK Goodbye');
    await c.closed();
  });

  test('transaction commands are refused before login; unknown commands too', async () => {
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.cmd('STAT'), /^-ERR .*AUTHORIZATION/);
    assert.match(await c.cmd('RETR 1'), /^-ERR /);
    assert.match(await c.cmd('XYZZY'), /^-ERR Unknown command/);
    assert.match(await c.cmd('APOP alice 0123456789abcdef0123456789abcdef'), /^-ERR APOP not/);
    assert.match(await c.cmd('PASS secret'), /^-ERR Send USER first/);
    await quit(c);
  });

  test('wrong password: -ERR [AUTH]; USER must be given again', async () => {
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.cmd(`USER ${USER}`), /^\+OK/);
    assert.match(await c.cmd('PASS wrong'), /^-ERR \[AUTH\] /);
    assert.match(await c.cmd(`PASS ${PASSWORD}`), /^-ERR Send USER first/);
    assert.match(await c.login(USER, PASSWORD), /^\+OK alice@example.test has 3 messages/);
    assert.match(await c.cmd('USER x'), /^-ERR .*TRANSACTION/);
    await quit(c);
  });

  test('PASS takes the rest of the line, spaces included', async () => {
    // PASSWORD is "correct horse": it only works if the space is part of the password.
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.login(USER, PASSWORD), /^\+OK /);
    await quit(c);
  });

  test('AUTH PLAIN with initial response, and without (empty challenge)', async () => {
    const creds = Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64');
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.cmd(`AUTH PLAIN ${creds}`), /^\+OK /);
    assert.match(await c.cmd('STAT'), /^\+OK 3 /);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    const d = await RawPop3.connect(fx.pop3);
    assert.equal(await d.cmd('AUTH PLAIN'), '+ ');
    assert.match(await d.cmd(creds), /^\+OK /);
    await quit(d);
  });

  test('AUTH LOGIN with the user name as initial response; cancel with "*"', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const c = await RawPop3.connect(fx.pop3);
    assert.equal(await c.cmd(`AUTH LOGIN ${b64(USER)}`), `+ ${b64('Password:')}`);
    assert.match(await c.cmd(b64(PASSWORD)), /^\+OK /);
    await quit(c);
    const d = await RawPop3.connect(fx.pop3);
    assert.equal(await d.cmd('AUTH LOGIN'), `+ ${b64('Username:')}`);
    assert.match(await d.cmd('*'), /^-ERR Authentication cancelled/);
    assert.match(await d.cmd('AUTH CRAM-MD5'), /^-ERR Unsupported/);
    assert.match(await d.cmd('AUTH PLAIN !!!'), /^-ERR Malformed/);
    const bad = Buffer.from(`\0${USER}\0nope`).toString('base64');
    assert.match(await d.cmd(`AUTH PLAIN ${bad}`), /^-ERR \[AUTH\] /);
    const { status, lines } = await d.multi('AUTH');
    assert.match(status, /^\+OK/);
    assert.deepEqual(lines, ['PLAIN', 'LOGIN']);
    await quit(d);
  });
});

describe('TRANSACTION state', () => {
  test('STAT, LIST and UIDL agree with the store', async () => {
    const c = await loggedIn();
    const total = m1.length + m2.length + m3.length;
    assert.equal(await c.cmd('STAT'), `+OK 3 ${total}`);
    const list = await c.multi('LIST');
    assert.equal(list.status, `+OK 3 messages (${total} octets)`);
    assert.deepEqual(list.lines, [`1 ${m1.length}`, `2 ${m2.length}`, `3 ${m3.length}`]);
    assert.equal(await c.cmd('LIST 2'), `+OK 2 ${m2.length}`);
    assert.equal(await c.cmd('LIST 02'), `+OK 2 ${m2.length}`);
    const mb = await fx.ts.server.ctx.store.getMailboxById(fx.inboxId);
    const uidl = await c.multi('UIDL');
    assert.deepEqual(
      uidl.lines,
      uids.map((u, i) => `${i + 1} ${mb!.uidValidity}.${u}`),
    );
    assert.equal(await c.cmd('UIDL 3'), `+OK 3 ${mb!.uidValidity}.${uids[2]}`);
    assert.match(await c.cmd('LIST 4'), /^-ERR No such message/);
    assert.match(await c.cmd('LIST 0'), /^-ERR No such message/);
    assert.match(await c.cmd('LIST x'), /^-ERR Invalid message number/);
    assert.match(await c.cmd('NOOP'), /^\+OK/);
    await quit(c);
  });

  test('RETR returns the exact bytes, dot-stuffed on the wire, and marks \\Seen', async () => {
    const c = await loggedIn();
    assert.equal(await c.cmd('RETR 2'), `+OK ${m2.length} octets`);
    const wire = await c.rawBody();
    assert.match(wire.toString(), /\r\n\.\.dot line\r\n\.\.\.two dots\r\n\.\.\r\nend\r\n$/);
    assert.match(await c.cmd('RETR 2'), /^\+OK/);
    assert.deepEqual(await c.body(), m2);
    // A message stored without a final CRLF gets one before the terminator.
    assert.match(await c.cmd('RETR 3'), /^\+OK/);
    assert.deepEqual(await c.body(), Buffer.concat([m3, Buffer.from('\r\n')]));
    // \Seen marks are batched (SEEN_BATCH_MS): committed soon after, not before the reply.
    const seen = async (uid: number) =>
      (await fx.ts.server.ctx.store.listMessages(fx.inboxId))
        .find((r) => r.uid === uid)!
        .flags.includes('\\Seen');
    await eventually(() => seen(uids[1]!), 'RETR 2 marked \\Seen', 5000);
    assert.ok(!(await seen(uids[0]!)));
    await quit(c);
  });

  test('TOP gives the header and n body lines, without marking \\Seen', async () => {
    const c = await loggedIn();
    assert.match(await c.cmd('TOP 1 0'), /^\+OK/);
    const head = (await c.body()).toString();
    assert.ok(head.startsWith('From: a@example.net\r\n') && head.endsWith('\r\n\r\n'), head);
    assert.doesNotMatch(head, /First body/);
    const top = await c.multi('TOP 2 2');
    assert.deepEqual(top.lines.slice(-3), ['', 'Line a', '.dot line']);
    assert.match(await c.cmd('TOP 1'), /^-ERR Syntax/);
    assert.match(await c.cmd('TOP 1 -1'), /^-ERR Syntax/);
    const recs = await fx.ts.server.ctx.store.listMessages(fx.inboxId);
    assert.ok(!recs.find((r) => r.uid === uids[0])!.flags.includes('\\Seen'));
    await quit(c);
  });

  test('DELE hides a message for the session; RSET brings it back; nothing changes without QUIT', async () => {
    const c = await loggedIn();
    assert.equal(await c.cmd('DELE 1'), '+OK Message 1 deleted');
    assert.equal(await c.cmd('DELE 1'), '-ERR Message 1 already deleted');
    assert.equal(await c.cmd('RETR 1'), '-ERR Message 1 already deleted');
    assert.equal(await c.cmd('STAT'), `+OK 2 ${m2.length + m3.length}`);
    const list = await c.multi('LIST');
    assert.deepEqual(list.lines, [`2 ${m2.length}`, `3 ${m3.length}`]);
    assert.match(await c.cmd('RSET'), /^\+OK Maildrop has 3 messages/);
    assert.match(await c.cmd('LIST 1'), /^\+OK 1 /);
    assert.match(await c.cmd('DELE 2'), /^\+OK/);
    c.destroy(); // dropped connection: RFC 1939 §6, no UPDATE
    await c.closed();
    // The lock is released when the server notices; then a new session sees everything.
    for (let i = 0; i < 50; i++) {
      const d = await RawPop3.connect(fx.pop3);
      const r = await d.login(USER, PASSWORD);
      if (r.includes('[IN-USE]')) {
        d.destroy();
        await new Promise((res) => setTimeout(res, 20));
        continue;
      }
      assert.match(r, /has 3 messages/);
      await quit(d);
      return;
    }
    assert.fail('lock never released');
  });

  test('PIPELINING: commands sent in one packet are answered in order', async () => {
    const c = await RawPop3.connect(fx.pop3);
    c.send(`USER ${USER}\r\nPASS ${PASSWORD}\r\nSTAT\r\nLIST 1\r\nNOOP\r\nQUIT\r\n`);
    assert.match(await c.line(), /^\+OK/);
    assert.match(await c.line(), /^\+OK .* has 3 messages/);
    assert.match(await c.line(), /^\+OK 3 /);
    assert.equal(await c.line(), `+OK 1 ${m1.length}`);
    assert.equal(await c.line(), '+OK');
    assert.match(await c.line(), /^\+OK Goodbye/);
    await c.closed();
  });
});

describe('TLS', () => {
  test('implicit TLS (995): no STLS offered, login works', async () => {
    const c = await RawPop3.connect(fx.pop3s, { tls: true });
    const caps = (await c.multi('CAPA')).lines;
    assert.ok(!caps.includes('STLS') && caps.includes('USER'));
    assert.match(await c.cmd('STLS'), /^-ERR TLS already active/);
    assert.match(await c.login(USER, PASSWORD), /^\+OK /);
    await quit(c);
  });

  test('STLS upgrades; CAPA then drops STLS; STLS not allowed in TRANSACTION', async () => {
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.cmd('STLS'), /^\+OK/);
    await c.upgrade();
    const caps = (await c.multi('CAPA')).lines;
    assert.ok(!caps.includes('STLS'));
    assert.match(await c.login(USER, PASSWORD), /^\+OK /);
    assert.match(await c.cmd('STLS'), /^-ERR/);
    await quit(c);
  });
});
