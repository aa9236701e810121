import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ArgCursor,
  argsFrom,
  ImapParseError,
  tryParse,
} from '../../../src/imap/wire/parser.js';
import {
  intervalsContain,
  resolveSequenceSet,
  type SequenceSet,
} from '../../../src/imap/wire/sequence.js';
import { argsOf, parse } from './helpers.js';

/** Runs a reader on `text`, requiring it to consume everything. */
function read<T>(text: string | Buffer, fn: (c: ArgCursor) => T): T | ImapParseError {
  const c = argsFrom(text);
  return tryParse(() => {
    const v = fn(c);
    c.end();
    return v;
  });
}

function bad(v: unknown, pattern?: RegExp): void {
  assert.ok(v instanceof ImapParseError, `expected an error, got ${JSON.stringify(v)}`);
  if (pattern) assert.match(v.message, pattern);
}

describe('parseCommand', () => {
  test('tag and upper-cased name', () => {
    const p = parse('A001 login fred secret\r\n');
    assert.ok(!(p instanceof ImapParseError));
    assert.equal(p.tag, 'A001');
    assert.equal(p.name, 'LOGIN');
    assert.equal(p.uid, false);
    p.args.space();
    assert.equal(p.args.astring().toString(), 'fred');
  });

  test('UID commands', () => {
    const p = parse('x uid fetch 1:* FLAGS\r\n');
    assert.ok(!(p instanceof ImapParseError));
    assert.equal(p.name, 'UID FETCH');
    assert.equal(p.uid, true);
  });

  test('a tag may hold "]" but not "+"', () => {
    const p = parse('a]1 NOOP\r\n');
    assert.ok(!(p instanceof ImapParseError) && p.tag === 'a]1');
    bad(parse('a+1 NOOP\r\n'), /tag/i);
  });

  const errors: [string, RegExp, string | undefined][] = [
    ['(x NOOP\r\n', /tag/i, undefined],
    ['a\r\n', /space/, 'a'],
    ['a  NOOP\r\n', /atom/, 'a'],
    ['a 9X\r\n', /command name/, 'a'],
    ['a UID\r\n', /space/, 'a'],
  ];
  for (const [input, msg, tag] of errors) {
    test(`error: ${JSON.stringify(input)}`, () => {
      const p = parse(input);
      bad(p, msg);
      assert.equal((p as ImapParseError).tag, tag);
      assert.equal((p as ImapParseError).status, 'BAD');
    });
  }
});

describe('strings', () => {
  const ok: [string, string][] = [
    ['fred', 'fred'],
    ['"fred smith"', 'fred smith'],
    ['""', ''],
    ['"a\\"b\\\\c"', 'a"b\\c'],
    ['"caf\xc3\xa9"', 'caf\xc3\xa9'],
    ['foo]bar', 'foo]bar'],
    ['~/Mail', '~/Mail'],
  ];
  for (const [input, want] of ok) {
    test(`astring ${input}`, () => {
      const v = read(Buffer.from(input, 'latin1'), (c) => c.astring());
      assert.deepEqual(v, Buffer.from(want, 'latin1'));
    });
  }
  for (const input of ['"abc', '"a\\nb"', 'a(b', '', '"a\rb"', 'a%']) {
    test(`astring rejects ${JSON.stringify(input)}`, () => bad(read(input, (c) => c.astring())));
  }

  test('literals inside a command', () => {
    const c = argsOf('a LOGIN {4+}\r\nfr"d {3+}\r\n\x00\r\n\r\n');
    c.space();
    assert.equal(c.astring().toString('latin1'), 'fr"d');
    c.space();
    assert.equal(c.astring().toString('latin1'), '\x00\r\n');
    c.end();
  });

  test('literal8 only through literal()', () => {
    bad(tryParse(() => argsOf('a X ~{2+}\r\nab\r\n').string()));
    const c = argsOf('a X ~{2+}\r\nab\r\n');
    c.space();
    assert.deepEqual(c.literal(), { data: Buffer.from('ab'), binary: true });
  });

  test('nstring', () => {
    assert.equal(
      read('NIL', (c) => c.nstring()),
      null,
    );
    assert.equal(
      read('nil', (c) => c.nstring()),
      null,
    );
    assert.deepEqual(
      read('"NIL"', (c) => c.nstring()),
      Buffer.from('NIL'),
    );
    bad(read('foo', (c) => c.nstring()));
  });

  test('atom', () => {
    assert.equal(
      read('FLAGS.SILENT', (c) => c.atom()),
      'FLAGS.SILENT',
    );
    bad(read('"x"', (c) => c.atom()));
  });
});

