import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type EhloOptions, ehloKeywords } from '../../../src/smtp/wire/ehlo.js';

const all: EhloOptions = {
  size: 26214400,
  starttls: true,
  auth: ['plain', 'LOGIN'],
  chunking: true,
  smtputf8: true,
  dsn: true,
  pipelining: true,
  eightBit: true,
  enhanced: true,
};
const none: EhloOptions = {
  size: 1000,
  starttls: false,
  auth: null,
  chunking: false,
  smtputf8: false,
  dsn: false,
  pipelining: false,
  eightBit: false,
  enhanced: false,
};

describe('ehloKeywords', () => {
  test('everything on, in a fixed order', () => {
    assert.deepEqual(ehloKeywords(all), [
      'PIPELINING',
      'SIZE 26214400',
      '8BITMIME',
      'CHUNKING',
      'SMTPUTF8',
      'STARTTLS',
      'AUTH PLAIN LOGIN',
      'ENHANCEDSTATUSCODES',
      'DSN',
    ]);
  });

  test('everything off leaves SIZE', () => {
    assert.deepEqual(ehloKeywords(none), ['SIZE 1000']);
  });

  test('SIZE 0 means no fixed maximum (RFC 1870 §3); a non-number is not printed', () => {
    assert.deepEqual(ehloKeywords({ ...none, size: 0 }), ['SIZE 0']);
    assert.deepEqual(ehloKeywords({ ...none, size: Number.NaN }), ['SIZE']);
    assert.deepEqual(ehloKeywords({ ...none, size: -5 }), ['SIZE']);
  });

  test('no AUTH line for null or an empty list (e.g. before STARTTLS)', () => {
    assert.ok(!ehloKeywords({ ...all, auth: [] }).some((k) => k.startsWith('AUTH')));
    assert.ok(!ehloKeywords({ ...all, auth: null }).some((k) => k.startsWith('AUTH')));
  });

  test('BINARYMIME only with CHUNKING (RFC 3030 §3)', () => {
    assert.ok(ehloKeywords({ ...all, binaryMime: true }).includes('BINARYMIME'));
    assert.ok(!ehloKeywords({ ...all, chunking: false, binaryMime: true }).includes('BINARYMIME'));
  });

  test('each flag controls its keyword', () => {
    const pairs: [keyof EhloOptions, string][] = [
      ['starttls', 'STARTTLS'],
      ['chunking', 'CHUNKING'],
      ['smtputf8', 'SMTPUTF8'],
      ['dsn', 'DSN'],
      ['pipelining', 'PIPELINING'],
      ['eightBit', '8BITMIME'],
      ['enhanced', 'ENHANCEDSTATUSCODES'],
    ];
    for (const [flag, keyword] of pairs) {
      assert.ok(ehloKeywords({ ...none, [flag]: true }).includes(keyword), flag);
      assert.ok(!ehloKeywords({ ...all, [flag]: false }).includes(keyword), flag);
    }
  });
});
