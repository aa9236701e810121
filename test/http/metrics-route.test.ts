// Who may read /metrics (src/http/metrics-route.ts): loopback peers when no token is set, and
// then nobody else (403); with a token, only a request with `Authorization: Bearer <token>`.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { ServerMetrics } from '../../src/http/metrics.js';
import { isLoopback, metricsRoute, type RouteAnswer } from '../../src/http/metrics-route.js';

const TOKEN = 'sixteen-chars-token-xyz';

/** Runs the route for a peer address and an Authorization header: the status it answers. */
async function statusFor(token: string, peer: string, authorization?: string): Promise<number> {
  const route = metricsRoute({ metrics: new ServerMetrics(), token });
  const req = {
    socket: { remoteAddress: peer },
    headers: authorization === undefined ? {} : { authorization },
  } as unknown as http.IncomingMessage;
  let status = 0;
  const res = {
    writeHead(s: number) {
      status = s;
    },
    end() {},
  } as unknown as http.ServerResponse;
  await route(req, res, (_res, a: RouteAnswer) => {
    status = a.status;
  });
  return status;
}

describe('/metrics access', () => {
  test('isLoopback: 127/8, ::1 and IPv4-mapped loopback only', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
      assert.equal(isLoopback(a), true, a);
    }
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', '::2', 'fe80::1', '', undefined]) {
      assert.equal(isLoopback(a), false, String(a));
    }
  });

  test('no token: loopback 200, any other peer 403 (a header does not help)', async () => {
    assert.equal(await statusFor('', '127.0.0.1'), 200);
    assert.equal(await statusFor('', '::1'), 200);
    assert.equal(await statusFor('', '192.0.2.7'), 403);
    assert.equal(await statusFor('', '2001:db8::7', 'Bearer anything-at-all-here'), 403);
  });

  test('a token: required from every peer, loopback included', async () => {
    assert.equal(await statusFor(TOKEN, '192.0.2.7', `Bearer ${TOKEN}`), 200);
    assert.equal(await statusFor(TOKEN, '127.0.0.1', `BEARER ${TOKEN}`), 200);
    assert.equal(await statusFor(TOKEN, '127.0.0.1'), 401);
    assert.equal(await statusFor(TOKEN, '192.0.2.7', 'Bearer'), 401);
    assert.equal(await statusFor(TOKEN, '192.0.2.7', `Bearer ${TOKEN.slice(1)}`), 401);
    assert.equal(await statusFor(TOKEN, '192.0.2.7', `Token ${TOKEN}`), 401);
    assert.equal(await statusFor(TOKEN, '192.0.2.7', `Bearer ${TOKEN},x`), 401);
  });
});

test('[http] metrics_token: empty or at least 16 characters', () => {
  const cfg = (t: string) =>
    parseConfig(`[http]\nmetrics_token = "${t}"\n`, '/tmp/x/letterbox.toml');
  assert.equal(cfg('').http.metrics_token, '');
  assert.equal(cfg(TOKEN).http.metrics_token, TOKEN);
  assert.throws(() => cfg('short'), /metrics_token/);
});
