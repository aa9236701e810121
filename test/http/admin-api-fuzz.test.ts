// The admin API under random requests (fast-check): any method, a path built from the route
// templates with hostile segments, any JSON (or not-JSON) body, with and without the token.
// Every answer is JSON with a status below 500, nothing is logged at error, and the API still
// answers afterwards. Bad input is the caller's (4xx), never the server's (5xx).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { PlaintextPolicy } from '../../src/auth/plaintext.js';
import { parseConfig } from '../../src/config/load.js';
import { adminApi, adminRoutes } from '../../src/http/admin/api.js';
import { AdminAuth } from '../../src/http/admin/auth.js';
import { type HttpListener, startHttp } from '../../src/http/server.js';
import { wrapLogger } from '../../src/log.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const TOKEN = 'fuzz-admin-token-0123456789';
let dir: string;
let store: SqliteStore;
let http: HttpListener;
let base: string;
const errors: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lb-admin-fuzz-'));
  const cfg = parseConfig(`data_dir = "${dir}"\n`, join(dir, 'letterbox.toml'));
  store = await SqliteStore.open({ dir });
  await store.addDomain('fuzz.test');
  await store.createAccount({ address: 'a@fuzz.test', passwordHash: 'h' });
  await store.addAlias('b@fuzz.test', ['a@fuzz.test']);
  const log = wrapLogger(pino({ level: 'error' }, { write: (l: string) => errors.push(l) }));
  http = await startHttp({
    host: '127.0.0.1',
    port: 0,
    store,
    log,
    routes: [
      adminApi({
        ctx: { store, cfg },
        auth: new AdminAuth({ token: TOKEN, store, log }),
        plaintext: new PlaintextPolicy(['127.0.0.0/8']),
        log,
      }),
    ],
  });
  base = `http://127.0.0.1:${http.address().port}`;
});
after(async () => {
  await http.close(1000);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const segment = fc.oneof(
  fc.constantFrom(
    'a%40fuzz.test',
    'b%40fuzz.test',
    'fuzz.test',
    '%40fuzz.test',
    '1',
    '0',
    '-1',
    '99999999999999999999',
    '%00',
    '%E0%A4%A',
    '%2F',
    '..',
    '__proto__',
    'constructor',
    'phone',
    'lb202601-rsa',
    `${'x'.repeat(300)}%40fuzz.test`,
  ),
  fc.webSegment(),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
);

/** A route template with each `{param}` replaced by a random segment, or random segments. */
const path = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...adminRoutes().map((r) => r.path)),
        fc.array(segment, { minLength: 3, maxLength: 3 }),
      )
      .map(([p, segs]) => {
        let i = 0;
        return p.replace(/\{\w+\}/g, () => segs[i++]!);
      }),
  },
  { weight: 1, arbitrary: fc.array(segment, { maxLength: 4 }).map((s) => `/${s.join('/')}`) },
);

const jsonValue = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 3,
    arbitrary: fc.record(
      {
        name: fc.oneof(
          fc.string(),
          fc.constantFrom('fuzz.test', 'x.test', 'phone', ''),
          fc.integer(),
        ),
        address: fc.oneof(fc.string(), fc.constantFrom('c@fuzz.test', '@fuzz.test', 'a@fuzz.test')),
        password: fc.oneof(fc.string({ maxLength: 12 }), fc.constant(null)),
        quota: fc.oneof(
          fc.string(),
          fc.integer(),
          fc.double(),
          fc.constantFrom('2G', '99999999999T', null),
        ),
        targets: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), fc.string()),
        admin: fc.oneof(fc.boolean(), fc.string()),
        disabled: fc.oneof(fc.boolean(), fc.integer()),
        pop3Policy: fc.oneof(fc.constantFrom('keep', 'trash', 'shred'), fc.integer()),
        algorithm: fc.constantFrom('rsa-x', 'dsa', 7),
        token: fc.string(),
        username: fc.string(),
        __proto__: fc.jsonValue({ maxDepth: 1 }),
      },
      { requiredKeys: [] },
    ),
  },
);

const body = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  {
    weight: 6,
    arbitrary: jsonValue.map((v) => ({ text: JSON.stringify(v), type: 'application/json' })),
  },
  { weight: 1, arbitrary: fc.string().map((text) => ({ text, type: 'application/json' })) },
  { weight: 1, arbitrary: fc.string().map((text) => ({ text, type: 'text/plain' })) },
);

const request = fc.record({
  method: fc.constantFrom('GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS'),
  path,
  query: fc.constantFrom(
    '',
    '?domain=fuzz.test',
    '?force=true',
    '?check=0',
    '?domain=%ZZ',
    '?domain=',
  ),
  body,
  token: fc.constantFrom(TOKEN, TOKEN, TOKEN, 'wrong', null),
});

test('random admin API requests: never a 5xx, never an error logged, still serving', async () => {
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const headers: Record<string, string> = {};
      if (r.token !== null) headers.authorization = `Bearer ${r.token}`;
      if (r.body) headers['content-type'] = r.body.type;
      const res = await fetch(`${base}/api/v1${r.path}${r.query}`, {
        method: r.method,
        headers,
        body: r.body && r.method !== 'GET' && r.method !== 'HEAD' ? r.body.text : undefined,
      });
      const text = await res.text();
      assert.ok(res.status < 500, `${res.status} ${r.method} ${r.path}: ${text.slice(0, 200)}`);
      if (r.method !== 'HEAD' && res.status !== 204) {
        const parsed = JSON.parse(text);
        if (res.status >= 400) assert.equal(typeof parsed.error, 'string');
      }
      assert.deepEqual(errors, []);
    }),
    { numRuns: 300 },
  );
  const still = await fetch(`${base}/api/v1/whoami`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(still.status, 200);
});
