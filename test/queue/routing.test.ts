// Outbound routing against a real DNS server on loopback (dns2): RFC 5321 §5.1 MX order and
// randomness among equal preference, the implicit MX, RFC 7505 null MX, NXDOMAIN (final),
// SERVFAIL and timeouts (retry), CNAMEs, invalid MX targets, domain literals, IPv6/IPv4 order,
// and smarthost routes from the config with failover, TLS mode and AUTH from a file.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { createOutboundResolver, type Resolver } from '../../src/queue/resolver.js';
import { routeFor } from '../../src/queue/routing.js';
import { type SmarthostRoute, smarthostRoutes } from '../../src/queue/smarthost.js';
import type { Route } from '../../src/queue/types.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';

let dns: TestDnsServer;
let resolver: Resolver;

before(async () => {
  dns = await startDnsServer();
  resolver = createOutboundResolver({ servers: [dns.address], timeoutMs: 2000 });
});
after(() => dns.close());

const route = (domain: string, routes: SmarthostRoute[] = [], port = 25) =>
  routeFor(domain, { resolver, routes, port });

function hostsOf(r: Route) {
  assert.equal(r.kind, 'hosts', JSON.stringify(r));
  return (r as Extract<Route, { kind: 'hosts' }>).hosts;
}

describe('MX routing (RFC 5321 §5.1)', () => {
  test('MX hosts by preference, lowest first, each with its addresses, IPv6 and IPv4 interleaved', async () => {
    dns.set('pref.test', {
      MX: [
        { priority: 20, exchange: 'mx-b.pref.test' },
        { priority: 5, exchange: 'mx-c.pref.test' },
        { priority: 10, exchange: 'mx-a.pref.test' },
      ],
    });
    dns.set('mx-a.pref.test', { A: ['127.0.0.2', '127.0.0.3'], AAAA: ['::1'] });
    dns.set('mx-b.pref.test', { A: ['127.0.0.4'] });
    dns.set('mx-c.pref.test', { AAAA: ['2001:db8::1', '2001:db8::2'], A: ['127.0.0.5'] });
    const r = await route('Pref.TEST.', [], 2525);
    assert.equal(r.kind === 'hosts' && r.via, 'mx');
    assert.deepEqual(hostsOf(r), [
      {
        name: 'mx-c.pref.test',
        addresses: ['2001:db8::1', '127.0.0.5', '2001:db8::2'],
        port: 2525,
        tls: 'opportunistic',
      },
      {
        name: 'mx-a.pref.test',
        addresses: ['::1', '127.0.0.2', '127.0.0.3'],
        port: 2525,
        tls: 'opportunistic',
      },
      { name: 'mx-b.pref.test', addresses: ['127.0.0.4'], port: 2525, tls: 'opportunistic' },
    ]);
  });

  test('MX hosts of equal preference come in random order (every one first sometimes)', async () => {
    dns.set('equal.test', {
      MX: [
        { priority: 10, exchange: 'a.equal.test' },
        { priority: 10, exchange: 'b.equal.test' },
        { priority: 10, exchange: 'c.equal.test' },
        { priority: 30, exchange: 'backup.equal.test' },
        { priority: 1, exchange: 'primary.equal.test' },
      ],
    });
    for (const h of ['a', 'b', 'c', 'backup', 'primary']) {
      dns.set(`${h}.equal.test`, { A: ['127.0.0.9'] });
    }
    const firstOfEqual = new Map<string, number>();
    const orders = new Set<string>();
    const runs = 150;
    for (let i = 0; i < runs; i++) {
      const names = hostsOf(await route('equal.test')).map((h) => h.name);
      assert.equal(names[0], 'primary.equal.test');
      assert.equal(names[4], 'backup.equal.test');
      assert.deepEqual([...names.slice(1, 4)].sort(), [
        'a.equal.test',
        'b.equal.test',
        'c.equal.test',
      ]);
      firstOfEqual.set(names[1]!, (firstOfEqual.get(names[1]!) ?? 0) + 1);
      orders.add(names.slice(1, 4).join(' '));
    }
    // Each of the three leads about 50 times in 150; fewer than 15 is a 1e-9 event.
    for (const h of ['a', 'b', 'c']) {
      const n = firstOfEqual.get(`${h}.equal.test`) ?? 0;
      assert.ok(n >= 15, `${h} first ${n} times of ${runs}: ${JSON.stringify([...firstOfEqual])}`);
    }
    assert.equal(orders.size, 6, `all 6 orders seen: ${[...orders].join(' | ')}`);
  });

  test('no MX records: the domain itself is the implicit MX (preference 0)', async () => {
    dns.set('implicit.test', { A: ['127.0.0.7'], AAAA: ['::1'], TXT: ['v=spf1 -all'] });
    const r = await route('implicit.test');
    assert.equal(r.kind === 'hosts' && r.via, 'implicit-mx');
    assert.deepEqual(hostsOf(r), [
      { name: 'implicit.test', addresses: ['::1', '127.0.0.7'], port: 25, tls: 'opportunistic' },
    ]);
  });

  test('no MX and no address: no-domain (final)', async () => {
    dns.set('txtonly.test', { TXT: ['hello'] });
    const r = await route('txtonly.test');
    assert.equal(r.kind, 'no-domain', JSON.stringify(r));
  });

  test('RFC 7505 null MX: null-mx, at once', async () => {
    dns.set('nullmx.test', { MX: [{ priority: 0, exchange: '.' }], A: ['127.0.0.8'] });
    assert.deepEqual(await route('nullmx.test'), { kind: 'null-mx' });
  });

  test('a root target among other MX records is skipped, not taken for a null MX', async () => {
    dns.set('mixednull.test', {
      MX: [
        { priority: 0, exchange: '.' },
        { priority: 10, exchange: 'mx.mixednull.test' },
      ],
    });
    dns.set('mx.mixednull.test', { A: ['127.0.0.10'] });
    assert.deepEqual(
      hostsOf(await route('mixednull.test')).map((h) => h.name),
      ['mx.mixednull.test'],
    );
  });

  test('NXDOMAIN: no-domain (final)', async () => {
    const r = await route('nosuch.test');
    assert.equal(r.kind, 'no-domain');
    assert.match((r as { reason: string }).reason, /NXDOMAIN/);
  });

  test('SERVFAIL on the MX lookup: dns-error (try again later)', async () => {
    dns.set('servfail.test', { MX: [{ priority: 10, exchange: 'mx.servfail.test' }] });
    dns.fail('servfail.test', 'SERVFAIL');
    const r = await route('servfail.test');
    assert.equal(r.kind, 'dns-error', JSON.stringify(r));
  });

  test('no answer at all (timeout): dns-error', async () => {
    dns.fail('silent.test', 'timeout');
    const quick = createOutboundResolver({ servers: [dns.address], timeoutMs: 100 });
    const r = await routeFor('silent.test', { resolver: quick, routes: [], port: 25 });
    assert.equal(r.kind, 'dns-error', JSON.stringify(r));
  });

  test('a CNAME is followed, for the domain and for an MX host', async () => {
    dns.set('alias.test', { CNAME: 'real.test' });
    dns.set('real.test', { MX: [{ priority: 10, exchange: 'mx.alias-host.test' }] });
    dns.set('mx.alias-host.test', { CNAME: 'box.real.test' });
    dns.set('box.real.test', { A: ['127.0.0.11'] });
    assert.deepEqual(hostsOf(await route('alias.test')), [
      { name: 'mx.alias-host.test', addresses: ['127.0.0.11'], port: 25, tls: 'opportunistic' },
    ]);
    // A CNAME to a name with addresses only: the implicit MX, under the name asked for.
    dns.set('alias2.test', { CNAME: 'addr.real.test' });
    dns.set('addr.real.test', { A: ['127.0.0.12'] });
    const r = await route('alias2.test');
    assert.equal(r.kind === 'hosts' && r.via, 'implicit-mx');
    assert.deepEqual(hostsOf(r)[0]!.addresses, ['127.0.0.12']);
  });

  test('an MX target that is an IP address is skipped; all such: dns-error', async () => {
    dns.set('iptarget.test', {
      MX: [
        { priority: 5, exchange: '127.0.0.13' },
        { priority: 10, exchange: 'mx.iptarget.test' },
      ],
    });
    dns.set('mx.iptarget.test', { A: ['127.0.0.14'] });
    assert.deepEqual(
      hostsOf(await route('iptarget.test')).map((h) => h.name),
      ['mx.iptarget.test'],
    );
    dns.set('onlyip.test', { MX: [{ priority: 5, exchange: '127.0.0.13' }] });
    assert.equal((await route('onlyip.test')).kind, 'dns-error');
  });

  test('an MX host without addresses is skipped; when none has one: dns-error', async () => {
    dns.set('partial.test', {
      MX: [
        { priority: 5, exchange: 'gone.partial.test' },
        { priority: 6, exchange: 'broken.partial.test' },
        { priority: 10, exchange: 'ok.partial.test' },
      ],
    });
    dns.set('broken.partial.test', { A: ['127.0.0.1'] });
    dns.fail('broken.partial.test', 'SERVFAIL');
    dns.set('ok.partial.test', { A: ['127.0.0.15'] });
    assert.deepEqual(
      hostsOf(await route('partial.test')).map((h) => h.name),
      ['ok.partial.test'],
    );
    dns.set('allgone.test', { MX: [{ priority: 5, exchange: 'gone.allgone.test' }] });
    assert.equal((await route('allgone.test')).kind, 'dns-error');
  });

  test('domain literals route to their address', async () => {
    assert.deepEqual(hostsOf(await route('[127.0.0.16]', [], 2526)), [
      { name: '127.0.0.16', addresses: ['127.0.0.16'], port: 2526, tls: 'opportunistic' },
    ]);
    assert.deepEqual(hostsOf(await route('[IPv6:::1]'))[0]!.addresses, ['::1']);
    assert.equal((await route('[300.1.1.1]')).kind, 'no-domain');
    assert.equal((await route('[IPv6:127.0.0.1]')).kind, 'no-domain');
  });
});

