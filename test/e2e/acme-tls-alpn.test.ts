// `[tls.acme]` by TLS-ALPN-01 (RFC 8737) when it is the only way: no http listener, so the
// default challenge is tls-alpn-01. First, with a challenge pending, what every implicit-TLS
// listener (IMAPS, POP3S in its worker setup, submissions) answers, as openssl s_client sees
// it: `-alpn acme-tls/1` with the challenge's SNI name gets the challenge certificate (one
// dNSName, the critical acmeIdentifier extension holding SHA-256 of the key authorization),
// acme-tls/1 negotiated, no greeting and the connection closed; every other handshake gets the
// usual certificate and the usual protocol, and imapflow works as before. Then Debian's pebble
// validates for real against the IMAPS port (first issuance) and the POP3S port (renewal), and
// the certificate is served by every TLS listener without a restart.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import { createAlpnChallengeCertificate } from '../../src/acme/alpn-certificate.js';
import type { AcmeStatus } from '../../src/acme/manager.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-port.js';
import { memoryLog } from '../helpers/memory-log.js';
import { type Pebble, preparePebble } from '../helpers/pebble.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const WAIT_MS = 60_000;
const USER = 'alice@example.test';
const PASS = 'correct horse battery';
const KEY_AUTHORIZATION = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.thumbprint-of-the-account';

/** openssl s_client against a listener; `input` is sent, then it waits for the server to close. */
async function sClient(port: number, args: string[], input = ''): Promise<string> {
  const child = spawn(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-ign_eof', '-showcerts', ...args],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stdin.end(input);
  // A server that does not close leaves s_client waiting: killed, and the test fails below.
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill();
  }, 20_000);
  await new Promise((r) => child.once('close', r));
  clearTimeout(timer);
  assert.ok(!killed, `the server closed the connection: ${out}`);
  return out;
}

function leaf(out: string): X509Certificate {
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out);
  assert.ok(pem, `openssl printed the server certificate: ${out}`);
  return new X509Certificate(pem[0]);
}

/** The text openssl printed after the handshake summary: what the server sent, if anything. */
function afterHandshake(out: string): string {
  const end = out.lastIndexOf('---\n');
  return end < 0 ? out : out.slice(end + 4);
}

/**
 * The id-pe-acmeIdentifier extension (1.3.6.1.5.5.7.1.31) of a DER certificate, read from the
 * bytes: Extension ::= SEQUENCE { extnID, critical BOOLEAN, extnValue OCTET STRING } whose
 * extnValue is the DER of Authorization ::= OCTET STRING (SIZE (32)) (RFC 8737 §3).
 */
function acmeIdentifier(der: Buffer): { critical: boolean; digest: Buffer } | undefined {
  const at = der.indexOf(Buffer.from('06082b0601050507011f', 'hex'));
  if (at < 0) return undefined;
  let p = at + 10;
  let critical = false;
  if (der[p] === 0x01 && der[p + 1] === 0x01) {
    critical = der[p + 2] === 0xff;
    p += 3;
  }
  // OCTET STRING (34 bytes) holding OCTET STRING (32 bytes).
  assert.deepEqual([...der.subarray(p, p + 4)], [0x04, 0x22, 0x04, 0x20], 'extnValue layout');
  return { critical, digest: der.subarray(p + 4, p + 36) };
}

let dir: string;
let pebble: Pebble;
let srv: TestServer;
let configured: string;
let skewMs = 0;
const logged = memoryLog('info');
const logLines = (msg: string) => logged.records.filter((r) => r.msg === msg);
const status = (): AcmeStatus => srv.server.acme!.status();

