// One mailbox, three protocols: mail delivered over SMTP is read byte for byte over IMAP with
// the BODYSTRUCTURE and ENVELOPE RFC 9051 prescribes (the same the parser gives for the
// stored bytes; the exact strings are pinned in test/imap/fetch), read again over POP3, and a
// POP3 DELE + QUIT reaches an IMAP session in IDLE at once.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { bodyStructureValue } from '../../src/imap/fetch/bodystructure.js';
import { envelopeValue } from '../../src/imap/fetch/envelope.js';
import { serialize } from '../../src/imap/wire/serializer.js';
import { parseMessage } from '../../src/mime/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RawClient } from '../imap/session/client.js';
import { RawPop3 } from '../pop3/client.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/mime/', import.meta.url));
const USER = 'alice@example.test';
const PASS = 'cross protocol pw';

/** imapflow on the cleartext port (the test server allows plaintext login on loopback). */
function imapClient(ts: TestServer): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: ts.port('imap'),
    secure: false,
    doSTARTTLS: false,
    auth: { user: USER, pass: PASS },
    logger: false,
  });
}

describe('SMTP -> IMAP and POP3 on one mailbox', () => {
  let ts: TestServer;
  let fixtures: Array<{ name: string; raw: Buffer }>;

  before(async () => {
    ts = await startTestServer({
      listeners: ['smtp', 'imap', 'pop3'],
      allowPlaintext: true,
      extraToml:
        '[smtp]\ngreet_delay_ms = 0\nauth_checks_timeout_seconds = 1\n[dns]\nservers = ["127.0.0.1:1"]\n',
    });
    await ts.addUser(USER, PASS);
    // lf-only.eml has bare LFs, which the MX refuses by policy (docs/smtp.md); it is
    // covered by the parser's own tests.
    const names = (await readdir(FIXTURES))
      .filter((n) => n.endsWith('.eml') && n !== 'lf-only.eml')
      .sort();
    fixtures = await Promise.all(
      names.map(async (name) => ({ name, raw: await readFile(join(FIXTURES, name)) })),
    );
    const smtp = nodemailer.createTransport({
      host: '127.0.0.1',
      port: ts.port('smtp'),
      secure: false,
      ignoreTLS: true,
    });
    for (const f of fixtures) {
      const info = await smtp.sendMail({
        envelope: { from: 'sender@example.net', to: [USER] },
        raw: f.raw,
      });
      assert.match(info.response, /^250 2\.6\.0/, f.name);
    }
    smtp.close();
  });
  after(async () => {
    await ts.stop();
  });

  test('IMAP: every message byte for byte, with BODYSTRUCTURE and ENVELOPE of its structure', async () => {
    const c = await RawClient.connect(ts.port('imap'));
    try {
      await c.cmd('a1', `LOGIN ${USER} "${PASS}"`);
      const sel = await c.cmd('a2', 'SELECT INBOX');
      assert.ok(
        sel.some((l) => l === `* ${fixtures.length} EXISTS`),
        sel.join('\n'),
      );
      const imap = imapClient(ts);
      await imap.connect();
      await imap.mailboxOpen('INBOX', { readOnly: true });
      for (let i = 0; i < fixtures.length; i++) {
        const f = fixtures[i]!;
        const seq = i + 1;
        const msg = await imap.fetchOne(String(seq), { source: true });
        assert.ok(msg !== false && msg.source, f.name);
        const stored = msg.source;
        // The stored message is the trace headers we added, then exactly what was sent (SMTP
        // ends the data with CRLF: a message that did not end with one gains it, RFC 5321 §4.1.1.4).
        const sent = f.raw.subarray(-2).equals(Buffer.from('\r\n'))
          ? f.raw
          : Buffer.concat([f.raw, Buffer.from('\r\n')]);
        assert.ok(stored.subarray(stored.length - sent.length).equals(sent), `${f.name}: bytes`);
        assert.match(
          stored.toString('latin1'),
          /^Return-Path: <sender@example\.net>\r\nReceived: from /,
        );
        const parsed = parseMessage(stored);
        const bs = serialize(bodyStructureValue(parsed.root, true)).toString('utf8');
        const env = serialize(envelopeValue(parsed.envelope)).toString('utf8');
        const lines = (await c.cmd(`b${seq}`, `FETCH ${seq} (BODYSTRUCTURE ENVELOPE)`)).join(
          '\r\n',
        );
        assert.ok(
          lines.includes(`BODYSTRUCTURE ${bs}`),
          `${f.name}: BODYSTRUCTURE\n${lines}\nexpected ${bs}`,
        );
        assert.ok(lines.includes(`ENVELOPE ${env}`), `${f.name}: ENVELOPE`);
      }
      await imap.logout();
    } finally {
      c.socket.destroy();
    }
  });

  test('POP3 reads the same bytes; DELE + QUIT reaches an IMAP session in IDLE at once', async () => {
    const imap = imapClient(ts);
    await imap.connect();
    await imap.mailboxOpen('INBOX');
    const first = await imap.fetchOne('1', { source: true, uid: true });
    assert.ok(first !== false && first.source);
    const expunged = new Promise<{ seq: number }>((resolve) => {
      imap.on('expunge', (e: { seq: number }) => resolve({ seq: e.seq }));
    });
    const idling = imap.idle();
    // imapflow sends IDLE asynchronously; wait until the server has it.
    await new Promise((r) => setTimeout(r, 100));

    const pop = await RawPop3.connect(ts.port('pop3'));
    assert.match(await pop.login(USER, PASS), /^\+OK/);
    assert.match(await pop.cmd('RETR 1'), /^\+OK/);
    assert.deepEqual(await pop.body(), first.source);
    assert.match(await pop.cmd('DELE 1'), /^\+OK/);
    assert.match(await pop.cmd('QUIT'), /^\+OK/);
    await pop.closed();
    const e = await expunged;
    assert.equal(e.seq, 1);

    await imap.logout().catch(() => {});
    await idling.catch(() => {});
    const left = ts.server.ctx.store;
    const account = (await left.getAccount(USER))!;
    const inbox = (await left.getMailbox(account.id, 'INBOX'))!;
    assert.equal((await left.listMessages(inbox.id)).length, fixtures.length - 1);
  });
});
