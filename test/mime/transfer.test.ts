import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeTransfer } from '../../src/mime/transfer.js';

const s = (x: string) => Buffer.from(x, 'latin1');

describe('decodeTransfer base64', () => {
  const cases: [string, string, string][] = [
    ['plain', 'aGVsbG8gd29ybGQ=', 'hello world'],
    ['line breaks', 'aGVsbG8g\r\nd29ybGQ=\r\n', 'hello world'],
    ['missing padding', 'aGVsbG8', 'hello'],
    ['junk characters', 'aGV*sb!G8\t', 'hello'],
    ['concatenated padded chunks', 'aGVsbG8=\r\nd29ybGQ=', 'helloworld'],
    ['empty', '', ''],
  ];
  for (const [name, input, want] of cases) {
    test(name, () => assert.equal(decodeTransfer(s(input), 'base64').toString('latin1'), want));
  }
  test('encoding name is case-insensitive', () => {
    assert.equal(decodeTransfer(s('aGk='), ' BASE64 ').toString(), 'hi');
  });
});

describe('decodeTransfer quoted-printable', () => {
  const cases: [string, string, string][] = [
    ['hex escapes', 'caf=E9 =3D', 'caf\xe9 ='],
    ['lower-case hex', 'caf=e9', 'caf\xe9'],
    ['soft break CRLF', 'abc=\r\ndef', 'abcdef'],
    ['soft break LF', 'abc=\ndef', 'abcdef'],
    ['soft break with trailing space', 'abc= \t\r\ndef', 'abcdef'],
    ['hard break kept', 'a\r\nb', 'a\r\nb'],
    ['trailing whitespace removed', 'a  \r\nb\t\n', 'a\r\nb\n'],
    ['inner whitespace kept', 'a  b', 'a  b'],
    ['malformed = kept', 'a=ZZb =', 'a=ZZb '],
    ['= at end', 'end=', 'end'],
    ['lone = before text', '1=2', '1=2'],
  ];
  for (const [name, input, want] of cases) {
    test(name, () =>
      assert.equal(decodeTransfer(s(input), 'quoted-printable').toString('latin1'), want),
    );
  }
});

describe('decodeTransfer identity', () => {
  for (const enc of ['7bit', '8bit', 'binary', 'x-unknown', '']) {
    test(enc || '(empty)', () => {
      const body = s('raw =41 aGk=');
      assert.equal(decodeTransfer(body, enc), body);
    });
  }
});
