// One memory budget for the message bytes all sessions hold together (issue 15 item 4,
// limits.message_memory): past it a new message gets a temporary refusal, SMTP 452 4.3.1
// (RFC 3463 §3.4: system storage; RFC 5321 §4.2.2: 452 is the reply for it) at the end of DATA
// or to a BDAT chunk, which ends the transaction (RFC 3030 §2), and IMAP NO [LIMIT] for a
// literal (RFC 9051 §7.1), before the continuation for {N}; the bytes of {N+} are dropped.
// Once the holder finishes, the memory is back and the same message goes through.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ehlo, RawClient as SmtpClient } from '../smtp/session/client.js';
import { startDns, type TestDns } from '../smtp/session/dns.js';
import { inbox, splitStored } from '../smtp/session/helpers.js';
import { RawClient } from './raw.js';

const USER = 'budget@example.test';
const PASS = 'budget-pw-1';
const BUDGET = 300_000;
/** Large enough that two of them do not fit in BUDGET. */
const SIZE = 204_800;
const REPLY_MS = 30_000;

/** An RFC 5322 message of `size` bytes; no line starts with a dot (DATA needs no stuffing). */
function message(tag: string, size = SIZE): Buffer {
  const head =
    `From: <sender@sender.test>\r\nTo: <${USER}>\r\nSubject: ${tag}\r\n` +
    `Message-ID: <${tag}@sender.test>\r\n\r\n`;
  // Lines that would be commands if the server read them as such: they must stay data.
  const line = `x NOOP ${tag} QUIT ${'m'.repeat(50)}\r\n`;
  let body = head;
  while (body.length + line.length <= size - 2) body += line;
  body += 'z'.repeat(size - 2 - body.length);
  return Buffer.from(`${body}\r\n`, 'latin1');
}

