import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultHashConcurrency, HashPool } from '../../src/auth/hash-pool.js';

/** A task that records when it starts and finishes only when told to. */
function gate(name: string, started: string[]) {
  let release!: (v: string) => void;
  let fail!: (e: Error) => void;
  const done = new Promise<string>((resolve, reject) => {
    release = resolve;
    fail = reject;
  });
  return {
    task: () => {
      started.push(name);
      return done;
    },
    release: () => release(name),
    fail: (e: Error) => fail(e),
  };
}

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise((r) => setImmediate(r));

describe('HashPool', () => {
  test('a saturated pool runs a high-priority job before the normal ones queued earlier', async () => {
    const started: string[] = [];
    const pool = new HashPool({ concurrency: 2, maxQueued: 10 });
    const g = Object.fromEntries(
      ['a', 'b', 'n1', 'n2', 'n3', 'h1', 'h2'].map((n) => [n, gate(n, started)]),
    );
    const results = [
      pool.submit(g.a.task, 'normal', 'src-a'),
      pool.submit(g.b.task, 'normal', 'src-b'),
      pool.submit(g.n1.task, 'normal', 'src-1'),
      pool.submit(g.n2.task, 'normal', 'src-2'),
      pool.submit(g.n3.task, 'normal', 'src-3'),
      pool.submit(g.h1.task, 'high', 'home'),
      pool.submit(g.h2.task, 'high', 'home'),
    ];
    assert.deepEqual(started, ['a', 'b']);
    assert.deepEqual(pool.size, { running: 2, high: 2, normal: 3, inLanes: 0 });
    g.a.release();
    await settle();
    assert.deepEqual(started, ['a', 'b', 'h1']);
    g.h1.release();
    await settle();
    assert.deepEqual(started, ['a', 'b', 'h1', 'h2']);
    for (const n of ['b', 'h2', 'n1', 'n2', 'n3']) {
      g[n].release();
      await settle();
    }
    assert.deepEqual(started, ['a', 'b', 'h1', 'h2', 'n1', 'n2', 'n3']);
    assert.deepEqual(await Promise.all(results), ['a', 'b', 'n1', 'n2', 'n3', 'h1', 'h2']);
    assert.deepEqual(pool.size, { running: 0, high: 0, normal: 0, inLanes: 0 });
  });

  test('past maxQueued waiting jobs it refuses at once; the other priority has its own room', async () => {
    const started: string[] = [];
    const pool = new HashPool({ concurrency: 1, maxQueued: 2 });
    const a = gate('a', started);
    const p = pool.submit(a.task, 'normal', 's1');
    assert.notEqual(
      pool.submit(async () => 'q1', 'normal', 's2'),
      null,
    );
    assert.notEqual(
      pool.submit(async () => 'q2', 'normal', 's3'),
      null,
    );
    assert.equal(
      pool.submit(async () => 'q3', 'normal', 's4'),
      null,
    );
    const h = pool.submit(async () => 'h', 'high', 's5');
    assert.notEqual(h, null);
    a.release();
    assert.equal(await p, 'a');
    assert.equal(await h, 'h');
    await settle();
    assert.notEqual(
      pool.submit(async () => 'again', 'normal', 's4'),
      null,
    );
  });

  test("a source's jobs past maxPerSource wait in its lane, behind other sources", async () => {
    const started: string[] = [];
    const pool = new HashPool({
      concurrency: 1,
      maxQueued: 100,
      maxPerSource: 2,
      maxWaitingPerSource: 2,
    });
    const g = Object.fromEntries(
      ['f1', 'f2', 'f3', 'f4', 'other'].map((n) => [n, gate(n, started)]),
    );
    const f1 = pool.submit(g.f1.task, 'normal', 'flood');
    const f2 = pool.submit(g.f2.task, 'normal', 'flood');
    // Past maxPerSource: accepted, into the lane (not refused as before).
    const f3 = pool.submit(g.f3.task, 'normal', 'flood');
    const f4 = pool.submit(g.f4.task, 'normal', 'flood');
    // The lane holds maxWaitingPerSource: the next one is refused.
    assert.equal(
      pool.submit(async () => 'f5', 'normal', 'flood'),
      null,
    );
    const other = pool.submit(g.other.task, 'normal', 'elsewhere');
    for (const p of [f1, f2, f3, f4, other]) assert.notEqual(p, null);
    assert.deepEqual(pool.size, { running: 1, high: 0, normal: 2, inLanes: 2 });

    // Each finished job lets the next run; the flood's lane enters the queue only as its own
    // jobs finish, so the other source's job, queued after the flood's first two, runs before
    // the flood's third and fourth.
    for (const name of ['f1', 'f2', 'other', 'f3', 'f4']) {
      await settle();
      assert.equal(started.at(-1), name);
      g[name]!.release();
    }
    assert.deepEqual(await Promise.all([f1, f2, f3, f4, other]), ['f1', 'f2', 'f3', 'f4', 'other']);
    await settle();
    assert.deepEqual(pool.size, { running: 0, high: 0, normal: 0, inLanes: 0 });
    assert.notEqual(
      pool.submit(async () => 'again', 'normal', 'flood'),
      null,
    );
  });

  test('a failing task rejects its own promise and frees its slot', async () => {
    const started: string[] = [];
    const pool = new HashPool({ concurrency: 1 });
    const a = gate('a', started);
    const p = pool.submit(a.task, 'normal', 's');
    const q = pool.submit(
      () => {
        throw new Error('sync throw');
      },
      'normal',
      's',
    );
    const r = pool.submit(async () => 'r', 'normal', 's');
    a.fail(new Error('boom'));
    await assert.rejects(p!, /boom/);
    await assert.rejects(q!, /sync throw/);
    assert.equal(await r, 'r');
    assert.deepEqual(pool.size, { running: 0, high: 0, normal: 0, inLanes: 0 });
  });

  test('invalid options are refused', () => {
    assert.throws(() => new HashPool({ concurrency: 0 }), RangeError);
    assert.throws(() => new HashPool({ maxQueued: 1.5 }), RangeError);
  });
});

test('defaultHashConcurrency: half the libuv threadpool, at most the CPUs, at least 1', () => {
  assert.equal(defaultHashConcurrency({}, 8), 2);
  assert.equal(defaultHashConcurrency({ UV_THREADPOOL_SIZE: '4' }, 2), 2);
  assert.equal(defaultHashConcurrency({ UV_THREADPOOL_SIZE: '16' }, 2), 2);
  assert.equal(defaultHashConcurrency({ UV_THREADPOOL_SIZE: '16' }, 16), 8);
  assert.equal(defaultHashConcurrency({ UV_THREADPOOL_SIZE: '1' }, 4), 1);
  assert.equal(defaultHashConcurrency({ UV_THREADPOOL_SIZE: 'lots' }, 4), 2);
  assert.equal(defaultHashConcurrency({}, 1), 1);
});
