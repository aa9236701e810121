import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type FetchAtt,
  parseFetchArgs,
  parseFetchItems,
  sectionToString,
} from '../../../src/imap/wire/fetch-items.js';
import { argsFrom, ImapParseError, tryParse } from '../../../src/imap/wire/parser.js';
import { argsOf } from './helpers.js';

const items = (text: string) =>
  tryParse(() => {
    const c = argsFrom(text);
    const v = parseFetchItems(c);
    c.end();
    return v;
  });

const s = (name: string): FetchAtt => ({ kind: 'simple', name }) as FetchAtt;
const body = (
  part: number[],
  text: FetchAtt extends never ? never : unknown,
  peek = false,
  partial: { offset: number; length: number } | null = null,
): FetchAtt => ({ kind: 'body', peek, section: { part, text }, partial }) as FetchAtt;

const TABLE: [string, FetchAtt[]][] = [
  ['ALL', [s('FLAGS'), s('INTERNALDATE'), s('RFC822.SIZE'), s('ENVELOPE')]],
  ['fast', [s('FLAGS'), s('INTERNALDATE'), s('RFC822.SIZE')]],
  ['FULL', [s('FLAGS'), s('INTERNALDATE'), s('RFC822.SIZE'), s('ENVELOPE'), s('BODY')]],
  ['FLAGS', [s('FLAGS')]],
  [
    '(UID RFC822.SIZE rfc822.header RFC822.TEXT RFC822 BODYSTRUCTURE BODY MODSEQ)',
    [
      s('UID'),
      s('RFC822.SIZE'),
      s('RFC822.HEADER'),
      s('RFC822.TEXT'),
      s('RFC822'),
      s('BODYSTRUCTURE'),
      s('BODY'),
      s('MODSEQ'),
    ],
  ],
  ['BODY[]', [body([], null)]],
  ['BODY.PEEK[]<0.100>', [body([], null, true, { offset: 0, length: 100 })]],
  ['BODY[HEADER]', [body([], { kind: 'HEADER' })]],
  ['BODY[TEXT]<10.5>', [body([], { kind: 'TEXT' }, false, { offset: 10, length: 5 })]],
  ['BODY[1.2]', [body([1, 2], null)]],
  ['BODY[1.2.MIME]', [body([1, 2], { kind: 'MIME' })]],
  ['BODY[3.TEXT]', [body([3], { kind: 'TEXT' })]],
  [
    'BODY.PEEK[HEADER.FIELDS (From To "X-Spam")]',
    [body([], { kind: 'HEADER.FIELDS', not: false, fields: ['From', 'To', 'X-Spam'] }, true)],
  ],
  [
    'BODY[1.2.HEADER.FIELDS.NOT (Received)]',
    [body([1, 2], { kind: 'HEADER.FIELDS', not: true, fields: ['Received'] })],
  ],
  ['BINARY[1]', [{ kind: 'binary', peek: false, part: [1], partial: null }]],
  [
    'BINARY.PEEK[2.1]<0.4096>',
    [{ kind: 'binary', peek: true, part: [2, 1], partial: { offset: 0, length: 4096 } }],
  ],
  ['BINARY.SIZE[]', [{ kind: 'binarySize', part: [] }]],
  ['(FLAGS BODY[])', [s('FLAGS'), body([], null)]],
];

const BAD = [
  '',
  '()',
  '(ALL)',
  'ALL FLAGS',
  'BODY.PEEK',
  'BODY[MIME]',
  'BODY[0]',
  'BODY[1..2]',
  'BODY[01]',
  'BODY[HEADER.FIELDS]',
  'BODY[HEADER.FIELDS ()]',
  'BODY[FOO]',
  'BODY[]<0.0>',
  'BODY[]<1>',
  'BODY[1',
  'BINARY[TEXT]',
  'BINARY',
  'FLAGS[]',
  'XYZZY',
  '(FLAGS',
  '(FLAGS  UID)',
];

describe('parseFetchItems', () => {
  for (const [input, want] of TABLE) {
    test(input, () => assert.deepEqual(items(input), want));
  }
  for (const input of BAD) {
    test(`BAD ${JSON.stringify(input)}`, () => assert.ok(items(input) instanceof ImapParseError));
  }
});

