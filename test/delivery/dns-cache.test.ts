// The inbound checks' resolver (delivery/dns.ts): an answer or a failure is reused for a short
// time, a query under way is shared, and the name is asked again once the time is over.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createResolver } from '../../src/delivery/dns.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';

let dns: TestDnsServer;
before(async () => {
  dns = await startDnsServer();
});
after(async () => {
  await dns.close();
});

const asked = (q: string) => dns.queries.filter((x) => x === q).length;

test('an answer is reused until the cache time is over, then asked again', async () => {
  dns.set('spf.example.test', { TXT: ['v=spf1 -all'] });
  const resolve = createResolver({ servers: [dns.address], timeoutMs: 2000, cacheMs: 300 });
  assert.deepEqual(await resolve('spf.example.test', 'TXT'), [['v=spf1 -all']]);
  // The same name in another case, the same record: no second query.
  assert.deepEqual(await resolve('SPF.Example.TEST', 'TXT'), [['v=spf1 -all']]);
  assert.equal(asked('spf.example.test TXT'), 1);
  // Another type is another question.
  await assert.rejects(resolve('spf.example.test', 'MX'), { code: 'ENODATA' });
  assert.equal(asked('spf.example.test MX'), 1);
  dns.set('spf.example.test', { TXT: ['v=spf1 ip4:192.0.2.1 -all'] });
  await eventually(async () => {
    const got = await resolve('spf.example.test', 'TXT');
    return JSON.stringify(got) === JSON.stringify([['v=spf1 ip4:192.0.2.1 -all']]);
  }, 'the new record once the cache time is over');
  assert.equal(asked('spf.example.test TXT'), 2);
});

test('a failure is reused as well, and queries under way are shared', async () => {
  dns.fail('down.example.test', 'SERVFAIL');
  const resolve = createResolver({ servers: [dns.address], timeoutMs: 2000, cacheMs: 60_000 });
  const all = await Promise.allSettled(
    Array.from({ length: 5 }, () => resolve('down.example.test', 'TXT')),
  );
  for (const r of all) assert.equal(r.status, 'rejected');
  await assert.rejects(resolve('down.example.test', 'TXT'), { code: 'ESERVFAIL' });
  assert.equal(asked('down.example.test TXT'), 1);
  // Each resolver (one per configuration) has its own cache.
  const other = createResolver({ servers: [dns.address], timeoutMs: 2000 });
  await assert.rejects(other('down.example.test', 'TXT'), { code: 'ESERVFAIL' });
  assert.equal(asked('down.example.test TXT'), 2);
});