describe('smarthost routes', () => {
  const auth = { user: 'relay', password: 'pw:with:colons' };
  const routes: SmarthostRoute[] = [
    {
      domain: 'special.test',
      hosts: [{ name: '127.0.0.20', port: 2465 }],
      tls: 'implicit',
    },
    {
      domain: '*',
      hosts: [
        { name: 'relay1.provider.test', port: 587 },
        { name: 'relay-down.provider.test', port: 587 },
        { name: 'relay2.provider.test', port: 2587 },
      ],
      tls: 'required',
      auth,
    },
  ];

  test('"*" carries all mail, overriding MX, hosts in failover order with TLS and AUTH', async () => {
    dns.set('relay1.provider.test', { A: ['127.0.0.21'] });
    dns.set('relay2.provider.test', { AAAA: ['::1'] });
    dns.set('hasmx.test', { MX: [{ priority: 10, exchange: 'mx.hasmx.test' }] });
    dns.set('mx.hasmx.test', { A: ['127.0.0.22'] });
    for (const d of ['hasmx.test', 'nosuch-at-all.test', '[127.0.0.1]']) {
      const r = await route(d, routes);
      assert.equal(r.kind === 'hosts' && r.via, 'smarthost', d);
      assert.deepEqual(hostsOf(r), [
        {
          name: 'relay1.provider.test',
          addresses: ['127.0.0.21'],
          port: 587,
          tls: 'required',
          auth,
        },
        { name: 'relay2.provider.test', addresses: ['::1'], port: 2587, tls: 'required', auth },
      ]);
    }
  });

  test('a route for the domain wins over "*"', async () => {
    const r = await route('Special.test', routes);
    assert.deepEqual(hostsOf(r), [
      { name: '127.0.0.20', addresses: ['127.0.0.20'], port: 2465, tls: 'implicit' },
    ]);
  });

  test('no smarthost resolves: dns-error', async () => {
    const r = await route('x.test', [
      {
        domain: '*',
        hosts: [{ name: 'relay-down.provider.test', port: 25 }],
        tls: 'opportunistic',
      },
    ]);
    assert.equal(r.kind, 'dns-error');
  });
});