describe('parseFetchArgs', () => {
  test('sequence set, items and modifiers', () => {
    const v = tryParse(() =>
      parseFetchArgs(argsOf('a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n')),
    );
    assert.deepEqual(v, {
      set: { kind: 'ranges', ranges: [[1, '*']] },
      items: [s('FLAGS')],
      changedSince: 12345,
      vanished: true,
      partial: null,
    });
  });
  test('RFC 9394 §3.3 PARTIAL modifier, in any order with CHANGEDSINCE', () => {
    const v = tryParse(() =>
      parseFetchArgs(argsOf('a UID FETCH 1:* (FLAGS) (PARTIAL -1:-30 CHANGEDSINCE 7)\r\n')),
    );
    assert.ok(!(v instanceof ImapParseError));
    assert.deepEqual(v.partial, { from: 1, to: 30, fromEnd: true, text: '-1:-30' });
    assert.equal(v.changedSince, 7);
    for (const bad of [
      '(PARTIAL 1:*)',
      '(PARTIAL 0:3)',
      '(PARTIAL 1:2 PARTIAL 3:4)',
      '(PARTIAL)',
    ]) {
      const e = tryParse(() => parseFetchArgs(argsOf(`a UID FETCH 1:* (FLAGS) ${bad}\r\n`)));
      assert.ok(e instanceof ImapParseError, bad);
    }
  });
  test('the same items text gives the same items, parsed once and frozen, whatever the set', () => {
    const tail = '(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])';
    const a = tryParse(() => parseFetchArgs(argsOf(`a FETCH 1:* ${tail}\r\n`)));
    const b = tryParse(() => parseFetchArgs(argsOf(`b UID FETCH 3,5 ${tail}\r\n`)));
    assert.ok(!(a instanceof ImapParseError) && !(b instanceof ImapParseError));
    assert.equal(b.items, a.items);
    assert.notDeepEqual(b.set, a.set);
    assert.deepEqual(a.items, [
      s('UID'),
      s('FLAGS'),
      body([], { kind: 'HEADER.FIELDS', not: false, fields: ['FROM', 'SUBJECT', 'DATE'] }, true),
    ]);
    // Shared by every FETCH that sends the text: nothing may change it.
    assert.throws(() => (a.items as FetchAtt[]).push(s('ENVELOPE')), TypeError);
    const section = a.items[2] as Extract<FetchAtt, { kind: 'body' }>;
    assert.ok(Object.isFrozen(section.section));
    if (section.section.text?.kind !== 'HEADER.FIELDS') assert.fail('HEADER.FIELDS');
    assert.ok(Object.isFrozen(section.section.text.fields));
    // Modifiers are part of the text: each text its own.
    const c = tryParse(() =>
      parseFetchArgs(argsOf(`c UID FETCH 1:* ${tail} (CHANGEDSINCE 7)\r\n`)),
    );
    const d = tryParse(() =>
      parseFetchArgs(argsOf(`d UID FETCH 1:* ${tail} (CHANGEDSINCE 9)\r\n`)),
    );
    assert.ok(!(c instanceof ImapParseError) && !(d instanceof ImapParseError));
    assert.equal(c.changedSince, 7);
    assert.equal(d.changedSince, 9);
    assert.equal(
      (tryParse(() => parseFetchArgs(argsOf(`e FETCH 1 ${tail}\r\n`))) as { changedSince: unknown })
        .changedSince,
      null,
    );
    // A text that failed is not kept: it fails again.
    for (let i = 0; i < 2; i++)
      assert.ok(
        tryParse(() => parseFetchArgs(argsOf(`f FETCH 1 ${tail} extra\r\n`))) instanceof
          ImapParseError,
      );
  });
  test('without modifiers', () => {
    const v = tryParse(() => parseFetchArgs(argsOf('a FETCH 2 BODY[]\r\n')));
    assert.ok(!(v instanceof ImapParseError));
    assert.equal(v.changedSince, null);
    assert.equal(v.vanished, false);
  });
  for (const input of [
    'a FETCH 1 FLAGS (VANISHED)\r\n',
    'a FETCH 1 FLAGS (FOO 1)\r\n',
    'a FETCH 1 FLAGS ()\r\n',
    'a FETCH 1 FLAGS extra\r\n',
    'a FETCH FLAGS\r\n',
  ]) {
    test(`BAD ${JSON.stringify(input)}`, () => {
      assert.ok(tryParse(() => parseFetchArgs(argsOf(input))) instanceof ImapParseError);
    });
  }
});

describe('sectionToString', () => {
  const table: [string, string][] = [
    ['BODY[]', ''],
    ['BODY[1.2.MIME]', '1.2.MIME'],
    ['BODY[HEADER.FIELDS (From "X Y")]', 'HEADER.FIELDS (From "X Y")'],
    ['BODY[4.HEADER.FIELDS.NOT (A)]', '4.HEADER.FIELDS.NOT (A)'],
  ];
  for (const [input, want] of table) {
    test(input, () => {
      const v = items(input);
      assert.ok(!(v instanceof ImapParseError) && v[0].kind === 'body');
      assert.equal(sectionToString(v[0].section), want);
    });
  }
});
