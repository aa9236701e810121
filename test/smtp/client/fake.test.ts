// The SMTP client against a scripted server: each extension present or missing, each kind of
// refusal, and each way a remote can misbehave (hang, huge line, close mid-DATA, bad TLS).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseMessage } from '../../../src/mime/index.js';
import { decodeTransfer } from '../../../src/mime/transfer.js';
import type { SelfSignedPem } from '../../../src/net/selfsigned.js';
import { has8bit } from '../../../src/queue/eightbit.js';
import type { SendRequest, SendResult } from '../../../src/queue/types.js';
import {
  connectSmtp,
  type SmtpClientConnection,
  SmtpClientError,
} from '../../../src/smtp/client/connection.js';
import { eventually } from '../../helpers/eventually.js';
import { type FakeOptions, type FakeServer, startFakeServer } from './fake-server.js';
import { localhostCert, loopHost, msg, OPTS, request } from './helpers.js';

const servers: FakeServer[] = [];
async function fake(opts: FakeOptions): Promise<FakeServer> {
  const f = await startFakeServer(opts);
  servers.push(f);
  return f;
}
after(async () => {
  for (const f of servers) await f.close();
});

/** Connects to a fake server with these options and returns the connection. */
async function connectTo(
  f: FakeServer,
  extra: Parameters<typeof loopHost>[1] = {},
  opts = OPTS,
): Promise<SmtpClientConnection> {
  return connectSmtp(loopHost(f.port, extra), opts);
}

async function rejection(p: Promise<unknown>): Promise<SmtpClientError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SmtpClientError, String(err));
    return err;
  }
  assert.fail('expected a rejection');
}

const SHORT = { ...OPTS, timeouts: { ...OPTS.timeouts, command: 2000, dataEnd: 2000 } };

