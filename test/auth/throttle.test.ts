import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthThrottle, type AuthThrottleOptions } from '../../src/auth/throttle.js';
import { ipKey as normalizeIp } from '../../src/net/ip-key.js';

const MIN = 60_000;

function setup(opts: AuthThrottleOptions = {}) {
  const clock = { t: 1_000_000 };
  const throttle = new AuthThrottle({ now: () => clock.t, ...opts });
  return { throttle, clock };
}

const ALLOWED = { allowed: true, delayMs: 0, trusted: false };
const TRUSTED = { allowed: true, delayMs: 0, trusted: true };

describe('AuthThrottle', () => {
  test('no history: allowed without delay, not trusted', () => {
    const { throttle } = setup();
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), ALLOWED);
    assert.deepEqual(throttle.check('192.0.2.1'), ALLOWED);
  });

  test("the delay doubles with each of the source's recent failures, up to maxDelayMs", () => {
    const { throttle } = setup({ maxFailuresPerIp: 100, maxFailuresPerAccount: 100 });
    const delays: number[] = [];
    for (let i = 0; i < 25; i++) {
      const d = throttle.check('192.0.2.1', `u${i}@x.org`);
      assert.equal(d.allowed, true);
      if (d.allowed) delays.push(d.delayMs);
      throttle.recordFailure('192.0.2.1', `u${i}@x.org`);
    }
    assert.deepEqual(delays.slice(0, 7), [0, 250, 500, 1000, 2000, 4000, 5000]);
    assert.equal(delays[24], 5000);
  });

  test("only the source's own failures delay it, not the account's", () => {
    const { throttle } = setup();
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.2', 'a@x.org');
    throttle.recordFailure('192.0.2.3', 'a@x.org');
    assert.deepEqual(throttle.check('198.51.100.9', 'a@x.org'), ALLOWED);
    assert.deepEqual(throttle.check('192.0.2.1', 'b@x.org'), { ...ALLOWED, delayMs: 250 });
  });

  test('a source is locked out after maxFailuresPerIp failures, across accounts', () => {
    const { throttle, clock } = setup({ maxFailuresPerIp: 3 });
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.1', 'b@x.org');
    assert.equal(throttle.check('192.0.2.1', 'c@x.org').allowed, true);
    throttle.recordFailure('192.0.2.1', 'c@x.org');
    const locked = { allowed: false, retryAfterMs: 15 * MIN, scope: 'ip' };
    assert.deepEqual(throttle.check('192.0.2.1', 'd@x.org'), locked);
    assert.deepEqual(throttle.check('192.0.2.1'), locked);
    // Other sources are not affected.
    assert.deepEqual(throttle.check('192.0.2.2', 'd@x.org'), ALLOWED);
    clock.t += 10 * MIN;
    assert.deepEqual(throttle.check('192.0.2.1'), { ...locked, retryAfterMs: 5 * MIN });
    clock.t += 5 * MIN;
    // Lockout over: the count starts again from zero.
    assert.deepEqual(throttle.check('192.0.2.1'), ALLOWED);
  });

  test('lift: lockouts and failures from before an unlock go, later ones stay', () => {
    const { throttle, clock } = setup({ maxFailuresPerIp: 100, maxFailuresPerAccount: 3 });
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) throttle.recordFailure(ip, 'a@x.org');
    const locked = throttle.check('198.51.100.9', 'a@x.org');
    assert.equal(locked.allowed, false);
    assert.equal(locked.allowed === false && locked.scope, 'account');
    clock.t += MIN;
    const unlockedAt = clock.t;
    // An unlock from before the lockout lifts nothing.
    assert.equal(throttle.lift('198.51.100.9', 'a@x.org', unlockedAt - 2 * MIN), false);
    assert.equal(throttle.check('198.51.100.9', 'a@x.org').allowed, false);
    assert.equal(throttle.lift('198.51.100.9', 'A@x.org', unlockedAt), true);
    assert.deepEqual(throttle.check('198.51.100.9', 'a@x.org'), ALLOWED);
    // Idempotent: nothing more to lift, and failures after the unlock count again.
    assert.equal(throttle.lift('198.51.100.9', 'a@x.org', unlockedAt), false);
    clock.t += 1;
    for (const ip of ['192.0.2.4', '192.0.2.5']) throttle.recordFailure(ip, 'a@x.org');
    assert.equal(throttle.lift('192.0.2.6', 'a@x.org', unlockedAt), false);
    throttle.recordFailure('192.0.2.6', 'a@x.org');
    assert.equal(throttle.check('198.51.100.9', 'a@x.org').allowed, false, 'locked again');
    // An unlock older than every window and lockout is ignored outright.
    clock.t += 60 * MIN;
    assert.equal(throttle.lift('192.0.2.6', 'a@x.org', unlockedAt), false);
  });

  test('lift also clears the lockout of the source the attempt comes from', () => {
    const { throttle, clock } = setup({ maxFailuresPerIp: 2 });
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.1', 'b@x.org');
    assert.equal(throttle.check('192.0.2.1', 'a@x.org').allowed, false);
    clock.t += 1000;
    assert.equal(throttle.lift('192.0.2.1', 'a@x.org', clock.t), true);
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), ALLOWED);
  });

  test('the default account limit is above the source limit: one source cannot reach it', () => {
    const { throttle } = setup();
    for (let i = 0; i < 30; i++) {
      if (throttle.check('192.0.2.1', 'a@x.org').allowed)
        throttle.recordFailure('192.0.2.1', 'a@x.org');
    }
    assert.equal(throttle.check('192.0.2.1', 'a@x.org').allowed, false);
    // The source is locked out; the account is not, for anyone else.
    assert.deepEqual(throttle.check('198.51.100.7', 'a@x.org'), ALLOWED);
  });

  test('a distributed attack locks the account for new sources, never for a proven one', () => {
    const { throttle, clock } = setup({ maxFailuresPerAccount: 3, lockoutMs: 5 * MIN });
    throttle.recordSuccess('203.0.113.5', 'a@x.org'); // the real user, at home
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) throttle.recordFailure(ip, 'A@x.org');
    const d = throttle.check('198.51.100.50', 'a@X.ORG');
    assert.deepEqual(d, { allowed: false, retryAfterMs: 5 * MIN, scope: 'account' });
    // The real user at home: no lockout, no delay.
    assert.deepEqual(throttle.check('203.0.113.5', 'a@x.org'), TRUSTED);
    // The same sources may still try other accounts.
    assert.equal(throttle.check('192.0.2.1', 'b@x.org').allowed, true);
    clock.t += 5 * MIN;
    assert.deepEqual(throttle.check('198.51.100.50', 'a@x.org'), ALLOWED);
  });

  test('a proven pair is not held back by its source being locked out', () => {
    // A NAT: the user and a guesser (or a misconfigured client) share one address.
    const { throttle } = setup({ maxFailuresPerIp: 3 });
    throttle.recordSuccess('192.0.2.1', 'a@x.org');
    for (const u of ['b', 'c', 'd']) throttle.recordFailure('192.0.2.1', `${u}@x.org`);
    assert.equal(throttle.check('192.0.2.1', 'b@x.org').allowed, false);
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), TRUSTED);
  });

  test('trust is per (account, source): IPv6 by /64, IPv4-mapped as IPv4', () => {
    const { throttle } = setup();
    throttle.recordSuccess('2001:db8:1:2::10', 'a@x.org');
    throttle.recordSuccess('::ffff:192.0.2.1', 'a@x.org');
    assert.deepEqual(throttle.check('2001:db8:1:2:abcd::1', 'A@x.org'), TRUSTED);
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), TRUSTED);
    assert.deepEqual(throttle.check('2001:db8:1:3::10', 'a@x.org'), ALLOWED);
    assert.deepEqual(throttle.check('2001:db8:1:2::10', 'b@x.org'), ALLOWED);
    assert.deepEqual(throttle.check('2001:db8:1:2::10'), ALLOWED);
    assert.equal(throttle.size.trusted, 2);
  });

  test('maxTrustedFailures wrong passwords in a row from a proven pair end its trust', () => {
    const { throttle } = setup({ maxTrustedFailures: 3 });
    throttle.recordSuccess('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordSuccess('192.0.2.1', 'a@x.org'); // a typo, then the right one: starts over
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), TRUSTED);
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    // No longer trusted: the source's five failures count again.
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), {
      allowed: true,
      delayMs: 4000,
      trusted: false,
    });
    assert.equal(throttle.size.trusted, 0);
  });

  test('trust lasts trustMs after the last login, then is forgotten', () => {
    const { throttle, clock } = setup({ trustMs: 60 * MIN });
    throttle.recordSuccess('192.0.2.1', 'a@x.org');
    clock.t += 40 * MIN;
    throttle.recordSuccess('192.0.2.1', 'a@x.org');
    clock.t += 40 * MIN;
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), TRUSTED);
    clock.t += 20 * MIN;
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), ALLOWED);
    assert.equal(throttle.size.trusted, 0);
  });

  test('trust memory is bounded per account and in all, least recently used first', () => {
    const { throttle, clock } = setup({ maxTrustedSourcesPerAccount: 2, maxTrustedPairs: 3 });
    const login = (ip: string, a: string) => {
      clock.t += 1000;
      throttle.recordSuccess(ip, a);
    };
    login('192.0.2.1', 'a@x.org');
    login('192.0.2.2', 'a@x.org');
    login('192.0.2.3', 'a@x.org'); // a@x.org keeps .2 and .3
    assert.equal(throttle.size.trusted, 2);
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), ALLOWED);
    assert.deepEqual(throttle.check('192.0.2.2', 'a@x.org'), TRUSTED);
    login('192.0.2.9', 'b@x.org');
    login('192.0.2.8', 'c@x.org'); // four pairs: a@x.org, least recently used, gives up .2
    assert.equal(throttle.size.trusted, 3);
    assert.deepEqual(throttle.check('192.0.2.2', 'a@x.org'), ALLOWED);
    for (const [ip, a] of [
      ['192.0.2.3', 'a@x.org'],
      ['192.0.2.9', 'b@x.org'],
      ['192.0.2.8', 'c@x.org'],
    ]) {
      assert.deepEqual(throttle.check(ip, a), TRUSTED, `${a} from ${ip}`);
    }
    // However many places one account logs in from, the table does not grow.
    for (let i = 0; i < 1000; i++) login(`198.51.100.${i % 250}`, 'd@x.org');
    assert.equal(throttle.size.trusted, 3);
  });

  test('failures older than the window no longer count', () => {
    const { throttle, clock } = setup({ maxFailuresPerIp: 3, windowMs: 10 * MIN });
    throttle.recordFailure('192.0.2.1');
    throttle.recordFailure('192.0.2.1');
    clock.t += 10 * MIN + 1;
    assert.deepEqual(throttle.check('192.0.2.1'), ALLOWED);
    // Two old + one new failure is not three recent ones.
    throttle.recordFailure('192.0.2.1');
    assert.deepEqual(throttle.check('192.0.2.1'), { ...ALLOWED, delayMs: 250 });
    assert.deepEqual(throttle.size, { ip: 1, account: 0, trusted: 0 });
  });

  test('expired entries are removed from memory', () => {
    const { throttle, clock } = setup({ trustMs: 10 * MIN });
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.2', 'b@x.org');
    throttle.recordSuccess('192.0.2.3', 'c@x.org');
    assert.deepEqual(throttle.size, { ip: 2, account: 2, trusted: 1 });
    clock.t += 16 * MIN;
    throttle.check('192.0.2.3');
    assert.deepEqual(throttle.size, { ip: 0, account: 0, trusted: 0 });
  });

  test('failures while locked do not extend the lockout', () => {
    const { throttle, clock } = setup({ maxFailuresPerIp: 2 });
    throttle.recordFailure('192.0.2.1');
    throttle.recordFailure('192.0.2.1');
    clock.t += 5 * MIN;
    throttle.recordFailure('192.0.2.1');
    assert.deepEqual(throttle.check('192.0.2.1'), {
      allowed: false,
      retryAfterMs: 10 * MIN,
      scope: 'ip',
    });
  });

  test('success clears no counter', () => {
    const { throttle } = setup({ maxFailuresPerAccount: 3 });
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.2', 'a@x.org');
    throttle.recordSuccess('192.0.2.1', 'A@x.org');
    // The source keeps its failure: a working account must not reset an attacker's count.
    assert.deepEqual(throttle.check('192.0.2.1', 'b@x.org'), { ...ALLOWED, delayMs: 250 });
    // The account keeps its two: one more failure from anywhere locks it for new sources.
    throttle.recordFailure('192.0.2.3', 'a@x.org');
    assert.equal(throttle.check('192.0.2.9', 'a@x.org').allowed, false);
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), TRUSTED);
  });

  test('loopback is not exempt by default, but can be', () => {
    const strict = setup({ maxFailuresPerIp: 1 }).throttle;
    strict.recordFailure('127.0.0.1');
    assert.equal(strict.check('127.0.0.1').allowed, false);

    const { throttle } = setup({
      maxFailuresPerIp: 1,
      maxFailuresPerAccount: 2,
      exemptLoopback: true,
    });
    for (const ip of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
      throttle.recordFailure(ip);
      assert.deepEqual(throttle.check(ip), ALLOWED, ip);
    }
    // The account is still protected from loopback, and trust still works there.
    throttle.recordSuccess('127.0.0.2', 'a@x.org');
    throttle.recordFailure('127.0.0.1', 'a@x.org');
    throttle.recordFailure('127.0.0.1', 'a@x.org');
    assert.equal(throttle.check('127.0.0.1', 'a@x.org').allowed, false);
    assert.deepEqual(throttle.check('127.0.0.2', 'a@x.org'), TRUSTED);
  });

  test('IPv4-mapped IPv6 counts as the IPv4 address', () => {
    const { throttle } = setup({ maxFailuresPerIp: 2 });
    throttle.recordFailure('::ffff:192.0.2.1');
    throttle.recordFailure('192.0.2.1');
    assert.equal(throttle.check('::FFFF:192.0.2.1').allowed, false);
    assert.equal(throttle.check('192.0.2.1').allowed, false);
  });

  test('IPv6 addresses in one /64 share a counter', () => {
    const { throttle } = setup({ maxFailuresPerIp: 2 });
    throttle.recordFailure('2001:db8:1:2::1');
    throttle.recordFailure('2001:db8:1:2:ffff:ffff:ffff:ffff');
    assert.equal(throttle.check('2001:0db8:0001:0002::abcd').allowed, false);
    assert.equal(throttle.check('2001:db8:1:3::1').allowed, true);
    assert.equal(throttle.sourceKey('2001:db8:1:2::abcd'), '2001:db8:1:2:0:0:0:0/64');
  });

  test('the table size is capped, dropping the least recently touched', () => {
    const { throttle } = setup({ maxEntries: 3, maxFailuresPerIp: 2 });
    throttle.recordFailure('192.0.2.1');
    throttle.recordFailure('192.0.2.2');
    throttle.recordFailure('192.0.2.3');
    throttle.recordFailure('192.0.2.1'); // touched again: now the most recent, and locked
    throttle.recordFailure('192.0.2.4'); // evicts .2, the least recently touched
    assert.deepEqual(throttle.size, { ip: 3, account: 0, trusted: 0 });
    assert.deepEqual(throttle.check('192.0.2.2'), ALLOWED);
    assert.deepEqual(throttle.check('192.0.2.3'), { ...ALLOWED, delayMs: 250 });
    assert.equal(throttle.check('192.0.2.1').allowed, false);
  });

  test('a flood of sources cannot evict an account lockout', () => {
    const { throttle } = setup({ maxEntries: 10, maxFailuresPerAccount: 1 });
    throttle.recordFailure('192.0.2.1', 'victim@x.org');
    for (let i = 0; i < 50; i++) throttle.recordFailure(`198.51.100.${i}`);
    assert.equal(throttle.check('192.0.2.99', 'victim@x.org').allowed, false);
    assert.equal(throttle.size.ip, 10);
  });

  test('invalid options are refused', () => {
    assert.throws(() => new AuthThrottle({ maxFailuresPerIp: 0 }), RangeError);
    assert.throws(() => new AuthThrottle({ maxEntries: 1.5 }), RangeError);
    assert.throws(() => new AuthThrottle({ maxTrustedPairs: 0 }), RangeError);
  });
});

describe('normalizeIp', () => {
  const cases: Array<[string, number, string]> = [
    ['192.0.2.1', 64, '192.0.2.1'],
    ['::ffff:192.0.2.1', 64, '192.0.2.1'],
    ['::ffff:c000:0201', 64, '192.0.2.1'],
    ['::1', 64, '0:0:0:0:0:0:0:1'],
    ['2001:DB8::1', 128, '2001:db8:0:0:0:0:0:1'],
    ['2001:db8:aaaa:bbbb:cccc::1', 64, '2001:db8:aaaa:bbbb:0:0:0:0/64'],
    ['2001:db8:aaaa:bbbb:cccc::1', 56, '2001:db8:aaaa:bb00:0:0:0:0/56'],
    ['fe80::1%eth0', 128, 'fe80:0:0:0:0:0:0:1'],
    ['1:2:3:4:5:6:1.2.3.4', 128, '1:2:3:4:5:6:102:304'],
    ['::1.2.3.4', 128, '0:0:0:0:0:0:102:304'],
    ['not-an-ip', 64, 'not-an-ip'],
  ];
  for (const [input, prefix, expected] of cases) {
    test(`${input} /${prefix}`, () => assert.equal(normalizeIp(input, prefix), expected));
  }
});
