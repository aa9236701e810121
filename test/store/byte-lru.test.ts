// ByteLru, the bounded map both stores keep message bytes in, and the PostgreSQL store's
// ByteCache over it (an entry's time to live, forgetting expunged messages' bytes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ByteLru } from '../../src/store/byte-lru.js';
import { ByteCache } from '../../src/store/postgres/byte-cache.js';

test('ByteLru: keeps within its bound, the least recently used going first, like a model', () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('set' as const),
      key: fc.integer({ min: 0, max: 7 }),
      cost: fc.integer({ min: 0, max: 40 }),
    }),
    fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 7 }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 100 }), fc.array(op, { maxLength: 60 }), (max, ops) => {
      const lru = new ByteLru<number>(max, (cost) => cost);
      // The model: keys most recent last, with their costs.
      let model: [string, number][] = [];
      const total = () => model.reduce((sum, [, c]) => sum + c, 0);
      for (const o of ops) {
        const key = String(o.key);
        const at = model.findIndex(([k]) => k === key);
        if (o.kind === 'get') {
          const want = at < 0 ? undefined : model[at][1];
          assert.equal(lru.get(key), want);
          if (at >= 0) model = [...model.filter(([k]) => k !== key), model[at]];
        } else if (o.kind === 'delete') {
          lru.delete(key);
          model = model.filter(([k]) => k !== key);
        } else {
          model = model.filter(([k]) => k !== key);
          assert.equal(lru.set(key, o.cost), o.cost <= max);
          if (o.cost <= max) model.push([key, o.cost]);
          while (total() > max) model.shift();
        }
        assert.equal(lru.size, total());
        assert.ok(lru.size <= max);
      }
      for (const [k, c] of model) assert.equal(lru.get(k), c);
    }),
    // Enough runs to meet an eviction that a get's move to the newest end decides.
    { numRuns: 2000 },
  );
});

test('ByteCache: an entry past its time to live is gone; forget drops some or all', async () => {
  const data = Buffer.from('message');
  const short = new ByteCache(1 << 20, 1 << 10, 5);
  short.set('a', data);
  const since = performance.now();
  while (performance.now() - since <= 6) await new Promise((r) => setTimeout(r, 2));
  assert.equal(short.get('a'), undefined, 'read 5 ms ago or more: read again');
  const cache = new ByteCache(1 << 20, 1 << 10, 60_000);
  cache.set('a', data);
  assert.equal(cache.get('a'), data);
  cache.set('b', data);
  cache.set('c', data);
  cache.forget(['b']);
  assert.equal(cache.get('b'), undefined);
  assert.equal(cache.get('c'), data);
  cache.forget();
  assert.equal(cache.get('c'), undefined);
  cache.set('big', Buffer.alloc(2000));
  assert.equal(cache.get('big'), undefined, 'larger than the largest kept');
});
