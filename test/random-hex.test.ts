// Ids drawn from the pooled random bytes (src/random-hex.ts): the right length, hex, and
// distinct across the pool's refills.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newDeliveryId } from '../src/delivery/trace.js';
import { randomHex } from '../src/random-hex.js';

test('random hex ids have their length, and never repeat across refills of the pool', () => {
  const seen = new Set<string>();
  // 4096-byte blocks: sizes that do not divide it cross a refill part-way.
  for (let i = 0; i < 3000; i++) {
    for (const n of [8, 9, 12]) {
      const h = randomHex(n);
      assert.match(h, new RegExp(`^[0-9a-f]{${2 * n}}$`));
      assert.ok(!seen.has(h), h);
      seen.add(h);
    }
  }
  const ids = new Set(Array.from({ length: 2000 }, () => newDeliveryId()));
  assert.equal(ids.size, 2000);
  for (const id of ids) assert.match(id, /^[0-9A-F]{16}$/);
});