describe('SMTP client: extensions', () => {
  test('PIPELINING: MAIL, the RCPTs and DATA in one write (RFC 2920)', async () => {
    const f = await fake({ extensions: ['PIPELINING'], holdRepliesUntilData: true });
    const c = await connectTo(f);
    const r = await c.send(request(msg('hi\n'), ['a@example.test', 'b@example.test']));
    assert.deepEqual(
      r.recipients.map((o) => o.status),
      ['delivered', 'delivered'],
    );
    const s = f.sessions[0];
    assert.deepEqual(s.pipelined, [
      'MAIL FROM:<sender@client.test>',
      'RCPT TO:<a@example.test>',
      'RCPT TO:<b@example.test>',
    ]);
    assert.equal(r.recipients[0].reply?.code, 250);
    assert.match(r.recipients[0].diagnostic, /localhost\[127\.0\.0\.1\] said: 250 2\.0\.0 queued/);
    await c.quit();
  });

  test('no PIPELINING: one command, one reply; dot-stuffing both ways', async () => {
    const f = await fake({ extensions: ['8BITMIME'] });
    const c = await connectTo(f);
    const m = msg('.\n..two\n.x\nend without dot\n');
    const r = await c.send(request(m, ['a@example.test', 'b@example.test']));
    assert.deepEqual(
      r.recipients.map((o) => o.status),
      ['delivered', 'delivered'],
    );
    const s = f.sessions[0];
    assert.deepEqual(s.pipelined, []);
    assert.ok(s.messages[0].equals(m), s.messages[0].toString());
    assert.match(s.rawData[0].toString('latin1'), /\r\n\.\.\r\n\.\.\.two\r\n\.\.x\r\n/);
    await c.quit();
    assert.equal(s.commands.at(-1), 'QUIT');
  });

  test('no 8BITMIME: 8-bit text converted to quoted-printable, same text (RFC 6152 §3)', async () => {
    const f = await fake({ extensions: ['PIPELINING'] });
    const c = await connectTo(f);
    const text = 'Grüße aus Köln, ça va?\n.une ligne\n';
    const m = msg(text, 'Subject: 8bit\nContent-Type: text/plain; charset=utf-8\n');
    const r = await c.send(request(m));
    assert.equal(r.recipients[0].status, 'delivered');
    const got = f.sessions[0].messages[0];
    assert.equal(has8bit(got), false);
    assert.ok(!f.sessions[0].commands.some((l) => l.includes('BODY=')));
    const root = parseMessage(got).root;
    assert.equal(root.encoding, 'QUOTED-PRINTABLE');
    const body = decodeTransfer(got.subarray(root.bodyStart, root.bodyEnd), root.encoding);
    assert.equal(body.toString('utf8'), text.replace(/\n/g, '\r\n'));
    await c.quit();
  });

  test('finalize (DKIM signing) sees the converted bytes; its result goes unchanged', async () => {
    const f = await fake({ extensions: ['PIPELINING', 'SIZE 100000'] });
    const c = await connectTo(f);
    const m = msg('Grüße\n', 'Subject: 8bit\nContent-Type: text/plain; charset=utf-8\n');
    const seen: Buffer[] = [];
    const signed = (b: Buffer) => Buffer.concat([Buffer.from('DKIM-Signature: v=1; b=x\r\n'), b]);
    const r = await c.send({
      ...request(m),
      finalize: async (b) => {
        seen.push(b);
        return signed(b);
      },
    });
    assert.equal(r.recipients[0].status, 'delivered');
    assert.equal(seen.length, 1);
    assert.equal(has8bit(seen[0]), false);
    assert.ok(f.sessions[0].messages[0].equals(signed(seen[0])));
    // SIZE= declares the signed size.
    assert.ok(
      f.sessions[0].commands.includes(
        `MAIL FROM:<sender@client.test> SIZE=${signed(seen[0]).length}`,
      ),
    );
    // A signer that fails defers the message; nothing is sent.
    const bad = await c.send({
      ...request(m),
      finalize: async () => {
        throw new Error('no key');
      },
    });
    assert.equal(bad.recipients[0].status, 'deferred');
    assert.match(bad.recipients[0].diagnostic, /^4\.7\.0 .*no key/);
    assert.equal(f.sessions[0].commands.filter((l) => l.startsWith('MAIL')).length, 1);
    await c.quit();
  });

  test('8BITMIME: BODY=8BITMIME and the bytes as they are', async () => {
    const f = await fake({ extensions: ['8BITMIME'] });
    const c = await connectTo(f);
    const m = msg('Grüße\n');
    await c.send(request(m));
    assert.ok(f.sessions[0].commands.includes('MAIL FROM:<sender@client.test> BODY=8BITMIME'));
    assert.ok(f.sessions[0].messages[0].equals(m));
    await c.quit();
  });

  test('no 8BITMIME and 8-bit in a part header: failed 5.6.3, nothing sent', async () => {
    const f = await fake({ extensions: [] });
    const c = await connectTo(f);
    const m = msg(
      '--b\nContent-Type: text/plain; name="ü.txt"\n\nbody ü\n--b--\n',
      'Content-Type: multipart/mixed; boundary=b\n',
    );
    const r = await c.send(request(m));
    assert.equal(r.recipients[0].status, 'failed');
    assert.match(r.recipients[0].diagnostic, /^5\.6\.3 .*8BITMIME.*header field/);
    assert.ok(!f.sessions[0].commands.some((l) => l.startsWith('MAIL')));
    assert.equal(c.usable, true);
    await c.quit();
  });

  test('SIZE below the message: every recipient failed 5.3.4 before MAIL (RFC 1870)', async () => {
    const f = await fake({ extensions: ['SIZE 200'] });
    const c = await connectTo(f);
    const r = await c.send(request(msg('x'.repeat(300)), ['a@example.test', 'b@example.test']));
    for (const o of r.recipients) {
      assert.equal(o.status, 'failed');
      assert.equal(o.reply, null);
      assert.match(o.diagnostic, /^5\.3\.4 .*more than the 200/);
    }
    assert.ok(!f.sessions[0].commands.some((l) => l.startsWith('MAIL')));
    // The connection goes on: a small message still goes, with SIZE= declared.
    const small = msg('ok\n');
    const r2 = await c.send(request(small));
    assert.equal(r2.recipients[0].status, 'delivered');
    assert.ok(
      f.sessions[0].commands.includes(`MAIL FROM:<sender@client.test> SIZE=${small.length}`),
    );
    await c.quit();
  });

  test('SMTPUTF8 needed but not offered: failed 5.6.7 before MAIL (RFC 6531)', async () => {
    const f = await fake({ extensions: ['8BITMIME'] });
    const c = await connectTo(f);
    const r = await c.send(request(msg('hi\n'), ['jörg@example.test']));
    assert.equal(r.recipients[0].status, 'failed');
    assert.match(r.recipients[0].diagnostic, /^5\.6\.7 .*SMTPUTF8/);
    const h = await c.send(request(msg('hi\n', 'Subject: Grüße\n')));
    assert.match(h.recipients[0].diagnostic, /^5\.6\.7 /);
    assert.ok(!f.sessions[0].commands.some((l) => l.startsWith('MAIL')));
    await c.quit();
  });

  test('SMTPUTF8 offered: MAIL carries SMTPUTF8 and BODY=8BITMIME', async () => {
    const f = await fake({ extensions: ['8BITMIME', 'SMTPUTF8'] });
    const c = await connectTo(f);
    const r = await c.send(request(msg('hi ü\n', 'Subject: Grüße\n'), ['jörg@example.test']));
    assert.equal(r.recipients[0].status, 'delivered');
    assert.ok(
      f.sessions[0].commands.includes('MAIL FROM:<sender@client.test> BODY=8BITMIME SMTPUTF8'),
    );
    assert.ok(f.sessions[0].commands.includes('RCPT TO:<jörg@example.test>'));
    await c.quit();
  });

  test('CHUNKING: BDAT in chunks, bytes as they are (RFC 3030)', async () => {
    const f = await fake({ extensions: ['CHUNKING', 'PIPELINING'] });
    const c = await connectTo(f);
    const big = msg(`.\n${'line of text\n'.repeat(200_000)}.\nlast\n`);
    const r = await c.send(request(big));
    assert.equal(r.recipients[0].status, 'delivered');
    const s = f.sessions[0];
    assert.ok(s.messages[0].equals(big));
    const bdat = s.commands.filter((l) => l.startsWith('BDAT'));
    assert.equal(bdat.length, Math.ceil(big.length / (1024 * 1024)));
    assert.match(bdat.at(-1)!, /^BDAT \d+ LAST$/);
    assert.ok(!s.commands.includes('DATA'));
    await c.quit();
  });

  test('PIPELINING and CHUNKING: MAIL, the RCPTs and BDAT LAST in one write', async () => {
    const f = await fake({ extensions: ['PIPELINING', 'CHUNKING'], holdRepliesUntilData: true });
    const c = await connectTo(f);
    const m = msg('small\n.\n');
    const r = await c.send(request(m, ['a@example.test', 'b@example.test']));
    assert.deepEqual(
      r.recipients.map((o) => o.status),
      ['delivered', 'delivered'],
    );
    const s = f.sessions[0];
    assert.deepEqual(s.pipelined, [
      'MAIL FROM:<sender@client.test>',
      'RCPT TO:<a@example.test>',
      'RCPT TO:<b@example.test>',
      `BDAT ${m.length} LAST`,
    ]);
    assert.ok(s.messages[0].equals(m));
    await c.quit();
  });

  test('DSN offered: NOTIFY and ORCPT per RCPT, RET and ENVID on MAIL (RFC 3461)', async () => {
    const f = await fake({ extensions: ['DSN'] });
    const c = await connectTo(f);
    const req: SendRequest = {
      sender: 'sender@client.test',
      message: msg('hi\n'),
      envid: 'id+1=x',
      ret: 'HDRS',
      recipients: [
        {
          address: 'a@example.test',
          notify: ['SUCCESS', 'FAILURE'],
          orcpt: 'rfc822;A+b@example.test',
        },
        { address: 'b@example.test', notify: 'NEVER' },
      ],
    };
    await c.send(req);
    const cmds = f.sessions[0].commands;
    assert.ok(
      cmds.includes('MAIL FROM:<sender@client.test> RET=HDRS ENVID=id+2B1+3Dx'),
      cmds.join('|'),
    );
    assert.ok(
      cmds.includes(
        'RCPT TO:<a@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;A+2Bb@example.test',
      ),
    );
    assert.ok(cmds.includes('RCPT TO:<b@example.test> NOTIFY=NEVER'));
    await c.quit();
    // Without DSN on offer, none of them is sent.
    const g = await fake({ extensions: [] });
    const d = await connectTo(g);
    await d.send({
      ...req,
      recipients: [{ address: 'a@example.test', notify: ['DELAY'], orcpt: 'rfc822;a@x' }],
    });
    assert.ok(g.sessions[0].commands.includes('MAIL FROM:<sender@client.test>'));
    assert.ok(g.sessions[0].commands.includes('RCPT TO:<a@example.test>'));
    await d.quit();
  });

  test('EHLO refused: HELO, and plain SMTP', async () => {
    const f = await fake({ noEhlo: true });
    const c = await connectTo(f);
    assert.equal(c.extensions.size, 0);
    const r = await c.send(request(msg('hi\n')));
    assert.equal(r.recipients[0].status, 'delivered');
    assert.deepEqual(f.sessions[0].commands.slice(0, 2), ['EHLO client.test', 'HELO client.test']);
    await c.quit();
  });
});

