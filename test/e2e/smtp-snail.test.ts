// s-nail (Debian) sends through submission with STARTTLS and AUTH PLAIN / LOGIN. s-nail reads
// an empty SASL challenge only as "334 " with its space (RFC 4954 §8), which it once did not
// get (issue 16, item 7). The delivered message is checked in the recipient's INBOX.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { memoryLog } from '../helpers/memory-log.js';
import {
  inbox,
  type SmtpTestServer,
  splitStored,
  startSmtpServer,
} from '../smtp/session/helpers.js';
import { requireTool, run } from './smtp-clients.js';

const USER = 'sam@example.test';
// Characters that must be percent-encoded in the mta URL, to test that path too.
const PASS = 'pw sam/snail:1';

describe('s-nail', () => {
  let t: SmtpTestServer;
  let home: string;
  const logs = memoryLog();
  before(async () => {
    requireTool('s-nail', 'apt-get install s-nail');
    t = await startSmtpServer({ log: logs.log });
    await t.addUser(USER, PASS);
    await t.addUser('rita@example.test', 'pw-rita-1');
    home = await mkdtemp(join(tmpdir(), 'lb-snail-'));
  });
  after(async () => {
    await t.stop();
    await rm(home, { recursive: true, force: true });
  });

  /** Sends one message with s-nail in batch mode; no resource files, no dead.letter. */
  function snail(auth: 'plain' | 'login', subject: string, body: string, password = PASS) {
    const url =
      `smtp://${encodeURIComponent(USER)}:${encodeURIComponent(password)}` +
      `@127.0.0.1:${t.port('submission')}`;
    return run(
      'env',
      [
        `HOME=${home}`,
        'LC_ALL=C',
        's-nail',
        '-:/', // no system or user resource files
        '-v',
        '-Sv15-compat',
        `-Smta=${url}`,
        '-Ssmtp-use-starttls',
        `-Ssmtp-auth=${auth}`,
        // The test server's certificate is self-signed.
        '-Stls-verify=ignore',
        '-Shostname=snail.test',
        `-Sfrom=${USER}`,
        '-Snosave',
        '-Ssendwait',
        '-s',
        subject,
        'rita@example.test',
      ],
      `${body}\n`,
    );
  }

  for (const auth of ['plain', 'login'] as const) {
    test(`STARTTLS + AUTH ${auth.toUpperCase()} delivers`, async () => {
      const subject = `snail ${auth}`;
      const r = await snail(auth, subject, `Hello Rita, by ${auth}.`);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const msgs = await inbox(t, 'rita@example.test');
      const found = msgs.find((m) => m.includes(`Subject: ${subject}\r\n`));
      assert.ok(found, `not delivered; s-nail said:\n${r.stderr}`);
      const parts = splitStored(found, { mx: false });
      assert.match(parts.received, /^Received: from snail\.test \(\[127\.0\.0\.1\]\)/);
      assert.match(parts.received, /with ESMTPSA id /);
      assert.ok(parts.rest.includes(`From: ${USER}\r\n`), parts.rest.toString('latin1'));
      assert.ok(parts.rest.includes(`Hello Rita, by ${auth}.\r\n`));
    });
  }

  test('a wrong password fails with 535 and is logged', async () => {
    const r = await snail('plain', 'snail wrong', 'Never.', 'not-the-password');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /535/);
    assert.ok(
      logs.records.some((x) => x.msg === 'authentication failed' && x.username === USER),
      'failure logged',
    );
    assert.ok(!logs.text().includes('not-the-password'), 'no password in the log');
  });
});
