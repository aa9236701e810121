// TLS-ALPN-01 without a CA (RFC 8737): the challenge certificate as a validator reads it (one
// dNSName, the critical acmeIdentifier extension with SHA-256 of the key authorization, checked
// also by acme-client's own validator code and by openssl), which challenge `[tls.acme]` uses by
// default, and the responder's bookkeeping. Served on the listeners: e2e/acme-tls-alpn.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import acme from 'acme-client';
import {
  createAlpnChallengeCertificate,
  OID_ACME_IDENTIFIER,
} from '../../src/acme/alpn-certificate.js';
import { acmeChallengeType } from '../../src/acme/challenges.js';
import { TlsAlpnChallenges } from '../../src/acme/tls-alpn.js';
import { parseConfig } from '../../src/config/load.js';
import { type HttpListener, startHttp } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { writeSelfSigned } from '../../src/net/selfsigned.js';
import { TlsProvider, tlsOptionsOf } from '../../src/net/tls.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const KEY_AUTH =
  'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI';

describe('the challenge certificate (RFC 8737 §3)', () => {
  const now = new Date('2026-12-04T20:00:00Z');
  const { cert, key } = createAlpnChallengeCertificate('mail.example.test', KEY_AUTH, now);
  const x509 = new X509Certificate(cert);

  test('self-signed by its key, one dNSName, valid around now', () => {
    assert.ok(x509.checkPrivateKey(createPrivateKey(key)));
    assert.ok(x509.verify(x509.publicKey), 'self-signed');
    assert.equal(x509.subjectAltName, 'DNS:mail.example.test');
    assert.equal(x509.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(Date.parse(x509.validFrom) < now.getTime());
    assert.ok(Date.parse(x509.validTo) > now.getTime());
  });

  test('the acmeIdentifier extension: critical, OCTET STRING of SHA-256(key authorization)', () => {
    const digest = createHash('sha256').update(KEY_AUTH).digest();
    // Extension ::= SEQUENCE { extnID, critical TRUE, extnValue OCTET STRING { OCTET STRING } }
    const want = Buffer.concat([
      Buffer.from('06082b0601050507011f' + '0101ff' + '0422' + '0420', 'hex'),
      digest,
    ]);
    assert.ok(x509.raw.includes(want), 'the DER of the extension');
    assert.equal(OID_ACME_IDENTIFIER, '1.3.6.1.5.5.7.1.31');
    // acme-client's validator (an independent ASN.1 reader) agrees; a wrong one does not.
    assert.equal(acme.crypto.isAlpnCertificateAuthorizationValid(cert, KEY_AUTH), true);
    assert.equal(acme.crypto.isAlpnCertificateAuthorizationValid(cert, `${KEY_AUTH}x`), false);
  });

  test('openssl reads it: critical acmeIdentifier, digitalSignature key usage', () => {
    const r = spawnSync('openssl', ['x509', '-noout', '-text'], { input: cert, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /1\.3\.6\.1\.5\.5\.7\.1\.31: critical/);
    assert.match(r.stdout, /X509v3 Key Usage: critical\s+Digital Signature/);
    assert.match(r.stdout, /DNS:mail\.example\.test/);
    assert.match(r.stdout, /Signature Algorithm: ecdsa-with-SHA256/);
  });

  test('valid DER every time (a serial with a leading zero byte would not be)', () => {
    for (let i = 0; i < 300; i++) {
      const c = createAlpnChallengeCertificate('mail.example.test', KEY_AUTH, now).cert;
      if (i < 5) {
        const r = spawnSync('openssl', ['asn1parse'], { input: c, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      }
      // OpenSSL's DER reader refuses a non-minimal INTEGER.
      assert.ok(new X509Certificate(c).verify(new X509Certificate(c).publicKey));
    }
  });

  test('a new key and serial each time; a name that is not ASCII is refused', () => {
    const again = createAlpnChallengeCertificate('mail.example.test', KEY_AUTH, now);
    assert.notEqual(again.key, key);
    assert.notEqual(new X509Certificate(again.cert).serialNumber, x509.serialNumber);
    assert.throws(() => createAlpnChallengeCertificate('bücher.example', KEY_AUTH), /ASCII/);
  });
});

describe('which challenge [tls.acme] uses', () => {
  const cfg = (listeners: string, challenge = '') =>
    parseConfig(
      `${listeners}
[tls.acme]
directory = "https://acme.example/dir"
email = "postmaster@example.test"
${challenge}`,
      '/tmp/lb.toml',
    );
  const off = (names: string[]) => names.map((n) => `[listeners.${n}]\nenabled = false\n`).join('');
  const cases: [string, string, string, string][] = [
    ['http on port 80', '[listeners.http]\nport = 80\n', '', 'http-01'],
    [
      'http on 8080, implicit-TLS listeners on',
      '[listeners.http]\nport = 8080\n',
      '',
      'tls-alpn-01',
    ],
    ['imaps on 443, no http', `${off(['http'])}[listeners.imaps]\nport = 443\n`, '', 'tls-alpn-01'],
    ['no implicit-TLS listener', off(['imaps', 'pop3s', 'submissions']), '', 'http-01'],
    ['chosen: http-01', '', 'challenge = "http-01"', 'http-01'],
    [
      'HTTPS on port 80: not HTTP-01',
      '[listeners.http]\nport = 80\ntls = "implicit"\n',
      '',
      'tls-alpn-01',
    ],
    [
      'only HTTPS (on 443)',
      `${off(['imaps', 'pop3s', 'submissions'])}[listeners.http]\nport = 443\ntls = "implicit"\n`,
      '',
      'tls-alpn-01',
    ],
    [
      'chosen: tls-alpn-01 with http on 80',
      '[listeners.http]\nport = 80\n',
      'challenge = "tls-alpn-01"',
      'tls-alpn-01',
    ],
  ];
  for (const [what, listeners, challenge, want] of cases) {
    test(what, () => assert.equal(acmeChallengeType(cfg(listeners, challenge)), want));
  }
  test('anything else is a config error', () => {
    assert.throws(() => cfg('', 'challenge = "dns-01"'), /tls\.acme\.challenge/);
  });
});

test('the responder: active only while a challenge is pending, names compared as DNS names', () => {
  const r = new TlsAlpnChallenges(silentLogger());
  assert.equal(r.active(), false);
  const { cert, key } = createAlpnChallengeCertificate('mail.example.test', KEY_AUTH);
  r.set('Mail.Example.TEST.', cert, key);
  assert.equal(r.active(), true);
  r.delete('mail.example.test');
  assert.equal(r.active(), false);
});

describe('HTTPS on the http listener (e.g. on port 443) answers TLS-ALPN-01 too', () => {
  let dir: string;
  let store: SqliteStore;
  let http: HttpListener;
  const responder = new TlsAlpnChallenges(silentLogger());

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-alpn-https-'));
    const { certFile, keyFile } = await writeSelfSigned(dir, 'localhost');
    store = await SqliteStore.open({ dir: join(dir, 'store') });
    http = await startHttp({
      host: '127.0.0.1',
      port: 0,
      store,
      log: silentLogger(),
      tls: TlsProvider.load(tlsOptionsOf({ cert: certFile, key: keyFile, sni: [] })),
      tlsInterceptor: responder,
    });
  });
  after(async () => {
    await http.close(1000);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** One handshake: the negotiated protocol, the leaf certificate and what the server sent. */
  function handshake(alpn?: string[], request?: string) {
    return new Promise<{ alpn: string | false; cert: X509Certificate; data: string }>(
      (resolve, reject) => {
        const s = tls.connect({
          host: '127.0.0.1',
          port: http.address().port,
          servername: 'localhost',
          rejectUnauthorized: false,
          ...(alpn ? { ALPNProtocols: alpn } : {}),
        });
        let data = '';
        let cert: X509Certificate | undefined;
        s.on('secureConnect', () => {
          cert = s.getPeerX509Certificate()!;
          if (request) s.write(request);
        });
        s.setEncoding('utf8').on('data', (d: string) => {
          data += d;
        });
        s.on('error', reject);
        s.on('close', () => resolve({ alpn: s.alpnProtocol ?? false, cert: cert!, data }));
      },
    );
  }

  test('acme-tls/1 gets the challenge certificate and no data; HTTPS clients are served', async () => {
    const { cert, key } = createAlpnChallengeCertificate('localhost', KEY_AUTH);
    responder.set('localhost', cert, key);
    try {
      const acmeSide = await handshake(['acme-tls/1'], 'GET /health HTTP/1.1\r\nhost: x\r\n\r\n');
      assert.equal(acmeSide.alpn, 'acme-tls/1');
      assert.equal(acmeSide.cert.fingerprint256, new X509Certificate(cert).fingerprint256);
      assert.equal(acmeSide.data, '');
      for (const [alpn, negotiated] of [
        [undefined, false],
        [['http/1.1'], 'http/1.1'],
      ] as const) {
        const r = await handshake(
          alpn && [...alpn],
          'GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
        );
        assert.equal(r.alpn, negotiated);
        assert.match(r.cert.subjectAltName ?? '', /DNS:localhost, IP Address:127\.0\.0\.1/);
        assert.match(r.data, /^HTTP\/1\.1 200 /);
      }
    } finally {
      responder.delete('localhost');
    }
    // No validation in progress: the HTTPS server's own ALPN (http/1.1 only) refuses it
    // (RFC 7301 §3.2 no_application_protocol); it never negotiates acme-tls/1.
    await assert.rejects(handshake(['acme-tls/1']), {
      code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL',
    });
  });
});
