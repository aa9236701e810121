// The SMTP client delivering to a real Letterbox (in-process, MX listener on loopback): what
// it stores is byte for byte what the client was given, over STARTTLS, with BDAT, with DATA
// and dot-stuffing, several messages over one connection, per-recipient refusals recorded.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseMessage } from '../../../src/mime/index.js';
import { decodeTransfer } from '../../../src/mime/transfer.js';
import { has8bit } from '../../../src/queue/eightbit.js';
import { connectSmtp, type SmtpClientConnection } from '../../../src/smtp/client/connection.js';
import { inbox, type SmtpTestServer, splitStored, startSmtpServer } from '../session/helpers.js';
import { loopHost, OPTS, request } from './helpers.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

function message(subject: string, body: string): Buffer {
  return Buffer.from(
    `From: sender@client.test\r\nTo: ${ALICE}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '')}@client.test>\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\n${body}`,
    'utf8',
  );
}

async function last(t: SmtpTestServer, address: string): Promise<Buffer> {
  const all = await inbox(t, address);
  return all[all.length - 1]!;
}

describe('SMTP client to a Letterbox MX', () => {
  let t: SmtpTestServer;
  let conn: SmtpClientConnection | null = null;
  before(async () => {
    t = await startSmtpServer();
    await t.addUser(ALICE, 'pw-alice-123');
    await t.addUser(BOB, 'pw-bob-12345');
  });
  after(async () => {
    conn?.close();
    await t.stop();
  });

  test('STARTTLS, BDAT: stored byte for byte; unknown user refused at RCPT', async () => {
    conn = await connectSmtp(loopHost(t.port('smtp')), OPTS);
    // Opportunistic: the self-signed certificate does not verify, TLS is used anyway.
    assert.match(conn.info.tls ?? '', /^TLSv1\.[23]$/);
    for (const k of ['PIPELINING', 'CHUNKING', '8BITMIME', 'SMTPUTF8', 'DSN', 'SIZE']) {
      assert.ok(conn.extensions.has(k), k);
    }
    const m = message('client one', 'Grüße.\r\n.\r\n..two dots\r\n.leading dot\r\nend\r\n');
    const r = await conn.send(request(m, [ALICE, 'nobody@example.test', BOB]));
    assert.deepEqual(
      r.recipients.map((o) => [o.address, o.status, o.reply?.code]),
      [
        [ALICE, 'delivered', 250],
        ['nobody@example.test', 'failed', 550],
        [BOB, 'delivered', 250],
      ],
    );
    assert.match(r.recipients[1].diagnostic, /in reply to RCPT TO/);
    assert.equal(r.info.host, 'localhost');
    assert.equal(r.info.ip, '127.0.0.1');
    for (const who of [ALICE, BOB]) {
      const parts = splitStored(await last(t, who), { mx: true });
      assert.equal(parts.returnPath, 'Return-Path: <sender@client.test>\r\n');
      assert.match(
        parts.received,
        /^Received: from client\.test .*\r\n\tby localhost .*with ESMTPS/,
      );
      assert.ok(parts.rest.equals(m), parts.rest.toString('utf8'));
    }
  });

  test('the same connection carries the next message (DATA with dot-stuffing)', async () => {
    assert.ok(conn?.usable);
    // The server offers CHUNKING; forget it here so that this message goes by DATA.
    (conn!.extensions as Map<string, string>).delete('CHUNKING');
    const m = message('client two', '.\r\n.\r\n..\r\nlast line without CRLF.');
    const r = await conn!.send(request(m, [ALICE]));
    assert.equal(r.recipients[0].status, 'delivered', r.recipients[0].diagnostic);
    const parts = splitStored(await last(t, ALICE), { mx: true });
    // DATA needs the message to end with CRLF (RFC 5321 §4.1.1.4): the client adds it.
    assert.ok(parts.rest.equals(Buffer.concat([m, Buffer.from('\r\n')])));
  });

  test('without 8BITMIME the stored message is 7-bit and reads as the same text', async () => {
    (conn!.extensions as Map<string, string>).delete('8BITMIME');
    const text = 'Ça marche: Grüße, 你好.\r\n.dot\r\n';
    const r = await conn!.send(request(message('client three', text), [BOB]));
    assert.equal(r.recipients[0].status, 'delivered', r.recipients[0].diagnostic);
    const stored = splitStored(await last(t, BOB), { mx: true }).rest;
    assert.equal(has8bit(stored), false);
    const root = parseMessage(stored).root;
    assert.equal(root.encoding, 'QUOTED-PRINTABLE');
    const body = decodeTransfer(stored.subarray(root.bodyStart, root.bodyEnd), root.encoding);
    assert.equal(body.toString('utf8'), text);
    await conn!.quit();
    assert.equal(conn!.usable, false);
  });

  test('TLS required: the certificate verifies for the host name with its CA', async () => {
    const ca = await readFile(join(t.dir, 'tls', 'cert.pem'), 'utf8');
    const c = await connectSmtp(loopHost(t.port('smtp'), { tls: 'required' }), { ...OPTS, ca });
    try {
      assert.match(c.info.tls ?? '', /^TLSv1\.[23]$/);
      const m = message('client four', 'verified\r\n');
      const r = await c.send(request(m, [ALICE]));
      assert.equal(r.recipients[0].status, 'delivered');
      assert.ok(splitStored(await last(t, ALICE), { mx: true }).rest.equals(m));
    } finally {
      await c.quit();
    }
  });
});
