// The TLS settings every server context gets (Mozilla "intermediate" without DHE, see
// src/net/tls.ts), checked with a real client, `openssl s_client`, against implicit TLS (993),
// STARTTLS on SMTP submission and IMAP, and the SNI context of each: TLS 1.1, RSA key exchange
// and CBC suites are refused, ECDHE with AES-GCM and TLS 1.3 are accepted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { TLS_CIPHERS } from '../../src/net/tls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir, writeCert } from './helpers.js';

interface SClient {
  code: number | null;
  out: string;
}

function sClient(port: number, args: string[]): Promise<SClient> {
  return new Promise((resolve, reject) => {
    // stdin is /dev/null: s_client completes the handshake, reads EOF and quits (exit 0);
    // a failed handshake exits 1.
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** The cipher negotiated, or null when the handshake failed. */
function negotiated(r: SClient): string | null {
  const m = /Cipher is ([A-Z0-9_-]+)/.exec(r.out);
  return r.code === 0 && m && m[1] !== '(NONE)' ? m[1]! : null;
}

const certs = tempDir();
let srv: TestServer;

before(async () => {
  const sni = await writeCert(certs.dir, 'sni.test');
  srv = await startTestServer({
    listeners: ['imaps', 'imap', 'submission'],
    extraToml: `[tls]
sni = [{ servername = "sni.test", cert = "${sni.certFile}", key = "${sni.keyFile}" }]
`,
  });
});

after(async () => {
  await srv?.stop();
  certs.cleanup();
});

const TARGETS: { name: string; listener: 'imaps' | 'imap' | 'submission'; args: string[] }[] = [
  { name: 'implicit TLS (imaps)', listener: 'imaps', args: [] },
  { name: 'SMTP STARTTLS (submission)', listener: 'submission', args: ['-starttls', 'smtp'] },
  { name: 'IMAP STARTTLS', listener: 'imap', args: ['-starttls', 'imap'] },
];

test('the cipher list: TLS 1.3 suites (else Node turns TLS 1.3 off), ECDHE with AEAD only', () => {
  const names = TLS_CIPHERS.split(':');
  assert.ok(names.includes('TLS_AES_128_GCM_SHA256'));
  for (const n of names) {
    assert.match(n, /^TLS_|^ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
  }
});

for (const t of TARGETS) {
  for (const servername of [undefined, 'sni.test']) {
    const label = `${t.name}${servername ? ', SNI context' : ''}`;
    describe(label, () => {
      const run = (args: string[]) =>
        sClient(srv.port(t.listener), [
          ...t.args,
          ...(servername ? ['-servername', servername] : ['-noservername']),
          ...args,
        ]);

      test('RSA key exchange (AES128-SHA) is refused', async () => {
        const r = await run(['-tls1_2', '-cipher', 'AES128-SHA']);
        assert.equal(negotiated(r), null, r.out);
        assert.match(r.out, /handshake failure/, r.out);
      });

      test('ECDHE with a CBC cipher (ECDHE-RSA-AES128-SHA) is refused', async () => {
        const r = await run(['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA']);
        assert.equal(negotiated(r), null, r.out);
        assert.match(r.out, /handshake failure/, r.out);
      });

      test('TLS 1.1 is refused', async () => {
        // SECLEVEL=0: else the client itself declines to offer TLS 1.1 and nothing is tested.
        const r = await run(['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
        assert.equal(negotiated(r), null, r.out);
        assert.match(r.out, /protocol version/, r.out);
      });

      test('TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 is accepted', async () => {
        const r = await run(['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']);
        assert.equal(negotiated(r), 'ECDHE-RSA-AES128-GCM-SHA256', r.out);
        if (servername) assert.match(r.out, /subject=CN\s*=\s*sni\.test/, r.out);
      });

      test('TLS 1.3 is accepted', async () => {
        const r = await run(['-tls1_3']);
        assert.match(negotiated(r) ?? '', /^TLS_/, r.out);
        assert.match(r.out, /TLSv1\.3/, r.out);
        if (servername) assert.match(r.out, /subject=CN\s*=\s*sni\.test/, r.out);
      });
    });
  }
}
