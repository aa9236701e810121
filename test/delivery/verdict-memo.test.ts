// SPF and DMARC verdicts of unsigned mail are reused for the next message with the same
// envelope, client and From addresses (delivery/verdict-memo.ts), only while every DNS answer
// they were made from is still the one the resolver gives; the reused verdict is the one a
// new check makes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { authenticate } from 'mailauth';
import { type CachingResolveFn, createResolver } from '../../src/delivery/dns.js';
import { verifyInbound } from '../../src/delivery/inbound-auth.js';
import { authenticateUnsigned, unsignedHeader } from '../../src/delivery/unsigned-auth.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';

let dns: TestDnsServer;
before(async () => {
  dns = await startDnsServer();
});
after(async () => {
  await dns.close();
});

/** createResolver's resolver, counting the questions the checks ask it. */
function counted(cacheMs: number): { resolver: CachingResolveFn; calls: () => number } {
  const inner = createResolver({ servers: [dns.address], timeoutMs: 2000, cacheMs });
  let n = 0;
  const ask = (name: string, rrtype: string) => {
    n++;
    return inner(name, rrtype);
  };
  return { resolver: Object.assign(ask, { keptUntil: inner.keptUntil }), calls: () => n };
}

const header = (from: string) => Buffer.from(`From: ${from}\r\nSubject: hi\r\n\r\n`);
const spfOf = (r: { spf: { status?: { result?: string } } | false }) =>
  r.spf ? r.spf.status?.result : undefined;

test('a verdict is reused for the same inputs, made anew for others, and equals a new check', async (t) => {
  // The memo's key holds the second (SPF's %{t} macro): a clock that stands still keeps the two
  // checks in one second however long the first takes (a loaded machine crossed it).
  t.mock.method(Date, 'now', () => 1_764_950_400_000);
  dns.set('memo-pass.test', { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] });
  dns.set('_dmarc.memo-pass.test', { TXT: ['v=DMARC1; p=reject'] });
  const { resolver, calls } = counted(60_000);
  const env = { ip: '192.0.2.7', helo: 'client.test', sender: 'a@memo-pass.test' };
  const fields = unsignedHeader(header('a@memo-pass.test'))!;
  const first = await authenticateUnsigned(fields, { ...env, mta: 'mx.local.test', resolver });
  assert.equal(spfOf(first), 'pass');
  const asked = calls();
  assert.ok(asked > 0);
  const again = await authenticateUnsigned(fields, { ...env, mta: 'mx.local.test', resolver });
  // The second message asks nothing: fails without the memo (the checks ask again, and the
  // resolver answers them from its cache).
  assert.equal(calls(), asked);
  assert.equal(again.headers, first.headers);
  // Another sender, client address, HELO or From: checked again, with its own verdict.
  const variants = [
    { ...env, sender: 'b@memo-pass.test' },
    { ...env, ip: '198.51.100.9' },
    { ...env, helo: 'other.test' },
  ];
  for (const v of variants) {
    const before = calls();
    const got = await authenticateUnsigned(fields, { ...v, mta: 'mx.local.test', resolver });
    assert.ok(calls() > before, JSON.stringify(v));
    const want = await authenticate(header('a@memo-pass.test'), {
      ...v,
      mta: 'mx.local.test',
      resolver,
      disableBimi: true,
    });
    assert.equal(got.headers, want.headers, JSON.stringify(v));
  }
  const before2 = calls();
  const otherFrom = await authenticateUnsigned(unsignedHeader(header('x@elsewhere.test'))!, {
    ...env,
    mta: 'mx.local.test',
    resolver,
  });
  assert.ok(calls() > before2);
  assert.notEqual(otherFrom.headers, first.headers);
  // The same envelope: SPF passes; DMARC is of the other From domain.
  assert.equal(spfOf(otherFrom), 'pass');
});

test('a verdict goes with its DNS answers: a changed record is seen once the resolver asks again', async () => {
  dns.set('memo-change.test', { TXT: ['v=spf1 -all'] });
  const { resolver } = counted(200);
  const env = { ip: '192.0.2.7', helo: 'client.test', sender: 'a@memo-change.test' };
  const fields = unsignedHeader(header('a@memo-change.test'))!;
  const opts = { ...env, mta: 'mx.local.test', resolver };
  assert.equal(spfOf(await authenticateUnsigned(fields, opts)), 'fail');
  dns.set('memo-change.test', { TXT: ['v=spf1 ip4:192.0.2.7 -all'] });
  await eventually(
    async () => spfOf(await authenticateUnsigned(fields, opts)) === 'pass',
    'the new SPF record in the verdict',
  );
});

test('a check that failed in DNS is kept no longer than its failure is', async () => {
  dns.fail('memo-down.test', 'SERVFAIL');
  const { resolver } = counted(200);
  const env = { ip: '192.0.2.7', helo: 'client.test', sender: 'a@memo-down.test' };
  const fields = unsignedHeader(header('a@memo-down.test'))!;
  const opts = { ...env, mta: 'mx.local.test', resolver };
  assert.equal(spfOf(await authenticateUnsigned(fields, opts)), 'temperror');
  dns.fail('memo-down.test', null);
  dns.set('memo-down.test', { TXT: ['v=spf1 ip4:192.0.2.7 -all'] });
  await eventually(
    async () => spfOf(await authenticateUnsigned(fields, opts)) === 'pass',
    'the record once DNS answers again',
  );
});

test('a kept verdict is answered at once: the inbound checks start no deadline timer for it', async (t) => {
  t.mock.method(Date, 'now', () => 1_764_950_400_000);
  dns.set('memo-timer.test', { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] });
  const { resolver } = counted(60_000);
  const input = {
    raw: Buffer.from('From: a@memo-timer.test\r\nSubject: hi\r\n\r\nbody\r\n'),
    ip: '192.0.2.7',
    helo: 'client.test',
    sender: 'a@memo-timer.test',
    hostname: 'mx.local.test',
    resolver,
    timeoutMs: 5000,
  };
  const first = await verifyInbound(input);
  assert.equal(first.spf, 'pass');
  const timers = t.mock.method(globalThis, 'setTimeout');
  const again = await verifyInbound(input);
  // Fails without the memo's peek: every message raced its checks against a new timer.
  assert.equal(timers.mock.callCount(), 0);
  assert.deepEqual(again, first);
});
