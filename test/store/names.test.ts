import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StoreError } from '../../src/store/errors.js';
import { normalizeAddress, normalizeDomain, normalMemoSizes } from '../../src/store/names.js';

const isInvalid = (e: unknown) => e instanceof StoreError && e.code === 'INVALID';

describe('address and domain normalization', () => {
  test('the same normal form every time an input is asked, kept or not', () => {
    const cases: Array<[string, string | null]> = [
      ['Alice@Example.ORG', 'alice@example.org'],
      ['  bob@example.org.  ', 'bob@example.org'],
      ['user+tag@sub.example.org', 'user+tag@sub.example.org'],
      ['Ünïcode@bücher.example', 'ünïcode@bücher.example'],
      ['no-at-sign', null],
      ['@example.org', null],
      ['a@', null],
      ['a b@example.org', null],
      ['a@-bad-.example', null],
      [`${'x'.repeat(65)}@example.org`, null],
      ['a@\ud800.example', null],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [input, want] of cases) {
        if (want === null) assert.throws(() => normalizeAddress(input), isInvalid, input);
        else assert.equal(normalizeAddress(input), want, input);
      }
    }
    for (let round = 0; round < 3; round++) {
      assert.equal(normalizeDomain('Example.ORG.'), 'example.org');
      assert.equal(normalizeDomain('_dmarc.example.org'), '_dmarc.example.org');
      assert.throws(() => normalizeDomain(''), isInvalid);
      assert.throws(() => normalizeDomain('a..b'), isInvalid);
      assert.throws(() => normalizeDomain(`${'a'.repeat(64)}.org`), isInvalid);
    }
  });

  test('the kept forms stay bounded however many names are asked', () => {
    for (let i = 0; i < 5000; i++) {
      assert.equal(normalizeAddress(`User${i}@Domain${i}.Example`), `user${i}@domain${i}.example`);
    }
    const { domains, addresses } = normalMemoSizes();
    assert.ok(addresses > 0 && addresses <= 512, `addresses kept: ${addresses}`);
    assert.ok(domains > 0 && domains <= 512, `domains kept: ${domains}`);
    // An early name, long gone from the memo, is still normalized.
    assert.equal(normalizeAddress('User0@Domain0.Example'), 'user0@domain0.example');
  });
});
