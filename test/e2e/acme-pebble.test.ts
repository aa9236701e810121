// `[tls.acme]` against a real ACME CA: Debian's pebble on loopback, with real HTTP-01
// validation (pebble fetches /.well-known/acme-challenge/<token> from Letterbox's http
// listener). Letterbox starts before the CA is up (the attempt fails, is retried with backoff,
// the configured certificate serves meanwhile), obtains a certificate, serves it on IMAP, POP3
// (in a worker process), SMTP STARTTLS and submissions without a restart, renews it when the
// (injected) clock says it is close to expiry, keeps it when the CA is gone and says so in
// /healthz, and serves it from the data directory after a restart.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { acmeFiles } from '../../src/acme/files.js';
import type { AcmeStatus } from '../../src/acme/manager.js';
import { eventually } from '../helpers/eventually.js';
import { memoryLog } from '../helpers/memory-log.js';
import { type Pebble, preparePebble } from '../helpers/pebble.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const WAIT_MS = 60_000;

/** The certificate a TLS listener serves now (implicit TLS, no SNI checks). */
async function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false },
      () => {
        const serial = s.getPeerX509Certificate()!.serialNumber;
        s.destroy();
        resolve(serial);
      },
    );
    s.on('error', reject);
  });
}

/** The certificate the SMTP listener serves after STARTTLS (RFC 3207), as openssl sees it. */
async function starttlsSerial(port: number): Promise<string> {
  // Asynchronously: the server runs in this process.
  const child = spawn(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-starttls', 'smtp', '-servername', 'localhost'],
    { stdio: ['pipe', 'pipe', 'ignore'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stdin.end();
  const timer = setTimeout(() => child.kill(), 20_000);
  await new Promise((r) => child.once('close', r));
  clearTimeout(timer);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out);
  assert.ok(pem, `openssl printed the server certificate: ${out}`);
  return new X509Certificate(pem[0]).serialNumber;
}

async function healthz(port: number): Promise<{ acme?: AcmeStatus }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return (await res.json()) as { acme?: AcmeStatus };
}

let dir: string;
let pebble: Pebble;
let srv: TestServer;
let skewMs = 0;
const logged = memoryLog('info');
const logLines = (msg: string) => logged.records.filter((r) => r.msg === msg);

const ports = () => ({
  imaps: srv.port('imaps'),
  pop3s: srv.port('pop3s'),
  submissions: srv.port('submissions'),
  smtp: srv.port('smtp'),
});

/** Every TLS listener serves a certificate with this serial. */
async function allServe(serial: string): Promise<boolean> {
  const p = ports();
  const seen = [
    await servedSerial(p.imaps),
    await servedSerial(p.pop3s),
    await servedSerial(p.submissions),
    await starttlsSerial(p.smtp),
  ];
  return seen.every((s) => s === serial);
}

function status(): AcmeStatus {
  return srv.server.acme!.status();
}

before(async () => {
  if (spawnSync('openssl', ['version']).error) {
    assert.fail('openssl must be installed: apt-get install openssl');
  }
  dir = await mkdtemp(join(tmpdir(), 'lb-pebble-'));
  pebble = await preparePebble(dir);
  srv = await startTestServer({
    listeners: ['http', 'imaps', 'pop3s', 'submissions', 'smtp'],
    log: logged.log,
    extraToml: `[tls.acme]
directory = "${pebble.directory}"
email = "postmaster@example.test"
ca_file = "${pebble.caFile}"
challenge = "http-01"
[pop3]
workers = 1
`,
    internals: {
      acme: {
        now: () => Date.now() + skewMs,
        checkEveryMs: 300,
        httpRetries: 0,
        retryBaseMs: 200,
        retryMaxMs: 1000,
      },
    },
  });
});

after(async () => {
  await pebble?.stop();
  await srv?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('before the CA answers: the attempt fails, is retried, the configured certificate serves', async () => {
  const configured = new X509Certificate(readFileSync(join(srv.dir, 'tls/cert.pem'))).serialNumber;
  await eventually(() => status().failures >= 2, 'two failed attempts', WAIT_MS);
  const s = status();
  assert.equal(s.state, 'failing');
  assert.deepEqual(s.names, ['localhost']);
  assert.equal(s.challenge, 'http-01');
  assert.ok(s.lastError);
  assert.ok(await allServe(configured), 'the configured certificate is served');
  assert.equal((await healthz(srv.port('http'))).acme?.state, 'failing');
  const lines = logLines(
    'ACME certificate request failed; the configured certificate stays in use',
  );
  assert.ok(lines.length >= 2);
  assert.equal(lines[0]!.level, 50);
  assert.ok(typeof lines[0]!.retryInSeconds === 'number');
});

test('obtained at first start by HTTP-01 and served by every TLS listener without a restart', async () => {
  // Real validation: pebble fetches the challenge from the http listener's port.
  await pebble.start(srv.port('http'));
  await eventually(() => status().state === 'valid', 'a certificate from pebble', WAIT_MS);
  const s = status();
  assert.equal(s.failures, 0);
  assert.equal(s.lastError, undefined);
  await eventually(() => allServe(s.serial!), 'every listener serving it', WAIT_MS);
  const files = acmeFiles(srv.dir);
  const cert = new X509Certificate(readFileSync(files.cert));
  assert.equal(cert.serialNumber, s.serial);
  assert.match(cert.issuer, /Pebble/);
  assert.ok(cert.checkHost('localhost'));
  for (const f of [files.cert, files.key, join(srv.dir, 'acme/account.pem')]) {
    assert.equal(statSync(f).mode & 0o777, 0o600, f);
  }
  assert.equal(statSync(join(srv.dir, 'acme')).mode & 0o777, 0o700);
  const installed = logLines('ACME certificate installed in every TLS listener');
  assert.equal(installed.length, 1);
  assert.equal(installed[0]!.serial, s.serial);
  const h = await healthz(srv.port('http'));
  assert.equal(h.acme?.state, 'valid');
  assert.equal(h.acme?.serial, s.serial);
  // The ACME client trusted pebble's certificate through ca_file only, not process-wide.
  await assert.rejects(
    new Promise((resolve, reject) => {
      https.get(`https://127.0.0.1:${new URL(pebbleDir()).port}/dir`, resolve).on('error', reject);
    }),
  );
});

function pebbleDir(): string {
  return srv.server.ctx.cfg.tls.acme!.directory;
}

test('renewed when close to expiry, and the new certificate served without a restart', async () => {
  const first = status();
  // Move the clock to just past the renewal time; put it back once a new one is issued.
  skewMs = Date.parse(first.renewAfter!) - Date.now() + 1000;
  await eventually(() => status().serial !== first.serial, 'a renewal', WAIT_MS);
  skewMs = 0;
  await eventually(
    async () => status().state === 'valid' && (await allServe(status().serial!)),
    'every listener serving the renewed certificate',
    WAIT_MS,
  );
  assert.notEqual(status().serial, first.serial);
});

test('the CA gone at renewal: the current certificate stays, the log and /healthz say so', async () => {
  const good = status();
  await pebble.stop();
  skewMs = Date.parse(good.renewAfter!) - Date.now() + 1000;
  await eventually(() => status().failures >= 2, 'failed renewals', WAIT_MS);
  const s = status();
  assert.equal(s.state, 'failing');
  assert.equal(s.serial, good.serial);
  assert.ok(s.lastError);
  assert.ok(await allServe(good.serial!), 'the last good certificate is still served');
  const h = await healthz(srv.port('http'));
  assert.equal(h.acme?.state, 'failing');
  assert.equal(h.acme?.serial, good.serial);
  const kept = logLines('ACME certificate renewal failed; keeping the current certificate');
  assert.ok(kept.length >= 1);
  assert.deepEqual(kept.at(-1)!.keeping, {
    serial: good.serial,
    notAfter: new X509Certificate(readFileSync(acmeFiles(srv.dir).cert)).validTo,
  });
  skewMs = 0;
});

test('after a restart the certificate in the data directory is served at once', async () => {
  const good = status().serial!;
  await srv.restart();
  assert.ok(await allServe(good));
  await eventually(() => status().state === 'valid', 'the certificate read back', WAIT_MS);
  assert.equal(status().serial, good);
});
