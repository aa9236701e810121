// SPF, DKIM and DMARC on the MX with records published by a DNS server on loopback: pass,
// DMARC p=reject refusal, removal of a forged Authentication-Results, and a DNS that never
// answers (bounded time, temperror, still delivered).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { dkimSign } from 'mailauth';
import { ehlo, RawClient } from './client.js';
import { startBlackHole } from './dns.js';
import { inbox, message, type SmtpTestServer, splitStored, startSmtpServer } from './helpers.js';

const RCPT = 'inbox@example.test';

/** Sends one message on the MX; returns the final reply line. */
async function sendMx(t: SmtpTestServer, sender: string, raw: Buffer): Promise<string> {
  const c = await RawClient.open(t.port('smtp'));
  await ehlo(c, 'mx.sender.test');
  assert.equal((await c.cmd(`MAIL FROM:<${sender}>`)).code, 250);
  assert.equal((await c.cmd(`RCPT TO:<${RCPT}>`)).code, 250);
  c.write(Buffer.concat([Buffer.from(`BDAT ${raw.length} LAST\r\n`), raw]));
  const r = await c.reply();
  c.destroy();
  return r.last;
}

async function lastStored(t: SmtpTestServer): Promise<Buffer> {
  const msgs = await inbox(t, RCPT);
  assert.ok(msgs.length > 0, 'nothing delivered');
  return msgs[msgs.length - 1]!;
}

describe('SMTP MX: SPF, DKIM, DMARC from a loopback DNS', () => {
  let t: SmtpTestServer;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

  before(async () => {
    t = await startSmtpServer();
    await t.addUser(RCPT, 'pw-inbox-1');
    t.dns.set('sender.test', 'TXT', ['v=spf1 ip4:127.0.0.1 -all']);
    t.dns.set('s1._domainkey.sender.test', 'TXT', [`v=DKIM1; k=rsa; p=${p}`]);
    t.dns.set('_dmarc.sender.test', 'TXT', ['v=DMARC1; p=reject']);
    t.dns.set('bad.test', 'TXT', ['v=spf1 ip4:192.0.2.1 -all']);
    t.dns.set('_dmarc.bad.test', 'TXT', ['v=DMARC1; p=reject']);
  });
  after(() => t.stop());

  test('signed mail from an SPF-authorized IP: spf=pass dkim=pass dmarc=pass', async () => {
    const unsigned = Buffer.from(message('news@sender.test', RCPT, 'signed', 'Signed body.\r\n'));
    // mailauth signs with the keys in signatureData (the top-level fields alone sign nothing).
    const key = { signingDomain: 'sender.test', selector: 's1', privateKey: pem };
    const { signatures, errors } = await dkimSign(unsigned, { ...key, signatureData: [key] });
    assert.deepEqual(errors, []);
    assert.match(signatures, /^DKIM-Signature: /);
    const sent = Buffer.concat([Buffer.from(signatures), unsigned]);
    assert.match(await sendMx(t, 'bounce@sender.test', sent), /^250 2\.6\.0 /);
    const parts = splitStored(await lastStored(t), { mx: true });
    assert.equal(parts.returnPath, 'Return-Path: <bounce@sender.test>\r\n');
    assert.match(parts.received, /^Received: from mx\.sender\.test \(\[127\.0\.0\.1\]\)/);
    const ar = parts.authResults!;
    assert.match(ar, /^Authentication-Results: localhost;/);
    assert.match(ar, /\bspf=pass\b/);
    assert.match(ar, /\bdkim=pass\b/);
    assert.match(ar, /\bdmarc=pass\b/);
    assert.ok(parts.rest.equals(sent), 'the stored message ends with exactly the bytes sent');
    assert.ok(t.dns.queries.includes('s1._domainkey.sender.test TXT'));
  });

  test('From of a p=reject domain failing SPF, without signature: 550 5.7.1', async () => {
    const before = (await inbox(t, RCPT)).length;
    const sent = Buffer.from(message('ceo@bad.test', RCPT, 'spoofed'));
    assert.match(await sendMx(t, 'ceo@bad.test', sent), /^550 5\.7\.1 /);
    assert.equal((await inbox(t, RCPT)).length, before);
  });

  test('a forged Authentication-Results for our hostname is removed; others stay', async () => {
    const body =
      'Authentication-Results: localhost; spf=pass smtp.mailfrom=ceo@bad.test\r\n' +
      'Authentication-Results: (comment) LOCALHOST;\r\n dkim=pass header.d=bad.test\r\n' +
      'Authentication-Results: relay.other.test; spf=pass\r\n' +
      message('someone@nowhere.test', RCPT, 'forged results');
    const sent = Buffer.from(body);
    assert.match(await sendMx(t, 'someone@nowhere.test', sent), /^250 /);
    const stored = (await lastStored(t)).toString('latin1');
    const parts = splitStored(Buffer.from(stored, 'latin1'), { mx: true });
    // Ours is the only one naming localhost, and says what was really checked.
    assert.match(parts.authResults!, /spf=none/);
    const rest = parts.rest.toString('latin1');
    assert.ok(!/Authentication-Results:[^;]*localhost/i.test(rest), rest);
    assert.equal(
      rest,
      `Authentication-Results: relay.other.test; spf=pass\r\n${message('someone@nowhere.test', RCPT, 'forged results')}`,
    );
  });
});

describe('SMTP MX: DNS that never answers', () => {
  let t: SmtpTestServer;
  let hole: Awaited<ReturnType<typeof startBlackHole>>;
  before(async () => {
    hole = await startBlackHole();
    t = await startSmtpServer({
      smtp: 'auth_checks_timeout_seconds = 1',
      dnsServer: hole.address,
      // One unanswered query alone would take 60 s: a delivery well under that was cut by the
      // checks' budget, however slow the machine is.
      dnsTimeoutMs: 60_000,
    });
    await t.addUser(RCPT, 'pw-inbox-1');
  });
  after(async () => {
    await t.stop();
    await hole.close();
  });

  test('the message is delivered within the bound, with temperror results', async () => {
    const sent = Buffer.from(message('a@slow.test', RCPT, 'no dns'));
    const started = Date.now();
    assert.match(await sendMx(t, 'a@slow.test', sent), /^250 2\.6\.0 /);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 30_000, `took ${elapsed} ms`);
    assert.ok(hole.received() > 0, 'the checks did ask the (silent) DNS server');
    const parts = splitStored(await lastStored(t), { mx: true });
    assert.match(parts.authResults!, /\bspf=temperror\b/);
    assert.match(parts.authResults!, /\bdmarc=(temperror|none)\b/);
    assert.ok(parts.rest.equals(sent));
  });
});