describe('SMTP client: the next message behind the last (RFC 2920 §3.1)', () => {
  /** Sends `a`, and `b` on the same connection as soon as the connection says it may. */
  async function twoInARow(c: SmtpClientConnection, a: SendRequest, b: SendRequest) {
    const early: boolean[] = [];
    let second: Promise<SendResult> | undefined;
    const first = await c.send(a, (e) => {
      early.push(e);
      second = c.send(b);
    });
    assert.ok(second, 'the connection was freed');
    return { first, second: await second, early };
  }

  test('PIPELINING: the next MAIL, RCPT and DATA follow the message before its reply', async () => {
    // The server answers the first end of data only once the next command has come in.
    const f = await fake({ extensions: ['PIPELINING'], holdEndOfData: 1 });
    const c = await connectTo(f);
    const m1 = msg('one\n.dot\n');
    const m2 = msg('two\n');
    const r = await twoInARow(c, request(m1), request(m2, ['x@example.test']));
    assert.deepEqual(r.early, [true], 'freed with the message on the wire, before its reply');
    assert.equal(r.first.recipients[0].status, 'delivered');
    assert.equal(r.first.recipients[0].reply?.code, 250);
    assert.equal(r.second.recipients[0].status, 'delivered');
    const s = f.sessions[0];
    assert.deepEqual(s.commands.slice(1), [
      'MAIL FROM:<sender@client.test>',
      'RCPT TO:<rcpt@example.test>',
      'DATA',
      // The first one's reply is not known when the next group goes: RSET leads it.
      'RSET',
      'MAIL FROM:<sender@client.test>',
      'RCPT TO:<x@example.test>',
      'DATA',
    ]);
    assert.ok(s.messages[0].equals(m1) && s.messages[1].equals(m2));
    await c.quit();
    assert.equal(s.commands.at(-1), 'QUIT');
  });

  test('each message is decided by its own reply: 554 to the first, 250 to the next', async () => {
    let ends = 0;
    const f = await fake({
      extensions: ['PIPELINING'],
      holdEndOfData: 1,
      answer: (cmd) => (cmd === '<end of data>' && ends++ === 0 ? '554 5.7.1 rejected' : undefined),
    });
    const c = await connectTo(f);
    const r = await twoInARow(c, request(msg('one\n')), request(msg('two\n')));
    assert.equal(r.first.recipients[0].status, 'failed');
    assert.equal(r.first.recipients[0].reply?.code, 554);
    assert.equal(r.second.recipients[0].status, 'delivered');
    await c.quit();
  });

  test('every RCPT of the first refused, BDAT pipelined: RSET leads the next group', async () => {
    // A server may still hold the first transaction (its MAIL) after refusing the chunk: the
    // next message must not be taken into it (it would go with the first one's sender).
    let rcpts = 0;
    const f = await fake({
      extensions: ['PIPELINING', 'CHUNKING'],
      answer: (cmd) =>
        cmd.startsWith('RCPT') && rcpts++ === 0 ? '550 5.1.1 no such user' : undefined,
    });
    const c = await connectTo(f);
    const second = { ...request(msg('two\n')), sender: 'other@client.test' };
    const r = await twoInARow(c, request(msg('one\n')), second);
    assert.equal(r.first.recipients[0].status, 'failed');
    assert.equal(r.second.recipients[0].status, 'delivered');
    const cmds = f.sessions[0].commands;
    const next = cmds.indexOf('MAIL FROM:<other@client.test>');
    assert.ok(next > 0 && cmds[next - 1] === 'RSET', cmds.join(' | '));
    await c.quit();
  });

  test('421 to the first: the next one, already pipelined, is deferred without a reply', async () => {
    const f = await fake({
      extensions: ['PIPELINING'],
      holdEndOfData: 1,
      answer: (cmd) =>
        cmd === '<end of data>' ? { raw: '421 4.3.2 shutting down\r\n', close: true } : undefined,
    });
    const c = await connectTo(f);
    const r = await twoInARow(c, request(msg('one\n')), request(msg('two\n')));
    assert.equal(r.first.recipients[0].status, 'deferred');
    assert.equal(r.first.recipients[0].reply?.code, 421);
    assert.equal(r.second.recipients[0].status, 'deferred');
    assert.equal(r.second.recipients[0].reply, null, 'nothing was decided: tried again');
    assert.equal(c.usable, false);
  });

  test('the next message in the same turn: its commands leave with the last one, one segment', async () => {
    const f = await fake({ extensions: ['PIPELINING'] });
    const c = await connectTo(f);
    const r = await twoInARow(c, request(msg('one\n')), request(msg('two\n')));
    assert.equal(r.second.recipients[0].status, 'delivered');
    const s = f.sessions[0];
    const mail = Buffer.byteLength('MAIL FROM:<sender@client.test>\r\n');
    assert.ok(
      s.afterData[0]! >= mail,
      `the next MAIL came with the end of data (${s.afterData[0]})`,
    );
    await c.quit();
  });

  test('the next message later: it waits for the reply (no reply held behind a lone segment)', async () => {
    const f = await fake({ extensions: ['PIPELINING'] });
    const c = await connectTo(f);
    let second: Promise<SendResult> | undefined;
    const first = await c.send(request(msg('one\n')), (early) => {
      assert.equal(early, true);
      // A turn of the event loop later: the message has left on its own.
      setImmediate(() => {
        second = c.send(request(msg('two\n')));
      });
    });
    assert.equal(first.recipients[0].status, 'delivered');
    await eventually(() => second !== undefined, 'the second send started', 10_000);
    assert.equal((await second!).recipients[0].status, 'delivered');
    assert.deepEqual(f.sessions[0].afterData, [0, 0]);
    await c.quit();
  });

  test('no PIPELINING: the connection is freed only after the reply', async () => {
    const f = await fake({ extensions: [] });
    const c = await connectTo(f);
    const r = await twoInARow(c, request(msg('one\n')), request(msg('two\n')));
    assert.deepEqual(r.early, [false]);
    assert.equal(r.second.recipients[0].status, 'delivered');
    assert.equal(f.sessions[0].pipelined.length, 0, 'no command before the previous reply');
    await c.quit();
  });
});

