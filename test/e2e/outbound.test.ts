// Issue 13's acceptance, with real parts on loopback: alice@a.test writes through submission
// on one Letterbox; it finds b.test's MX through a DNS server run by the test and delivers to a
// second Letterbox, DKIM-signed; bob reads it over IMAP with dkim, spf and dmarc passing. Mail
// to an unknown user at b.test comes back as a DSN in alice's INBOX. A restart of the sending
// server while mail waits in its queue loses nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { generateDkimKey, keyRecordName, keyRecordValue } from '../../src/queue/dkim-keys.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

async function inbox(t: TestServer, user: string, password: string) {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: t.port('imap'),
    secure: false,
    auth: { user, pass: password },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const out: string[] = [];
      if ((client.mailbox as { exists: number }).exists === 0) return out;
      for await (const m of client.fetch('1:*', { source: true })) out.push(m.source!.toString());
      return out;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

function submit(a: TestServer, to: string, subject: string) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: a.port('submission'),
    secure: false,
    ignoreTLS: true,
    auth: { user: 'alice@a.test', pass: 'alice-password-1' },
    logger: false,
  });
  return transport.sendMail({
    from: 'alice@a.test',
    to,
    subject,
    text: `Hello from a.test: ${subject}\n`,
  });
}

describe('outbound delivery between two Letterbox servers', () => {
  let dns: TestDnsServer;
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    dns = await startDnsServer();
    const dnsToml = `[dns]\nservers = ["${dns.address}"]\ntimeout_ms = 2000\n`;
    b = await startTestServer({
      listeners: ['smtp', 'imap'],
      allowPlaintext: true,
      hostname: 'mx.b.test',
      extraToml: dnsToml,
    });
    await b.addUser('bob@b.test', 'bob-password-1');
    await b.addUser('dora@d.test', 'dora-password-1');
    a = await startTestServer({
      listeners: ['smtp', 'submission', 'imap'],
      allowPlaintext: true,
      hostname: 'mail.a.test',
      // The MX hosts' port is b's SMTP listener; retries come quickly.
      // No route cache: the tests change b.test's DNS between messages.
      extraToml: `${dnsToml}[queue]\nport = ${b.port('smtp')}\nretry_minutes = [0.01]\nroute_cache_seconds = 0\n`,
    });
    await a.addUser('alice@a.test', 'alice-password-1');
    // Aliases of a.test that forward outside.
    await a.server.ctx.store.addAlias('fwd@a.test', ['bob@b.test']);
    await a.server.ctx.store.addAlias('fwd2@a.test', ['nobody@b.test']);
    const rsa = await generateDkimKey(a.dir, 'a.test', { algorithm: 'rsa' });
    const ed = await generateDkimKey(a.dir, 'a.test', { algorithm: 'ed25519' });
    dns.set('b.test', { MX: [{ priority: 10, exchange: 'mx.b.test' }] });
    dns.set('mx.b.test', { A: ['127.0.0.1'] });
    dns.set('d.test', { MX: [{ priority: 10, exchange: 'mx.b.test' }] });
    dns.set('a.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
    dns.set('_dmarc.a.test', { TXT: ['v=DMARC1; p=reject'] });
    for (const k of [rsa, ed]) {
      dns.set(keyRecordName('a.test', k.selector), { TXT: [keyRecordValue(k)] });
    }
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await dns?.close();
  });

  test('delivered through MX, DKIM-signed: dkim, spf and dmarc pass at the receiver', async () => {
    await submit(a, 'bob@b.test', 'first');
    let got: string[] = [];
    await eventually(
      async () => {
        got = await inbox(b, 'bob@b.test', 'bob-password-1');
        return got.some((m) => m.includes('Subject: first'));
      },
      'the message at b.test',
      30_000,
    );
    const m = got.find((x) => x.includes('Subject: first'))!;
    const ar = /^Authentication-Results:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*/m.exec(m)?.[0] ?? '';
    assert.match(ar, /dkim=pass/, ar);
    assert.match(ar, /spf=pass/, ar);
    assert.match(ar, /dmarc=pass/, ar);
    assert.match(m, /^DKIM-Signature: .*a=rsa-sha256/m);
    assert.match(m, /^DKIM-Signature: .*a=ed25519-sha256/m);
    // The sender drops its queue item once it has read b.test's 250, which may come after b.test's
    // INBOX already shows the message: waited for, not asserted at once.
    await eventually(
      async () => (await a.server.ctx.store.listOutbound()).length === 0,
      'a.test queue empty',
      30_000,
    );
  });

  test('an unknown user at b.test: a DSN in the sender INBOX with the original headers', async () => {
    await submit(a, 'nobody@b.test', 'to nobody');
    let got: string[] = [];
    await eventually(
      async () => {
        got = await inbox(a, 'alice@a.test', 'alice-password-1');
        return got.some((m) => m.includes('multipart/report'));
      },
      'the DSN at a.test',
      30_000,
    );
    const dsn = got.find((m) => m.includes('multipart/report'))!;
    assert.match(dsn, /^Return-Path: <>/m);
    assert.match(dsn, /report-type="?delivery-status/);
    assert.match(dsn, /Final-Recipient: rfc822; ?nobody@b\.test/);
    assert.match(dsn, /Action: failed/);
    assert.match(dsn, /Status: 5\.1\.1/);
    assert.match(dsn, /Subject: to nobody/);
  });

  /** dora@d.test writes to an address of a.test's MX (no authentication). */
  function fromOutside(to: string, subject: string) {
    return nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: a.port('smtp'),
        secure: false,
        ignoreTLS: true,
        logger: false,
      })
      .sendMail({ from: 'dora@d.test', to, subject, text: `forward me: ${subject}\n` });
  }

  test('forwarding: the alias sends on with an SRS sender, and SPF passes at b.test', async () => {
    await fromOutside('fwd@a.test', 'forwarded');
    let got: string[] = [];
    await eventually(
      async () => {
        got = await inbox(b, 'bob@b.test', 'bob-password-1');
        return got.some((m) => m.includes('Subject: forwarded'));
      },
      'the forwarded message at b.test',
      30_000,
    );
    const m = got.find((x) => x.includes('Subject: forwarded'))!;
    assert.match(m, /^Return-Path: <SRS0=[^=]+=[^=]+=d\.test=dora@a\.test>/m);
    assert.match(m, /spf=pass[^;]*smtp\.mailfrom="?SRS0=/);
    assert.match(m, /^From: dora@d\.test/m, 'the message itself is unchanged');
  });

  test('a bounce to the SRS address goes back to the original sender', async () => {
    await fromOutside('fwd2@a.test', 'forwarded to nobody');
    let got: string[] = [];
    await eventually(
      async () => {
        got = await inbox(b, 'dora@d.test', 'dora-password-1');
        return got.some((m) => m.includes('Subject: forwarded to nobody'));
      },
      'the bounce back at dora@d.test',
      30_000,
    );
    const dsn = got.find((m) => m.includes('Subject: forwarded to nobody'))!;
    assert.match(dsn, /Final-Recipient: rfc822; ?nobody@b\.test/);
    assert.match(dsn, /Action: failed/);
  });

  test('a null MX (RFC 7505): bounced at once with 5.1.10', async () => {
    dns.set('nomail.test', { MX: [{ priority: 0, exchange: '.' }] });
    await submit(a, 'someone@nomail.test', 'to a null MX');
    let got: string[] = [];
    await eventually(
      async () => {
        got = await inbox(a, 'alice@a.test', 'alice-password-1');
        return got.some((m) => m.includes('Subject: to a null MX') && m.includes('report'));
      },
      'the null MX bounce',
      30_000,
    );
    const dsn = got.find((m) => m.includes('Subject: to a null MX') && m.includes('report'))!;
    assert.match(dsn, /Final-Recipient: rfc822; ?someone@nomail\.test/);
    assert.match(dsn, /Status: 5\.1\.10/);
  });

  test('a restart of the sender while mail waits loses nothing', async () => {
    // b.test's MX points nowhere for now (a host of its own: a.test may still hold a session
    // to mx.b.test for reuse): the message waits in a.test's queue.
    dns.set('b.test', { MX: [{ priority: 10, exchange: 'mx2.b.test' }] });
    dns.set('mx2.b.test', { A: ['127.0.0.2'] });
    await submit(a, 'bob@b.test', 'across a restart');
    await eventually(
      async () => (await a.server.ctx.store.listOutbound()).some((i) => i.attempts >= 1),
      'a failed first attempt',
      30_000,
    );
    await a.restart();
    dns.set('b.test', { MX: [{ priority: 10, exchange: 'mx.b.test' }] });
    await a.server.ctx.store.retryOutbound('all');
    await eventually(
      async () =>
        (await inbox(b, 'bob@b.test', 'bob-password-1')).some((m) =>
          m.includes('Subject: across a restart'),
        ),
      'the message after the restart',
      30_000,
    );
  });
});
