// The wire syntax of RFC 8474 (EMAILID, THREADID), RFC 8514 (SAVEDATE, SAVED*) and RFC 8970
// (PREVIEW [(LAZY)]): FETCH items and SEARCH keys, values in and errors out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FetchAtt, parseFetchArgs } from '../../../src/imap/wire/fetch-items.js';
import { argsFrom, ImapParseError, tryParse } from '../../../src/imap/wire/parser.js';
import { parseSearchArgs, type SearchKey } from '../../../src/imap/wire/search-keys.js';

const fetch = (text: string) => tryParse(() => parseFetchArgs(argsFrom(` 1 ${text}`)));
const search = (text: string) => {
  const v = tryParse(() => parseSearchArgs(argsFrom(` ${text}`)));
  return v instanceof ImapParseError ? v : v.key;
};
const s = (name: string): FetchAtt => ({ kind: 'simple', name }) as FetchAtt;
const preview = (lazy: boolean): FetchAtt => ({ kind: 'preview', lazy });

test('FETCH items: EMAILID, THREADID, SAVEDATE, PREVIEW with and without LAZY', () => {
  const table: Array<[string, FetchAtt[], number | null]> = [
    ['EMAILID', [s('EMAILID')], null],
    ['(emailid threadid savedate)', [s('EMAILID'), s('THREADID'), s('SAVEDATE')], null],
    ['PREVIEW', [preview(false)], null],
    ['(PREVIEW)', [preview(false)], null],
    ['(PREVIEW (LAZY))', [preview(true)], null],
    ['(preview (lazy) UID)', [preview(true), s('UID')], null],
    ['(UID PREVIEW (LAZY LAZY) FLAGS)', [s('UID'), preview(true), s('FLAGS')], null],
    ['PREVIEW (LAZY)', [preview(true)], null],
    ['PREVIEW (CHANGEDSINCE 7)', [preview(false)], 7],
    ['PREVIEW (LAZY) (CHANGEDSINCE 7)', [preview(true)], 7],
  ];
  for (const [text, items, changedSince] of table) {
    const v = fetch(text);
    assert.ok(!(v instanceof ImapParseError), `${text}: ${String(v)}`);
    assert.deepEqual(v.items, items, text);
    assert.equal(v.changedSince, changedSince, text);
  }
});

test('FETCH items: bad PREVIEW modifiers and object-id items with sections are BAD', () => {
  for (const text of [
    '(PREVIEW (FUZZY))',
    '(PREVIEW ())',
    '(PREVIEW (LAZY FUZZY))',
    '(PREVIEW (LAZY)',
    'PREVIEW[]',
    'PREVIEW.PEEK',
    'EMAILID[1]',
    'SAVEDATE (LAZY)',
    '(EMAILID (LAZY))',
  ]) {
    const v = fetch(text);
    assert.ok(v instanceof ImapParseError, text);
    assert.equal(v.status, 'BAD', text);
  }
});

test('FETCH items: an unknown PREVIEW modifier is named in the BAD text', () => {
  const v = fetch('(PREVIEW (FUZZY))');
  assert.ok(v instanceof ImapParseError);
  assert.match(v.message, /PREVIEW modifier FUZZY/);
});

test('SEARCH keys: EMAILID, THREADID, SAVEDBEFORE / SAVEDON / SAVEDSINCE, SAVEDATESUPPORTED', () => {
  const day = (year: number, month: number, d: number) => ({ year, month, day: d });
  const table: Array<[string, SearchKey]> = [
    ['EMAILID M1a-_Z', { key: 'objectId', kind: 'emailId', id: 'M1a-_Z' }],
    ['threadid "T99"', { key: 'objectId', kind: 'threadId', id: 'T99' }],
    [`EMAILID ${'a'.repeat(255)}`, { key: 'objectId', kind: 'emailId', id: 'a'.repeat(255) }],
    ['SAVEDBEFORE 1-Feb-2024', { key: 'saveDate', op: 'before', date: day(2024, 2, 1) }],
    ['SAVEDON "05-Jan-2020"', { key: 'saveDate', op: 'on', date: day(2020, 1, 5) }],
    ['savedsince 31-Dec-1999', { key: 'saveDate', op: 'since', date: day(1999, 12, 31) }],
    ['SAVEDATESUPPORTED', { key: 'all' }],
    [
      'NOT SAVEDATESUPPORTED THREADID x',
      {
        key: 'and',
        keys: [
          { key: 'not', inner: { key: 'all' } },
          { key: 'objectId', kind: 'threadId', id: 'x' },
        ],
      },
    ],
  ];
  for (const [text, want] of table) assert.deepEqual(search(text), want, text);
});

test('SEARCH keys: bad object ids and dates are BAD', () => {
  for (const text of [
    'EMAILID',
    'EMAILID ""',
    'EMAILID "a b"',
    'EMAILID a.b',
    `THREADID ${'a'.repeat(256)}`,
    'SAVEDON',
    'SAVEDON 32-Jan-2020',
    'SAVEDBEFORE today',
  ]) {
    const v = search(text);
    assert.ok(v instanceof ImapParseError, text);
  }
});
