// RETURN options of SEARCH / SORT (RFC 4731, RFC 5267 §4, RFC 9394 §4): table tests of the
// parser and of the PARTIAL selection.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { orderedSetToString, savedResult } from '../../../src/imap/search/esearch.js';
import { argsFrom, ImapParseError, tryParse } from '../../../src/imap/wire/parser.js';
import {
  type PartialRange,
  parsePartialRange,
  parseReturnOptions,
  partialSlice,
} from '../../../src/imap/wire/search-return.js';

describe('parseReturnOptions', () => {
  const cases: Array<[string, unknown]> = [
    ['RETURN ()', { options: [], partial: null }],
    ['RETURN (min MAX Count)', { options: ['MIN', 'MAX', 'COUNT'], partial: null }],
    ['RETURN (UPDATE CONTEXT SAVE)', { options: ['UPDATE', 'CONTEXT', 'SAVE'], partial: null }],
    ['RETURN (MIN MIN)', { options: ['MIN'], partial: null }],
    [
      'RETURN (COUNT PARTIAL 1:500)',
      {
        options: ['COUNT', 'PARTIAL'],
        partial: { from: 1, to: 500, fromEnd: false, text: '1:500' },
      },
    ],
    [
      'RETURN (PARTIAL -500:-400)',
      { options: ['PARTIAL'], partial: { from: 400, to: 500, fromEnd: true, text: '-400:-500' } },
    ],
    ['ALL', null],
  ];
  for (const [text, want] of cases) {
    test(text, () => {
      assert.deepEqual(
        tryParse(() => parseReturnOptions(argsFrom(text))),
        want,
      );
    });
  }
  for (const text of [
    'RETURN (FOO)',
    'RETURN (PARTIAL 1:2 ALL)',
    'RETURN (ALL PARTIAL 1:2)',
    'RETURN (PARTIAL 1:2 PARTIAL 3:4)',
    'RETURN (UPDATE COUNT UPDATE)',
    'RETURN (PARTIAL)',
    'RETURN (PARTIAL 1)',
    'RETURN (PARTIAL 0:3)',
    'RETURN (PARTIAL 1:*)',
    'RETURN (PARTIAL *:1)',
    'RETURN (PARTIAL -1:3)',
    'RETURN (PARTIAL 1:-3)',
    'RETURN (PARTIAL -0:-3)',
    'RETURN (PARTIAL 1:4294967296)',
    'RETURN (MIN',
    'RETURN MIN',
  ]) {
    test(`BAD: ${text}`, () => {
      const v = tryParse(() => parseReturnOptions(argsFrom(text)));
      assert.ok(v instanceof ImapParseError && v.status === 'BAD', String(v));
    });
  }
});

describe('partialSlice (RFC 9394 §3.1)', () => {
  const list = [10, 20, 30, 40, 50];
  const r = (text: string): PartialRange => parsePartialRange(argsFrom(text));
  const cases: Array<[string, number[]]> = [
    ['1:2', [10, 20]],
    ['2:1', [10, 20]],
    ['4:9', [40, 50]],
    ['5:5', [50]],
    ['6:9', []],
    ['-1:-1', [50]],
    ['-1:-2', [40, 50]],
    ['-3:-2', [30, 40]],
    ['-4:-9', [10, 20]],
    ['-6:-9', []],
  ];
  for (const [text, want] of cases) {
    test(text, () => assert.deepEqual(partialSlice(list, r(text)), want));
  }
});

describe('ESORT sets and SAVE', () => {
  test('orderedSetToString keeps the order, ranges only ascending (RFC 5267 §3.2)', () => {
    assert.equal(orderedSetToString([2, 4, 5, 1, 3]), '2,4:5,1,3');
    assert.equal(orderedSetToString([5, 4, 3]), '5,4,3');
    assert.equal(orderedSetToString([7, 8, 9, 10]), '7:10');
    assert.equal(orderedSetToString([]), '');
  });
  test('savedResult with PARTIAL (RFC 9394 §3.2 Table 1)', () => {
    const uids = [1, 2, 3, 4, 5];
    const p = parsePartialRange(argsFrom('2:3'));
    assert.deepEqual(savedResult(['SAVE', 'PARTIAL'], uids, p), [2, 3]);
    assert.deepEqual(savedResult(['SAVE', 'PARTIAL', 'MIN'], uids, p), [1, 2, 3]);
    assert.deepEqual(savedResult(['SAVE', 'PARTIAL', 'MAX'], uids, p), [2, 3, 5]);
    assert.deepEqual(savedResult(['SAVE', 'PARTIAL', 'MIN', 'MAX'], uids, p), [1, 2, 3, 5]);
    assert.deepEqual(savedResult(['SAVE', 'PARTIAL', 'COUNT'], uids, p), uids);
    assert.deepEqual(savedResult(['SAVE', 'MIN', 'MAX'], uids), [1, 5]);
    assert.deepEqual(savedResult(['SAVE'], [5, 1, 3]), [1, 3, 5]);
  });
});