describe('SMTP client: refusals', () => {
  test('451 on one RCPT, 250 on the other: one deferred, one delivered', async () => {
    const f = await fake({
      extensions: ['PIPELINING'],
      answer: (cmd) => (cmd === 'RCPT TO:<a@example.test>' ? '451 4.3.0 try later' : undefined),
    });
    const c = await connectTo(f);
    const r = await c.send(request(msg('hi\n'), ['a@example.test', 'b@example.test']));
    assert.equal(r.recipients[0].status, 'deferred');
    assert.deepEqual(r.recipients[0].reply, { code: 451, enhanced: '4.3.0', text: 'try later' });
    assert.match(r.recipients[0].diagnostic, /said: 451 4\.3\.0 try later \(in reply to RCPT TO\)/);
    assert.equal(r.recipients[1].status, 'delivered');
    assert.equal(r.recipients[1].reply?.code, 250);
    assert.equal(f.sessions[0].messages.length, 1);
    await c.quit();
  });

  test('550 on one RCPT: failed with the remote reply', async () => {
    const f = await fake({
      answer: (cmd) =>
        cmd === 'RCPT TO:<nobody@example.test>'
          ? '550-5.1.1 no such user\n550 5.1.1 here'
          : undefined,
    });
    const c = await connectTo(f);
    const r = await c.send(request(msg('hi\n'), ['nobody@example.test', 'b@example.test']));
    assert.equal(r.recipients[0].status, 'failed');
    assert.deepEqual(r.recipients[0].reply, {
      code: 550,
      enhanced: '5.1.1',
      text: 'no such user here',
    });
    assert.equal(r.recipients[1].status, 'delivered');
    await c.quit();
  });

  test('every RCPT refused with pipelining: no message, RSET before the next one', async () => {
    const f = await fake({
      extensions: ['PIPELINING'],
      answer: (cmd) =>
        cmd.startsWith('RCPT')
          ? '550 5.1.1 no'
          : cmd === 'DATA'
            ? '554 5.5.1 no valid recipients'
            : undefined,
    });
    const c = await connectTo(f);
    const r = await c.send(request(msg('hi\n')));
    assert.equal(r.recipients[0].status, 'failed');
    assert.equal(c.usable, true);
    await c.send(request(msg('again\n')));
    const cmds = f.sessions[0].commands;
    assert.equal(cmds.filter((l) => l === 'RSET').length, 1);
    assert.ok(cmds.indexOf('RSET') < cmds.lastIndexOf('MAIL FROM:<sender@client.test>'));
    await c.quit();
  });

  test('every RCPT refused, BDAT pipelined: the chunk is refused too, RCPT replies kept', async () => {
    const f = await fake({
      extensions: ['PIPELINING', 'CHUNKING'],
      answer: (cmd) =>
        cmd.startsWith('RCPT')
          ? '550 5.1.1 no'
          : cmd === '<end of data>'
            ? '554 5.5.1 no valid recipients'
            : undefined,
    });
    const c = await connectTo(f);
    const r = await c.send(request(msg('hi\n')));
    assert.equal(r.recipients[0].status, 'failed');
    assert.match(r.recipients[0].diagnostic, /550 5\.1\.1 no \(in reply to RCPT TO\)/);
    assert.equal(c.usable, true);
    await c.quit();
  });

  test('MAIL refused: every recipient gets its reply', async () => {
    const f = await fake({
      answer: (cmd) => (cmd.startsWith('MAIL') ? '553 5.7.1 sender rejected' : undefined),
    });
    const c = await connectTo(f);
    const r = await c.send(request(msg('hi\n'), ['a@example.test', 'b@example.test']));
    for (const o of r.recipients) {
      assert.equal(o.status, 'failed');
      assert.match(o.diagnostic, /553 5\.7\.1 sender rejected \(in reply to MAIL FROM\)/);
    }
    assert.ok(!f.sessions[0].commands.some((l) => l.startsWith('RCPT')));
    await c.quit();
  });

  test('452 after DATA: every recipient deferred with that reply', async () => {
    const f = await fake({
      extensions: ['PIPELINING'],
      answer: (cmd) => (cmd === '<end of data>' ? '452 4.3.1 out of storage' : undefined),
    });
    const c = await connectTo(f);
    const r = await c.send(request(msg('hi\n'), ['a@example.test', 'b@example.test']));
    for (const o of r.recipients) {
      assert.equal(o.status, 'deferred');
      assert.equal(o.reply?.code, 452);
      assert.match(o.diagnostic, /in reply to end of data/);
    }
    await c.quit();
  });

  test('421 on RCPT: deferred and the connection is not reused', async () => {
    const f = await fake({
      answer: (cmd) =>
        cmd.startsWith('RCPT') ? { raw: '421 4.3.2 shutting down\r\n', close: true } : undefined,
    });
    const c = await connectTo(f);
    const r = await c.send(request(msg('hi\n'), ['a@example.test', 'b@example.test']));
    assert.deepEqual(
      r.recipients.map((o) => o.status),
      ['deferred', 'deferred'],
    );
    assert.equal(r.recipients[0].reply?.code, 421);
    assert.equal(c.usable, false);
    const again = await c.send(request(msg('hi\n')));
    assert.equal(again.recipients[0].status, 'deferred');
  });

  test('greeting 554: refused, permanent', async () => {
    const f = await fake({ greeting: '554 5.7.1 no service for you' });
    const e = await rejection(connectTo(f));
    assert.equal(e.kind, 'refused');
    assert.equal(e.permanent, true);
    assert.equal(e.reply?.code, 554);
    assert.deepEqual(e.info, { host: 'localhost', ip: '127.0.0.1', port: f.port, tls: null });
  });

  test('the first address refuses the connection: the next one is tried', async () => {
    const f = await fake({});
    const c = await connectTo(f, { addresses: ['127.0.0.2', '127.0.0.1'] });
    assert.equal(c.info.ip, '127.0.0.1');
    await c.quit();
    const e = await rejection(connectTo(f, { addresses: ['127.0.0.2'] }));
    assert.equal(e.kind, 'connect');
    const none = await rejection(connectTo(f, { addresses: [] }));
    assert.match(none.message, /no address/);
  });
});

