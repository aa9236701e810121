import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { argsFrom, ImapParseError, tryParse } from '../../../src/imap/wire/parser.js';
import { parseSearchArgs, type SearchKey } from '../../../src/imap/wire/search-keys.js';
import { argsOf } from './helpers.js';

/** Parses `SEARCH <text>` and returns the key tree (or the error). */
function keys(text: string) {
  const v = tryParse(() => parseSearchArgs(argsFrom(` ${text}`)));
  return v instanceof ImapParseError ? v : v.key;
}

const flag = (f: string, set = true): SearchKey => ({ key: 'flag', flag: f, set });
const day = (year: number, month: number, d: number) => ({ year, month, day: d });

const TABLE: [string, SearchKey][] = [
  ['ALL', { key: 'all' }],
  ['ANSWERED', flag('\\Answered')],
  ['deleted', flag('\\Deleted')],
  ['DRAFT', flag('\\Draft')],
  ['FLAGGED', flag('\\Flagged')],
  ['SEEN', flag('\\Seen')],
  ['RECENT', flag('\\Recent')],
  ['UNANSWERED', flag('\\Answered', false)],
  ['UNDELETED', flag('\\Deleted', false)],
  ['UNDRAFT', flag('\\Draft', false)],
  ['UNFLAGGED', flag('\\Flagged', false)],
  ['UNSEEN', flag('\\Seen', false)],
  ['NEW', { key: 'and', keys: [flag('\\Recent'), flag('\\Seen', false)] }],
  ['OLD', flag('\\Recent', false)],
  ['KEYWORD $Junk', flag('$Junk')],
  ['UNKEYWORD foo', flag('foo', false)],
  ['BCC a@b', { key: 'address', field: 'BCC', value: 'a@b' }],
  ['CC "x y"', { key: 'address', field: 'CC', value: 'x y' }],
  ['FROM smith', { key: 'address', field: 'FROM', value: 'smith' }],
  ['SUBJECT {5+}\r\nhello', { key: 'header', field: 'SUBJECT', value: 'hello' }],
  ['TO bob', { key: 'address', field: 'TO', value: 'bob' }],
  ['HEADER x-spam yes', { key: 'header', field: 'X-SPAM', value: 'yes' }],
  ['HEADER From x', { key: 'header', field: 'FROM', value: 'x' }],
  ['HEADER Message-ID ""', { key: 'header', field: 'MESSAGE-ID', value: '' }],
  ['BODY "caf\xc3\xa9"', { key: 'body', value: 'café' }],
  ['TEXT hi', { key: 'text', value: 'hi' }],
  ['BEFORE 1-Feb-1994', { key: 'internalDate', op: 'before', date: day(1994, 2, 1) }],
  ['ON "17-Jul-1996"', { key: 'internalDate', op: 'on', date: day(1996, 7, 17) }],
  ['SINCE 1-Jan-2020', { key: 'internalDate', op: 'since', date: day(2020, 1, 1) }],
  ['SENTBEFORE 1-Feb-1994', { key: 'sentDate', op: 'before', date: day(1994, 2, 1) }],
  ['SENTON 1-Feb-1994', { key: 'sentDate', op: 'on', date: day(1994, 2, 1) }],
  ['SENTSINCE 1-Feb-1994', { key: 'sentDate', op: 'since', date: day(1994, 2, 1) }],
  ['LARGER 1000', { key: 'size', op: 'larger', size: 1000 }],
  ['SMALLER 5', { key: 'size', op: 'smaller', size: 5 }],
  ['UID 1:*', { key: 'uid', set: { kind: 'ranges', ranges: [[1, '*']] } }],
  ['UID $', { key: 'uid', set: { kind: 'saved' } }],
  [
    '2,4:5',
    {
      key: 'seq',
      set: {
        kind: 'ranges',
        ranges: [
          [2, 2],
          [4, 5],
        ],
      },
    },
  ],
  ['$', { key: 'seq', set: { kind: 'saved' } }],
  ['NOT SEEN', { key: 'not', inner: flag('\\Seen') }],
  ['OR SEEN FLAGGED', { key: 'or', left: flag('\\Seen'), right: flag('\\Flagged') }],
  ['(SEEN)', flag('\\Seen')],
  [
    'SEEN (FLAGGED DELETED)',
    {
      key: 'and',
      keys: [flag('\\Seen'), { key: 'and', keys: [flag('\\Flagged'), flag('\\Deleted')] }],
    },
  ],
  [
    'OR (FROM a TO b) NOT 1:3',
    {
      key: 'or',
      left: {
        key: 'and',
        keys: [
          { key: 'address', field: 'FROM', value: 'a' },
          { key: 'address', field: 'TO', value: 'b' },
        ],
      },
      right: { key: 'not', inner: { key: 'seq', set: { kind: 'ranges', ranges: [[1, 3]] } } },
    },
  ],
  ['MODSEQ 620162338', { key: 'modseq', modseq: 620162338, entry: null }],
  // RFC 5032 WITHIN
  ['OLDER 3600', { key: 'within', op: 'older', seconds: 3600 }],
  ['younger 1', { key: 'within', op: 'younger', seconds: 1 }],
  ['YOUNGER 4294967295', { key: 'within', op: 'younger', seconds: 4294967295 }],
  [
    'MODSEQ "/flags/\\\\draft" all 620162338',
    { key: 'modseq', modseq: 620162338, entry: { flag: '\\draft', type: 'all' } },
  ],
];

