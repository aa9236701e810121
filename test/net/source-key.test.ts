// What a "source" is for the per-source connection limit (issue 15 item 7): an IPv4 address,
// or an IPv6 /64 (RFC 4291 §2.5.4: a /64 is one subnet, and whoever has one address in it
// usually has all of them).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ipKey } from '../../src/net/ip-key.js';
import { ConnectionLimiter, sourceKey } from '../../src/net/limits.js';

describe('sourceKey', () => {
  test('two IPv6 addresses in the same /64 are one source', () => {
    assert.equal(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:2:ffff:ffff:ffff:fffe'));
    assert.equal(sourceKey('2001:db8:1:2::1'), sourceKey('2001:DB8:1:2:0:0:0:abcd'));
    assert.equal(sourceKey('2001:db8:1:2::1'), sourceKey('2001:0db8:0001:0002::9'));
  });

  test('different /64s are different sources', () => {
    assert.notEqual(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:3::1'));
    // The last bit of the prefix still counts.
    assert.notEqual(sourceKey('2001:db8:0:0::1'), sourceKey('2001:db8:0:1::1'));
    assert.notEqual(sourceKey('2001:db8::1'), sourceKey('2001:db9::1'));
  });

  test('an IPv4-mapped IPv6 address is the IPv4 address (RFC 4291 §2.5.5.2)', () => {
    assert.equal(sourceKey('::ffff:192.0.2.7'), sourceKey('192.0.2.7'));
    assert.equal(sourceKey('::FFFF:192.0.2.7'), sourceKey('192.0.2.7'));
    assert.equal(sourceKey('::ffff:c000:207'), sourceKey('192.0.2.7'));
    assert.equal(sourceKey('192.0.2.7'), '192.0.2.7');
    // IPv4 is never grouped: the neighbours are other sources.
    assert.notEqual(sourceKey('192.0.2.7'), sourceKey('192.0.2.8'));
  });

  test('::1 is kept whole, not widened to ::/64', () => {
    assert.equal(sourceKey('::1'), sourceKey('0:0:0:0:0:0:0:1'));
    assert.notEqual(sourceKey('::1'), sourceKey('::2'));
    assert.notEqual(sourceKey('::1'), sourceKey('::'));
  });
});

describe('ConnectionLimiter counts per source', () => {
  test('addresses in one /64 share a count; another /64 has its own', () => {
    const l = new ConnectionLimiter(2);
    assert.equal(l.tryAcquire('2001:db8:a:b::1'), true);
    assert.equal(l.tryAcquire('2001:db8:a:b:1:2:3:4'), true);
    assert.equal(l.tryAcquire('2001:db8:a:b::ffff'), false, 'a third address in the same /64');
    assert.equal(l.count('2001:db8:a:b::77'), 2);
    assert.equal(l.tryAcquire('2001:db8:a:c::1'), true, 'the next /64 is another source');
    assert.equal(l.count('2001:db8:a:c::1'), 1);
    // Released by another address of the same /64: the count is the source's.
    l.release('2001:db8:a:b::9');
    assert.equal(l.tryAcquire('2001:db8:a:b::ffff'), true);
    assert.equal(l.tryAcquire('2001:db8:a:b::fffe'), false);
  });

  test('IPv4-mapped and plain IPv4 share a count', () => {
    const l = new ConnectionLimiter(2);
    assert.equal(l.tryAcquire('::ffff:203.0.113.5'), true);
    assert.equal(l.tryAcquire('203.0.113.5'), true);
    assert.equal(l.tryAcquire('::ffff:203.0.113.5'), false);
    assert.equal(l.tryAcquire('203.0.113.5'), false);
    assert.equal(l.tryAcquire('203.0.113.6'), true);
    l.release('::ffff:203.0.113.5');
    l.release('203.0.113.5');
    assert.equal(l.count('203.0.113.5'), 0);
  });

  test('::1 does not share a count with the rest of ::/64', () => {
    const l = new ConnectionLimiter(1);
    assert.equal(l.tryAcquire('::1'), true);
    assert.equal(l.tryAcquire('::1'), false);
    assert.equal(l.tryAcquire('::2'), true);
    assert.equal(l.count('0:0:0:0:0:0:0:1'), 1);
  });
});

// ip-key.ts keeps the keys of addresses other than plain IPv4 once worked out (a connection
// asks for its address's key at accept, at close and at each login): what it keeps must be
// the key of that address at that prefix length, whatever was asked before.
describe('ipKey asked again', () => {
  test('one address at two prefix lengths has two keys, each the same when asked again', () => {
    const a = '2001:db8:7:8:1:2:3:4';
    for (let i = 0; i < 3; i++) {
      assert.equal(ipKey(a, 64), '2001:db8:7:8:0:0:0:0/64');
      assert.equal(ipKey(a), '2001:db8:7:8:1:2:3:4');
      assert.equal(ipKey(a, 48), '2001:db8:7:0:0:0:0:0/48');
    }
  });

  test('the same address in other text gives the same key; unparseable text is itself', () => {
    assert.equal(ipKey('2001:DB8:7:8::1', 64), ipKey('2001:db8:7:8:0:0:0:1', 64));
    assert.equal(ipKey(' ::FFFF:192.0.2.9 ', 64), '192.0.2.9');
    assert.equal(ipKey(' 192.0.2.9 '), '192.0.2.9');
    assert.equal(ipKey('Not-An-Address'), 'not-an-address');
    const long = `2001:db8::${'1'.repeat(80)}`;
    assert.equal(ipKey(long, 64), long);
  });

  test('after more addresses than are kept, keys are still right', () => {
    for (let i = 0; i < 10_000; i++) {
      const hex = i.toString(16);
      assert.equal(ipKey(`2001:db8:${hex}::${hex}`, 64), `2001:db8:${hex}:0:0:0:0:0/64`);
    }
    assert.equal(ipKey('2001:db8:0::0', 64), '2001:db8:0:0:0:0:0:0/64');
    assert.equal(ipKey('::1', 64), '0:0:0:0:0:0:0:1');
  });
});