describe('SMTP client: faults end the attempt within their timeout', () => {
  test('a reply that stops mid-way: deferred after the command timeout, connection closed', async () => {
    const f = await fake({
      answer: (cmd) => (cmd.startsWith('RCPT') ? { raw: '250-2.1.5 first line\r\n' } : undefined),
    });
    const c = await connectTo(f, {}, SHORT);
    const r = await c.send(request(msg('hi\n')));
    assert.equal(r.recipients[0].status, 'deferred');
    assert.equal(r.recipients[0].reply, null);
    assert.match(r.recipients[0].diagnostic, /^4\.4\.2 .*no reply to RCPT TO within 2000 ms/);
    assert.equal(c.usable, false);
    await f.sessions[0].closed;
  });

  test('no greeting at all: connect fails with a timeout', async () => {
    const f = await fake({ answer: (cmd) => (cmd === '<greeting>' ? { hang: true } : undefined) });
    const e = await rejection(
      connectTo(f, {}, { ...OPTS, timeouts: { ...OPTS.timeouts, greeting: 300 } }),
    );
    assert.equal(e.kind, 'timeout');
    await f.sessions[0].closed;
  });

  test('a 2 MB reply line: cut off at the line limit, deferred, connection closed', async () => {
    const f = await fake({
      answer: (cmd) =>
        cmd.startsWith('MAIL')
          ? { raw: `250-${'x'.repeat(2 * 1024 * 1024)}\r\n250 ok\r\n` }
          : undefined,
    });
    const c = await connectTo(f);
    const r = await c.send(request(msg('hi\n')));
    assert.equal(r.recipients[0].status, 'deferred');
    assert.match(r.recipients[0].diagnostic, /^4\.5\.0 .*longer than 4096 octets/);
    assert.equal(c.usable, false);
    await f.sessions[0].closed;
  });

  test('the remote closes during DATA: deferred, no crash', async () => {
    const f = await fake({ extensions: ['PIPELINING', '8BITMIME'], closeAfterDataBytes: 1000 });
    const c = await connectTo(f);
    const r = await c.send(
      request(msg('data line\n'.repeat(500_000)), ['a@example.test', 'b@example.test']),
    );
    for (const o of r.recipients) {
      assert.equal(o.status, 'deferred');
      assert.equal(o.reply, null);
      assert.match(o.diagnostic, /^4\.4\.2 /);
    }
    assert.equal(c.usable, false);
  });

  test('no reply to the end of data: deferred (the at-most-one-duplicate window)', async () => {
    const f = await fake({
      answer: (cmd) => (cmd === '<end of data>' ? { hang: true } : undefined),
    });
    const c = await connectTo(f, {}, SHORT);
    const r = await c.send(request(msg('hi\n')));
    assert.equal(r.recipients[0].status, 'deferred');
    assert.match(r.recipients[0].diagnostic, /no reply to end of data/);
  });
});

