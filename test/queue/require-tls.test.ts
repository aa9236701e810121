// `[queue] require_tls`: the MX hosts of the listed domains are reached only over verified
// TLS (RFC 8314-style policy by configuration, next to MTA-STS); other domains stay
// opportunistic.
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
});
