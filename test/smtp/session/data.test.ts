// DATA and BDAT on a raw socket: CHUNKING (RFC 3030), and SMTP smuggling (only <CRLF>.<CRLF>
// ends DATA; bare LF/CR line ends are refused or normalized, never a second message).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ehlo, RawClient } from './client.js';
import { inbox, message, type SmtpTestServer, splitStored, startSmtpServer } from './helpers.js';

async function open(t: SmtpTestServer, to: string): Promise<RawClient> {
  const c = await RawClient.open(t.port('smtp'));
  await ehlo(c);
  assert.equal((await c.cmd('MAIL FROM:<x@sender.test>')).code, 250);
  assert.equal((await c.cmd(`RCPT TO:<${to}>`)).code, 250);
  return c;
}

describe('SMTP BDAT (CHUNKING)', () => {
  let t: SmtpTestServer;
  before(async () => {
    t = await startSmtpServer({ limits: 'max_message_size = 4096' });
    await t.addUser('bdat@example.test', 'pw-bdat-1');
  });
  after(() => t.stop());

  test('one chunk with LAST stores exactly those bytes', async () => {
    const c = await open(t, 'bdat@example.test');
    // Binary-safe: a line with a lone dot and bare LF are plain data in BDAT.
    const body = Buffer.from(
      message('x@sender.test', 'bdat@example.test', 'one chunk', '.\r\nline\r\n'),
    );
    c.write(Buffer.concat([Buffer.from(`BDAT ${body.length} LAST\r\n`), body]));
    assert.match((await c.reply()).last, /^250 2\.6\.0 /);
    c.destroy();
    const [stored] = await inbox(t, 'bdat@example.test');
    assert.ok(splitStored(stored!, { mx: true }).rest.equals(body));
  });

  test('several chunks, pipelined, then BDAT 0 LAST', async () => {
    const c = await open(t, 'bdat@example.test');
    const body = Buffer.from(
      message('x@sender.test', 'bdat@example.test', 'three chunks', 'abc\r\ndef\r\n'),
    );
    const a = body.subarray(0, 10);
    const b = body.subarray(10, 55);
    const rest = body.subarray(55);
    c.write(
      Buffer.concat([
        Buffer.from(`BDAT ${a.length}\r\n`),
        a,
        Buffer.from(`BDAT ${b.length}\r\n`),
        b,
        Buffer.from(`BDAT ${rest.length}\r\n`),
        rest,
        Buffer.from('BDAT 0 LAST\r\nNOOP\r\n'),
      ]),
    );
    const rs = await c.replies(5);
    assert.equal(rs[0]!.last, `250 2.0.0 ${a.length} octets received`);
    assert.equal(rs[1]!.code, 250);
    assert.equal(rs[2]!.code, 250);
    assert.match(rs[3]!.last, /^250 2\.6\.0 /);
    assert.equal(rs[4]!.last, '250 2.0.0 OK');
    c.destroy();
    const msgs = await inbox(t, 'bdat@example.test');
    assert.ok(splitStored(msgs[msgs.length - 1]!, { mx: true }).rest.equals(body));
  });

  test('BDAT without MAIL: 503, and its bytes are consumed, not read as commands', async () => {
    const c = await RawClient.open(t.port('smtp'));
    await ehlo(c);
    const payload = 'MAIL FROM:<evil@x.test>\r\n';
    c.write(`BDAT ${payload.length}\r\n${payload}NOOP\r\n`);
    assert.match((await c.reply()).last, /^503 5\.5\.1 /);
    assert.equal((await c.reply()).last, '250 2.0.0 OK');
    // No transaction was opened by the payload.
    assert.match((await c.cmd('RCPT TO:<bdat@example.test>')).last, /^503 /);
    c.destroy();
  });

  test('DATA after BDAT is out of sequence', async () => {
    const c = await open(t, 'bdat@example.test');
    c.write('BDAT 3\r\nabc');
    assert.equal((await c.reply()).code, 250);
    assert.match((await c.cmd('DATA')).last, /^503 5\.5\.1 /);
    c.destroy();
  });

  test('chunks over the size limit: read to the end, then 552 5.3.4 at LAST', async () => {
    const before = (await inbox(t, 'bdat@example.test')).length;
    const c = await open(t, 'bdat@example.test');
    const chunk = Buffer.alloc(3000, 0x61);
    c.write(
      Buffer.concat([
        Buffer.from('BDAT 3000\r\n'),
        chunk,
        Buffer.from('BDAT 3000 LAST\r\n'),
        chunk,
      ]),
    );
    assert.equal((await c.reply()).code, 250);
    assert.match((await c.reply()).last, /^552 5\.3\.4 /);
    assert.equal((await c.cmd('NOOP')).code, 250);
    c.destroy();
    assert.equal((await inbox(t, 'bdat@example.test')).length, before);
  });
});

/** Smuggling payloads: a fake end of data, then a second transaction. */
const SMUGGLE_ENDINGS = ['\n.\n', '\r\n.\n', '\n.\r\n', '\r.\r\n', '\r\n.\r'];

