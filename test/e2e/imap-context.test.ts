// CONTEXT=SEARCH (RFC 5267 §4.3) end to end: a client keeps `UID SEARCH RETURN (UPDATE)` live
// over TCP and sits in IDLE; mail delivered over SMTP and changes made by another client
// (imapflow) reach it as ESEARCH ADDTO / REMOVEFROM without it sending a command.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { last, RawClient } from '../imap/session/client.js';

/** Generous: the machine running the tests may be loaded (the server answers in ms). */
const WAIT = 30_000;

const USER = 'dora@example.test';
const PASS = 'context e2e pw';

describe('CONTEXT=SEARCH over TCP, mail over SMTP, changes by imapflow', () => {
  let ts: TestServer;
  let smtp: ReturnType<typeof nodemailer.createTransport>;
  let flow: ImapFlow;

  before(async () => {
    ts = await startTestServer({
      listeners: ['smtp', 'imap', 'imaps'],
      allowPlaintext: true,
      extraToml:
        '[smtp]\ngreet_delay_ms = 0\nauth_checks_timeout_seconds = 1\n[dns]\nservers = ["127.0.0.1:1"]\n',
    });
    await ts.addUser(USER, PASS);
    smtp = nodemailer.createTransport({
      host: '127.0.0.1',
      port: ts.port('smtp'),
      secure: false,
      ignoreTLS: true,
    });
    flow = new ImapFlow({
      host: '127.0.0.1',
      port: ts.port('imaps'),
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASS },
      logger: false,
    });
    await flow.connect();
    await flow.mailboxOpen('INBOX');
  });
  after(async () => {
    await flow.logout().catch(() => {});
    smtp.close();
    await ts.stop();
  });

  async function send(subject: string): Promise<void> {
    const info = await smtp.sendMail({
      envelope: { from: 'sender@example.net', to: [USER] },
      raw: `From: Sender <sender@example.net>\r\nTo: ${USER}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.net>\r\n\r\nHello.\r\n`,
    });
    assert.match(info.response, /^250 /);
  }

  test('ADDTO on delivery, REMOVEFROM on \\Seen and before EXPUNGE, all pushed in IDLE', async () => {
    const c = await RawClient.connect(ts.port('imap'));
    try {
      assert.match(last(await c.cmd('l', `LOGIN ${USER} "${PASS}"`, WAIT)), /^l OK/);
      assert.match((await c.cmd('cap', 'CAPABILITY', WAIT))[0]!, / CONTEXT=SEARCH/);
      await c.cmd('s', 'SELECT INBOX', WAIT);
      assert.deepEqual(
        await c.cmd('u', 'UID SEARCH RETURN (UPDATE COUNT) UNSEEN SUBJECT report', WAIT),
        ['* ESEARCH (TAG "u") UID COUNT 0', 'u OK UID SEARCH completed'],
      );
      c.write('i IDLE\r\n');
      assert.equal(await c.line(WAIT), '+ idling');

      await send('weekly report');
      // RFC 3501 §7.3.2: RECENT follows EXISTS (this session or imapflow's takes the \Recent).
      const recent = /^\* [0-3] RECENT$/;
      assert.equal(await c.line(WAIT), '* 1 EXISTS');
      assert.match(await c.line(WAIT), recent);
      assert.equal(await c.line(WAIT), '* ESEARCH (TAG "u") UID ADDTO (0 1)');
      await send('lunch');
      assert.equal(await c.line(WAIT), '* 2 EXISTS'); // no ADDTO: it does not match
      assert.match(await c.line(WAIT), recent);
      await send('daily report');
      assert.equal(await c.line(WAIT), '* 3 EXISTS');
      assert.match(await c.line(WAIT), recent);
      assert.equal(await c.line(WAIT), '* ESEARCH (TAG "u") UID ADDTO (0 3)');

      await flow.messageFlagsAdd('1', ['\\Seen'], { uid: true });
      // \Recent too when this session, not imapflow's, took message 1.
      assert.match(await c.line(WAIT), /^\* 1 FETCH \(UID 1 FLAGS \(\\Seen( \\Recent)?\)\)$/);
      assert.equal(await c.line(WAIT), '* ESEARCH (TAG "u") UID REMOVEFROM (0 1)');

      await flow.messageDelete('3', { uid: true });
      // RFC 5267 §4.3.4: the REMOVEFROM first, while sequence numbers are still valid.
      const lines = [await c.line(WAIT), await c.line(WAIT)];
      if (lines[0]!.includes('FETCH')) lines.push(await c.line(WAIT)); // \Deleted, if separate
      const rest = lines.filter((l) => !l.includes('FETCH'));
      assert.deepEqual(rest, ['* ESEARCH (TAG "u") UID REMOVEFROM (0 3)', '* 3 EXPUNGE']);

      c.write('DONE\r\n');
      assert.match(last(await c.tagged('i', WAIT)), /^i OK/);
      assert.deepEqual(await c.cmd('x', 'CANCELUPDATE "u"', WAIT), [
        'x OK CANCELUPDATE completed; no further updates',
      ]);
      assert.match(last(await c.cmd('o', 'LOGOUT', WAIT)), /^o OK/);
    } finally {
      c.close();
    }
  });
});
