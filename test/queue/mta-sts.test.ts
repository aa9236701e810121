// MTA-STS (RFC 8461) end to end on loopback: the `_mta-sts` TXT record and the hosts from a
// dns2 server, the policy from an HTTPS server whose certificate a test CA signed; routeFor
// with enforce / testing / none, a policy that matches no MX, the cache (by id, expiry, file),
// and the fetch failures (bad certificate, redirect, wrong type, too large, hanging server).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { Logger } from '../../src/log.js';
import { MtaStsCache, type MtaStsOptions } from '../../src/queue/mta-sts.js';
import { mxMatches, parsePolicy, parseStsRecord } from '../../src/queue/mta-sts-policy.js';
import { createOutboundResolver, type Resolver } from '../../src/queue/resolver.js';
import { routeFor, routerFromConfig } from '../../src/queue/routing.js';
import type { Route } from '../../src/queue/types.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';
import { createTestCa, type TestCa } from '../helpers/test-ca.js';

interface Served {
  status?: number;
  type?: string;
  body: string;
  headers?: Record<string, string>;
  /** Never answer. */
  hang?: boolean;
}

let dns: TestDnsServer;
let resolver: Resolver;
let ca: TestCa;
let server: https.Server;
let httpsPort: number;
/** Policy file by host name (mta-sts.<domain>). */
const served = new Map<string, Served>();
/** Requests received by host name. */
const hits = new Map<string, number>();

/** Domains the server's certificate names; `badcert.test` is served but not named. */
const DOMAINS = [
  'enforce.test',
  'testing.test',
  'none.test',
  'nomatch.test',
  'cache.test',
  'fail.test',
  'file.test',
  'expire.test',
  'untrusted.test',
  'redirect.test',
  'html.test',
  'huge.test',
  'huge2.test',
  'hang.test',
  'closed.test',
  'config.test',
];

before(async () => {
  dns = await startDnsServer();
  resolver = createOutboundResolver({ servers: [dns.address], timeoutMs: 2000 });
  ca = await createTestCa();
  const leaf = await ca.issue(DOMAINS.map((d) => `mta-sts.${d}`));
  server = https.createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    hits.set(host, (hits.get(host) ?? 0) + 1);
    const s = served.get(host);
    if (!s || req.url !== '/.well-known/mta-sts.txt') {
      res.writeHead(404).end();
      return;
    }
    if (s.hang) return;
    res.writeHead(s.status ?? 200, { 'content-type': s.type ?? 'text/plain', ...s.headers });
    res.end(s.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  httpsPort = (server.address() as AddressInfo).port;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await dns.close();
});

/** Publish a domain: MX hosts (each at 127.0.0.x), its _mta-sts TXT, its policy host. */
function publish(domain: string, mx: string[], txtId: string | null, policy?: Served) {
  dns.set(domain, { MX: mx.map((exchange, i) => ({ priority: 10 + i, exchange })) });
  for (const [i, m] of mx.entries()) dns.set(m, { A: [`127.0.1.${i + 1}`] });
  if (txtId === null) dns.remove(`_mta-sts.${domain}`);
  else dns.set(`_mta-sts.${domain}`, { TXT: [`v=STSv1; id=${txtId}`] });
  dns.set(`mta-sts.${domain}`, { A: ['127.0.0.1'] });
  if (policy) served.set(`mta-sts.${domain}`, policy);
}

const policyText = (mode: string, mx: string[], maxAge = 86400) =>
  `version: STSv1\r\nmode: ${mode}\r\n${mx.map((m) => `mx: ${m}\r\n`).join('')}max_age: ${maxAge}\r\n`;

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}
function captureLog(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (obj: Record<string, unknown>, msg = '') =>
      lines.push({ level, obj, msg });
  const log = {
    lines,
    level: 'info',
    isLevelEnabled: () => true,
    child: () => log,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
  };
  return log as unknown as Logger & { lines: LogLine[] };
}

function cache(extra: Partial<MtaStsOptions> = {}) {
  return new MtaStsCache({ resolver, httpsPort, ca: ca.cert, ...extra });
}

function hosts(r: Route) {
  assert.equal(r.kind, 'hosts', JSON.stringify(r));
  return r as Extract<Route, { kind: 'hosts' }>;
}