before(async () => {
  if (spawnSync('openssl', ['version']).error) {
    assert.fail('openssl must be installed: apt-get install openssl');
  }
  dir = await mkdtemp(join(tmpdir(), 'lb-alpn-'));
  pebble = await preparePebble(dir);
  srv = await startTestServer({
    // No http listener: HTTP-01 is impossible, the default is TLS-ALPN-01.
    listeners: ['imaps', 'pop3s', 'submissions', 'smtp'],
    log: logged.log,
    extraToml: `[tls.acme]
directory = "${pebble.directory}"
email = "postmaster@example.test"
ca_file = "${pebble.caFile}"
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
  await srv.addUser(USER, PASS);
  configured = new X509Certificate(readFileSync(join(srv.dir, 'tls/cert.pem'))).serialNumber;
});

after(async () => {
  await pebble?.stop();
  await srv?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const LISTENERS = [
  { name: 'imaps', input: 'a LOGOUT\r\n', greeting: /^\* OK /m, bye: /^\* BYE/m },
  { name: 'pop3s', input: 'QUIT\r\n', greeting: /^\+OK /m, bye: /^\+OK [^\n]*\n\+OK /m },
  { name: 'submissions', input: 'QUIT\r\n', greeting: /^220 /m, bye: /^221 /m },
] as const;

describe('with a TLS-ALPN-01 challenge pending', () => {
  before(async () => {
    assert.equal(srv.server.ctx.cfg.tls.acme!.challenge, undefined);
    const a = logLines('ACME: the CA validates by this challenge');
    assert.equal(a[0]?.challenge, 'tls-alpn-01', 'the default without an http listener');
    const { cert, key } = createAlpnChallengeCertificate('localhost', KEY_AUTHORIZATION);
    srv.server.tlsAlpn!.set('localhost', cert, key);
  });

  const digest = createHash('sha256').update(KEY_AUTHORIZATION).digest();

  for (const l of LISTENERS) {
    for (const version of ['-tls1_3', '-tls1_2']) {
      test(`${l.name} ${version}: -alpn acme-tls/1 gets the challenge certificate and nothing else`, async () => {
        const out = await sClient(srv.port(l.name), [
          version,
          '-servername',
          'localhost',
          '-alpn',
          'acme-tls/1',
        ]);
        assert.match(out, /^ALPN protocol: acme-tls\/1$/m, out);
        const cert = leaf(out);
        assert.equal(cert.subjectAltName, 'DNS:localhost');
        const ext = acmeIdentifier(cert.raw);
        assert.ok(ext, 'the acmeIdentifier extension');
        assert.equal(ext.critical, true);
        assert.deepEqual(ext.digest, digest);
        // The server sent no greeting and closed (sClient returned).
        assert.doesNotMatch(afterHandshake(out), l.greeting, out);
      });
    }

    for (const [what, args] of [
      ['no ALPN', ['-servername', 'localhost']],
      ['ALPN imap, pop3, smtp', ['-servername', 'localhost', '-alpn', 'imap,pop3,smtp']],
      ['acme-tls/1 for another name', ['-servername', 'other.example', '-alpn', 'acme-tls/1']],
      ['acme-tls/1 without SNI', ['-noservername', '-alpn', 'acme-tls/1']],
    ] as const) {
      test(`${l.name}, ${what}: the usual certificate and protocol`, async () => {
        const out = await sClient(srv.port(l.name), [...args], l.input);
        assert.match(out, /No ALPN negotiated/, out);
        assert.equal(leaf(out).serialNumber, configured);
        assert.match(out, l.greeting, out);
        assert.match(out, l.bye, out);
      });
    }
  }

  test('imapflow logs in and lists mailboxes meanwhile', async () => {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: srv.port('imaps'),
      secure: true,
      servername: 'localhost',
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASS },
      logger: false,
    });
    c.on('error', () => {});
    try {
      await c.connect();
      const boxes = await c.list();
      assert.ok(boxes.some((b) => b.path === 'INBOX'));
      const lock = await c.getMailboxLock('INBOX');
      lock.release();
    } finally {
      await c.logout().catch(() => {});
    }
  });

  test('a validator that sends data after the handshake gets nothing back', async () => {
    const got = await new Promise<{ alpn: string | false; bytes: number }>((resolve, reject) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port: srv.port('imaps'),
        servername: 'localhost',
        ALPNProtocols: ['acme-tls/1'],
        rejectUnauthorized: false,
      });
      let bytes = 0;
      s.on('secureConnect', () => s.write('a CAPABILITY\r\n'));
      s.on('data', (d: Buffer) => {
        bytes += d.length;
      });
      s.on('error', reject);
      s.on('close', () => resolve({ alpn: s.alpnProtocol ?? false, bytes }));
    });
    assert.deepEqual(got, { alpn: 'acme-tls/1', bytes: 0 });
  });

  test('the challenge removed: acme-tls/1 is not negotiated, the usual certificate serves', async () => {
    srv.server.tlsAlpn!.delete('localhost');
    assert.equal(srv.server.tlsAlpn!.active(), false);
    for (const l of LISTENERS) {
      const out = await sClient(
        srv.port(l.name),
        ['-servername', 'localhost', '-alpn', 'acme-tls/1'],
        l.input,
      );
      assert.match(out, /No ALPN negotiated/, out);
      assert.equal(leaf(out).serialNumber, configured);
      assert.match(out, l.greeting, out);
    }
  });
});

/** Every TLS listener serves a certificate with this serial (SMTP after STARTTLS). */
async function allServe(serial: string): Promise<boolean> {
  for (const name of ['imaps', 'pop3s', 'submissions'] as const) {
    const out = await sClient(
      srv.port(name),
      ['-servername', 'localhost'],
      LISTENERS.find((l) => l.name === name)!.input,
    );
    if (leaf(out).serialNumber !== serial) return false;
  }
  const smtp = await sClient(
    srv.port('smtp'),
    ['-starttls', 'smtp', '-servername', 'localhost'],
    'QUIT\r\n',
  );
  return leaf(smtp).serialNumber === serial;
}

describe('validated by pebble', () => {
  test('obtained by TLS-ALPN-01 on the IMAPS port and served by every TLS listener', async () => {
    await pebble.start(await freePort(), srv.port('imaps'));
    await eventually(() => status().state === 'valid', 'a certificate from pebble', WAIT_MS);
    const s = status();
    assert.equal(s.challenge, 'tls-alpn-01');
    assert.ok(await allServe(s.serial!), 'every listener serving it');
    const cert = leaf(
      await sClient(srv.port('imaps'), ['-servername', 'localhost'], 'a LOGOUT\r\n'),
    );
    assert.match(cert.issuer, /Pebble/);
    assert.ok(cert.checkHost('localhost'));
    assert.ok(logLines('tls-alpn-01 challenge certificate served').length >= 1);
    assert.equal(srv.server.tlsAlpn!.active(), false, 'the challenge is removed afterwards');
  });

  test('renewed by TLS-ALPN-01 on the POP3S port', async () => {
    const first = status();
    const served = logLines('tls-alpn-01 challenge certificate served').length;
    await pebble.stop();
    await pebble.start(await freePort(), srv.port('pop3s'));
    skewMs = Date.parse(first.renewAfter!) - Date.now() + 1000;
    await eventually(() => status().serial !== first.serial, 'a renewal', WAIT_MS);
    skewMs = 0;
    await eventually(
      async () => status().state === 'valid' && (await allServe(status().serial!)),
      'every listener serving the renewed certificate',
      WAIT_MS,
    );
    assert.ok(logLines('tls-alpn-01 challenge certificate served').length > served);
  });
});
