import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getAll, getHeader, headerValue, parseHeaders } from '../../src/mime/headers.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('parseHeaders', () => {
  const cases: [string, string, [string, string, string][]][] = [
    [
      'simple CRLF',
      'From: a@b\r\nTo: c@d\r\n',
      [
        ['From', 'a@b', 'From: a@b'],
        ['To', 'c@d', 'To: c@d'],
      ],
    ],
    [
      'LF only',
      'From: a@b\nTo: c@d\n',
      [
        ['From', 'a@b', 'From: a@b'],
        ['To', 'c@d', 'To: c@d'],
      ],
    ],
    [
      'folded, raw keeps folding',
      'Subject: one\r\n two\r\n\tthree\r\nX: y\r\n',
      [
        ['Subject', 'one two\tthree', 'Subject: one\r\n two\r\n\tthree'],
        ['X', 'y', 'X: y'],
      ],
    ],
    [
      'no colon line is skipped',
      'A: 1\r\ngarbage here\r\nB: 2\r\n',
      [
        ['A', '1', 'A: 1'],
        ['B', '2', 'B: 2'],
      ],
    ],
    ['continuation after garbage is dropped', 'garbage\r\n cont\r\nB: 2\r\n', [['B', '2', 'B: 2']]],
    ['leading continuation is dropped', ' cont\r\nB: 2', [['B', '2', 'B: 2']]],
    [
      'empty value',
      'X-Empty:\r\nY:   \r\n',
      [
        ['X-Empty', '', 'X-Empty:'],
        ['Y', '', 'Y:   '],
      ],
    ],
    ['space before colon', 'Subject : hi\r\n', [['Subject', 'hi', 'Subject : hi']]],
    ['line starting with colon skipped', ': nothing\r\nA: 1', [['A', '1', 'A: 1']]],
    ['name with space is junk', 'From x@y Mon 10:00\r\nA: 1', [['A', '1', 'A: 1']]],
    ['stops at blank line', 'A: 1\r\n\r\nB: 2\r\n', [['A', '1', 'A: 1']]],
    [
      'value with colon',
      'Date: Mon, 1 Jan 2024 10:00:00 +0000',
      [['Date', 'Mon, 1 Jan 2024 10:00:00 +0000', 'Date: Mon, 1 Jan 2024 10:00:00 +0000']],
    ],
  ];
  for (const [name, input, want] of cases) {
    test(name, () => {
      const got = parseHeaders(b(input));
      assert.deepEqual(
        got.map((f) => [f.name, f.value, f.raw.toString('latin1')]),
        want,
      );
      for (const f of got) assert.equal(f.lname, f.name.toLowerCase());
    });
  }

  test('UTF-8 bytes decode as UTF-8, invalid ones as latin1', () => {
    const utf8 = parseHeaders(Buffer.from('Subject: Grüße\r\n', 'utf8'));
    assert.equal(utf8[0].value, 'Grüße');
    const latin1 = parseHeaders(Buffer.from('Subject: Gr\xfc\xdfe\r\n', 'latin1'));
    assert.equal(latin1[0].value, 'Grüße');
  });

  test('raw is a byte-exact slice', () => {
    const block = Buffer.from('A: \xff\r\n x\r\n', 'latin1');
    const [f] = parseHeaders(block);
    assert.deepEqual(f.raw, block.subarray(0, 8));
  });
});

describe('lookups', () => {
  const fields = parseHeaders(b('Received: one\r\nTO: x@y\r\nReceived: two\r\n'));
  test('getHeader is case-insensitive and returns the first', () => {
    assert.equal(getHeader(fields, 'received')?.value, 'one');
    assert.equal(getHeader(fields, 'to')?.name, 'TO');
    assert.equal(getHeader(fields, 'cc'), null);
    assert.equal(headerValue(fields, 'To'), 'x@y');
    assert.equal(headerValue(fields, 'cc'), null);
  });
  test('getAll returns all in order', () => {
    assert.deepEqual(
      getAll(fields, 'RECEIVED').map((f) => f.value),
      ['one', 'two'],
    );
    assert.deepEqual(getAll(fields, 'nope'), []);
  });
});
