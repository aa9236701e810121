import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { generateSelfSigned, writeSelfSigned } from '../../src/net/selfsigned.js';
import { TlsConfigError, TlsProvider } from '../../src/net/tls.js';
import { tempDir, writeCert } from './helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());

function assertConfigError(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TlsConfigError, `expected TlsConfigError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.ok(err.message.includes(file), 'message names the file');
    assert.ok(!err.message.includes('\n'), 'message is one line');
    assert.match(err.message, problem);
    return true;
  });
}

describe('TlsProvider.load errors', () => {
  test('missing file', async () => {
    const a = await writeCert(tmp.dir, 'a.test');
    const missing = join(tmp.dir, 'nope.key');
    assertConfigError(
      () => TlsProvider.load({ certFile: a.certFile, keyFile: missing }),
      missing,
      /not found/,
    );
  });

  test('a directory instead of a file', async () => {
    const a = await writeCert(tmp.dir, 'a.test');
    const d = join(tmp.dir, 'adir');
    mkdirSync(d, { recursive: true });
    assertConfigError(() => TlsProvider.load({ certFile: d, keyFile: a.keyFile }), d, /directory/);
  });

  test('not PEM, and cert and key swapped', async () => {
    const a = await writeCert(tmp.dir, 'a.test');
    const junk = join(tmp.dir, 'junk.pem');
    writeFileSync(junk, 'hello\n');
    assertConfigError(
      () => TlsProvider.load({ certFile: junk, keyFile: a.keyFile }),
      junk,
      /not a PEM certificate/,
    );
    assertConfigError(
      () => TlsProvider.load({ certFile: a.keyFile, keyFile: a.certFile }),
      a.keyFile,
      /not a PEM certificate/,
    );
  });

  test('a PEM block that does not parse', async () => {
    const a = await writeCert(tmp.dir, 'a.test');
    const bad = join(tmp.dir, 'bad.crt');
    writeFileSync(bad, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    assertConfigError(
      () => TlsProvider.load({ certFile: bad, keyFile: a.keyFile }),
      bad,
      /not a valid PEM certificate/,
    );
  });

  test('key does not match certificate, also for an SNI entry', async () => {
    const a = await writeCert(tmp.dir, 'a.test');
    const b = await writeCert(tmp.dir, 'b.test');
    assertConfigError(
      () => TlsProvider.load({ certFile: a.certFile, keyFile: b.keyFile }),
      b.keyFile,
      /does not match/,
    );
    assertConfigError(
      () =>
        TlsProvider.load({
          ...a,
          sni: [{ servername: 'b.test', certFile: b.certFile, keyFile: a.keyFile }],
        }),
      a.keyFile,
      /does not match/,
    );
  });
});

describe('TlsProvider contexts', () => {
  test('SNI: exact name, then one-label wildcard, then default', async () => {
    const def = await writeCert(tmp.dir, 'default.test');
    const a = await writeCert(tmp.dir, 'a.test');
    const w = await writeCert(tmp.dir, 'wild.test');
    const p = TlsProvider.load({
      ...def,
      sni: [
        { servername: 'mail.a.test', ...a },
        { servername: '*.wild.test', ...w },
      ],
    });
    const d = p.secureContext();
    const exact = p.secureContext('mail.a.test');
    const wild = p.secureContext('imap.wild.test');
    assert.notEqual(exact, d);
    assert.notEqual(wild, d);
    assert.notEqual(wild, exact);
    assert.equal(p.secureContext('MAIL.A.TEST.'), exact, 'case and trailing dot ignored');
    assert.equal(p.secureContext('smtp.wild.test'), wild);
    assert.equal(p.secureContext('a.b.wild.test'), d, 'wildcard covers one label only');
    assert.equal(p.secureContext('wild.test'), d);
    assert.equal(p.secureContext('other.test'), d);
    const opts = p.serverOptions();
    assert.equal(opts.minVersion, 'TLSv1.2');
    assert.equal(opts.secureContext, d);
    let picked: unknown;
    opts.SNICallback?.('mail.a.test', (_err, ctx) => {
      picked = ctx;
    });
    assert.equal(picked, exact);
  });

  test('reload with a broken file throws and keeps the old contexts', async () => {
    const dir = join(tmp.dir, 'reload');
    mkdirSync(dir, { recursive: true });
    const a = await writeCert(dir, 'a.test', 'server');
    const p = TlsProvider.load(a);
    const before = p.secureContext();
    let reloads = 0;
    const unsubscribe = p.onReload(() => reloads++);
    writeFileSync(a.certFile, 'garbage');
    assert.throws(() => p.reload(), TlsConfigError);
    assert.equal(p.secureContext(), before);
    assert.equal(reloads, 0);
    await writeCert(dir, 'b.test', 'server');
    p.reload();
    assert.notEqual(p.secureContext(), before);
    assert.equal(reloads, 1);
    unsubscribe();
    p.reload();
    assert.equal(reloads, 1);
  });
});

describe('self-signed certificates', () => {
  test('RSA 2048, SAN for the host, localhost and 127.0.0.1, about ten years', async () => {
    const { cert, key } = await generateSelfSigned('mail.example.test');
    const x = new X509Certificate(cert);
    assert.match(x.subject, /CN=mail\.example\.test/);
    const san = x.subjectAltName ?? '';
    assert.match(san, /DNS:mail\.example\.test/);
    assert.match(san, /DNS:localhost/);
    assert.match(san, /IP Address:127\.0\.0\.1/);
    const years = (Date.parse(x.validTo) - Date.now()) / (365.25 * 24 * 3600 * 1000);
    assert.ok(years > 9.9 && years < 10.1, `valid for ${years} years`);
    assert.ok(Date.parse(x.validFrom) <= Date.now());
    assert.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.match(key, /-----BEGIN PRIVATE KEY-----/);
  });

  test('writeSelfSigned writes tls/cert.pem and a 0600 tls/key.pem that load', async () => {
    const dir = join(tmp.dir, 'data');
    const { certFile, keyFile } = await writeSelfSigned(dir, 'mx.example.test');
    assert.equal(certFile, join(dir, 'tls', 'cert.pem'));
    assert.equal(keyFile, join(dir, 'tls', 'key.pem'));
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    TlsProvider.load({ certFile, keyFile });
  });
});
