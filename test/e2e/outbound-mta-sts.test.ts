// MTA-STS in force (RFC 8461 §5): b.test publishes an `enforce` policy over HTTPS. While its MX
// presents a certificate that does not verify for the MX name, a.test's mail waits in the
// queue (deferred, never sent in clear); once the MX has a valid certificate it is delivered
// over TLS.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createTestCa, type TestCa } from '../helpers/test-ca.js';

describe('outbound delivery under an MTA-STS enforce policy', () => {
  let dns: TestDnsServer;
  let ca: TestCa;
  let policy: https.Server;
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    dns = await startDnsServer();
    ca = await createTestCa();
    const web = await ca.issue(['mta-sts.b.test']);
    policy = https.createServer({ cert: web.cert, key: web.key }, (req, res) => {
      if (req.url !== '/.well-known/mta-sts.txt') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('version: STSv1\r\nmode: enforce\r\nmx: mx.b.test\r\nmax_age: 86400\r\n');
    });
    await new Promise<void>((r) => policy.listen(0, '127.0.0.1', () => r()));
    const dnsToml = `[dns]\nservers = ["${dns.address}"]\n`;
    b = await startTestServer({ listeners: ['smtp'], hostname: 'mx.b.test', extraToml: dnsToml });
    await b.addUser('bob@b.test', 'bob-password-1');
    a = await startTestServer({
      listeners: ['submission'],
      allowPlaintext: true,
      hostname: 'mail.a.test',
      extraToml: `${dnsToml}[queue]\nport = ${b.port('smtp')}\nretry_minutes = [60]\n`,
      internals: {
        queue: {
          mtaSts: { httpsPort: (policy.address() as AddressInfo).port, ca: ca.cert },
          ca: ca.cert,
        },
      },
    });
    await a.addUser('alice@a.test', 'alice-password-1');
    dns.set('b.test', { MX: [{ priority: 10, exchange: 'mx.b.test' }] });
    dns.set('mx.b.test', { A: ['127.0.0.1'] });
    dns.set('_mta-sts.b.test', { TXT: ['v=STSv1; id=20261204'] });
    dns.set('mta-sts.b.test', { A: ['127.0.0.1'] });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await dns?.close();
    await new Promise((r) => policy?.close(r));
  });

  test('a certificate that does not match: deferred, nothing sent; a valid one: delivered', async () => {
    await nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: a.port('submission'),
        secure: false,
        ignoreTLS: true,
        auth: { user: 'alice@a.test', pass: 'alice-password-1' },
        logger: false,
      })
      .sendMail({ from: 'alice@a.test', to: 'bob@b.test', subject: 'sts', text: 'hi\n' });
    const store = a.server.ctx.store;
    await eventually(
      async () => (await store.listOutbound()).some((i) => i.attempts >= 1),
      'the first attempt',
      30_000,
    );
    const [item] = await store.listOutbound();
    assert.equal(item?.recipients[0]?.state, 'pending');
    assert.match(item?.recipients[0]?.lastError ?? '', /certificate|TLS|tls/i);
    // The attempt is over and b.test received nothing: not even in clear.
    const bob = (await b.server.ctx.store.getAccount('bob@b.test'))!;
    const inbox = (await b.server.ctx.store.getMailbox(bob.id, 'INBOX'))!;
    assert.equal((await b.server.ctx.store.listMessages(inbox.id)).length, 0);

    // The MX gets a certificate for its name from a CA a.test trusts.
    const good = await ca.issue(['mx.b.test']);
    await writeFile(join(b.dir, 'tls', 'cert.pem'), good.cert);
    await writeFile(join(b.dir, 'tls', 'key.pem'), good.key);
    b.server.reloadTls();
    await store.retryOutbound('all');
    await eventually(
      async () => (await b.server.ctx.store.listMessages(inbox.id)).length === 1,
      'delivery over verified TLS',
      30_000,
    );
    const [m] = await b.server.ctx.store.listMessages(inbox.id);
    const raw = (await b.server.ctx.store.readMessage(m!.blobHash, m!.size)).toString();
    assert.match(raw, /with ESMTPS/);
  });
});
