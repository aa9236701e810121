// parseText is parseMessage's text without the rest of the parse (the full-text index reads
// stored messages with it): the same text, with the same caps, on every fixture (multipart,
// nested messages, encodings, charsets, HTML) and on texts longer than the index keeps.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseMessage, parseText } from '../../src/mime/structure.js';
import { FTS_TEXT_MAX } from '../../src/store/types.js';

const dir = new URL('../fixtures/mime/', import.meta.url);
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.eml'))
  .map((f) => [f, readFileSync(new URL(f, dir))] as const);

const long = Buffer.from(
  'From: a@example.net\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n' +
    `--b\r\nContent-Type: text/plain\r\n\r\n${'plain words '.repeat(2000)}\r\n` +
    `--b\r\nContent-Type: text/html\r\n\r\n<p>${'html &amp; words '.repeat(2000)}</p>\r\n--b--\r\n`,
);

test('the fixtures hold texts', () => {
  assert.ok(fixtures.length > 10);
  assert.ok(fixtures.filter(([, raw]) => parseMessage(raw).text !== '').length > 5);
});

for (const [name, raw] of [...fixtures, ['long multipart', long] as const]) {
  test(`${name}: parseMessage's text, whole and capped`, () => {
    assert.equal(parseText(raw), parseMessage(raw).text);
    for (const cap of [0, 1, 10, FTS_TEXT_MAX + 1]) {
      assert.equal(parseText(raw, cap), parseMessage(raw, { textCap: cap }).text, `cap ${cap}`);
    }
  });
}