describe('numbers', () => {
  test('number and nzNumber', () => {
    assert.equal(
      read('0', (c) => c.number()),
      0,
    );
    assert.equal(
      read('4294967295', (c) => c.number()),
      4294967295,
    );
    bad(
      read('4294967296', (c) => c.number()),
      /range/,
    );
    bad(read('0', (c) => c.nzNumber()));
    bad(read('01', (c) => c.nzNumber()));
    bad(read('x', (c) => c.number()));
  });
  test('number64 clamps above 2^53 and rejects above 2^63-1', () => {
    assert.equal(
      read('123456789012', (c) => c.number64()),
      123456789012,
    );
    assert.equal(
      read('9223372036854775807', (c) => c.number64()),
      Number.MAX_SAFE_INTEGER,
    );
    bad(read('9223372036854775808', (c) => c.number64()));
  });
});

describe('sequence sets', () => {
  const table: [string, SequenceSet][] = [
    ['1', { kind: 'ranges', ranges: [[1, 1]] }],
    ['*', { kind: 'ranges', ranges: [['*', '*']] }],
    ['$', { kind: 'saved' }],
    [
      '1:3,5,7:*',
      {
        kind: 'ranges',
        ranges: [
          [1, 3],
          [5, 5],
          [7, '*'],
        ],
      },
    ],
    ['5:2', { kind: 'ranges', ranges: [[2, 5]] }],
    ['*:4', { kind: 'ranges', ranges: [[4, '*']] }],
  ];
  for (const [input, want] of table) {
    test(input, () =>
      assert.deepEqual(
        read(input, (c) => c.sequenceSet()),
        want,
      ),
    );
  }
  for (const input of ['0', '1:0', '1,', ',1', '1::2', '$,1', 'a', '1:', '']) {
    test(`rejects ${JSON.stringify(input)}`, () => bad(read(input, (c) => c.sequenceSet())));
  }
  test('resolve: * is the max, ranges clipped, sorted and merged', () => {
    const set = read('7:*,2,3:4,100:90,1', (c) => c.sequenceSet());
    assert.ok(!(set instanceof ImapParseError) && set.kind === 'ranges');
    assert.deepEqual(resolveSequenceSet(set, 9), [
      [1, 4],
      [7, 9],
    ]);
    assert.deepEqual(resolveSequenceSet(set, 0), []);
    const star = { kind: 'ranges' as const, ranges: [[12, '*'] as const] };
    // RFC 9051 §9: with max 10, 12:* means 10:12, so message 10.
    assert.deepEqual(resolveSequenceSet(star, 10), [[10, 10]]);
    const intervals = resolveSequenceSet(set, 9);
    assert.equal(intervalsContain(intervals, 3), true);
    assert.equal(intervalsContain(intervals, 5), false);
    assert.equal(intervalsContain(intervals, 9), true);
  });
});