describe('policy texts (RFC 8461 §3.1, §3.2, §4.1)', () => {
  test('TXT record: exactly one v=STSv1 record with a valid id', () => {
    assert.deepEqual(parseStsRecord([['v=STSv1; id=20240101T000000;']]), { id: '20240101T000000' });
    assert.deepEqual(parseStsRecord([['v=STSv1;', ' id=abc']]), { id: 'abc' });
    assert.deepEqual(parseStsRecord([['v=spf1 -all'], ['v=STSv1; id=x1']]), { id: 'x1' });
    assert.equal(parseStsRecord([['v=STSv1; id=a'], ['v=STSv1; id=b']]), null);
    assert.equal(parseStsRecord([['v=STSv1; id=has-dash']]), null);
    assert.equal(parseStsRecord([['v=STSv1; id=']]), null);
    assert.equal(parseStsRecord([[`v=STSv1; id=${'a'.repeat(33)}`]]), null);
    assert.equal(parseStsRecord([['v=STSv2; id=a']]), null);
    assert.equal(parseStsRecord([]), null);
  });

  test('policy: fields, LF or CRLF, unknown fields ignored, max_age capped', () => {
    assert.deepEqual(
      parsePolicy(
        'version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.Example.net.\nfoo: bar\nmax_age: 604800\n',
      ),
      { mode: 'enforce', mx: ['mail.example.com', '*.example.net'], maxAge: 604800 },
    );
    assert.deepEqual(
      parsePolicy('version: STSv1\r\nmode: none\r\nmax_age: 99999999999'),
      'max_age missing or invalid',
    );
    assert.deepEqual(parsePolicy('version: STSv1\nmode: none\nmax_age: 9999999999'), {
      mode: 'none',
      mx: [],
      maxAge: 31557600,
    });
    assert.equal(
      typeof parsePolicy('version: STSv1\nmode: enforce\nmax_age: 1'),
      'string',
      'no mx',
    );
    assert.equal(typeof parsePolicy('version: STSv2\nmode: enforce\nmx: a\nmax_age: 1'), 'string');
    assert.equal(typeof parsePolicy('version: STSv1\nmode: strict\nmx: a\nmax_age: 1'), 'string');
    assert.equal(typeof parsePolicy('<html>nope</html>'), 'string');
    assert.equal(
      typeof parsePolicy('version: STSv1\nmode: enforce\nmx: a..b\nmax_age: 1'),
      'string',
    );
  });

  test('MX patterns: a wildcard stands for exactly one leftmost label', () => {
    assert.equal(mxMatches('mail.example.com', '*.example.com'), true);
    assert.equal(mxMatches('MAIL.Example.com.', '*.example.com'), true);
    assert.equal(mxMatches('example.com', '*.example.com'), false);
    assert.equal(mxMatches('a.b.example.com', '*.example.com'), false);
    assert.equal(mxMatches('mail.example.com', 'mail.example.com'), true);
    assert.equal(mxMatches('mail.example.com.evil', 'mail.example.com'), false);
  });
});

describe('routeFor with MTA-STS', () => {
  test('enforce: only the MX hosts the policy names, TLS required', async () => {
    publish(
      'enforce.test',
      ['mx1.enforce.test', 'rogue.elsewhere.test', 'mx2.enforce.test'],
      'e1',
      { body: policyText('enforce', ['*.enforce.test']) },
    );
    const log = captureLog();
    const r = hosts(
      await routeFor('enforce.test', { resolver, routes: [], port: 25, mtaSts: cache(), log }),
    );
    assert.equal(r.mtaSts, 'enforce');
    assert.deepEqual(
      r.hosts.map((h) => [h.name, h.tls]),
      [
        ['mx1.enforce.test', 'required'],
        ['mx2.enforce.test', 'required'],
      ],
    );
    assert.ok(log.lines.some((l) => l.obj.mx === 'rogue.elsewhere.test' && l.level === 'warn'));
  });

  test('enforce with no MX matching the policy: deferred (dns-error), never sent elsewhere', async () => {
    publish('nomatch.test', ['mx.attacker.test'], 'n1', {
      body: policyText('enforce', ['mx.nomatch.test']),
    });
    const r = await routeFor('nomatch.test', { resolver, routes: [], port: 25, mtaSts: cache() });
    assert.equal(r.kind, 'dns-error', JSON.stringify(r));
    assert.match((r as { reason: string }).reason, /MTA-STS/);
  });

  test('testing: every MX, opportunistic TLS, the would-be failure logged', async () => {
    publish('testing.test', ['mx.testing.test', 'other.elsewhere.test'], 't1', {
      body: policyText('testing', ['mx.testing.test']),
    });
    const log = captureLog();
    const r = hosts(
      await routeFor('testing.test', { resolver, routes: [], port: 25, mtaSts: cache(), log }),
    );
    assert.equal(r.mtaSts, 'testing');
    assert.deepEqual(
      r.hosts.map((h) => [h.name, h.tls]),
      [
        ['mx.testing.test', 'opportunistic'],
        ['other.elsewhere.test', 'opportunistic'],
      ],
    );
    assert.ok(
      log.lines.some((l) => l.obj.mx === 'other.elsewhere.test'),
      JSON.stringify(log.lines),
    );
  });

  test('none, and no TXT record at all: delivery as without MTA-STS', async () => {
    publish('none.test', ['mx.elsewhere.test'], 'z1', { body: policyText('none', []) });
    const r = hosts(
      await routeFor('none.test', { resolver, routes: [], port: 25, mtaSts: cache() }),
    );
    assert.equal(r.mtaSts, 'none');
    assert.equal(r.hosts[0]!.tls, 'opportunistic');
    publish('plain.test', ['mx.plain.test'], null);
    const before = hits.get('mta-sts.plain.test') ?? 0;
    const p = hosts(
      await routeFor('plain.test', { resolver, routes: [], port: 25, mtaSts: cache() }),
    );
    assert.equal(p.mtaSts, 'none');
    assert.equal(hits.get('mta-sts.plain.test') ?? 0, before, 'no fetch without a TXT record');
  });

  test('smarthost routes are not subject to the destination’s policy', async () => {
    const r = hosts(
      await routeFor('enforce.test', {
        resolver,
        routes: [{ domain: '*', hosts: [{ name: '127.0.0.30', port: 587 }], tls: 'opportunistic' }],
        port: 25,
        mtaSts: cache(),
      }),
    );
    assert.equal(r.via, 'smarthost');
    assert.equal(r.hosts[0]!.tls, 'opportunistic');
  });
});