describe('SMTP client: TLS and AUTH', () => {
  let pem: SelfSignedPem;
  before(async () => {
    pem = await localhostCert();
  });

  test('required, certificate does not verify: deferral, nothing sent in clear', async () => {
    const f = await fake({ extensions: ['STARTTLS', 'PIPELINING'], tls: pem });
    const e = await rejection(connectTo(f, { tls: 'required' }));
    assert.equal(e.kind, 'tls-required');
    assert.equal(e.permanent, false);
    assert.equal(e.retryInClear, false);
    assert.match(e.message, /does not verify/);
    await f.sessions[0].closed;
    assert.deepEqual(f.sessions[0].clearCommands, ['EHLO client.test', 'STARTTLS']);
    assert.ok(!f.sessions[0].commands.some((l) => l.startsWith('MAIL')));
    // Trusted, but for another name: refused as well.
    const g = await rejection(
      connectTo(f, { tls: 'required', name: 'mx.other.test' }, { ...OPTS, ca: pem.cert }),
    );
    assert.equal(g.kind, 'tls-required');
    assert.match(g.message, /mx\.other\.test/);
  });

  test('required, STARTTLS not offered: deferral, nothing sent', async () => {
    const f = await fake({ extensions: ['PIPELINING'] });
    const e = await rejection(connectTo(f, { tls: 'required' }));
    assert.equal(e.kind, 'tls-required');
    assert.match(e.message, /does not offer STARTTLS/);
    await f.sessions[0].closed;
    assert.deepEqual(f.sessions[0].commands, ['EHLO client.test']);
  });

  test('required, certificate verifies: EHLO again over TLS, delivered', async () => {
    const f = await fake({ extensions: ['STARTTLS', '8BITMIME'], tls: pem });
    const c = await connectTo(f, { tls: 'required' }, { ...OPTS, ca: pem.cert });
    assert.match(c.info.tls ?? '', /^TLSv1\.[23]$/);
    const r = await c.send(request(msg('secret\n')));
    assert.equal(r.recipients[0].status, 'delivered');
    assert.equal(r.info.tls, c.info.tls);
    const s = f.sessions[0];
    assert.deepEqual(s.clearCommands, ['EHLO client.test', 'STARTTLS']);
    assert.equal(s.commands[2], 'EHLO client.test');
    await c.quit();
  });

  test('opportunistic: a failed handshake says retryInClear; in clear it goes', async () => {
    const f = await fake({ extensions: ['STARTTLS'], tls: pem, brokenTls: true });
    const e = await rejection(connectTo(f));
    assert.equal(e.kind, 'tls');
    assert.equal(e.retryInClear, true);
    const c = await connectTo(f, {}, { ...OPTS, noStartTls: true });
    assert.equal(c.info.tls, null);
    assert.equal((await c.send(request(msg('hi\n')))).recipients[0].status, 'delivered');
    await c.quit();
    // Under 'required' the same failure is a deferral, never a retry in clear.
    const r = await rejection(connectTo(f, { tls: 'required' }, { ...OPTS, noStartTls: true }));
    assert.equal(r.kind, 'tls-required');
    assert.equal(r.retryInClear, false);
  });

  test('a reply injected after the 220 to STARTTLS is refused (CVE-2011-0411)', async () => {
    const f = await fake({
      extensions: ['STARTTLS'],
      tls: pem,
      answer: (cmd) => (cmd === 'STARTTLS' ? { raw: '220 go\r\n250-injected' } : undefined),
    });
    const e = await rejection(connectTo(f));
    assert.equal(e.kind, 'protocol');
    assert.match(e.message, /after its 220 to STARTTLS/);
  });

  test('implicit TLS (RFC 8314)', async () => {
    const f = await fake({ implicitTls: true, tls: pem, extensions: ['8BITMIME'] });
    const c = await connectTo(f, { tls: 'implicit' }, { ...OPTS, ca: pem.cert });
    assert.match(c.info.tls ?? '', /^TLSv1\.[23]$/);
    assert.equal((await c.send(request(msg('hi\n')))).recipients[0].status, 'delivered');
    await c.quit();
    const e = await rejection(connectTo(f, { tls: 'implicit' }));
    assert.equal(e.kind, 'tls-required');
  });

  test('AUTH PLAIN to a smarthost, after STARTTLS', async () => {
    const f = await fake({ extensions: ['STARTTLS', 'AUTH PLAIN LOGIN'], tls: pem });
    const auth = { user: 'relay-user', password: 'p4ss wörd' };
    const c = await connectTo(f, { tls: 'required', auth }, { ...OPTS, ca: pem.cert });
    assert.equal((await c.send(request(msg('hi\n')))).recipients[0].status, 'delivered');
    const s = f.sessions[0];
    const line = s.commands.find((l) => l.startsWith('AUTH '))!;
    assert.ok(!s.clearCommands.includes(line));
    const [, mech, ir] = line.split(' ');
    assert.equal(mech, 'PLAIN');
    assert.equal(Buffer.from(ir, 'base64').toString('utf8'), '\0relay-user\0p4ss wörd');
    await c.quit();
  });

  test('AUTH LOGIN when PLAIN is not offered; a 535 is an auth error', async () => {
    const f = await fake({
      extensions: ['STARTTLS', 'AUTH LOGIN'],
      tls: pem,
      answer: (cmd, s) => {
        const n = s.commands.length;
        if (cmd === 'AUTH LOGIN') return '334 VXNlcm5hbWU6';
        if (s.commands[n - 2] === 'AUTH LOGIN') return '334 UGFzc3dvcmQ6';
        if (s.commands[n - 3] === 'AUTH LOGIN')
          return cmd === Buffer.from('pw').toString('base64') ? '235 2.7.0 ok' : '535 5.7.8 bad';
        return undefined;
      },
    });
    const c = await connectTo(
      f,
      { auth: { user: 'u', password: 'pw' } },
      { ...OPTS, ca: pem.cert },
    );
    await c.quit();
    assert.deepEqual(f.sessions[0].commands.slice(3, 6), ['AUTH LOGIN', 'dQ==', 'cHc=']);
    const e = await rejection(connectTo(f, { auth: { user: 'u', password: 'wrong' } }));
    assert.equal(e.kind, 'auth');
    assert.equal(e.reply?.code, 535);
  });

  test('AUTH never goes in clear', async () => {
    const f = await fake({ extensions: ['AUTH PLAIN'] });
    const e = await rejection(connectTo(f, { auth: { user: 'u', password: 'p' } }));
    assert.equal(e.kind, 'auth');
    assert.ok(!f.sessions[0].commands.some((l) => l.startsWith('AUTH')));
  });
});