describe('flags, lists and dates', () => {
  test('flags: system flags canonical, keywords as sent', () => {
    assert.equal(
      read('\\SEEN', (c) => c.flag()),
      '\\Seen',
    );
    assert.equal(
      read('\\answered', (c) => c.flag()),
      '\\Answered',
    );
    assert.equal(
      read('$Forwarded', (c) => c.flag()),
      '$Forwarded',
    );
    assert.equal(
      read('\\Custom', (c) => c.flag()),
      '\\Custom',
    );
    assert.deepEqual(
      read('(\\Seen foo)', (c) => c.flagList()),
      ['\\Seen', 'foo'],
    );
    assert.deepEqual(
      read('()', (c) => c.flagList()),
      [],
    );
    bad(read('(\\Seen  foo)', (c) => c.flagList()));
    bad(read('(\\Seen', (c) => c.flagList()));
    bad(read('\\', (c) => c.flag()));
  });

  test('list with a minimum', () => {
    bad(
      read('()', (c) => c.list((l) => l.atom(), 1)),
      /Empty/,
    );
  });

  const dateTimes: [string, string | null][] = [
    ['"17-Jul-1996 02:44:25 -0700"', '1996-07-17T09:44:25.000Z'],
    ['" 1-Feb-2024 00:00:00 +0000"', '2024-02-01T00:00:00.000Z'],
    ['"01-feb-2024 23:59:59 +0530"', '2024-02-01T18:29:59.000Z'],
    ['"29-Feb-2023 00:00:00 +0000"', null],
    ['"17-Jul-1996 24:00:00 +0000"', null],
    ['"17-Jly-1996 02:44:25 -0700"', null],
    ['"17-Jul-1996 02:44:25"', null],
    ['17-Jul-1996', null],
  ];
  for (const [input, want] of dateTimes) {
    test(`date-time ${input}`, () => {
      const v = read(input, (c) => c.dateTime());
      if (want === null) bad(v);
      else assert.equal((v as Date).toISOString(), want);
    });
  }

  const dates: [string, object | null][] = [
    ['1-Feb-1994', { year: 1994, month: 2, day: 1 }],
    ['"01-FEB-1994"', { year: 1994, month: 2, day: 1 }],
    ['31-Dec-2024', { year: 2024, month: 12, day: 31 }],
    ['31-Nov-2024', null],
    ['1-Feb-94', null],
    ['1-Feb-1994x', null],
  ];
  for (const [input, want] of dates) {
    test(`date ${input}`, () => {
      const v = read(input, (c) => c.date());
      if (want === null) bad(v);
      else assert.deepEqual(v, want);
    });
  }
});

describe('mailbox names', () => {
  const table: [string, string][] = [
    ['INBOX', 'INBOX'],
    ['inbox', 'INBOX'],
    ['"InBoX"', 'INBOX'],
    ['Inbox/Sub', 'Inbox/Sub'],
    ['"Sent Items"', 'Sent Items'],
    ['Entw&APw-rfe', 'Entw&APw-rfe'],
    ['"Entw\xc3\xbcrfe"', 'Entwürfe'],
  ];
  for (const [input, want] of table) {
    test(input, () =>
      assert.equal(
        read(Buffer.from(input, 'latin1'), (c) => c.mailbox()),
        want,
      ),
    );
  }
  test('invalid UTF-8 is BAD', () => {
    bad(
      read(Buffer.from('"a\xffb"', 'latin1'), (c) => c.mailbox()),
      /UTF-8/,
    );
  });
  test('a mailbox as a literal', () => {
    const c = argsOf('a SELECT {5+}\r\ninBox\r\n');
    c.space();
    assert.equal(c.mailbox(), 'INBOX');
    c.end();
  });
});

describe('end and extra arguments', () => {
  test('trailing data is reported', () => {
    bad(
      read('foo bar', (c) => c.atom()),
      /extra/,
    );
    bad(
      read('foo ', (c) => c.atom()),
      /space/,
    );
  });
  test('tryParse lets real bugs through', () => {
    assert.throws(
      () =>
        tryParse(() => {
          throw new RangeError('bug');
        }),
      RangeError,
    );
  });
});
