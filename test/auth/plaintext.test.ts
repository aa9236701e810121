// [auth] plaintext_networks (auth/plaintext.ts): which peers may send a password without TLS.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_PLAINTEXT_NETWORKS,
  effectiveNetworks,
  PlaintextPolicy,
  parseNetwork,
  plaintextPolicy,
} from '../../src/auth/plaintext.js';
import { parseConfig } from '../../src/config/load.js';

describe('plaintext networks', () => {
  test('networks parse as addresses or CIDR; anything else is refused', () => {
    assert.deepEqual(parseNetwork('127.0.0.0/8'), {
      address: '127.0.0.0',
      prefix: 8,
      family: 'ipv4',
    });
    assert.deepEqual(parseNetwork('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
    assert.deepEqual(parseNetwork('10.1.2.3'), { address: '10.1.2.3', prefix: 32, family: 'ipv4' });
    assert.deepEqual(parseNetwork('fd00::/8'), { address: 'fd00::', prefix: 8, family: 'ipv6' });
    for (const bad of [
      '',
      'localhost',
      '127.0.0.0/33',
      '::/129',
      '10.0.0.0/',
      '10.0.0.0/-1',
      '1.2.3',
      '10.0.0.0/8/8',
    ])
      assert.equal(parseNetwork(bad), null, bad);
  });

  test('the default is loopback only: 127.0.0.0/8 and ::1, IPv4-mapped forms included', () => {
    const p = new PlaintextPolicy(DEFAULT_PLAINTEXT_NETWORKS);
    for (const ip of ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '::ffff:127.0.0.1'])
      assert.equal(p.allows(ip), true, ip);
    for (const ip of [
      '10.0.0.1',
      '192.0.2.1',
      '::2',
      '2001:db8::1',
      '::ffff:192.0.2.1',
      'unknown',
      '',
    ])
      assert.equal(p.allows(ip), false, ip);
  });

  test('a configured list, and an empty one (TLS everywhere)', () => {
    const p = new PlaintextPolicy(['127.0.0.1/32', '192.168.10.0/24', 'fd00::/8']);
    assert.equal(p.allows('127.0.0.1'), true);
    assert.equal(p.allows('127.0.0.2'), false);
    assert.equal(p.allows('192.168.10.77'), true);
    assert.equal(p.allows('192.168.11.1'), false);
    assert.equal(p.allows('fd12:3456::1'), true);
    assert.equal(p.allows('fe80::1'), false);
    const none = new PlaintextPolicy([]);
    assert.equal(none.allows('127.0.0.1'), false);
    assert.equal(none.allows('::1'), false);
  });

  test('answers kept by address stay right, asked again and past the number kept', () => {
    const p = new PlaintextPolicy(['10.0.0.0/22']);
    // 3,000 addresses (more than are kept), each asked twice in a row and again a round later:
    // the same answer as the networks give, from what was kept or after it started over.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 3000; i++) {
        const ip = `10.0.${i >> 8}.${i & 255}`;
        assert.equal(p.allows(ip), i < 1024, ip);
        assert.equal(p.allows(ip), i < 1024, ip);
      }
    }
    assert.equal(p.allows('::ffff:10.0.3.5'), true);
    assert.equal(p.allows('::ffff:10.0.4.5'), false);
  });

  test('config: default, explicit, invalid; allow_plaintext = true still means everywhere', () => {
    const cfg = (auth: string) =>
      parseConfig(`hostname = "mx.example.test"\n[auth]\n${auth}\n`, '/tmp/lb.toml');
    const d = cfg('');
    assert.deepEqual(d.auth.plaintext_networks, ['127.0.0.0/8', '::1']);
    assert.equal(plaintextPolicy(d.auth).allows('127.0.0.1'), true);
    assert.equal(plaintextPolicy(d.auth).allows('192.0.2.1'), false);
    const e = cfg('plaintext_networks = ["10.0.0.0/8"]');
    assert.equal(plaintextPolicy(e.auth).allows('10.9.9.9'), true);
    assert.equal(plaintextPolicy(e.auth).allows('127.0.0.1'), false);
    const off = cfg('plaintext_networks = []');
    assert.equal(plaintextPolicy(off.auth).allows('127.0.0.1'), false);
    const old = cfg('allow_plaintext = true');
    assert.deepEqual(effectiveNetworks(old.auth), ['0.0.0.0/0', '::/0']);
    assert.equal(plaintextPolicy(old.auth).allows('192.0.2.1'), true);
    assert.equal(plaintextPolicy(old.auth).allows('2001:db8::1'), true);
    assert.throws(() => cfg('plaintext_networks = ["localhost"]'), /plaintext_networks/);
  });
});
