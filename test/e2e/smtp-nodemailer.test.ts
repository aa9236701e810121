// nodemailer (npm) submitting to the real listeners: STARTTLS with AUTH on submission, implicit
// TLS on submissions, to the MX without auth, and a multipart message with an attachment. The
// message is composed by nodemailer's MailComposer first, so the test knows the exact bytes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import { parseMessage } from '../../src/mime/index.js';
import {
  inbox,
  type SmtpTestServer,
  splitStored,
  startSmtpServer,
} from '../smtp/session/helpers.js';

const USER = 'nora@example.test';
const PASS = 'pw-nora-mailer';
const TO = 'rita@example.test';

function compose(opts: Mail.Options): Promise<Buffer> {
  return new MailComposer(opts).compile().build();
}

describe('nodemailer', () => {
  let t: SmtpTestServer;
  before(async () => {
    t = await startSmtpServer();
    await t.addUser(USER, PASS);
    await t.addUser(TO, 'pw-rita-1');
  });
  after(() => t.stop());

  async function lastFor(address: string): Promise<Buffer> {
    const msgs = await inbox(t, address);
    assert.ok(msgs.length > 0);
    return msgs[msgs.length - 1]!;
  }

  test('submission over STARTTLS with AUTH: stored byte for byte', async () => {
    const raw = await compose({
      from: USER,
      to: TO,
      subject: 'nodemailer starttls',
      // CRLF already: nodemailer turns a bare LF into CRLF on the wire, so these are the bytes
      // it sends (and the lone dot tests its dot-stuffing against our unstuffing).
      text: 'Plain text body.\r\n.\r\nA line with only a dot above.\r\n',
    });
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port('submission'),
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASS },
    });
    const info = await transport.sendMail({ envelope: { from: USER, to: [TO] }, raw });
    transport.close();
    assert.deepEqual(info.accepted, [TO]);
    assert.match(info.response, /^250 2\.6\.0 /);
    const parts = splitStored(await lastFor(TO), { mx: false });
    assert.equal(parts.returnPath, `Return-Path: <${USER}>\r\n`);
    assert.match(
      parts.received,
      /^Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby localhost \(Letterbox\) with ESMTPSA id /,
    );
    assert.equal(parts.rest.toString('latin1'), raw.toString('latin1'));
    assert.ok(parts.rest.equals(raw));
  });

  test('submissions over implicit TLS: a multipart message with an attachment', async () => {
    const attachment = randomBytes(3000);
    const raw = await compose({
      from: USER,
      to: TO,
      subject: 'nodemailer attachment ✓',
      text: 'See the attachment.',
      html: '<p>See the <b>attachment</b>.</p>',
      attachments: [{ filename: 'données.bin', content: attachment }],
    });
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port('submissions'),
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASS },
    });
    const info = await transport.sendMail({ envelope: { from: USER, to: [TO] }, raw });
    transport.close();
    assert.deepEqual(info.accepted, [TO]);
    const stored = await lastFor(TO);
    const parts = splitStored(stored, { mx: false });
    assert.ok(parts.rest.equals(raw));
    // The MIME structure survived: the parser sees the parts, and the attachment is intact.
    assert.ok(parseMessage(stored).root, 'the stored message parses');
    const body = parts.rest.toString('latin1');
    assert.match(body, /multipart\/mixed/);
    const encoded = attachment.toString('base64');
    assert.ok(body.replace(/\r\n/g, '').includes(encoded), 'attachment bytes are intact');
  });

  test('MX without auth, nodemailer composing itself: headers and body arrive', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port('smtp'),
      secure: false,
      ignoreTLS: true,
      name: 'mailer.sender.test',
    });
    const info = await transport.sendMail({
      from: 'news@sender.test',
      to: TO,
      subject: 'nodemailer mx',
      text: 'Hello from the MX path.',
    });
    transport.close();
    const parts = splitStored(await lastFor(TO), { mx: true });
    assert.equal(parts.returnPath, 'Return-Path: <news@sender.test>\r\n');
    assert.match(parts.received, /^Received: from mailer\.sender\.test /);
    const rest = parts.rest.toString('latin1');
    assert.ok(rest.includes(`Message-ID: ${info.messageId}\r\n`));
    assert.ok(rest.includes('Subject: nodemailer mx\r\n'));
    // nodemailer ends the body without a line break; the CRLF before the final dot is kept.
    assert.ok(rest.endsWith('\r\n\r\nHello from the MX path.\r\n'), JSON.stringify(rest));
  });

  test('submission refuses a From that is not the account (550 5.7.1, RFC 6409 §6.3)', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port('submission'),
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASS },
    });
    await assert.rejects(
      transport.sendMail({
        envelope: { from: USER, to: [TO] },
        from: 'ceo@example.test',
        to: TO,
        text: 'x',
      }),
      (err: Error & { responseCode?: number; response?: string }) =>
        err.responseCode === 550 && /5\.7\.1/.test(err.response ?? ''),
    );
    transport.close();
  });
});