function smuggled(ending: string, to: string): string {
  return (
    `From: <x@sender.test>\r\nTo: <${to}>\r\nSubject: first\r\n\r\nhello${ending}` +
    `MAIL FROM:<admin@example.test>\r\nRCPT TO:<${to}>\r\nDATA\r\n` +
    'From: <admin@example.test>\r\nSubject: smuggled\r\n\r\nowned\r\n'
  );
}

describe('SMTP smuggling, bare_lf = "reject"', () => {
  let t: SmtpTestServer;
  before(async () => {
    t = await startSmtpServer({ smtp: 'bare_lf = "reject"' });
    await t.addUser('victim@example.test', 'pw-victim-1');
  });
  after(() => t.stop());

  for (const ending of SMUGGLE_ENDINGS) {
    test(`${JSON.stringify(ending)} does not end DATA; the message is refused`, async () => {
      const c = await open(t, 'victim@example.test');
      assert.equal((await c.cmd('DATA')).code, 354);
      c.write(`${smuggled(ending, 'victim@example.test')}.\r\nNOOP\r\n`);
      assert.match((await c.reply()).last, /^550 5\.6\.0 /);
      // The next reply is NOOP's: the smuggled MAIL/RCPT/DATA were never commands.
      assert.equal((await c.reply()).last, '250 2.0.0 OK');
      c.destroy();
      assert.equal((await inbox(t, 'victim@example.test')).length, 0);
    });
  }
});

describe('SMTP smuggling, bare_lf = "normalize"', () => {
  let t: SmtpTestServer;
  before(async () => {
    t = await startSmtpServer({ smtp: 'bare_lf = "normalize"' });
    await t.addUser('victim@example.test', 'pw-victim-1');
  });
  after(() => t.stop());

  for (const ending of SMUGGLE_ENDINGS) {
    test(`${JSON.stringify(ending)} stays inside one message`, async () => {
      const before = (await inbox(t, 'victim@example.test')).length;
      const c = await open(t, 'victim@example.test');
      assert.equal((await c.cmd('DATA')).code, 354);
      c.write(`${smuggled(ending, 'victim@example.test')}.\r\nNOOP\r\n`);
      assert.match((await c.reply()).last, /^250 2\.6\.0 /);
      assert.equal((await c.reply()).last, '250 2.0.0 OK');
      c.destroy();
      const msgs = await inbox(t, 'victim@example.test');
      assert.equal(msgs.length, before + 1);
      const rest = splitStored(msgs[msgs.length - 1]!, { mx: true }).rest.toString('latin1');
      assert.match(rest, /Subject: first/);
      assert.match(rest, /MAIL FROM:<admin@example\.test>\r\n/);
      assert.match(rest, /owned\r\n$/);
      // Normalized: no bare CR or LF is left in what was stored.
      assert.ok(!/[^\r]\n|\r[^\n]/.test(rest), JSON.stringify(rest));
    });
  }

  test('dot-stuffing is removed: "..x" is stored as ".x"', async () => {
    const c = await open(t, 'victim@example.test');
    assert.equal((await c.cmd('DATA')).code, 354);
    const sent = 'Subject: dots\r\n\r\n..x\r\n...\r\n';
    assert.match((await c.cmd(`${sent}.`)).last, /^250 /);
    c.destroy();
    const msgs = await inbox(t, 'victim@example.test');
    const rest = splitStored(msgs[msgs.length - 1]!, { mx: true }).rest.toString('latin1');
    assert.equal(rest, 'Subject: dots\r\n\r\n.x\r\n..\r\n');
  });
});

describe('SMTP DATA, one session after another message', () => {
  let t: SmtpTestServer;
  before(async () => {
    t = await startSmtpServer();
    await t.addUser('reuse@example.test', 'pw-reuse-1');
  });
  after(() => t.stop());

  // The memory a message was assembled in is reused for the next (message-memory.ts): each
  // stored message must be exactly its own bytes, whatever came before it.
  test('large, then smaller, then large again: each stored byte for byte', async () => {
    const sizes = [300_000, 200_000, 160_000, 290_000, 80_000, 100_000];
    const bodies = sizes.map((n, i) => {
      const line = `${String.fromCharCode(97 + i).repeat(70)}\r\n`;
      return message(
        'x@sender.test',
        'reuse@example.test',
        `reuse ${i}`,
        line.repeat(Math.ceil(n / line.length)),
      );
    });
    const c = await open(t, 'reuse@example.test');
    for (const [i, body] of bodies.entries()) {
      if (i > 0) {
        assert.equal((await c.cmd('MAIL FROM:<x@sender.test>')).code, 250);
        assert.equal((await c.cmd('RCPT TO:<reuse@example.test>')).code, 250);
      }
      assert.equal((await c.cmd('DATA')).code, 354);
      assert.match((await c.cmd(`${body}.`)).last, /^250 2\.6\.0 /);
    }
    c.destroy();
    const stored = await inbox(t, 'reuse@example.test');
    assert.equal(stored.length, bodies.length);
    for (const [i, raw] of stored.entries()) {
      assert.ok(
        splitStored(raw, { mx: true }).rest.equals(Buffer.from(bodies[i]!, 'latin1')),
        `message ${i}`,
      );
    }
  });
});
