// The JSON admin API in process: each route's status, body and headers; the token and session
// rules (401 with no detail, sessions of admin accounts only, through the login throttle);
// bad input (400 with zod issues, 413, 415, 405 with Allow); the OpenAPI document against the
// route table; and that neither the token nor a password reaches the log.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Authenticator } from '../../src/auth/authenticator.js';
import { TEST_SCRYPT_PARAMS } from '../../src/auth/password.js';
import { PlaintextPolicy } from '../../src/auth/plaintext.js';
import { AuthThrottle } from '../../src/auth/throttle.js';
import { parseConfig } from '../../src/config/load.js';
import { adminApi, adminRoutes } from '../../src/http/admin/api.js';
import { AdminAuth } from '../../src/http/admin/auth.js';
import { MAX_BODY } from '../../src/http/admin/body.js';
import { type HttpListener, startHttp } from '../../src/http/server.js';
import { StoreError } from '../../src/store/errors.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { memoryLog } from '../helpers/memory-log.js';

const TOKEN = 'admin-token-0123456789abcdef';
const PASSWORD = 'correct horse battery';

let dir: string;
let store: SqliteStore;
let http: HttpListener;
let strict: HttpListener;
let base: string;
let throttle: AuthThrottle;
const logged = memoryLog('debug');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lb-admin-api-'));
  const cfg = parseConfig(
    `hostname = "mail.example.test"\ndata_dir = "${dir}"\n[auth]\nmin_password_length = 10\n`,
    join(dir, 'letterbox.toml'),
  );
  store = await SqliteStore.open({ dir });
  throttle = new AuthThrottle({ maxFailuresPerAccount: 3, maxFailuresPerIp: 1000, delayStepMs: 0 });
  const authenticator = new Authenticator({
    lookup: async (u) => {
      const a = await store.getAccount(u);
      return (
        a && {
          id: a.id,
          address: a.address,
          passwordHash: a.passwordHash,
          disabled: a.disabled,
          unlockedAt: a.unlockedAt?.getTime() ?? null,
        }
      );
    },
    throttle,
    log: logged.log,
    hashParams: TEST_SCRYPT_PARAMS,
    verified: null,
  });
  const route = (plaintext: string[]) =>
    adminApi({
      ctx: {
        store,
        cfg,
        locked: (a) => throttle.accountLocked(a.address, a.unlockedAt?.getTime() ?? null),
      },
      auth: new AdminAuth({ token: TOKEN, authenticator, throttle, store, log: logged.log }),
      plaintext: new PlaintextPolicy(plaintext),
      log: logged.log,
    });
  http = await startHttp({
    host: '127.0.0.1',
    port: 0,
    store,
    log: logged.log,
    routes: [route(['127.0.0.0/8', '::1'])],
  });
  strict = await startHttp({
    host: '127.0.0.1',
    port: 0,
    store,
    log: logged.log,
    routes: [route([])],
  });
  base = `http://127.0.0.1:${http.address().port}/api/v1`;
});

