// Where the admin API's token comes from (env over file, first line, checked) and HTTPS on the
// HTTP listener (`[listeners.http] tls = "implicit"`): over TLS the API answers a client from
// outside [auth] plaintext_networks, which gets 403 over plain HTTP.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PlaintextPolicy } from '../../src/auth/plaintext.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { adminApi } from '../../src/http/admin/api.js';
import { AdminAuth } from '../../src/http/admin/auth.js';
import { ADMIN_TOKEN_ENV, loadAdminToken, tokenFileWarning } from '../../src/http/admin/token.js';
import { type HttpListener, startHttp } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { ConnectionLimiter } from '../../src/net/limits.js';
import { writeSelfSigned } from '../../src/net/selfsigned.js';
import { TlsProvider, tlsOptionsOf } from '../../src/net/tls.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { eventually } from '../helpers/eventually.js';

const TOKEN = 'tls-admin-token-0123456789';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lb-admin-tls-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const config = (http = '') =>
  parseConfig(`hostname = "mail.example.test"\n[http]\n${http}\n`, join(dir, 'letterbox.toml'));

describe('admin token', () => {
  test('none configured: null', () => {
    assert.equal(loadAdminToken(config(), {}), null);
  });

  test('the file (relative to the config), its first line; the env wins over it', () => {
    writeFileSync(join(dir, 'token'), `  ${TOKEN}  \nsecond line\n`);
    const cfg = config('admin_token_file = "token"');
    assert.equal(loadAdminToken(cfg, {}), TOKEN);
    assert.equal(
      loadAdminToken(cfg, { [ADMIN_TOKEN_ENV]: 'from-the-environment-123' }),
      'from-the-environment-123',
    );
    assert.equal(loadAdminToken(config(), { [ADMIN_TOKEN_ENV]: TOKEN }), TOKEN);
  });

  test('a token file others may read is warned about (chmod 600)', () => {
    const file = join(dir, 'open-token');
    writeFileSync(file, `${TOKEN}\n`);
    chmodSync(file, 0o644);
    const cfg = config(`admin_token_file = "${file}"`);
    assert.match(tokenFileWarning(cfg, {}) ?? '', /may be read by others \(mode 644\): chmod 600/);
    assert.equal(tokenFileWarning(cfg, { [ADMIN_TOKEN_ENV]: TOKEN }), null, 'the env wins');
    chmodSync(file, 0o600);
    assert.equal(tokenFileWarning(cfg, {}), null);
  });

  test('refused: too short, characters a bearer token cannot carry, a missing file', () => {
    for (const env of ['short', 'has spaces in it but long', 'quote"in-the-token-xxxx']) {
      assert.throws(() => loadAdminToken(config(), { [ADMIN_TOKEN_ENV]: env }), ConfigError, env);
    }
    assert.throws(
      () => loadAdminToken(config('admin_token_file = "no-such-file"'), {}),
      (e: Error) => e instanceof ConfigError && /ENOENT/.test(e.message),
    );
    // The token itself is never in the message.
    try {
      loadAdminToken(config(), { [ADMIN_TOKEN_ENV]: 'secret xyz' });
    } catch (e) {
      assert.ok(!(e as Error).message.includes('secret'));
    }
  });

  test('[listeners.http] tls takes implicit or none, not starttls', () => {
    const parse = (tls: string) =>
      parseConfig(`[listeners.http]\ntls = "${tls}"\n`, join(dir, 'letterbox.toml'));
    assert.equal(parse('implicit').listeners.http.tls, 'implicit');
    assert.throws(() => parse('starttls'), /http takes tls = "implicit"/);
  });
});

describe('HTTPS on the HTTP listener', () => {
  let store: SqliteStore;
  let http: HttpListener;
  // limits.max_connections_per_ip, as all listeners share it: 2 from one source here.
  const limiter = new ConnectionLimiter(2);

  before(async () => {
    const { certFile, keyFile } = await writeSelfSigned(dir, 'localhost');
    store = await SqliteStore.open({ dir: join(dir, 'store') });
    const log = silentLogger();
    http = await startHttp({
      host: '127.0.0.1',
      port: 0,
      store,
      log,
      tls: TlsProvider.load(tlsOptionsOf({ cert: certFile, key: keyFile, sni: [] })),
      limiter,
      routes: [
        adminApi({
          ctx: { store, cfg: config() },
          auth: new AdminAuth({ token: TOKEN, store, log }),
          // No network may use the API in the clear: only TLS is answered.
          plaintext: new PlaintextPolicy([]),
          log,
        }),
      ],
    });
  });
  after(async () => {
    await http.close(1000);
    await store.close();
  });

  function get(path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: http.address().port,
          path,
          rejectUnauthorized: false,
          headers: { authorization: `Bearer ${TOKEN}` },
        },
        (res) => {
          let body = '';
          res.on('data', (d) => {
            body += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  test('the API answers over TLS; the health routes too', async () => {
    const r = await get('/api/v1/whoami');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { kind: 'token' });
    assert.equal((await get('/health')).status, 200);
  });

  test('the per-source connection limit holds before the TLS handshake', async () => {
    const port = http.address().port;
    const open = async () => {
      const s = net.connect(port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('error', reject);
      });
      return s;
    };
    const held = [await open(), await open()];
    const third = await open();
    // Closed unanswered, without a handshake (the server never writes to it).
    const closed = await new Promise<{ bytes: number }>((resolve, reject) => {
      setTimeout(() => reject(new Error('the third connection was not closed')), 20_000).unref();
      let bytes = 0;
      third.on('data', (d) => {
        bytes += d.length;
      });
      third.on('error', () => {});
      third.on('close', () => resolve({ bytes }));
    });
    assert.equal(closed.bytes, 0);
    for (const s of held) s.destroy();
    // Their places are given back: the API answers again.
    let status = 0;
    await eventually(
      async () => {
        status = (await get('/api/v1/whoami').catch(() => ({ status: 0 }))).status;
        return status === 200;
      },
      'the API answering once the held connections closed',
      20_000,
    );
  });

  test('plain HTTP to the TLS port gets no answer', async () => {
    await assert.rejects(
      fetch(`http://127.0.0.1:${http.address().port}/api/v1/whoami`, {
        headers: { authorization: `Bearer ${TOKEN}` },
        signal: AbortSignal.timeout(10_000),
      }),
    );
  });
});
