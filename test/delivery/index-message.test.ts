// indexMessage keeps the text the full-text index takes (FTS_TEXT_MAX characters) and says
// when the message has more, so that searches also read the rest.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexMessage } from '../../src/delivery/local.js';
import { FTS_TEXT_MAX } from '../../src/store/types.js';

const head = 'From: a@example.net\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\n';

test('a long text is cut to FTS_TEXT_MAX and marked', () => {
  const line = 'abcdefghij'.repeat(7) + '\r\n';
  const raw = Buffer.from(head + line.repeat(Math.ceil((FTS_TEXT_MAX * 2) / line.length)));
  const idx = indexMessage(raw);
  assert.equal(idx.text.length, FTS_TEXT_MAX);
  assert.equal(idx.textTruncated, true);
});

test('a short text is whole and not marked', () => {
  const idx = indexMessage(Buffer.from(`${head}Hello there.\r\n`));
  assert.match(idx.text, /Hello there\./);
  assert.equal(idx.textTruncated, false);
});

test('for a store that indexes on search, no text is extracted', () => {
  const raw = Buffer.from(`${head}Hello there.\r\n`);
  const idx = indexMessage(raw, 'on-search');
  assert.equal(idx.text, '');
  assert.equal(idx.textTruncated, false);
  // The rest of the index is the same.
  const full = indexMessage(raw, 'on-delivery');
  assert.match(full.text, /Hello there\./);
  assert.deepEqual({ ...idx, text: full.text }, full);
});
