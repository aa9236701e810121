// After a large cached list goes, the store asks V8 for one full collection (heap-release.ts):
// the garbage goes at once, and not more than once a minute.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releaseHeap } from '../../src/store/sqlite/heap-release.js';

test('a collection frees the garbage, at most once a minute', () => {
  let junk: { i: number }[] | null = Array.from({ length: 500_000 }, (_, i) => ({ i }));
  const held = process.memoryUsage().heapUsed;
  junk = null;
  const now = Date.now() + 120_000;
  assert.equal(releaseHeap(now), true);
  assert.ok(junk === null);
  const after = process.memoryUsage().heapUsed;
  assert.ok(after < held - 10 * 1024 * 1024, `heap ${held} -> ${after}`);
  assert.equal(releaseHeap(now + 1000), false);
  assert.equal(releaseHeap(now + 59_000), false);
  assert.equal(releaseHeap(now + 61_000), true);
});
