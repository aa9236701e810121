// Routing from the config: `[queue] require_tls` (the MX hosts of the listed domains are
// reached only over verified TLS, next to MTA-STS; other domains stay opportunistic) and the
// route cache (`route_cache_seconds`).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { routerFromConfig } from '../../src/queue/routing.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';

describe('[queue] require_tls', () => {
  let dns: TestDnsServer;
  before(async () => {
    dns = await startDnsServer();
    for (const d of ['bank.test', 'shop.test']) {
      dns.set(d, { MX: [{ priority: 10, exchange: `mx.${d}` }] });
      dns.set(`mx.${d}`, { A: ['127.0.0.1'] });
    }
  });
  after(async () => {
    await dns.close();
  });

  test('listed domains get tls "required", the others "opportunistic"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-reqtls-'));
    const toml = `[dns]\nservers = ["${dns.address}"]\n[queue]\nmta_sts = false\nrequire_tls = ["Bank.test"]\n`;
    const route = routerFromConfig(parseConfig(toml, join(dir, 'letterbox.toml')));
    const bank = await route('bank.test');
    const shop = await route('shop.test');
    assert.equal(bank.kind, 'hosts');
    assert.equal(shop.kind, 'hosts');
    if (bank.kind !== 'hosts' || shop.kind !== 'hosts') return;
    assert.deepEqual(
      bank.hosts.map((h) => h.tls),
      ['required'],
    );
    assert.deepEqual(
      shop.hosts.map((h) => h.tls),
      ['opportunistic'],
    );
  });

  test('route_cache_seconds: a domain is looked up once a while, DNS failures are not kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-routecache-'));
    const cfg = (secs: number) =>
      parseConfig(
        `[dns]\nservers = ["${dns.address}"]\n[queue]\nmta_sts = false\nroute_cache_seconds = ${secs}\n`,
        join(dir, 'letterbox.toml'),
      );
    dns.set('cached.test', { MX: [{ priority: 10, exchange: 'mx.bank.test' }] });
    const cached = routerFromConfig(cfg(60));
    const uncached = routerFromConfig(cfg(0));
    const first = await cached('cached.test');
    await uncached('cached.test');
    const asked = dns.queries.length;
    assert.deepEqual(await cached('cached.test'), first);
    assert.equal(dns.queries.length, asked, 'the cached route asks DNS nothing');
    await uncached('cached.test');
    assert.ok(dns.queries.length > asked, 'without the cache, DNS is asked again');
    dns.fail('failing.test', 'SERVFAIL');
    assert.equal((await cached('failing.test')).kind, 'dns-error');
    dns.fail('failing.test', null);
    dns.set('failing.test', { MX: [{ priority: 10, exchange: 'mx.bank.test' }] });
    assert.equal((await cached('failing.test')).kind, 'hosts', 'a DNS failure is not kept');
  });
});
