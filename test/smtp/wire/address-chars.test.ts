// The Path parser's character classes and length limits (src/smtp/wire/address.ts): atext and
// label characters by UTF-16 code unit, as RFC 5321 §4.1.2 with RFC 6531's UTF-8, and the DNS
// limits in octets of UTF-8 (63 a label, 255 a domain, RFC 5321 §4.5.3.1.2), at their edges.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAtext, isLabelChar, parseDomain, parsePath } from '../../../src/smtp/wire/address.js';

// The grammar's classes written as the RFCs list them.
const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]$/;
const LABEL = /^[A-Za-z0-9\-\u0080-\uffff]$/;

test('atext and label characters: every UTF-16 code unit as the grammar says', () => {
  for (let c = 0; c <= 0xffff; c++) {
    const ch = String.fromCharCode(c);
    assert.equal(isAtext(`x${ch}`, 1), ATEXT.test(ch), `atext U+${c.toString(16)}`);
    assert.equal(isLabelChar(ch, 0), LABEL.test(ch), `label U+${c.toString(16)}`);
  }
});

test('a label of 63 octets is taken and one of 64 is not, whatever its characters', () => {
  const cases: [string, boolean][] = [
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['é'.repeat(31), true], // 62 octets
    [`${'é'.repeat(31)}a`, true], // 63
    ['é'.repeat(32), false], // 64 octets in 32 code units
    ['€'.repeat(21), true], // 63 octets in 21 code units
    [`${'€'.repeat(21)}a`, false], // 64 in 22
    ['😀'.repeat(15), true], // 60 octets in 30 code units
    ['😀'.repeat(16), false], // 64 in 32
  ];
  for (const [label, ok] of cases) {
    assert.equal(parseDomain(`${label}.test`, 0) !== null, ok, `${label.length} code units`);
  }
});

test('a domain of 255 octets is taken and one of 256 is not', () => {
  const label = 'a'.repeat(62);
  // Four labels of 62 and a last one: 4 * 63 + n octets.
  const at = (n: number) => `${`${label}.`.repeat(4)}${'b'.repeat(n)}`;
  assert.equal(at(3).length, 255);
  assert.notEqual(parseDomain(at(3), 0), null);
  assert.equal(parseDomain(at(4), 0), null);
  // In two-octet characters: 127 of them and a dot make 255 octets in 128 code units.
  const wide = (n: number) => `${'é'.repeat(31)}.`.repeat(4) + 'é'.repeat(n);
  assert.equal(Buffer.byteLength(wide(1)), 4 * 63 + 2);
  assert.notEqual(parseDomain(`${wide(0)}a`, 0), null); // 253
  assert.equal(parseDomain(wide(2), 0), null); // 256
  assert.notEqual(parseDomain(`${wide(1)}a`, 0), null); // 255
});

test('hyphens: not at either end of a label', () => {
  for (const [d, ok] of [
    ['a-b.test', true],
    ['-ab.test', false],
    ['ab-.test', false],
    ['a.-b', false],
    ['a.b-', false],
    ['-', false],
    ['a..b', false],
  ] as const) {
    const r = parsePath(`<x@${d}>`, 0, { allowNull: false, allowPostmaster: false });
    assert.equal(r.ok, ok, d);
  }
});
