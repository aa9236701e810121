// The parts of `[tls.acme]` that need no CA: the HTTP-01 resource (RFC 8555 §8.3) on the http
// listener, when a certificate is due for renewal, which names are asked for, and whether a
// certificate covers the hostname (the start-up warning). The CA side: e2e/acme-pebble.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AcmeChallenges } from '../../src/acme/challenges.js';
import { acmeFiles } from '../../src/acme/files.js';
import { AcmeManager, acmeNames, renewTime } from '../../src/acme/manager.js';
import { parseConfig } from '../../src/config/load.js';
import { type HttpListener, startHttp } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { generateSelfSigned, writeSelfSigned } from '../../src/net/selfsigned.js';
import { certificateCovers, TlsProvider, tlsOptionsOf } from '../../src/net/tls.js';
import type { MailStore } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { type MemoryLog, memoryLog } from '../helpers/memory-log.js';
import { startTestServer } from '../helpers/server.js';
import { createTestCa } from '../helpers/test-ca.js';

const store = { kind: 'sqlite', listDomains: async () => [] } as unknown as MailStore;
const TOKEN = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
const KEY_AUTH = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;

describe('HTTP-01 resource on the http listener', () => {
  const challenges = new AcmeChallenges();
  let http: HttpListener;
  before(async () => {
    http = await startHttp({
      host: '127.0.0.1',
      port: 0,
      store,
      log: silentLogger(),
      acmeChallenges: challenges,
    });
  });
  after(() => http.close(1000));
  const url = (p: string) => `http://127.0.0.1:${http.address().port}${p}`;

  test('a token being validated answers 200 with the key authorization, exactly', async () => {
    challenges.set(TOKEN, KEY_AUTH);
    const res = await fetch(url(`/.well-known/acme-challenge/${TOKEN}`));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(await res.text(), KEY_AUTH);
    const head = await fetch(url(`/.well-known/acme-challenge/${TOKEN}`), { method: 'HEAD' });
    assert.equal(head.status, 200);
    const post = await fetch(url(`/.well-known/acme-challenge/${TOKEN}`), { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  test('unknown, removed and malformed tokens are 404; /healthz still answers', async () => {
    const other = 'A'.repeat(43);
    for (const p of [other, '', '..%2f..%2fetc', `${TOKEN}/x`, 'short']) {
      const res = await fetch(url(`/.well-known/acme-challenge/${p}`));
      assert.equal(res.status, 404, p);
      await res.text();
    }
    challenges.delete(TOKEN);
    const gone = await fetch(url(`/.well-known/acme-challenge/${TOKEN}`));
    assert.equal(gone.status, 404);
    assert.equal((await fetch(url('/healthz'))).status, 200);
  });

  test('without [tls.acme] the path is not served', async () => {
    const plain = await startHttp({ host: '127.0.0.1', port: 0, store, log: silentLogger() });
    try {
      const res = await fetch(
        `http://127.0.0.1:${plain.address().port}/.well-known/acme-challenge/${TOKEN}`,
      );
      assert.equal(res.status, 404);
    } finally {
      await plain.close(1000);
    }
  });
});

describe('renewal time', () => {
  const ca = createTestCa();
  const DAY = 86_400_000;
  test('a third of the lifetime or 30 days before expiry, whichever is later; or renew_before_days', async () => {
    const leaf = new X509Certificate((await (await ca).issue(['mail.example.test'])).cert);
    const from = Date.parse(leaf.validFrom);
    const to = Date.parse(leaf.validTo);
    const life = to - from;
    assert.equal(renewTime(leaf), to - Math.min(30 * DAY, life / 3));
    assert.equal(renewTime(leaf, 10), to - 10 * DAY);
    // Longer than the lifetime: due at once.
    assert.ok(renewTime(leaf, life / DAY + 1) < from);
  });
});

describe('names and coverage', () => {
  test('the hostname first, exact SNI names once, wildcards left to their files', () => {
    const cfg = parseConfig(
      `hostname = "Mail.Example.test"
[[tls.sni]]
servername = "imap.example.test"
cert = "a.pem"
key = "a.key"
[[tls.sni]]
servername = "*.other.test"
cert = "b.pem"
key = "b.key"
[[tls.sni]]
servername = "mail.example.test."
cert = "c.pem"
key = "c.key"
[tls.acme]
directory = "https://acme.example/dir"
email = "postmaster@example.test"
`,
      '/tmp/lb.toml',
    );
    assert.deepEqual(acmeNames(cfg), {
      names: ['mail.example.test', 'imap.example.test'],
      skipped: ['*.other.test'],
    });
    assert.equal(cfg.tlsFiles.acme?.cert, '/tmp/acme/cert.pem');
  });

  test('[tls.acme] needs an https directory and an email address', () => {
    for (const bad of [
      'directory = "http://acme.example/dir"\nemail = "a@b.test"',
      'directory = "https://acme.example/dir"\nemail = "nope"',
      'directory = "https://acme.example/dir"',
    ]) {
      assert.throws(() => parseConfig(`[tls.acme]\n${bad}\n`, '/tmp/lb.toml'), /tls\.acme/);
    }
  });

  test('certificateCovers: SAN names, one-label wildcards, IP addresses', async () => {
    const self = new X509Certificate((await generateSelfSigned('mail.example.test')).cert);
    assert.ok(certificateCovers(self, 'mail.example.test'));
    assert.ok(certificateCovers(self, 'MAIL.example.test.'));
    assert.ok(certificateCovers(self, 'localhost'));
    assert.ok(certificateCovers(self, '127.0.0.1'));
    assert.ok(!certificateCovers(self, 'other.example.test'));
    const wild = new X509Certificate((await (await createTestCa()).issue(['*.example.test'])).cert);
    assert.ok(certificateCovers(wild, 'mail.example.test'));
    assert.ok(!certificateCovers(wild, 'a.b.example.test'));
  });
});

describe('start-up warning', () => {
  const warned = (m: MemoryLog) =>
    m.records.some((r) =>
      String(r.msg).startsWith('the TLS certificate does not cover the hostname'),
    );

  test('a certificate that does not cover the hostname is logged at warn, one that does is not', async () => {
    // The test server's certificate is self-signed for localhost and 127.0.0.1.
    const other = memoryLog('warn');
    const a = await startTestServer({
      listeners: ['imaps'],
      hostname: 'mail.example.test',
      log: other.log,
    });
    await a.stop();
    assert.ok(warned(other), other.text());
    const rec = other.records.find((r) => String(r.msg).startsWith('the TLS certificate'))!;
    assert.equal(rec.level, 40);
    assert.equal(rec.hostname, 'mail.example.test');
    const same = memoryLog('warn');
    const b = await startTestServer({ listeners: ['imaps'], hostname: 'localhost', log: same.log });
    await b.stop();
    assert.ok(!warned(same), same.text());
  });
});

describe('AcmeManager without a CA', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-acme-'));
    await writeSelfSigned(dir, 'localhost');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  // Port 1 on loopback: nothing listens, every request to the "CA" fails at once.
  const config = (extra = '') =>
    parseConfig(
      `hostname = "localhost"
[tls.acme]
directory = "https://127.0.0.1:1/dir"
email = "postmaster@example.test"
${extra}`,
      join(dir, 'letterbox.toml'),
    );
  const internals = { httpRetries: 0, retryBaseMs: 60_000, checkEveryMs: 60_000 };

  test('a certificate on disk, not due, not yet served: loaded into the listeners, no order', async () => {
    const cfg = config();
    const tls = TlsProvider.load(tlsOptionsOf(cfg.tlsFiles)); // before the ACME files exist
    const selfSigned = tls.certificate().serialNumber;
    const leaf = await (await createTestCa()).issue(['localhost']);
    await mkdir(join(dir, 'acme'), { recursive: true });
    await writeFile(acmeFiles(dir).key, leaf.key);
    await writeFile(acmeFiles(dir).cert, leaf.cert);
    const reloaded: string[] = [];
    tls.onReload(() => reloaded.push(tls.certificate().serialNumber));
    const m = memoryLog('debug');
    const acme = new AcmeManager(cfg, m.log, tls, new AcmeChallenges(), internals);
    acme.start();
    try {
      await eventually(() => acme.status().state === 'valid', 'the certificate read', 10_000);
      const serial = new X509Certificate(leaf.cert).serialNumber;
      assert.notEqual(serial, selfSigned);
      assert.equal(tls.certificate().serialNumber, serial);
      assert.deepEqual(reloaded, [serial]);
      assert.equal(acme.status().failures, 0);
      assert.ok(!m.records.some((r) => r.msg === 'ACME: ordering a certificate'), m.text());
    } finally {
      await acme.stop(1000);
    }
  });

  test('due and the CA unreachable: the certificate served stays, the failure is reported', async () => {
    const cfg = config('renew_before_days = 100000');
    const tls = TlsProvider.load(tlsOptionsOf(cfg.tlsFiles)); // the ACME files from above
    const serving = tls.certificate().serialNumber;
    const m = memoryLog('debug');
    const acme = new AcmeManager(cfg, m.log, tls, new AcmeChallenges(), internals);
    acme.start();
    try {
      await eventually(() => acme.status().failures === 1, 'a failed renewal', 20_000);
      const s = acme.status();
      assert.equal(s.state, 'failing');
      assert.equal(s.serial, serving);
      assert.ok(s.lastError);
      assert.equal(tls.certificate().serialNumber, serving);
      const line = m.records.find(
        (r) => r.msg === 'ACME certificate renewal failed; keeping the current certificate',
      );
      assert.ok(line, m.text());
      assert.equal(line.retryInSeconds, 60);
      assert.ok(Date.parse(s.nextCheck!) - Date.now() > 50_000, 'retried after the backoff');
    } finally {
      await acme.stop(1000);
    }
  });
});
