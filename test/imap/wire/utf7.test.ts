import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeMailboxName, encodeMailboxName } from '../../../src/imap/wire/utf7.js';

// Pairs from RFC 3501 §5.1.3 and a few more.
const TABLE: [string, string][] = [
  ['☺!', '&Jjo-!'],
  ['Entwürfe', 'Entw&APw-rfe'],
  ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
  ['Tom & Jerry', 'Tom &- Jerry'],
  ['&', '&-'],
  ['', ''],
  ['plain/ascii', 'plain/ascii'],
  ['😀', '&2D3eAA-'],
  ['a\tb', 'a&AAk-b'],
];

const INVALID = [
  '&Jjo', // unterminated
  '&Jjo!-', // bad base64 character
  '&AGE-', // "a" must be written directly
  '&ACY-', // "&" must be written "&-"
  '&2D0-', // lone high surrogate
  '&3gA-', // lone low surrogate
  '&AP-', // odd byte count / non-zero padding bits
  '&APx-', // non-zero padding bits
  '&APw-&APw-', // two adjacent encoded runs
  'caf\u00e9', // 8-bit in the encoded form
  'a\u0001b', // control character
];

describe('modified UTF-7', () => {
  for (const [name, wire] of TABLE) {
    test(`${JSON.stringify(name)} <-> ${wire}`, () => {
      assert.equal(encodeMailboxName(name), wire);
      assert.equal(decodeMailboxName(wire), name);
    });
  }

  test('one run for adjacent non-ASCII characters', () => {
    assert.equal(encodeMailboxName('台北'), '&U,BTFw-');
    assert.equal(decodeMailboxName('&U,BTF2XlZyyKng-'), '台北日本語');
  });

  for (const wire of INVALID) {
    test(`rejects ${JSON.stringify(wire)}`, () => assert.equal(decodeMailboxName(wire), null));
  }

  test('round trip for any well-formed string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-composite' }), (s) => {
        const wire = encodeMailboxName(s);
        assert.match(wire, /^[\x20-\x7e]*$/);
        assert.equal(decodeMailboxName(wire), s);
      }),
      { numRuns: 500 },
    );
  });

  test('decode is canonical: what decodes re-encodes to the same text', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9+,&\- ]{0,20}$/), (wire) => {
        const name = decodeMailboxName(wire);
        if (name !== null) assert.equal(encodeMailboxName(name), wire);
      }),
      { numRuns: 2000 },
    );
  });
});
