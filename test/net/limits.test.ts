import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectionLimiter, normalizeIp } from '../../src/net/limits.js';

describe('ConnectionLimiter', () => {
  test('allows up to the limit per address, then refuses until one is released', () => {
    const l = new ConnectionLimiter(2);
    assert.equal(l.tryAcquire('192.0.2.1'), true);
    assert.equal(l.tryAcquire('192.0.2.1'), true);
    assert.equal(l.tryAcquire('192.0.2.1'), false);
    assert.equal(l.count('192.0.2.1'), 2, 'a refused attempt is not counted');
    assert.equal(l.tryAcquire('192.0.2.2'), true, 'other addresses are independent');
    l.release('192.0.2.1');
    assert.equal(l.tryAcquire('192.0.2.1'), true);
  });

  test('IPv4-mapped IPv6 counts as the IPv4 address', () => {
    const l = new ConnectionLimiter(1);
    assert.equal(l.tryAcquire('::ffff:198.51.100.9'), true);
    assert.equal(l.tryAcquire('198.51.100.9'), false);
    assert.equal(l.tryAcquire('::FFFF:198.51.100.9'), false);
    l.release('198.51.100.9');
    assert.equal(l.count('::ffff:198.51.100.9'), 0);
    assert.equal(l.tryAcquire('198.51.100.9'), true);
  });

  test('0 means unlimited; release of an unknown address is harmless', () => {
    const l = new ConnectionLimiter(0);
    for (let i = 0; i < 1000; i++) assert.equal(l.tryAcquire('2001:db8::1'), true);
    l.release('203.0.113.5');
    assert.equal(l.count('203.0.113.5'), 0);
  });

  test('normalizeIp', () => {
    assert.equal(normalizeIp('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(normalizeIp('2001:DB8::1'), '2001:db8::1');
    assert.equal(normalizeIp('::ffff:abcd'), '::ffff:abcd');
    assert.equal(normalizeIp('127.0.0.1'), '127.0.0.1');
  });
});