after(async () => {
  await http.close(1000);
  await strict.close(1000);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
  body: any;
}

async function call(
  method: string,
  path: string,
  opts: { body?: unknown; raw?: string; token?: string | null; type?: string; url?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
  const res = await fetch(`${opts.url ?? base}${path}`, { method, headers, body });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text === '' ? undefined : JSON.parse(text),
  };
}

const UNAUTHORIZED = { error: 'unauthorized' };

describe('admin API: authentication', () => {
  test('no token, a wrong one, another scheme: 401, WWW-Authenticate: Bearer, no detail', async () => {
    for (const token of [null, 'wrong-token-0123456789abcdef', `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const r = await call('GET', '/domains', { token });
      assert.equal(r.status, 401, String(token));
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer\b/);
      assert.deepEqual(r.body, UNAUTHORIZED);
    }
    const basic = await fetch(`${base}/domains`, {
      headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
    });
    assert.equal(basic.status, 401);
    assert.deepEqual(await basic.json(), UNAUTHORIZED);
  });

  test('the token: whoami; JSON with charset, no-store', async () => {
    const r = await call('GET', '/whoami');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { kind: 'token' });
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(r.headers.get('cache-control'), 'no-store');
  });

  test('sessions: from the token, from an admin account; not from others; DELETE ends one', async () => {
    await store.addDomain('session.test');
    await call('POST', '/accounts', {
      body: { address: 'boss@session.test', password: PASSWORD, admin: true },
    });
    await call('POST', '/accounts', { body: { address: 'user@session.test', password: PASSWORD } });

    const byToken = await call('POST', '/session', { token: null, body: { token: TOKEN } });
    assert.equal(byToken.status, 200);
    assert.deepEqual(Object.keys(byToken.body).sort(), ['expires', 'session']);
    const hours = (Date.parse(byToken.body.expires) - Date.now()) / 3600_000;
    assert.ok(hours > 11.9 && hours <= 12, String(hours));
    assert.deepEqual((await call('GET', '/whoami', { token: byToken.body.session })).body, {
      kind: 'token',
    });

    const byAccount = await call('POST', '/session', {
      token: null,
      body: { username: 'Boss@session.test', password: PASSWORD },
    });
    assert.equal(byAccount.status, 200);
    const session = byAccount.body.session as string;
    assert.deepEqual((await call('GET', '/whoami', { token: session })).body, {
      kind: 'account',
      username: 'boss@session.test',
    });
    assert.equal((await call('GET', '/domains', { token: session })).status, 200);

    for (const body of [
      { username: 'user@session.test', password: PASSWORD }, // right password, not an admin
      { username: 'boss@session.test', password: 'wrong password' },
      { username: 'nobody@session.test', password: PASSWORD },
      { token: 'wrong-token-0123456789abcdef' },
    ]) {
      const r = await call('POST', '/session', { token: null, body });
      assert.equal(r.status, 401, JSON.stringify(body));
      assert.deepEqual(r.body, UNAUTHORIZED);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer\b/);
    }
    const bad = await call('POST', '/session', { token: null, body: { user: 'x' } });
    assert.equal(bad.status, 400);

    assert.equal((await call('DELETE', '/session', { token: session })).status, 204);
    assert.deepEqual((await call('GET', '/whoami', { token: session })).body, UNAUTHORIZED);

    // Taking the role away ends the account's sessions at their next request.
    const again = await call('POST', '/session', {
      token: null,
      body: { username: 'boss@session.test', password: PASSWORD },
    });
    assert.equal(again.status, 200);
    await call('PATCH', '/accounts/boss%40session.test', { body: { admin: false } });
    assert.equal((await call('GET', '/whoami', { token: again.body.session })).status, 401);
  });

  test('failed sign-ins go through the login throttle: the account locks (429), locked shows', async () => {
    await store.addDomain('lock.test');
    await call('POST', '/accounts', {
      body: { address: 'lee@lock.test', password: PASSWORD, admin: true },
    });
    for (let i = 0; i < 3; i++) {
      const r = await call('POST', '/session', {
        token: null,
        body: { username: 'lee@lock.test', password: `wrong ${i}` },
      });
      assert.equal(r.status, 401);
    }
    const locked = await call('POST', '/session', {
      token: null,
      body: { username: 'lee@lock.test', password: PASSWORD },
    });
    assert.equal(locked.status, 429);
    assert.equal(locked.body.error, 'too_many_attempts');
    assert.match(locked.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal((await call('GET', '/accounts/lee%40lock.test')).body.locked, true);
    assert.equal((await call('POST', '/accounts/lee%40lock.test/unlock')).status, 204);
    assert.equal((await call('GET', '/accounts/lee%40lock.test')).body.locked, false);
    const after = await call('POST', '/session', {
      token: null,
      body: { username: 'lee@lock.test', password: PASSWORD },
    });
    assert.equal(after.status, 200);
  });

  test('without TLS, only from [auth] plaintext_networks: 403 tls_required (openapi.json still served)', async () => {
    const url = `http://127.0.0.1:${strict.address().port}/api/v1`;
    const r = await call('GET', '/domains', { url });
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'tls_required');
    const s = await call('POST', '/session', { url, token: null, body: { token: TOKEN } });
    assert.equal(s.status, 403);
    assert.equal((await call('GET', '/openapi.json', { url, token: null })).status, 200);
  });
});

describe('admin API: requests', () => {
  test('unknown route 404, wrong method 405 with Allow, a bad escape 400', async () => {
    const r = await call('GET', '/nothing');
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 'not_found');
    const m = await call('PUT', '/domains');
    assert.equal(m.status, 405);
    assert.equal(m.headers.get('allow'), 'GET, HEAD, POST');
    assert.equal(m.body.error, 'method_not_allowed');
    assert.equal((await call('GET', '/accounts/%E0%A4%A')).status, 400);
    // RFC 9110 §9.3.2: HEAD as GET without the content.
    const head = await call('HEAD', '/domains');
    assert.equal(head.status, 200);
    assert.equal(head.body, undefined);
    assert.equal(head.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal((await call('HEAD', '/domains', { token: null })).status, 401);
  });

  test('a chunked body (no Content-Length) over 64 KiB: 413 and the connection closed', async () => {
    const { port } = http.address();
    const answer = await new Promise<{ status: number; connection: string | undefined }>(
      (resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/api/v1/domains',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, connection: res.headers.connection });
          },
        );
        req.on('error', () => {}); // the server may close while the rest is being sent
        const chunk = Buffer.alloc(16 * 1024, 'x');
        let sent = 0;
        const more = () => {
          while (sent < 8 && req.write(chunk)) sent++;
          if (sent < 8) req.once('drain', () => more());
          else req.end();
        };
        more();
        setTimeout(() => reject(new Error('no answer')), 30_000).unref();
      },
    );
    assert.equal(answer.status, 413);
    assert.equal(answer.connection, 'close');
  });

  test('bodies: 413 over 64 KiB, 415 not JSON, 400 not parseable, 400 not an object', async () => {
    const big = await call('POST', '/domains', {
      raw: JSON.stringify({ name: 'x'.repeat(MAX_BODY) }),
    });
    assert.equal(big.status, 413);
    assert.equal(big.body.error, 'too_large');
    const text = await call('POST', '/domains', { raw: 'name=x.test', type: 'text/plain' });
    assert.equal(text.status, 415);
    assert.equal(text.body.error, 'unsupported_media_type');
    const broken = await call('POST', '/domains', { raw: '{"name":' });
    assert.equal(broken.status, 400);
    assert.equal(broken.body.error, 'invalid_json');
    const notObject = await call('POST', '/domains', { body: ['x.test'] });
    assert.equal(notObject.status, 400);
    assert.equal(notObject.body.error, 'invalid');
    // The connection that carried the refused body is not reused; the server still answers.
    assert.equal((await call('GET', '/domains')).status, 200);
  });
});

