// Python's smtplib against the real listeners: a plain MX send, and submission with
// starttls() + login(). The script reads the message bytes from stdin and sends them with
// sendmail(), which dot-stuffs; the stored message must end with exactly those bytes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  inbox,
  message,
  type SmtpTestServer,
  splitStored,
  startSmtpServer,
} from '../smtp/session/helpers.js';
import { requireTool, run } from './smtp-clients.js';

const USER = 'pat@example.test';
const PASS = 'pw-pat-python';
const TO = 'rita@example.test';

// argv: port, mode (mx | submission), sender, recipient, user, password. Prints the reply to
// the end of data as "CODE TEXT"; exits 2 with the refusal on an SMTP error.
const SCRIPT = `
import smtplib, ssl, sys
port, mode, sender, rcpt, user, password = sys.argv[1:7]
data = sys.stdin.buffer.read()
try:
    with smtplib.SMTP('127.0.0.1', int(port), local_hostname='py.client.test', timeout=10) as s:
        s.ehlo()
        if mode == 'submission':
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s.starttls(context=ctx)
            s.ehlo()
            s.login(user, password)
        s.mail(sender)
        code, resp = s.rcpt(rcpt)
        if code != 250:
            print(code, resp.decode()); sys.exit(2)
        code, resp = s.data(data)
        print(code, resp.decode())
        sys.exit(0 if code == 250 else 2)
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode()); sys.exit(2)
`;

describe('Python smtplib', () => {
  let t: SmtpTestServer;
  before(async () => {
    requireTool('python3', 'apt-get install python3');
    t = await startSmtpServer();
    await t.addUser(USER, PASS);
    await t.addUser(TO, 'pw-rita-1');
  });
  after(() => t.stop());

  const py = (port: number, mode: string, sender: string, data: string, password = PASS) =>
    run('python3', ['-c', SCRIPT, String(port), mode, sender, TO, USER, password], data);

  async function last(): Promise<Buffer> {
    const msgs = await inbox(t, TO);
    return msgs[msgs.length - 1]!;
  }

  test('MX send: stored byte for byte after the trace headers', async () => {
    const sent = message('bob@sender.test', TO, 'python mx', 'Line one.\r\n.starts with a dot\r\n');
    const r = await py(t.port('smtp'), 'mx', 'bob@sender.test', sent);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^250 2\.6\.0 Message accepted/);
    const parts = splitStored(await last(), { mx: true });
    assert.equal(parts.returnPath, 'Return-Path: <bob@sender.test>\r\n');
    assert.match(
      parts.received,
      /^Received: from py\.client\.test \(\[127\.0\.0\.1\]\)\r\n\tby localhost \(Letterbox\) with ESMTP id /,
    );
    assert.ok(parts.rest.equals(Buffer.from(sent)), parts.rest.toString('latin1'));
  });

  test('submission with starttls() and login(): stored byte for byte', async () => {
    const sent = message(USER, TO, 'python submission');
    const r = await py(t.port('submission'), 'submission', USER, sent);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const parts = splitStored(await last(), { mx: false });
    assert.equal(parts.returnPath, `Return-Path: <${USER}>\r\n`);
    assert.match(parts.received, /with ESMTPSA id /);
    assert.ok(parts.rest.equals(Buffer.from(sent)));
  });

  test('submission with a wrong password: 535 5.7.8', async () => {
    const r = await py(t.port('submission'), 'submission', USER, message(USER, TO, 'x'), 'wrong');
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^535 5\.7\.8 /);
  });
});
