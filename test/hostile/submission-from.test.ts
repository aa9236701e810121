// Issue 15 item 8 with a real client: Python's smtplib logs in on the submission port and
// submits every originator variant an attacker could use to send as someone else (a second
// From, `From :`, Sender, no domain, a foreign group member, encoded-words...). Each must be
// refused at the end of the data with a 5xx naming the problem, and nothing delivered.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requireTool, run } from '../e2e/smtp-clients.js';
import { inbox, type SmtpTestServer, startSmtpServer } from '../smtp/session/helpers.js';
import { build, PASS, REFUSED, TO, USER } from '../smtp/session/originator-cases.js';

// argv: port, user, password, sender, recipient. stdin: JSON list of base64 messages. Prints
// one JSON list of "CODE TEXT" replies to the end of data, in order, on one session.
const SCRIPT = `
import base64, json, smtplib, ssl, sys
port, user, password, sender, rcpt = sys.argv[1:6]
msgs = [base64.b64decode(m) for m in json.load(sys.stdin)]
out = []
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP('127.0.0.1', int(port), local_hostname='py.client.test', timeout=20) as s:
    s.starttls(context=ctx)
    s.login(user, password)
    for data in msgs:
        s.mail(sender)
        s.rcpt(rcpt)
        code, resp = s.data(data)
        out.append('%d %s' % (code, resp.decode()))
print(json.dumps(out))
`;

describe('hostile: submission originator fields (Python smtplib)', () => {
  let t: SmtpTestServer;
  before(async () => {
    requireTool('python3', 'apt-get install python3');
    t = await startSmtpServer();
    await t.addUser(USER, PASS);
    await t.addUser(TO, 'pw-rita-1');
  });
  after(() => t.stop());

  test('every variant is refused with a 5xx that names it; a clean message still goes', async () => {
    const cases = REFUSED.map(([name, originator]) => build(`py ${name}`, originator));
    cases.push(build('py clean', [`From: Sam <${USER}>`]));
    const r = await run(
      'python3',
      ['-c', SCRIPT, String(t.port('submission')), USER, PASS, USER, TO],
      JSON.stringify(cases.map((c) => Buffer.from(c, 'utf8').toString('base64'))),
    );
    assert.equal(r.code, 0, r.stderr);
    const replies = JSON.parse(r.stdout) as string[];
    assert.equal(replies.length, cases.length);
    for (const [i, [name, , expected]] of REFUSED.entries()) {
      assert.match(replies[i]!, expected, name);
    }
    assert.match(replies[REFUSED.length]!, /^250 2\.6\.0 /);
    const got = (await inbox(t, TO)).map((m) => m.toString('utf8'));
    assert.deepEqual(
      got.filter((m) => m.includes('Subject: py ')).map((m) => /Subject: (py [^\r]*)/.exec(m)![1]),
      ['py clean'],
    );
  });
});
