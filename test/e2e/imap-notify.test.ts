// NOTIFY (RFC 5465) end to end: mail delivered over SMTP reaches an IMAP client that asked for
// it over TCP, without the client sending a command: a STATUS for its INBOX while another
// mailbox is selected, and EXISTS plus the FETCH MessageNew asked for once INBOX is selected.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { last, RawClient } from '../imap/session/client.js';

const USER = 'alice@example.test';
const PASS = 'notify e2e pw';

describe('NOTIFY over TCP, mail over SMTP', () => {
  let ts: TestServer;
  let smtp: ReturnType<typeof nodemailer.createTransport>;

  before(async () => {
    ts = await startTestServer({
      listeners: ['smtp', 'imap'],
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
  });
  after(async () => {
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

  test('delivery: STATUS for a watched INBOX that is not selected, EXISTS + FETCH once selected', async () => {
    const c = await RawClient.connect(ts.port('imap'));
    try {
      assert.match(last(await c.cmd('l', `LOGIN ${USER} "${PASS}"`)), /^l OK/);
      assert.match((await c.cmd('cap', 'CAPABILITY'))[0], / NOTIFY/);
      await c.cmd('s', 'SELECT Drafts');
      const uv = Number(
        /UIDVALIDITY (\d+)/.exec((await c.cmd('v', 'STATUS INBOX (UIDVALIDITY)'))[0])?.[1],
      );
      assert.deepEqual(
        await c.cmd(
          'n',
          'NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge)) (inboxes (MessageNew MessageExpunge))',
        ),
        [
          `* STATUS INBOX (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ${uv} UNSEEN 0)`,
          'n OK NOTIFY completed',
        ],
      );
      await send('first delivery');
      assert.equal(
        await c.line(10_000),
        `* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${uv} UNSEEN 1)`,
      );
      await c.cmd('s2', 'SELECT INBOX');
      await send('second delivery');
      assert.equal(await c.line(10_000), '* 2 EXISTS');
      // RFC 3501 §7.3.2: the only session with INBOX selected has both messages as \Recent.
      assert.equal(await c.line(), '* 2 RECENT');
      assert.equal(await c.line(), '* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT)] {28}');
      assert.equal(await c.line(), 'Subject: second delivery');
      assert.equal(await c.line(), '');
      assert.equal(await c.line(), ')');
      assert.match(last(await c.cmd('o', 'LOGOUT')), /^o OK/);
    } finally {
      c.close();
    }
  });
});
