// mailauthRows reads a header as mailauth's own parseHeaders does (the rows its DKIM pass
// sees: keys and line bytes), for every header unsignedHeader hands it (each LF after a CR).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { mailauthRows } from '../../src/delivery/mailauth-rows.js';

const fromHere = createRequire(import.meta.url);
const tools = createRequire(fromHere.resolve('mailauth'))('./tools.js') as {
  parseHeaders(buf: Buffer): { parsed: { key: string | null; line: Buffer }[] };
};

function theirs(input: Buffer): [string | null, string][] {
  return tools.parseHeaders(input).parsed.map((r) => [r.key, r.line.toString('latin1')]);
}

function ours(input: Buffer): [string | null, string][] {
  return mailauthRows(input).map((r) => [r.key, r.line.toString('latin1')]);
}

/** Pieces of headers, the odd ones included (latin1 bytes: NBSP, VT, FF, bare CR, 8-bit). */
const PIECES = [
  'From',
  'fRoM',
  'DKIM-Signature',
  'ARC-Seal',
  'To',
  ':',
  ': ',
  ' ',
  '\t',
  '\v',
  '\f',
  '\xa0',
  '\xc0',
  '\xe9',
  '\r',
  '\r\n',
  '\r\n',
  '\r\n ',
  '\r\n\t',
  'a@b.example',
  '<x@y>',
  'x',
];

const header = fc
  .array(fc.constantFrom(...PIECES), { maxLength: 40 })
  .map((p) => Buffer.from(`${p.join('')}\r\n\r\n`, 'latin1'));

describe('mailauthRows', () => {
  test('a header with folded fields', () => {
    const input = Buffer.from('From: a@pass.example\r\nTo: b\r\n c\r\nSubject : x\r\n\r\n');
    assert.deepEqual(ours(input), [
      ['from', 'From: a@pass.example'],
      ['to', 'To: b\r\n c'],
      ['subject', 'Subject : x'],
    ]);
    assert.deepEqual(ours(input), theirs(input));
  });

  test('the rows mailauth reads, on generated headers', () => {
    fc.assert(
      fc.property(header, (input) => {
        assert.deepEqual(ours(input), theirs(input));
      }),
      { numRuns: 3000 },
    );
  });

  test('edge cases', () => {
    for (const text of [
      '\r\n\r\n',
      '\r\n',
      '',
      ':x\r\n\r\n',
      '  : x\r\nFrom: y\r\n\r\n',
      'From\r\n : x\r\n\r\n',
      'X: a\r\r\n\r\n',
      'X: a\r\n\r\r\n\r\n',
      '\xa0From: x\r\n\xa0y\r\n\r\n',
      'no colon\r\n\vFrom: x\r\n\r\n',
    ]) {
      const input = Buffer.from(text, 'latin1');
      assert.deepEqual(ours(input), theirs(input), JSON.stringify(text));
    }
  });
});
