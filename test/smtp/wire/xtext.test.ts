import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeXtext, encodeXtext } from '../../../src/smtp/wire/xtext.js';

describe('xtext (RFC 3461 §4)', () => {
  const decodes: [string, string | null][] = [
    ['', ''],
    ['plain', 'plain'],
    ['a+2Bb', 'a+b'],
    ['a+3Db', 'a=b'],
    ['+20', ' '],
    ['+2b', '+'],
    ['+C3+A9', 'é'],
    ['a+', null],
    ['a+2', null],
    ['a+G0', null],
    ['a=b', null],
    ['a b', null],
    ['é', null],
    ['a\u0000', null],
  ];
  for (const [input, expected] of decodes) {
    test(`decode ${JSON.stringify(input)}`, () => assert.equal(decodeXtext(input), expected));
  }

  test('encode escapes +, =, space, controls and non-ASCII', () => {
    assert.equal(encodeXtext('a+b=c d\r\né'), 'a+2Bb+3Dc+20d+0D+0A+C3+A9');
    assert.equal(encodeXtext('user@example.com'), 'user@example.com');
  });

  test('decode(encode(s)) === s for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const enc = encodeXtext(s);
        assert.match(enc, /^[\x21-\x7e]*$/);
        assert.equal(decodeXtext(enc), Buffer.from(s, 'utf8').toString('utf8'));
      }),
    );
  });

  test('decode never throws', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const d = decodeXtext(s);
        assert.ok(d === null || typeof d === 'string');
      }),
    );
  });
});
