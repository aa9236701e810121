import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  astring,
  dateTimeToString,
  list,
  literal,
  literal8,
  nstring,
  quoted,
  sequenceSetToString,
  serialize,
  string,
  v,
} from '../../../src/imap/wire/serializer.js';

const t = (b: Buffer) => b.toString('latin1');

describe('strings', () => {
  const astrings: [string | Buffer, string][] = [
    ['INBOX', 'INBOX'],
    ['foo]bar', 'foo]bar'],
    ['', '""'],
    ['NIL', '"NIL"'],
    ['nil', '"nil"'],
    ['two words', '"two words"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['a*', '"a*"'],
    ['a%', '"a%"'],
    ['(x)', '"(x)"'],
    ['{3}', '"{3}"'],
    ['line\r\nbreak', '{11}\r\nline\r\nbreak'],
    [Buffer.from([0x61, 0x00, 0x62]), '{3}\r\na\x00b'],
    ['café', '{5}\r\ncaf\xc3\xa9'],
    [Buffer.from([0xff]), '{1}\r\n\xff'],
  ];
  for (const [input, want] of astrings) {
    test(`astring ${JSON.stringify(input)}`, () => assert.equal(t(astring(input)), want));
  }

  test('8-bit UTF-8 may be quoted when allowed, invalid UTF-8 never', () => {
    assert.equal(astring('café', { utf8: true }).toString('utf8'), '"café"');
    assert.equal(t(astring(Buffer.from([0xff]), { utf8: true })), '{1}\r\n\xff');
  });

  test('string never gives an atom', () => {
    assert.equal(t(string('abc')), '"abc"');
    assert.equal(t(string('a\nb')), '{3}\r\na\nb');
  });

  test('nstring', () => {
    assert.equal(t(nstring(null)), 'NIL');
    assert.equal(t(nstring('')), '""');
    assert.equal(t(nstring('NIL')), '"NIL"');
  });

  test('quoted refuses what cannot be quoted', () => {
    assert.equal(t(quoted('x"')), '"x\\""');
    assert.throws(() => quoted('a\rb'), TypeError);
  });

  test('literals', () => {
    assert.equal(t(literal('')), '{0}\r\n');
    assert.equal(t(literal8(Buffer.from([0, 1]))), '~{2}\r\n\x00\x01');
  });

  test('list', () => assert.equal(t(list(['A', Buffer.from('"b"')])), '(A "b")'));
});

describe('sequenceSetToString', () => {
  test('parsed sets', () => {
    assert.equal(sequenceSetToString({ kind: 'saved' }), '$');
    assert.equal(
      sequenceSetToString({
        kind: 'ranges',
        ranges: [
          [1, 1],
          [3, 5],
          [7, '*'],
          ['*', '*'],
        ],
      }),
      '1,3:5,7:*,*',
    );
  });
  test('intervals and numbers', () => {
    assert.equal(
      sequenceSetToString([
        [1, 3],
        [9, 9],
      ]),
      '1:3,9',
    );
    assert.equal(sequenceSetToString([7, 1, 2, 3, 5, 6, 10]), '1:3,5:7,10');
    assert.equal(sequenceSetToString([]), '');
  });
});

describe('dateTimeToString', () => {
  const table: [string, number, string][] = [
    ['1996-07-17T09:44:25Z', 0, '"17-Jul-1996 09:44:25 +0000"'],
    ['1996-07-17T09:44:25Z', -420, '"17-Jul-1996 02:44:25 -0700"'],
    ['2024-02-01T00:00:00.999Z', 0, '" 1-Feb-2024 00:00:00 +0000"'],
    ['2024-02-01T18:29:59Z', 330, '" 1-Feb-2024 23:59:59 +0530"'],
  ];
  for (const [iso, offset, want] of table) {
    test(`${iso} ${offset}`, () => assert.equal(dateTimeToString(new Date(iso), offset), want));
  }
});

describe('ImapValue', () => {
  test('an ENVELOPE-like tree', () => {
    const value = v.list([
      v.str('Wed, 17 Jul 1996 02:23:25 -0700 (PDT)'),
      v.nstr('IMAP4rev2 WG mtg summary'),
      v.list([v.list([v.str('Terry Gray'), v.nil, v.str('gray'), v.str('cac.washington.edu')])]),
      v.nstr(null),
      v.num(42),
      v.atom('\\Seen'),
      v.atom('\\*'),
      v.astr('INBOX'),
      v.raw('BODY[1]'),
      v.literal('ab\r\n'),
      v.literal(Buffer.from([0]), true),
      v.list([]),
    ]);
    assert.equal(
      t(serialize(value)),
      '("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev2 WG mtg summary" ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) NIL 42 \\Seen \\* INBOX BODY[1] ' +
        '{4}\r\nab\r\n ~{1}\r\n\x00 ())',
    );
  });
  test('utf8 option reaches nested strings', () => {
    assert.equal(serialize(v.list([v.str('ü')]), { utf8: true }).toString('utf8'), '("ü")');
    assert.equal(t(serialize(v.list([v.str('ü')]))), '({2}\r\n\xc3\xbc)');
  });
  test('bad atoms and numbers are bugs', () => {
    assert.throws(() => serialize(v.atom('two words')), TypeError);
    assert.throws(() => serialize(v.atom('')), TypeError);
    assert.throws(() => serialize(v.num(-1)), TypeError);
    assert.throws(() => serialize(v.num(1.5)), TypeError);
  });
});
