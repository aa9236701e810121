// UidList (src/store/uid-list.ts): a range without its gone UIDs, then a tail, answers every
// question exactly as the plain ascending array of the same UIDs does, after any removals and
// additions (RFC 9051 §2.3.1.2: a view numbers its messages by it).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { UidList } from '../../src/store/uid-list.js';

/** A list and the array it stands for, made by one of the ways a store makes one. */
const lists = fc.oneof(
  fc
    .tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 60 }), fc.array(fc.nat(80)))
    .map(([lo, span, goneRaw]) => {
      const hi = lo + span - 1;
      const gone = [...new Set(goneRaw.map((g) => lo + (g % Math.max(1, span))))]
        .filter((g) => g <= hi)
        .sort((a, b) => a - b);
      const arr: number[] = [];
      for (let u = lo; u <= hi; u++) if (!gone.includes(u)) arr.push(u);
      return { list: UidList.range(lo, hi, gone), arr };
    }),
  fc.uniqueArray(fc.integer({ min: 1, max: 200 })).map((a) => {
    const arr = a.sort((x, y) => x - y);
    return { list: UidList.of(arr.slice()), arr };
  }),
);

type Op = { kind: 'without'; uids: number[] } | { kind: 'with'; count: number; gap: number };
const ops = fc.array(
  fc.oneof(
    fc.record({
      kind: fc.constant<'without'>('without'),
      uids: fc.array(fc.integer({ min: 0, max: 260 })),
    }),
    fc.record({
      kind: fc.constant<'with'>('with'),
      count: fc.integer({ min: 1, max: 5 }),
      gap: fc.integer({ min: 0, max: 3 }),
    }),
  ) as fc.Arbitrary<Op>,
  { maxLength: 12 },
);

/** Every answer of `list` against the array `arr`, in orders that use at()'s hint and not. */
function same(list: UidList, arr: readonly number[]): void {
  assert.equal(list.length, arr.length);
  assert.deepEqual(list.toArray(), arr);
  assert.equal(list.last, arr[arr.length - 1]);
  for (let i = arr.length - 1; i >= 0; i -= 3) assert.equal(list.at(i), arr[i]);
  for (let i = 0; i < arr.length; i++) assert.equal(list.at(i), arr[i]);
  assert.equal(list.at(-1), undefined);
  assert.equal(list.at(arr.length), undefined);
  const max = (arr[arr.length - 1] ?? 0) + 3;
  for (let u = 0; u <= max; u++) {
    assert.equal(list.indexOf(u), arr.indexOf(u), `indexOf(${u})`);
    assert.equal(list.lowerBound(u), arr.filter((x) => x < u).length, `lowerBound(${u})`);
  }
}

describe('UidList', () => {
  test('a range, its holes, appends that extend it and a tail', () => {
    const l = UidList.range(10, 14, [12]);
    same(l, [10, 11, 13, 14]);
    assert.equal(l.stored, 1);
    const grown = l.with([15, 16, 20]);
    same(grown, [10, 11, 13, 14, 15, 16, 20]);
    assert.equal(grown.stored, 2, 'the range grew to 16; 20 is the tail');
    same(grown.without(new Set([10, 20, 99])), [11, 13, 14, 15, 16]);
    same(UidList.range(1, 3, [1, 2, 3]), []);
    same(UidList.EMPTY.with([4, 5, 7]), [4, 5, 7]);
    same(UidList.range(1, 4).with([2.5]), [1, 2, 2.5, 3, 4]);
  });

  test('property: the same answers as the array, after removals and additions', () => {
    fc.assert(
      fc.property(lists, ops, ({ list, arr }, todo) => {
        same(list, arr);
        let l = list;
        let a = arr.slice();
        for (const op of todo) {
          if (op.kind === 'without') {
            l = l.without(new Set(op.uids));
            a = a.filter((u) => !op.uids.includes(u));
          } else {
            // New UIDs lie above every UID the mailbox gave, as a store gives them.
            let next = Math.max(a[a.length - 1] ?? 0, ...arr, 0) + 1 + op.gap;
            const fresh: number[] = [];
            for (let k = 0; k < op.count; k++) fresh.push(next++);
            l = l.with(fresh);
            a = a.concat(fresh);
          }
          same(l, a);
        }
        // The list it started from is unchanged (views share it).
        same(list, arr);
      }),
      { numRuns: 300 },
    );
  });
});
