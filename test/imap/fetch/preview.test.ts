// RFC 8970 §4 preview text from the stored structure and bytes (fetch/preview.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { normalizePreview, PREVIEW_MAX, previewText } from '../../../src/imap/fetch/preview.js';
import { parseMessage } from '../../../src/mime/index.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/mime');

function previewOf(raw: Buffer | string): string {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  return previewText(bytes, parseMessage(bytes).root);
}

test('the MIME fixtures: first readable text part, charsets and encodings undone', () => {
  const table: Array<[string, string]> = [
    ['8bit.eml', 'Grüezi mitenand, ça va? 👋'],
    ['alternative-related.eml', 'Hello Bob, here is our newsletter.'],
    ['attachment-rfc2231.eml', 'Anbei die Rechnung € 100.'],
    ['cp1251-base64.eml', 'Привет, мир! Это тест.'],
    ['iso2022jp.eml', '日本語 テスト'],
    [
      'latin1-qp.eml',
      'Grüße aus Köln, café au lait. Diese Zeile ist sehr lang und wird umgebrochen.',
    ],
    ['forward-rfc822.eml', 'See below.'],
    ['nested-3-deep.eml', 'plain version'],
    ['missing-close-boundary.eml', 'complete part'],
    ['lf-only.eml', 'first'],
    // No text part of its own (only enclosed messages), or no body at all: the empty string.
    ['digest.eml', ''],
    ['headers-only.eml', ''],
    ['empty-body.eml', ''],
  ];
  for (const [file, want] of table) {
    assert.equal(previewOf(readFileSync(join(FIXTURES, file))), want, file);
  }
});

test('whitespace runs become one space, control characters go, at most PREVIEW_MAX code points', () => {
  assert.equal(normalizePreview('  a\r\n\r\n\tb\u00a0\u00a0c \u2003 d  '), 'a b c d');
  assert.equal(normalizePreview('x\u0000y\u0007z\u200bw\u009f!'), 'xyzw!');
  const emoji = '😀'.repeat(300);
  const out = normalizePreview(emoji);
  assert.equal([...out].length, PREVIEW_MAX);
  assert.ok(PREVIEW_MAX <= 256);
  // Never half of a surrogate pair.
  assert.equal(out, '😀'.repeat(PREVIEW_MAX));
});

test('a large body is cut before decoding, never in the middle of a UTF-8 character', () => {
  // 16 KiB of plain text is decoded; an odd prefix puts the cut inside a 2-byte character.
  const body = `x${'é'.repeat(20_000)}`;
  const got = previewOf(`Content-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`);
  assert.equal(got, `x${'é'.repeat(PREVIEW_MAX - 1)}`);
});

test('HTML: markup, styles and scripts removed, entities decoded, text after a long head found', () => {
  const style = `<style>${'.c { color: red }\n'.repeat(3000)}</style>`;
  const got = previewOf(
    `Content-Type: text/html\r\n\r\n<html><head>${style}<script>var a = "<p>no</p>";</script></head>` +
      '<body><div>Caf&eacute; &lt;open&gt;</div><!-- hidden --><p>next&#32;line</p></body></html>\r\n',
  );
  assert.equal(got, 'Café <open> next line');
});

test('multipart/alternative prefers text/plain; attachments are skipped; an empty part is passed over', () => {
  assert.equal(
    previewOf(
      'Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n' +
        '<b>rich</b>\r\n--x\r\nContent-Type: text/plain\r\n\r\nplain\r\n--x--\r\n',
    ),
    'plain',
  );
  assert.equal(
    previewOf(
      'Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n' +
        'Content-Disposition: attachment; filename=notes.txt\r\n\r\nattached\r\n--x\r\n' +
        'Content-Type: text/plain\r\n\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<i>shown</i>\r\n--x--\r\n',
    ),
    'shown',
  );
});

test('quoted lines and HTML blockquotes are left out, unless nothing else is there (as Dovecot)', () => {
  const table: Array<[string, string]> = [
    [
      'Subject: q\r\n\r\nOn Mon, Bob wrote:\r\n> quoted\r\n>> deeper\r\nmy answer\r\n-- \r\nsig\r\n',
      'On Mon, Bob wrote: my answer -- sig',
    ],
    [
      'Subject: q\r\n\r\n   > indented is not a quote\r\nafter\r\n',
      '> indented is not a quote after',
    ],
    ['Subject: q\r\n\r\n> all quoted\r\n>> still quoted\r\n', 'all quoted still quoted'],
    [
      'Content-Type: text/html\r\n\r\n<p>fresh</p><blockquote>old <blockquote>older</blockquote> old</blockquote><p>more</p>\r\n',
      'fresh more',
    ],
    [
      'Content-Type: text/html\r\n\r\n<blockquote>only quoted html</blockquote>\r\n',
      'only quoted html',
    ],
    // An unclosed blockquote hides the rest.
    ['Content-Type: text/html\r\n\r\n<p>top</p><blockquote>open\r\n', 'top'],
  ];
  for (const [raw, want] of table) assert.equal(previewOf(raw), want, raw);
});