const BAD = [
  '',
  'FOO',
  'SEEN ',
  'NOT',
  'OR SEEN',
  '(SEEN',
  'SEEN)',
  '()',
  'BEFORE 30-Feb-2020',
  'BEFORE yesterday',
  'LARGER x',
  'UID',
  'HEADER x',
  'KEYWORD',
  'MODSEQ "/flags/x" bogus 5',
  'MODSEQ "/other/x" all 5',
  'SEEN  FLAGGED',
  'OLDER 0',
  'OLDER',
  'OLDER -5',
  'YOUNGER 1h',
  'YOUNGER 4294967296',
  `${'NOT '.repeat(200)}SEEN`,
  `${'('.repeat(200)}SEEN${')'.repeat(200)}`,
];

describe('parseSearchKeys', () => {
  for (const [input, want] of TABLE) {
    test(JSON.stringify(input), () => {
      const c = argsOf(Buffer.from(`a SEARCH ${input}\r\n`, 'latin1'));
      assert.deepEqual(
        tryParse(() => parseSearchArgs(c).key),
        want,
      );
    });
  }
  for (const input of BAD) {
    test(`BAD ${JSON.stringify(input.slice(0, 40))}`, () => {
      const v = keys(input);
      assert.ok(v instanceof ImapParseError, JSON.stringify(v));
      assert.equal(v.status, 'BAD');
    });
  }
});

describe('parseSearchArgs', () => {
  test('RETURN and CHARSET', () => {
    const v = tryParse(() => parseSearchArgs(argsFrom(' RETURN (MIN count) CHARSET utf-8 SEEN')));
    assert.deepEqual(v, {
      returnOptions: ['MIN', 'COUNT'],
      partial: null,
      charset: 'UTF-8',
      key: flag('\\Seen'),
    });
  });
  test('RETURN () and no charset', () => {
    const v = tryParse(() => parseSearchArgs(argsFrom(' RETURN () ALL')));
    assert.deepEqual(v, {
      returnOptions: [],
      partial: null,
      charset: 'UTF-8',
      key: { key: 'all' },
    });
  });
  test('no RETURN gives null', () => {
    const v = tryParse(() => parseSearchArgs(argsFrom(' CHARSET US-ASCII ALL')));
    assert.deepEqual(v, {
      returnOptions: null,
      partial: null,
      charset: 'US-ASCII',
      key: { key: 'all' },
    });
  });
  test('unknown charset is NO [BADCHARSET]', () => {
    const v = tryParse(() => parseSearchArgs(argsFrom(' CHARSET KOI8-R ALL')));
    assert.ok(v instanceof ImapParseError);
    assert.equal(v.status, 'NO');
    assert.equal(v.code, 'BADCHARSET (US-ASCII UTF-8)');
  });
  test('an error message never carries CR or LF from the client', () => {
    const v = tryParse(() =>
      parseSearchArgs(argsOf('a SEARCH CHARSET {8+}\r\nX\r\n* BYE ALL\r\n')),
    );
    assert.ok(v instanceof ImapParseError);
    assert.equal(v.message, 'Unsupported charset X??* BYE');
  });

  test('unknown RETURN option is BAD', () => {
    const v = tryParse(() => parseSearchArgs(argsFrom(' RETURN (FOO) ALL')));
    assert.ok(v instanceof ImapParseError && v.status === 'BAD');
  });
});