describe('routerFromConfig', () => {
  test('[dns] servers, [queue] port and mta_sts, the cache file under data_dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-router-'));
    publish('config.test', ['mx.config.test', 'other.elsewhere.test'], 'k1', {
      body: policyText('enforce', ['mx.config.test']),
    });
    const toml = (sts: boolean) =>
      `[dns]\nservers = ["${dns.address}"]\n[queue]\nport = 2599\nmta_sts = ${sts}\n`;
    const on = routerFromConfig(parseConfig(toml(true), join(dir, 'letterbox.toml')), undefined, {
      httpsPort,
      ca: ca.cert,
    });
    const r = hosts(await on('config.test'));
    assert.deepEqual(
      r.hosts.map((h) => [h.name, h.port, h.tls]),
      [['mx.config.test', 2599, 'required']],
    );
    await eventually(() => existsSync(join(dir, 'mta-sts.json')), 'mta-sts.json written');
    const off = routerFromConfig(parseConfig(toml(false), join(dir, 'letterbox.toml')));
    const plain = hosts(await off('config.test'));
    assert.equal(plain.mtaSts, undefined);
    assert.deepEqual(
      plain.hosts.map((h) => h.name),
      ['mx.config.test', 'other.elsewhere.test'],
    );
  });
});

describe('policy cache', () => {
  test('kept while the TXT id is the same; fetched again when it changes', async () => {
    publish('cache.test', ['mx.cache.test', 'new.cache.test'], 'c1', {
      body: policyText('enforce', ['mx.cache.test']),
    });
    const c = cache();
    const names = async () =>
      hosts(await routeFor('cache.test', { resolver, routes: [], port: 25, mtaSts: c })).hosts.map(
        (h) => h.name,
      );
    assert.deepEqual(await names(), ['mx.cache.test']);
    assert.deepEqual(await names(), ['mx.cache.test']);
    assert.equal(hits.get('mta-sts.cache.test'), 1);
    // A new policy is published with a new id: the next lookup fetches it.
    served.set('mta-sts.cache.test', { body: policyText('enforce', ['*.cache.test']) });
    assert.deepEqual(await names(), ['mx.cache.test'], 'same id: the cached policy still applies');
    dns.set('_mta-sts.cache.test', { TXT: ['v=STSv1; id=c2'] });
    assert.deepEqual(await names(), ['mx.cache.test', 'new.cache.test']);
    assert.equal(hits.get('mta-sts.cache.test'), 2);
  });

  test('concurrent lookups for one domain make one fetch', async () => {
    publish('fail.test', ['mx.fail.test'], 'f0', { body: policyText('enforce', ['mx.fail.test']) });
    const c = cache();
    const before = hits.get('mta-sts.fail.test') ?? 0;
    const ps = await Promise.all(Array.from({ length: 10 }, () => c.policy('fail.test')));
    assert.ok(ps.every((p) => p?.mode === 'enforce'));
    assert.equal((hits.get('mta-sts.fail.test') ?? 0) - before, 1);
  });

  test('a failed fetch keeps the cached policy; without one, no policy', async () => {
    publish('fail.test', ['mx.fail.test'], 'f1', { body: policyText('enforce', ['mx.fail.test']) });
    const c = cache();
    assert.equal((await c.policy('fail.test'))?.mode, 'enforce');
    // New id, but the policy server now fails: the cached enforce policy still holds.
    dns.set('_mta-sts.fail.test', { TXT: ['v=STSv1; id=f2'] });
    served.set('mta-sts.fail.test', { status: 500, body: 'oops' });
    assert.equal((await c.policy('fail.test'))?.mode, 'enforce');
    // A DNS failure on the TXT record: the cached policy still holds.
    dns.fail('_mta-sts.fail.test', 'SERVFAIL');
    assert.equal((await c.policy('fail.test'))?.mode, 'enforce');
    dns.fail('_mta-sts.fail.test', null);
    // A fresh cache has nothing to fall back on.
    assert.equal(await cache().policy('fail.test'), null);
  });

  test('a policy expires after max_age and is fetched again', async () => {
    let now = Date.now();
    publish('expire.test', ['mx.expire.test'], 'x1', {
      body: policyText('enforce', ['mx.expire.test'], 60),
    });
    const c = cache({ now: () => now });
    assert.equal((await c.policy('expire.test'))?.mode, 'enforce');
    served.set('mta-sts.expire.test', { body: policyText('none', [], 60) });
    now += 59_000;
    assert.equal((await c.policy('expire.test'))?.mode, 'enforce');
    now += 2_000;
    assert.equal((await c.policy('expire.test'))?.mode, 'none');
    assert.equal(hits.get('mta-sts.expire.test'), 2);
  });

  test('kept in a file: a new process applies it even when DNS fails', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lb-sts-')), 'mta-sts.json');
    publish('file.test', ['mx.file.test', 'bad.elsewhere.test'], 'p1', {
      body: policyText('enforce', ['mx.file.test']),
    });
    const first = cache({ file });
    assert.equal((await first.policy('file.test'))?.mode, 'enforce');
    await first.flush();
    dns.fail('_mta-sts.file.test', 'SERVFAIL');
    served.delete('mta-sts.file.test');
    const second = cache({ file });
    const r = hosts(
      await routeFor('file.test', { resolver, routes: [], port: 25, mtaSts: second }),
    );
    assert.deepEqual(
      r.hosts.map((h) => [h.name, h.tls]),
      [['mx.file.test', 'required']],
    );
    dns.fail('_mta-sts.file.test', null);
  });
});