describe('[queue] config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lb-routing-'));
  const file = join(dir, 'letterbox.toml');

  test('defaults: port 25, MTA-STS on, no routes', () => {
    const cfg = parseConfig('', file);
    assert.equal(cfg.queue.port, 25);
    assert.equal(cfg.queue.mta_sts, true);
    assert.deepEqual(smarthostRoutes(cfg), []);
  });

  test('[[queue.routes]]: hosts with ports, TLS modes, default ports, AUTH from a file', () => {
    writeFileSync(join(dir, 'relay-auth'), 'me@provider.test:s3cret:x\n');
    const cfg = parseConfig(
      `[queue]
port = 2525
mta_sts = false
[[queue.routes]]
domain = "*"
host = ["smtp.provider.test", "backup.provider.test:2587", "[::1]:25", "127.0.0.1"]
auth_file = "relay-auth"
[[queue.routes]]
domain = "Partner.TEST"
host = "in.partner.test"
tls = "implicit"
[[queue.routes]]
domain = "lab.test"
host = "lab-relay.test"
port = 25
tls = "opportunistic"
`,
      file,
    );
    assert.equal(cfg.queue.port, 2525);
    assert.equal(cfg.queue.mta_sts, false);
    assert.deepEqual(smarthostRoutes(cfg), [
      {
        domain: '*',
        hosts: [
          { name: 'smtp.provider.test', port: 587 },
          { name: 'backup.provider.test', port: 2587 },
          { name: '::1', port: 25 },
          { name: '127.0.0.1', port: 587 },
        ],
        tls: 'required',
        auth: { user: 'me@provider.test', password: 's3cret:x' },
      },
      { domain: 'partner.test', hosts: [{ name: 'in.partner.test', port: 465 }], tls: 'implicit' },
      { domain: 'lab.test', hosts: [{ name: 'lab-relay.test', port: 25 }], tls: 'opportunistic' },
    ]);
  });

  test('bad routes are config errors naming the key', () => {
    const bad = (toml: string, key: RegExp) => {
      assert.throws(
        () => smarthostRoutes(parseConfig(toml, file)),
        (e: unknown) => e instanceof ConfigError && key.test(e.message),
      );
    };
    bad(
      '[[queue.routes]]\ndomain = "*"\nhost = "a"\nauth_file = "missing"\n',
      /queue\.routes\.0\.auth_file/,
    );
    writeFileSync(join(dir, 'no-colon'), 'justauser\n');
    bad('[[queue.routes]]\ndomain = "*"\nhost = "a"\nauth_file = "no-colon"\n', /user:password/);
    bad('[[queue.routes]]\ndomain = "*"\nhost = "a:99999"\n', /queue\.routes\.0\.host/);
    bad('[[queue.routes]]\ndomain = "*"\nhost = "a"\ntls = "none"\n', /queue\.routes\.0\.tls/);
    bad('[[queue.routes]]\ndomain = "a b"\nhost = "a"\n', /queue\.routes\.0\.domain/);
    bad(
      '[[queue.routes]]\ndomain = "*"\nhost = "a"\n[[queue.routes]]\ndomain = "*"\nhost = "b"\n',
      /two routes/,
    );
    bad('[queue]\nportt = 25\n', /queue\.portt/);
  });
});
