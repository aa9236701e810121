import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseParamValue } from '../../src/mime/params.js';

describe('parseParamValue', () => {
  const cases: [string, string, string, Record<string, string>][] = [
    ['bare type', 'text/plain', 'text/plain', {}],
    ['case folded value and names', 'Text/HTML; CharSet=UTF-8', 'text/html', { charset: 'UTF-8' }],
    ['quoted', 'multipart/mixed; boundary="a b;c"', 'multipart/mixed', { boundary: 'a b;c' }],
    ['quoted with escapes', 'x/y; a="q\\"uote\\\\"', 'x/y', { a: 'q"uote\\' }],
    ['unterminated quote', 'x/y; a="open', 'x/y', { a: 'open' }],
    ['spaces around =', 'x/y; a = 1 ; b= 2', 'x/y', { a: '1', b: '2' }],
    [
      'unquoted value with spaces',
      'attachment; filename=My File.pdf',
      'attachment',
      { filename: 'My File.pdf' },
    ],
    ['stray semicolons', 'x/y;; ;a=1;', 'x/y', { a: '1' }],
    ['name without value skipped', 'x/y; junk; a=1', 'x/y', { a: '1' }],
    ['first duplicate wins', 'x/y; a=1; a=2', 'x/y', { a: '1' }],
    [
      'comments',
      'text/plain (hello); charset=us-ascii (Plain text)',
      'text/plain',
      { charset: 'us-ascii' },
    ],
    ['folded', 'multipart/mixed;\r\n boundary="b"', 'multipart/mixed', { boundary: 'b' }],
    [
      'RFC 2231 charset',
      "attachment; filename*=utf-8''%E2%82%AC.pdf",
      'attachment',
      { filename: '€.pdf' },
    ],
    [
      'RFC 2231 with language',
      "x/y; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
      'x/y',
      { title: 'This is ***fun***' },
    ],
    [
      'RFC 2231 continuations mixed encoded/plain',
      'x/y; name*0*=utf-8\'\'%E2%82; name*1*=%AC; name*2=" x.txt"',
      'x/y',
      { name: '€ x.txt' },
    ],
    ['RFC 2231 continuations out of order', 'x/y; n*1=b; n*0=a; n*2=c', 'x/y', { n: 'abc' }],
    ['RFC 2231 latin1', "x/y; f*=iso-8859-1''caf%E9", 'x/y', { f: 'café' }],
    [
      'RFC 2231 wins over plain',
      'x/y; filename="old.txt"; filename*=utf-8\'\'new.txt',
      'x/y',
      { filename: 'new.txt' },
    ],
    [
      'RFC 2047 in quoted value',
      'x/y; name="=?ISO-8859-1?Q?Gr=FC=DFe.txt?="',
      'x/y',
      { name: 'Grüße.txt' },
    ],
    [
      'boundary never decoded',
      'multipart/mixed; boundary="=?utf-8?q?a?="',
      'multipart/mixed',
      { boundary: '=?utf-8?q?a?=' },
    ],
    [
      'parentheses inside an unquoted value',
      'a; filename=My File (1).pdf',
      'a',
      { filename: 'My File (1).pdf' },
    ],
    ['empty', '', '', {}],
  ];
  for (const [name, input, value, params] of cases) {
    test(name, () => {
      const got = parseParamValue(input);
      assert.equal(got.value, value);
      assert.deepEqual({ ...got.params }, params);
    });
  }

  test('__proto__ is an ordinary parameter', () => {
    const got = parseParamValue('x/y; __proto__=evil; a=1');
    assert.equal(Object.getPrototypeOf(got.params), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(got.params, '__proto__')?.value, 'evil');
    assert.equal(JSON.parse(JSON.stringify(got.params)).a, '1');
  });
});
