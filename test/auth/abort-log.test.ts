// A SASL exchange that ends before a password is checked is logged by every protocol (issue
// 16, item 7: a client failing at a challenge left nothing in the log): a cancel ("*"), a
// response that is not base64, a hang-up at a challenge. Never with what the client sent.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.js';
import { memoryLog } from '../helpers/memory-log.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Sends lines one by one, each after `expect` matched the text received so far. */
async function converse(port: number, steps: Array<[RegExp, string | null]>): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let got = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    got += d;
  });
  socket.on('error', () => {});
  for (const [expect, send] of steps) {
    await eventually(() => expect.test(got), `${expect} in ${JSON.stringify(got)}`, 10_000);
    if (send === null) socket.destroy();
    else socket.write(`${send}\r\n`);
  }
  socket.destroy();
  return got;
}

describe('aborted SASL exchanges are logged (IMAP, POP3)', () => {
  let t: TestServer;
  const logs = memoryLog();
  const logged = (proto: string, msg: string, mechanism: string, answered: number) => () =>
    logs.records.some(
      (r) =>
        r.event === 'auth' &&
        r.proto === proto &&
        r.msg === msg &&
        r.mechanism === mechanism &&
        r.answered === answered,
    );
  before(async () => {
    t = await startTestServer({
      listeners: ['imap', 'pop3'],
      allowPlaintext: true,
      log: logs.log,
      // Sessions in this process, so that their log lines come to this logger.
      extraToml: '[pop3]\nworkers = 0\n',
    });
  });
  after(() => t.stop());

  test('IMAP AUTHENTICATE: cancelled, malformed, closed at a challenge', async () => {
    const got = await converse(t.port('imap'), [
      [/^\* OK/, 'a AUTHENTICATE PLAIN'],
      [/\+ \r\n$/, '*'],
      [/a BAD /, 'b AUTHENTICATE LOGIN'],
      [/\+ VXNlcm5hbWU6\r\n$/, 'c2VjcmV0LXVzZXI='],
      [/\+ UGFzc3dvcmQ6\r\n$/, 'not base64!'],
      [/b BAD /, 'c AUTHENTICATE PLAIN'],
      [/\r\n\+ \r\n$/, null],
    ]);
    assert.match(got, /a BAD Authentication cancelled\r\n/);
    assert.match(got, /b BAD Malformed SASL response\r\n/);
    await eventually(logged('imap', 'authentication aborted by the client', 'PLAIN', 1), 'cancel');
    await eventually(
      logged('imap', 'authentication aborted: response not valid for the mechanism', 'LOGIN', 2),
      'malformed',
    );
    await eventually(
      logged('imap', 'authentication aborted: connection closed at a challenge', 'PLAIN', 0),
      'hang-up',
    );
    assert.ok(!logs.text().includes('c2VjcmV0LXVzZXI='), 'not what the client sent');
  });

  test('POP3 AUTH: cancelled, closed at a challenge', async () => {
    const got = await converse(t.port('pop3'), [
      [/^\+OK/, 'AUTH PLAIN'],
      [/\+ \r\n$/, '*'],
      [/-ERR /, 'AUTH LOGIN'],
      [/\+ VXNlcm5hbWU6\r\n$/, null],
    ]);
    assert.match(got, /-ERR .*Authentication cancelled\r\n/);
    await eventually(logged('pop3', 'authentication aborted by the client', 'PLAIN', 1), 'cancel');
    await eventually(
      logged('pop3', 'authentication aborted: connection closed at a challenge', 'LOGIN', 0),
      'hang-up',
    );
  });
});
