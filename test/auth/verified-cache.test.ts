// VerifiedCache: a success is remembered for the same username, password and stored hash,
// within the TTL; anything else misses (and then costs a full scrypt in the authenticator).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VerifiedCache } from '../../src/auth/verified-cache.js';

test('hits only for the same username, password and stored hash, within the TTL', () => {
  let now = 1000;
  const c = new VerifiedCache(60_000, 100, () => now);
  assert.equal(c.has('a@x.test', 'pw', 'H1'), false);
  c.add('a@x.test', 'pw', 'H1');
  assert.equal(c.has('a@x.test', 'pw', 'H1'), true);
  assert.equal(c.has('a@x.test', 'pW', 'H1'), false, 'another password');
  assert.equal(c.has('b@x.test', 'pw', 'H1'), false, 'another user');
  assert.equal(c.has('a@x.testpw', '', 'H1'), false, 'the separator keeps fields apart');
  // A password change stores a new hash: the old success no longer counts, and is dropped.
  assert.equal(c.has('a@x.test', 'pw', 'H2'), false);
  assert.equal(c.has('a@x.test', 'pw', 'H1'), false);
  c.add('a@x.test', 'pw', 'H1');
  now += 60_000;
  assert.equal(c.has('a@x.test', 'pw', 'H1'), false, 'expired');
});

test('keeps at most `max` entries, dropping the oldest', () => {
  const c = new VerifiedCache(60_000, 2);
  c.add('a', 'pw', 'H');
  c.add('b', 'pw', 'H');
  c.add('c', 'pw', 'H');
  assert.equal(c.has('a', 'pw', 'H'), false);
  assert.equal(c.has('b', 'pw', 'H'), true);
  assert.equal(c.has('c', 'pw', 'H'), true);
});