describe('admin API: resources', () => {
  test('domains: add, 409 again, 400 with issues, list with counts, 409 while not empty, remove', async () => {
    const add = await call('POST', '/domains', { body: { name: 'Example.TEST' } });
    assert.equal(add.status, 201);
    assert.deepEqual(add.body, { name: 'example.test' });
    const again = await call('POST', '/domains', { body: { name: 'example.test' } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error, 'conflict');
    const bad = await call('POST', '/domains', { body: { name: 'not a domain', extra: 1 } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid');
    assert.deepEqual(bad.body.issues.map((i: { path: string }) => i.path).sort(), ['', 'name']);
    await call('POST', '/accounts', { body: { address: 'a@example.test', password: PASSWORD } });
    await call('POST', '/aliases', {
      body: { address: 'b@example.test', targets: ['a@example.test'] },
    });
    const list = await call('GET', '/domains');
    assert.equal(list.status, 200);
    const d = list.body.domains.find((x: { name: string }) => x.name === 'example.test');
    assert.equal(d.accounts, 1);
    assert.equal(d.aliases, 1);
    const inUse = await call('DELETE', '/domains/example.test');
    assert.equal(inUse.status, 409);
    assert.match(inUse.body.message, /1 account/);
    assert.equal((await call('DELETE', '/domains/example.test?force=true')).status, 204);
    assert.equal((await call('DELETE', '/domains/example.test')).status, 404);
  });

  test('accounts: create (no password echoed), validation issues, get, patch, remove', async () => {
    await call('POST', '/domains', { body: { name: 'acc.test' } });
    const made = await call('POST', '/accounts', {
      body: { address: 'Carol@acc.test', password: PASSWORD, quota: '2G' },
    });
    assert.equal(made.status, 201);
    assert.deepEqual(
      { ...made.body, createdAt: 'x' },
      {
        address: 'carol@acc.test',
        quota: 2 * 1024 ** 3,
        used: 0,
        disabled: false,
        locked: false,
        admin: false,
        pop3Policy: 'delete',
        createdAt: 'x',
      },
    );
    assert.ok(!JSON.stringify(made.body).includes(PASSWORD));
    assert.equal(
      (await call('POST', '/accounts', { body: { address: 'carol@acc.test', password: PASSWORD } }))
        .status,
      409,
    );
    const noDomain = await call('POST', '/accounts', {
      body: { address: 'x@elsewhere.test', password: PASSWORD },
    });
    assert.equal(noDomain.status, 404);
    const bad = await call('POST', '/accounts', {
      body: { address: 'no-at', password: 'short', quota: 'lots', admin: 'yes', color: 'red' },
    });
    assert.equal(bad.status, 400);
    const paths = bad.body.issues.map((i: { path: string }) => i.path).sort();
    assert.deepEqual(paths, ['', 'address', 'admin', 'password', 'quota']);
    assert.match(
      bad.body.issues.find((i: { path: string }) => i.path === 'password').message,
      /at least 10/,
    );
    assert.ok(!JSON.stringify(bad.body).includes('short'), 'the password is not echoed');

    const got = await call('GET', '/accounts/carol%40acc.test');
    assert.equal(got.status, 200);
    assert.equal(got.body.address, 'carol@acc.test');
    assert.equal((await call('GET', '/accounts/nobody%40acc.test')).status, 404);
    const listed = await call('GET', '/accounts?domain=acc.test');
    assert.deepEqual(
      listed.body.accounts.map((a: { address: string }) => a.address),
      ['carol@acc.test'],
    );

    const patched = await call('PATCH', '/accounts/carol%40acc.test', {
      body: { quota: null, disabled: true, admin: true, password: 'another long one' },
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.quota, null);
    assert.equal(patched.body.disabled, true);
    assert.equal(patched.body.admin, true);
    const policy = await call('PATCH', '/accounts/carol%40acc.test', {
      body: { pop3Policy: 'keep' },
    });
    assert.equal(policy.body.pop3Policy, 'keep');
    assert.equal(
      (await call('PATCH', '/accounts/carol%40acc.test', { body: { pop3Policy: 'shred' } })).status,
      400,
    );
    assert.equal(
      (await call('PATCH', '/accounts/carol%40acc.test', { body: { quota: -1 } })).status,
      400,
    );
    assert.equal(
      (await call('PATCH', '/accounts/carol%40acc.test', { body: { password: 'short' } })).status,
      400,
    );
    assert.equal((await call('POST', '/accounts/carol%40acc.test/unlock')).status, 204);
    assert.equal((await call('DELETE', '/accounts/carol%40acc.test')).status, 204);
    assert.equal((await call('DELETE', '/accounts/carol%40acc.test')).status, 404);
  });

  test('app passwords: made once with the password, listed without it, revoked', async () => {
    await call('POST', '/domains', { body: { name: 'app.test' } });
    await call('POST', '/accounts', { body: { address: 'dan@app.test', password: PASSWORD } });
    const made = await call('POST', '/accounts/dan%40app.test/app-passwords', {
      body: { name: 'phone' },
    });
    assert.equal(made.status, 201);
    assert.equal(made.body.name, 'phone');
    assert.equal(typeof made.body.password, 'string');
    assert.equal(
      (await call('POST', '/accounts/dan%40app.test/app-passwords', { body: { name: 'phone' } }))
        .status,
      409,
    );
    assert.equal(
      (await call('POST', '/accounts/dan%40app.test/app-passwords', { body: { name: '' } })).status,
      400,
    );
    const list = await call('GET', '/accounts/dan%40app.test/app-passwords');
    assert.equal(list.status, 200);
    assert.equal(list.body.appPasswords.length, 1);
    assert.deepEqual(Object.keys(list.body.appPasswords[0]).sort(), [
      'created',
      'lastUsed',
      'name',
    ]);
    assert.ok(!JSON.stringify(list.body).includes(made.body.password));
    assert.equal(
      (await call('DELETE', '/accounts/dan%40app.test/app-passwords/phone')).status,
      204,
    );
    assert.equal(
      (await call('DELETE', '/accounts/dan%40app.test/app-passwords/phone')).status,
      404,
    );
  });

  test('aliases: add (a loop with a warning), bad target with its issue path, list, remove', async () => {
    await call('POST', '/domains', { body: { name: 'alias.test' } });
    const a = await call('POST', '/aliases', {
      body: { address: 'a@alias.test', targets: ['b@alias.test'] },
    });
    assert.equal(a.status, 201);
    assert.deepEqual(a.body, { address: 'a@alias.test', targets: ['b@alias.test'], warnings: [] });
    const b = await call('POST', '/aliases', {
      body: { address: 'b@alias.test', targets: ['a@alias.test', 'x@remote.test'] },
    });
    assert.equal(b.status, 201);
    assert.match(b.body.warnings[0], /b@alias\.test -> a@alias\.test -> b@alias\.test is a loop/);
    const bad = await call('POST', '/aliases', {
      body: { address: 'c@alias.test', targets: ['a@alias.test', 'x@nodot'] },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.issues.map((i: { path: string }) => i.path),
      ['targets.1'],
    );
    assert.equal(
      (await call('POST', '/aliases', { body: { address: 'c@alias.test', targets: [] } })).status,
      400,
    );
    const list = await call('GET', '/aliases?domain=alias.test');
    assert.deepEqual(
      list.body.aliases.map((x: { address: string }) => x.address),
      ['a@alias.test', 'b@alias.test'],
    );
    assert.equal((await call('DELETE', '/aliases/a%40alias.test')).status, 204);
    assert.equal((await call('DELETE', '/aliases/a%40alias.test')).status, 404);
  });

  test('queue: list, one item, hold, release, retry, delete; 404 and 400 for ids', async () => {
    const id = await store.enqueueOutbound({
      sender: 'a@queue.test',
      recipients: [{ address: 'r@remote.test' }],
      raw: Buffer.from('Subject: hi\r\n\r\nhello\r\n'),
    });
    const list = await call('GET', '/queue');
    assert.equal(list.status, 200);
    const item = list.body.items.find((i: { id: number }) => i.id === id);
    assert.equal(item.from, 'a@queue.test');
    assert.deepEqual(item.to, ['r@remote.test']);
    assert.equal(item.state, 'pending');
    assert.equal(item.attempts, 0);
    assert.equal(item.lastError, null);
    assert.equal(typeof item.age, 'number');
    const one = await call('GET', `/queue/${id}`);
    assert.equal(one.body.header, 'Subject: hi');
    assert.equal((await call('POST', `/queue/${id}/hold`)).status, 204);
    assert.equal((await call('GET', `/queue/${id}`)).body.state, 'held');
    const flush = await call('POST', '/queue/flush');
    assert.equal(flush.status, 200);
    assert.equal(typeof flush.body.due, 'number');
    assert.equal((await call('POST', `/queue/${id}/release`)).status, 204);
    assert.equal((await call('GET', `/queue/${id}`)).body.state, 'pending');
    assert.equal((await call('POST', `/queue/${id}/retry`)).status, 204);
    assert.equal((await call('DELETE', `/queue/${id}`)).status, 204);
    assert.equal((await call('GET', `/queue/${id}`)).status, 404);
    assert.equal((await call('DELETE', `/queue/${id}`)).status, 404);
    const bad = await call('POST', '/queue/abc/retry');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid');
  });

  test('DKIM keys: make one, list, 409 on deleting a signing key, retire, delete', async () => {
    await call('POST', '/domains', { body: { name: 'dkim.test' } });
    const made = await call('POST', '/domains/dkim.test/dkim', { body: { algorithm: 'ed25519' } });
    assert.equal(made.status, 201);
    assert.equal(made.body.algorithm, 'ed25519');
    assert.equal(made.body.state, 'signing');
    assert.equal(made.body.dnsName, `${made.body.selector}._domainkey.dkim.test`);
    assert.match(made.body.dnsValue, /^v=DKIM1; k=ed25519; p=/);
    const rsa = await call('POST', '/domains/dkim.test/dkim');
    assert.equal(rsa.status, 201);
    assert.equal(rsa.body.algorithm, 'rsa');
    assert.equal(
      (await call('POST', '/domains/dkim.test/dkim', { body: { algorithm: 'dsa' } })).status,
      400,
    );
    assert.equal((await call('POST', '/domains/none.test/dkim', { body: {} })).status, 404);
    const list = await call('GET', '/domains/dkim.test/dkim');
    assert.equal(list.body.keys.length, 2);
    const sel = made.body.selector as string;
    assert.equal((await call('DELETE', `/domains/dkim.test/dkim/${sel}`)).status, 409);
    const retired = await call('POST', `/domains/dkim.test/dkim/${sel}/retire`);
    assert.equal(retired.status, 200);
    assert.equal(retired.body.state, 'retired');
    assert.equal((await call('DELETE', `/domains/dkim.test/dkim/${sel}`)).status, 204);
    assert.equal((await call('DELETE', `/domains/dkim.test/dkim/${sel}`)).status, 404);
  });

  test('DNS records: what `letterbox dns` prints, unchecked unless asked', async () => {
    await call('POST', '/domains', { body: { name: 'dns.test' } });
    const r = await call('GET', '/domains/dns.test/dns');
    assert.equal(r.status, 200);
    const mx = r.body.records.find((x: { type: string }) => x.type === 'MX');
    assert.deepEqual(
      { type: mx.type, name: mx.name, value: mx.value, status: mx.status },
      { type: 'MX', name: 'dns.test', value: '10 mail.example.test.', status: 'unchecked' },
    );
    assert.ok(r.body.records.every((x: { purpose: string }) => x.purpose.length > 0));
    assert.equal((await call('GET', '/domains/none.test/dns')).status, 404);
  });
});

describe('admin API: the store unreachable', () => {
  test('503 unavailable with Retry-After, not a 500', async () => {
    const down = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'listDomains') {
          return () => Promise.reject(new StoreError('UNAVAILABLE', 'database restarting'));
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const cfg = parseConfig(`data_dir = "${dir}"\n`, join(dir, 'letterbox.toml'));
    const l = await startHttp({
      host: '127.0.0.1',
      port: 0,
      store,
      log: logged.log,
      routes: [
        adminApi({
          ctx: { store: down, cfg },
          auth: new AdminAuth({ token: TOKEN, store, log: logged.log }),
          plaintext: new PlaintextPolicy(['127.0.0.0/8']),
          log: logged.log,
        }),
      ],
    });
    try {
      const r = await call('GET', '/domains', {
        url: `http://127.0.0.1:${l.address().port}/api/v1`,
      });
      assert.equal(r.status, 503);
      assert.equal(r.body.error, 'unavailable');
      assert.equal(r.headers.get('retry-after'), '5');
    } finally {
      await l.close(1000);
    }
  });
});

describe('admin API: the OpenAPI document', () => {
  test('served without a token; every route in it, and nothing else', async () => {
    const r = await call('GET', '/openapi.json', { token: null });
    assert.equal(r.status, 200);
    const doc = r.body;
    assert.equal(doc.openapi, '3.1.0');
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const routed = adminRoutes()
      .map((x) => `${x.method} ${x.path}`)
      .sort();
    assert.deepEqual(documented, routed);
    // Request bodies carry the shared schemas' fields.
    const create = doc.paths['/accounts'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(Object.keys(create.properties).sort(), [
      'address',
      'admin',
      'password',
      'quota',
    ]);
    assert.deepEqual(create.required.sort(), ['address', 'password']);
    assert.deepEqual(doc.paths['/session'].post.security, []);
    assert.ok(doc.paths['/domains'].get.responses['401']);
    assert.equal(doc.paths['/accounts/{address}'].patch.requestBody.required, false);
    // Every reference resolves from the document's root; operation ids are unique; every
    // path parameter of a template is declared.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length > 10);
    for (const ref of new Set(refs)) {
      const target = ref
        .replace(/^#\//, '')
        .split('/')
        .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
      assert.ok(target && typeof target === 'object' && !('$ref' in target), ref);
    }
    const ops = Object.entries(
      doc.paths as Record<
        string,
        Record<string, { operationId: string; parameters?: Array<{ in: string; name: string }> }>
      >,
    ).flatMap(([p, byMethod]) => Object.values(byMethod).map((op) => ({ p, op })));
    const ids = ops.map(({ op }) => op.operationId);
    assert.equal(new Set(ids).size, ids.length);
    for (const { p, op } of ops) {
      const declared = (op.parameters ?? [])
        .filter((x: { in: string }) => x.in === 'path')
        .map((x: { name: string }) => x.name);
      assert.deepEqual(
        declared,
        [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]),
        p,
      );
    }
  });
});

describe('admin API: logs', () => {
  test('neither the token, a session nor a password is ever logged', () => {
    const text = logged.text();
    assert.ok(text.includes('admin api request'), 'requests are logged');
    assert.ok(!text.includes(TOKEN), 'the token');
    assert.ok(!text.includes(PASSWORD), 'a password');
    assert.ok(!text.includes('another long one'), 'a changed password');
    assert.ok(!/authorization/i.test(text), 'the Authorization field');
  });
});
