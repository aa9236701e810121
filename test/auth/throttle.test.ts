import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthThrottle, type AuthThrottleOptions, normalizeIp } from '../../src/auth/throttle.js';

const MIN = 60_000;

function setup(opts: AuthThrottleOptions = {}) {
  const clock = { t: 1_000_000 };
  const throttle = new AuthThrottle({ now: () => clock.t, ...opts });
  return { throttle, clock };
}

describe('AuthThrottle', () => {
  test('no history: allowed without delay', () => {
    const { throttle } = setup();
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), { allowed: true, delayMs: 0 });
    assert.deepEqual(throttle.check('192.0.2.1'), { allowed: true, delayMs: 0 });
  });

  test('the delay grows by delayStepMs per recent failure, up to maxDelayMs', () => {
    const { throttle } = setup({ maxFailuresPerIp: 100, maxFailuresPerAccount: 100 });
    const delays: number[] = [];
    for (let i = 0; i < 25; i++) {
      const d = throttle.check('192.0.2.1');
      assert.equal(d.allowed, true);
      if (d.allowed) delays.push(d.delayMs);
      throttle.recordFailure('192.0.2.1');
    }
    assert.deepEqual(delays.slice(0, 5), [0, 250, 500, 750, 1000]);
    assert.equal(Math.max(...delays), 5000);
    assert.equal(delays[24], 5000);
  });

  test('the delay counts the worse of the IP and the account', () => {
    const { throttle } = setup();
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.2', 'a@x.org');
    throttle.recordFailure('192.0.2.3', 'a@x.org');
    // A fresh IP trying the attacked account still waits for the account's three failures.
    assert.deepEqual(throttle.check('198.51.100.9', 'a@x.org'), { allowed: true, delayMs: 750 });
    assert.deepEqual(throttle.check('192.0.2.1', 'b@x.org'), { allowed: true, delayMs: 250 });
  });

  test('an IP is locked out after maxFailuresPerIp failures, across accounts', () => {
    const { throttle, clock } = setup({ maxFailuresPerIp: 3 });
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.1', 'b@x.org');
    assert.equal(throttle.check('192.0.2.1', 'c@x.org').allowed, true);
    throttle.recordFailure('192.0.2.1', 'c@x.org');
    assert.deepEqual(throttle.check('192.0.2.1', 'd@x.org'), {
      allowed: false,
      retryAfterMs: 15 * MIN,
      scope: 'ip',
    });
    assert.deepEqual(throttle.check('192.0.2.1'), {
      allowed: false,
      retryAfterMs: 15 * MIN,
      scope: 'ip',
    });
    // Other IPs are not affected.
    assert.equal(throttle.check('192.0.2.2', 'd@x.org').allowed, true);
    clock.t += 10 * MIN;
    assert.deepEqual(throttle.check('192.0.2.1'), {
      allowed: false,
      retryAfterMs: 5 * MIN,
      scope: 'ip',
    });
    clock.t += 5 * MIN;
    // Lockout over: the count starts again from zero.
    assert.deepEqual(throttle.check('192.0.2.1'), { allowed: true, delayMs: 0 });
  });

  test('an account is locked out after maxFailuresPerAccount failures, across IPs', () => {
    const { throttle } = setup({ maxFailuresPerAccount: 3, lockoutMs: 5 * MIN });
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) throttle.recordFailure(ip, 'A@x.org');
    const d = throttle.check('203.0.113.50', 'a@X.ORG');
    assert.deepEqual(d, { allowed: false, retryAfterMs: 5 * MIN, scope: 'account' });
    // The same IPs may still try other accounts.
    assert.equal(throttle.check('192.0.2.1', 'b@x.org').allowed, true);
  });

  test('failures older than the window no longer count', () => {
    const { throttle, clock } = setup({ maxFailuresPerIp: 3, windowMs: 10 * MIN });
    throttle.recordFailure('192.0.2.1');
    throttle.recordFailure('192.0.2.1');
    clock.t += 10 * MIN + 1;
    assert.deepEqual(throttle.check('192.0.2.1'), { allowed: true, delayMs: 0 });
    // Two old + one new failure is not three recent ones.
    throttle.recordFailure('192.0.2.1');
    assert.deepEqual(throttle.check('192.0.2.1'), { allowed: true, delayMs: 250 });
    assert.deepEqual(throttle.size, { ip: 1, account: 0 });
  });

  test('expired entries are removed from memory', () => {
    const { throttle, clock } = setup();
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.2', 'b@x.org');
    assert.deepEqual(throttle.size, { ip: 2, account: 2 });
    clock.t += 16 * MIN;
    throttle.check('192.0.2.3');
    assert.deepEqual(throttle.size, { ip: 0, account: 0 });
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

  test('success clears the account, not the IP', () => {
    const { throttle } = setup({ maxFailuresPerAccount: 3 });
    throttle.recordFailure('192.0.2.1', 'a@x.org');
    throttle.recordFailure('192.0.2.2', 'a@x.org');
    throttle.recordSuccess('192.0.2.1', 'A@x.org');
    assert.deepEqual(throttle.check('192.0.2.9', 'a@x.org'), { allowed: true, delayMs: 0 });
    // The IP keeps its failure: a working account must not reset an attacker's count.
    assert.deepEqual(throttle.check('192.0.2.1', 'a@x.org'), { allowed: true, delayMs: 250 });
    // The other IP keeps its own failure.
    assert.deepEqual(throttle.check('192.0.2.2'), { allowed: true, delayMs: 250 });
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
      assert.deepEqual(throttle.check(ip), { allowed: true, delayMs: 0 }, ip);
    }
    // The account is still protected from loopback.
    throttle.recordFailure('127.0.0.1', 'a@x.org');
    throttle.recordFailure('127.0.0.1', 'a@x.org');
    assert.equal(throttle.check('127.0.0.1', 'a@x.org').allowed, false);
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
  });

  test('the table size is capped, dropping the least recently touched', () => {
    const { throttle } = setup({ maxEntries: 3, maxFailuresPerIp: 2 });
    throttle.recordFailure('192.0.2.1');
    throttle.recordFailure('192.0.2.2');
    throttle.recordFailure('192.0.2.3');
    throttle.recordFailure('192.0.2.1'); // touched again: now the most recent, and locked
    throttle.recordFailure('192.0.2.4'); // evicts .2, the least recently touched
    assert.deepEqual(throttle.size, { ip: 3, account: 0 });
    assert.deepEqual(throttle.check('192.0.2.2'), { allowed: true, delayMs: 0 });
    assert.deepEqual(throttle.check('192.0.2.3'), { allowed: true, delayMs: 250 });
    assert.equal(throttle.check('192.0.2.1').allowed, false);
  });

  test('a flood of IPs cannot evict an account lockout', () => {
    const { throttle } = setup({ maxEntries: 10, maxFailuresPerAccount: 1 });
    throttle.recordFailure('192.0.2.1', 'victim@x.org');
    for (let i = 0; i < 50; i++) throttle.recordFailure(`198.51.100.${i}`);
    assert.equal(throttle.check('192.0.2.99', 'victim@x.org').allowed, false);
    assert.equal(throttle.size.ip, 10);
  });

  test('invalid options are refused', () => {
    assert.throws(() => new AuthThrottle({ maxFailuresPerIp: 0 }), RangeError);
    assert.throws(() => new AuthThrottle({ maxEntries: 1.5 }), RangeError);
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
