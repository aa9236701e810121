// HTTP fuzz target: raw requests (any method, request target, version, headers, pipelining)
// on real sockets against the in-process listener. Every request gets a well-formed answer
// or a closed connection, never a 500 or an error log (a route that failed), and the
// listener still answers /health afterwards. The class of `GET //` (new URL() throwing in the
// handler and the process exiting) is what this looks for.
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import pino from 'pino';
import { type HttpListener, startHttp } from '../../../src/http/server.js';
import { wrapLogger } from '../../../src/log.js';
import type { MailStore } from '../../../src/store/types.js';
import type { FuzzTarget } from '../lib/harness.js';
import { anyInput, type Sample } from '../lib/mutate.js';

const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS') },
  { weight: 2, arbitrary: fc.constantFrom('CONNECT', 'TRACE', 'PATCH', 'get', 'PRI', 'M-SEARCH') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z!#$%&'*+.^_`|~-]{1,10}$/) },
);

const target = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      '/',
      '//',
      '///health',
      '//health',
      '/health',
      '/healthz',
      '/health?x=1',
      '/healthz#frag',
      '/%2e%2e/health',
      '/health/../healthz',
      '/\u00e9',
      '/constructor',
      '/__proto__',
      '/hasOwnProperty',
      'http://localhost/health',
      'HTTP://x/healthz?y',
      'https://x:99999/',
      'http://[::1',
      'http://',
      'http:///health',
      '*',
      'localhost:8080',
      '?',
      'health',
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.constantFrom('/', '//', '?', '#', '%', '%zz', '..', '.', '@', ':', '\\'),
          fc.webSegment(),
        ),
        { maxLength: 8 },
      )
      .map((p) => `/${p.join('')}`),
  },
  { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
);

const version = fc.constantFrom(
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/1.1 ',
  'http/1.1',
);

const header = fc.oneof(
  fc.constantFrom(
    'Host: localhost',
    'Host: ',
    'Connection: close',
    'Connection: keep-alive',
    'Content-Length: 0',
    'Content-Length: 5',
    'Content-Length: -1',
    'Content-Length: 99999999999999999999',
    'Transfer-Encoding: chunked',
    'Expect: 100-continue',
    'Upgrade: websocket',
    'X-Forwarded-For: 1.2.3.4',
  ),
  fc
    .tuple(fc.stringMatching(/^[A-Za-z-]{1,12}$/), fc.string({ maxLength: 20 }))
    .map(([n, v]) => `${n}: ${v}`),
);

const request = fc
  .tuple(
    method,
    target,
    version,
    fc.array(header, { maxLength: 4 }),
    fc.constantFrom('', 'hello', '0\r\n\r\n'),
  )
  .map(
    ([m, t, v, hs, body]) => `${m} ${t} ${v}\r\n${hs.map((h) => `${h}\r\n`).join('')}\r\n${body}`,
  );

const requests = fc
  .array(request, { minLength: 1, maxLength: 3 })
  .map((rs) => Buffer.from(rs.join(''), 'utf8'));

const WORDS = [
  'GET ',
  ' HTTP/1.1\r\n',
  '\r\n\r\n',
  '//',
  '/health',
  'Host: x\r\n',
  'Content-Length: ',
  '%',
  '?',
];

let listener: HttpListener | null = null;
const errors: string[] = [];
/** Errors no handler caught (without the process guard, `serve` would have exited). */
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);

/** A store that answers at once: the health routes query it. */
const store = { kind: 'fuzz', listDomains: async () => [] } as unknown as MailStore;

/** Sends bytes, half-closes, collects the answer until the server closes. */
function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    // Generous: a loaded machine; the server answers in a few ms.
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('no answer and no close within 10 s'));
    }, 10_000);
    sock.on('data', (d) => got.push(d));
    sock.on('error', () => {}); // a reset after the server's answer is fine; close follows
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
    sock.end(bytes);
  });
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3}) /;

/** The target against a listener made by `start` (startHttp; another version to check it). */
export function httpTarget(start: typeof startHttp): FuzzTarget<Sample> {
  return {
    name: 'http request targets and methods',
    runs: 400,
    async: true,
    arb: anyInput(requests, WORDS, { maxBytes: 24 * 1024, maxRandom: 512 }),
    async before() {
      const log = wrapLogger(
        pino({ level: 'error' }, { write: (line: string) => errors.push(line) }),
      );
      process.on('uncaughtException', onUncaught);
      process.on('unhandledRejection', onUncaught);
      listener = await start({ host: '127.0.0.1', port: 0, store, log });
    },
    async after() {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
      const l = listener;
      listener = null;
      if (!l) return;
      // Still serving after everything it was sent.
      const health = (
        await exchange(l.address().port, Buffer.from('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'))
      ).toString('latin1');
      await l.close(1000);
      assert.match(health, /^HTTP\/1\.1 200 /, 'the listener still answers /health');
    },
    async run(s) {
      assert.ok(listener, 'listener started');
      errors.length = 0;
      uncaught.length = 0;
      const answer = (await exchange(listener.address().port, s.bytes)).toString('latin1');
      assert.deepEqual(uncaught.map(String), [], 'no uncaught exception or rejection');
      if (answer.length > 0) {
        const m = STATUS_LINE.exec(answer);
        assert.ok(m, `an HTTP status line, got ${JSON.stringify(answer.slice(0, 80))}`);
        for (const status of answer.matchAll(/HTTP\/1\.[01] (\d{3}) /g)) {
          assert.ok(Number(status[1]) < 500, `no 5xx: ${JSON.stringify(answer.slice(0, 200))}`);
        }
      }
      assert.deepEqual(errors, [], 'nothing logged at error');
    },
  };
}

export const httpRequests = httpTarget(startHttp);