describe('policy fetch failures: no policy, nothing thrown', () => {
  const attempt = async (domain: string, s: Served | null, extra: Partial<MtaStsOptions> = {}) => {
    publish(domain, [`mx.${domain}`], 'b1');
    if (s) served.set(`mta-sts.${domain}`, s);
    const log = captureLog();
    const policy = await cache({ log, ...extra }).policy(domain);
    assert.equal(policy, null);
    const line = log.lines.find((l) => l.msg === 'MTA-STS policy fetch failed');
    assert.ok(line, JSON.stringify(log.lines));
    return String(line.obj.err);
  };
  const good = { body: policyText('enforce', ['*.x.test']) };

  test('a certificate that does not name mta-sts.<domain>', async () => {
    assert.match(await attempt('badcert.test', good), /altnames|certificate|hostname/i);
  });

  test('a certificate from a CA that is not trusted', async () => {
    const other = await createTestCa();
    assert.match(await attempt('untrusted.test', good, { ca: other.cert }), /certificate/i);
  });

  test('a redirect is not followed', async () => {
    const redirect = { status: 301, body: '', headers: { location: 'https://mta-sts.none.test/' } };
    assert.match(await attempt('redirect.test', redirect), /301/);
  });

  test('a content type other than text/plain', async () => {
    assert.match(await attempt('html.test', { ...good, type: 'text/html' }), /text\/html/);
  });

  test('a policy over 64 KB', async () => {
    const body = `${good.body}${'x: y\r\n'.repeat(12_000)}`;
    assert.match(await attempt('huge.test', { body }), /larger/);
    assert.match(
      await attempt('huge2.test', { body, headers: { 'transfer-encoding': 'chunked' } }),
      /larger/,
    );
  });

  test('a server that never answers is given up at the deadline', async () => {
    assert.match(
      await attempt('hang.test', { body: '', hang: true }, { timeoutMs: 300 }),
      /timed out/,
    );
  });

  test('no HTTPS server there at all', async () => {
    assert.match(await attempt('closed.test', good, { httpsPort: 1 }), /ECONNREFUSED|connect/);
  });
});