describe('limits.message_memory: one budget for SMTP DATA/BDAT and IMAP literals', () => {
  let ts: TestServer;
  let dns: TestDns;
  const memory = () => ts.server.ctx.memory;
  /** Sessions a test opened: closed after it, passed or failed, so they hold nothing. */
  let closers: Array<() => void> = [];

  before(async () => {
    dns = await startDns();
    ts = await startTestServer({
      listeners: ['smtp', 'submission', 'imap'],
      allowPlaintext: true,
      extraToml:
        `[limits]\nmax_message_size = 262144\nmessage_memory = ${BUDGET}\n` +
        '[smtp]\ngreet_delay_ms = 0\n' +
        `[dns]\nservers = ["${dns.address}"]\ntimeout_ms = 500\n`,
    });
    await ts.addUser(USER, PASS);
  });
  afterEach(() => {
    for (const close of closers) close();
    closers = [];
  });
  after(async () => {
    await ts.stop();
    await dns.close();
  });

  /** An MX session with a transaction open for USER; CHUNKING advertised. */
  async function mxTransaction(): Promise<SmtpClient> {
    const c = await SmtpClient.open(ts.port('smtp'));
    closers.push(() => c.destroy());
    const keywords = await ehlo(c);
    assert.ok(keywords.includes('CHUNKING'), `EHLO: ${keywords.join(', ')}`);
    assert.equal((await c.cmd('MAIL FROM:<sender@sender.test>')).code, 250);
    assert.equal((await c.cmd(`RCPT TO:<${USER}>`)).code, 250);
    return c;
  }

  async function imapLogin(): Promise<RawClient> {
    const c = await RawClient.connect(ts.port('imap'));
    closers.push(() => c.close());
    await c.until(/^\* OK .*\r\n/m);
    await c.write(`l LOGIN ${USER} ${PASS}\r\n`);
    await c.until(/^l OK .*\r\n/m);
    return c;
  }

  /** Raw messages in USER's INBOX, as stored (MX ones start with the server's trace fields). */
  const stored = () => inbox(ts, USER);
  const receivedOverMx = async (body: Buffer) =>
    (await stored()).some((m) => splitStored(m, { mx: true }).rest.equals(body));

  test('past the budget: DATA 452, BDAT 452, APPEND NO [LIMIT]; after, all go through', async () => {
    // A holds most of the budget: DATA with 200 KB sent and no final dot.
    const a = await mxTransaction();
    const held = message('holder');
    assert.equal((await a.cmd('DATA')).code, 354);
    a.write(held);
    await eventually(() => memory().inUse >= 200_000, 'A to hold 200 KB', REPLY_MS);

    // B, DATA: the bytes are read and dropped, the answer comes at the end of data.
    const b = await mxTransaction();
    const data = message('retry-data');
    assert.equal((await b.cmd('DATA')).code, 354);
    b.write(Buffer.concat([data, Buffer.from('.\r\n')]));
    assert.match((await b.reply(REPLY_MS)).last, /^452 4\.3\.1 /);
    // The session goes on; none of the message's lines was taken for a command.
    assert.equal((await b.cmd('NOOP')).last, '250 2.0.0 OK');

    // B, BDAT: the chunk is refused and the transaction is over (RFC 3030 §2).
    const chunked = message('retry-bdat');
    assert.equal((await b.cmd('MAIL FROM:<sender@sender.test>')).code, 250);
    assert.equal((await b.cmd(`RCPT TO:<${USER}>`)).code, 250);
    b.write(Buffer.concat([Buffer.from(`BDAT ${chunked.length} LAST\r\n`), chunked]));
    assert.match((await b.reply(REPLY_MS)).last, /^452 4\.3\.1 /);
    assert.match((await b.cmd(`RCPT TO:<${USER}>`)).last, /^503 /, 'no transaction left');
    assert.equal((await b.cmd('NOOP')).last, '250 2.0.0 OK');

    // IMAP APPEND, synchronizing literal: refused before the continuation request.
    const appended = message('retry-append', 200_000);
    const i = await imapLogin();
    await i.write(`s APPEND INBOX {${appended.length}}\r\n`);
    const [answer] = await i.until(/^(\+ |s ).*\r\n/m);
    assert.match(answer, /^s NO \[LIMIT\] /);
    // Non-synchronizing: the bytes were on their way; they are read and dropped.
    await i.write(`n APPEND INBOX {${appended.length}+}\r\n`);
    await i.write(appended);
    await i.write('\r\nd NOOP\r\n');
    await i.until(/^n NO \[LIMIT\] .*\r\n/m);
    const noop = await i.until(/^d OK .*\r\n/m);
    // The literal's `x NOOP` lines were not commands: nothing answered them before d.
    assert.doesNotMatch(noop.input.slice(0, noop.index), /^x /m);

    assert.ok(memory().highWater <= BUDGET, `held ${memory().highWater} at most`);

    // A finishes: delivered, and every byte is given back.
    a.write('.\r\n');
    assert.match((await a.reply(REPLY_MS)).last, /^250 /);
    await eventually(() => memory().inUse === 0, 'the budget to be free', REPLY_MS);
    assert.ok(await receivedOverMx(held));

    // B again, DATA then BDAT: accepted, stored byte for byte.
    assert.equal((await b.cmd('MAIL FROM:<sender@sender.test>')).code, 250);
    assert.equal((await b.cmd(`RCPT TO:<${USER}>`)).code, 250);
    assert.equal((await b.cmd('DATA')).code, 354);
    b.write(Buffer.concat([data, Buffer.from('.\r\n')]));
    assert.match((await b.reply(REPLY_MS)).last, /^250 /);
    assert.ok(await receivedOverMx(data), 'the DATA message, byte for byte');
    assert.equal((await b.cmd('MAIL FROM:<sender@sender.test>')).code, 250);
    assert.equal((await b.cmd(`RCPT TO:<${USER}>`)).code, 250);
    b.write(Buffer.concat([Buffer.from(`BDAT ${chunked.length} LAST\r\n`), chunked]));
    assert.match((await b.reply(REPLY_MS)).last, /^250 2\.6\.0 /);
    assert.ok(await receivedOverMx(chunked), 'the BDAT message, byte for byte');

    // And the APPEND.
    await i.write(`t APPEND INBOX {${appended.length}}\r\n`);
    await i.until(/^\+ .*\r\n/m);
    await i.write(Buffer.concat([appended, Buffer.from('\r\n')]));
    await i.until(/^t OK .*\r\n/m, REPLY_MS);
    assert.ok(
      (await stored()).some((m) => m.equals(appended)),
      'APPEND, byte for byte',
    );

    a.destroy();
    b.destroy();
    i.close();
    await eventually(() => memory().inUse === 0, 'the budget to be free', REPLY_MS);
    assert.ok(memory().highWater <= BUDGET, `held ${memory().highWater} at most`);
  });

  test('a session that disconnects mid-DATA gives its memory back', async () => {
    const c = await mxTransaction();
    assert.equal((await c.cmd('DATA')).code, 354);
    c.write(message('cut-data', 150_000));
    await eventually(() => memory().inUse >= 140_000, 'the DATA bytes to be held', REPLY_MS);
    c.destroy();
    await eventually(() => memory().inUse === 0, 'the memory to come back', REPLY_MS);
  });

  test('a session that disconnects mid-BDAT gives its memory back', async () => {
    const c = await mxTransaction();
    const first = message('cut-bdat', 100_000);
    c.write(Buffer.concat([Buffer.from(`BDAT ${first.length}\r\n`), first]));
    assert.equal((await c.reply(REPLY_MS)).code, 250);
    c.write(Buffer.concat([Buffer.from('BDAT 100000 LAST\r\n'), Buffer.alloc(50_000, 0x61)]));
    await eventually(() => memory().inUse >= 140_000, 'both chunks to be held', REPLY_MS);
    c.destroy();
    await eventually(() => memory().inUse === 0, 'the memory to come back', REPLY_MS);
  });

  test('an IMAP session that disconnects mid-literal gives its memory back', async () => {
    const i = await imapLogin();
    await i.write('s APPEND INBOX {150000}\r\n');
    await i.until(/^\+ .*\r\n/m);
    await i.write(Buffer.alloc(50_000, 0x61));
    await eventually(() => memory().inUse >= 150_000, 'the literal to be counted', REPLY_MS);
    i.close();
    await eventually(() => memory().inUse === 0, 'the memory to come back', REPLY_MS);
  });
});
