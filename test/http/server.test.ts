// The HTTP health listener: bad request targets get 400 (`GET //` used to make `new URL()`
// throw and take the whole process down), a failing route gets 500, /health and /healthz.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type HttpListener, requestPath, startHttp } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import type { MailStore } from '../../src/store/types.js';

type Behaviour = 'ok' | 'reject' | 'throw' | 'hang';
let behaviour: Behaviour = 'ok';
const store = {
  kind: 'sqlite',
  listDomains(): Promise<string[]> {
    if (behaviour === 'throw') throw new Error('a bug in the store');
    if (behaviour === 'reject') return Promise.reject(new Error('store down'));
    if (behaviour === 'hang') return new Promise(() => {});
    return Promise.resolve(['example.test']);
  },
} as unknown as MailStore;

let http: HttpListener;
let port: number;

before(async () => {
  http = await startHttp({
    host: '127.0.0.1',
    port: 0,
    store,
    log: silentLogger(),
    listeners: () => [{ name: 'imap', host: '127.0.0.1', port: 1143 }],
    storeTimeoutMs: 300,
    routes: [
      {
        // A route with a bug in a listener of the request (net/guard.ts): it never answers.
        paths: ['/listener-bug'],
        methods: ['POST'],
        handle: (req) =>
          new Promise(() => {
            req.on('data', () => {
              throw new Error('a bug in a body listener');
            });
          }),
      },
    ],
  });
  port = http.address().port;
});
after(() => http.close(1000));

/** One raw request; the status line and the body. */
function raw(request: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (d) => {
      data += d;
    });
    s.on('error', reject);
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (!m) return reject(new Error(`no status line: ${JSON.stringify(data)}`));
      resolve({ status: Number(m[1]), body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
  });
}

const get = (target: string) =>
  raw(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);

describe('/readyz', () => {
  test('503 with the phase while starting or stopping, 200 once ready', async () => {
    let phase: 'starting' | 'ready' | 'stopping' = 'starting';
    const h = await startHttp({
      host: '127.0.0.1',
      port: 0,
      store,
      log: silentLogger(),
      phase: () => phase,
    });
    try {
      const readyz = async () => {
        const r = await fetch(`http://127.0.0.1:${h.address().port}/readyz`);
        return { status: r.status, body: await r.json() };
      };
      assert.deepEqual(await readyz(), { status: 503, body: { status: 'starting' } });
      phase = 'ready';
      assert.deepEqual(await readyz(), { status: 200, body: { status: 'ready' } });
      phase = 'stopping';
      assert.deepEqual(await readyz(), { status: 503, body: { status: 'stopping' } });
    } finally {
      await h.close(1000);
    }
  });
});

describe('http listener', () => {
  test('GET // and other targets it cannot serve get 400, and the listener lives on', async () => {
    for (const target of ['//', '//evil.example/health', 'http://[bad/', '*', 'health']) {
      assert.equal((await get(target)).status, 400, target);
    }
    assert.equal(
      (await raw('OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status,
      400,
    );
    assert.equal((await get('/health')).status, 200);
  });

  test('origin-form and absolute-form targets reach the routes', async () => {
    assert.equal((await get('/health?probe=1')).status, 200);
    assert.equal((await get('http://localhost/healthz')).status, 200);
    assert.equal((await get('/nothing')).status, 404);
    const post = await raw(
      'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    assert.equal(post.status, 405);
  });

  test('/healthz reports the store and the listeners; /health keeps its answer', async () => {
    const z = await get('/healthz');
    assert.equal(z.status, 200);
    const body = JSON.parse(z.body);
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.store, { kind: 'sqlite', reachable: true });
    assert.deepEqual(body.listeners, [{ name: 'imap', host: '127.0.0.1', port: 1143, up: true }]);
    const h = JSON.parse((await get('/health')).body);
    assert.equal(h.status, 'ok');
    assert.equal(h.store, 'sqlite');
    assert.equal(typeof h.uptimeSeconds, 'number');
  });

  test('a store that fails or hangs is 503; a route that throws is 500; neither stops it', async () => {
    try {
      behaviour = 'reject';
      assert.equal((await get('/healthz')).status, 503);
      assert.equal((await get('/health')).status, 503);
      behaviour = 'hang';
      assert.equal((await get('/healthz')).status, 503);
      behaviour = 'throw';
      const r = await get('/healthz');
      assert.equal(r.status, 500);
      assert.deepEqual(JSON.parse(r.body), { error: 'internal error' });
    } finally {
      behaviour = 'ok';
    }
    assert.equal((await get('/healthz')).status, 200);
  });

  // In this process an escaped throw would fail the test run.
  test("a throw in a route's listener of the request is 500, and the listener lives on", async () => {
    const r = await raw(
      'POST /listener-bug HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
    );
    assert.equal(r.status, 500);
    assert.equal((await get('/health')).status, 200);
  });

  test('a request the parser refuses gets 400, not a dropped connection', async () => {
    assert.equal((await raw('GET / HTTP/1.1\r\nBad Header\r\n\r\n')).status, 400);
  });
});

test('requestPath', () => {
  assert.equal(requestPath('/healthz'), '/healthz');
  assert.equal(requestPath('/healthz?x=//'), '/healthz');
  assert.equal(requestPath('/a//b'), '/a//b');
  assert.equal(requestPath('HTTP://h:8080/x?y'), '/x');
  assert.equal(requestPath('//'), null);
  assert.equal(requestPath('//host/x'), null);
  assert.equal(requestPath(''), null);
  assert.equal(requestPath('*'), null);
  assert.equal(requestPath('localhost:80'), null);
  assert.equal(requestPath('http://[::1'), null);
});
