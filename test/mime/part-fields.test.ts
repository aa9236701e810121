// The parser makes fields only of the names its readers ask for (structure.ts PART_FIELDS):
// what it gives must be what the same readers give over every field of the header.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { buildEnvelope, buildSearchFields } from '../../src/mime/envelope.js';
import { parseHeaders } from '../../src/mime/headers.js';
import { parseMessage } from '../../src/mime/structure.js';
import type { PartNode } from '../../src/mime/types.js';

const dir = new URL('../fixtures/mime/', import.meta.url);
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.eml'))
  .map((f) => [f, readFileSync(new URL(f, dir))] as const);

/** Every name the part, ENVELOPE and search readers ask for, each twice, among trace fields. */
const everyField = Buffer.from(
  [
    'Return-Path: <a@example.net>',
    'Received: from a.example.net ([192.0.2.1])\r\n\tby mx.example.org with SMTP id 1;',
    '\tSun, 6 Dec 2026 14:00:00 +0000',
    'Authentication-Results: mx.example.org;\r\n dkim=none;\r\n spf=pass smtp.mailfrom=a@example.net',
    'DKIM-Signature: v=1; d=example.net; s=s;\r\n\tb=abc',
    'From: "A" <a@example.net>',
    'From: second@example.net',
    'Sender: s@example.net',
    'Reply-To: r@example.net',
    'To: t1@example.org, =?utf-8?q?T=C3=A9?= <t2@example.org>',
    'To: t3@example.org',
    'Cc: c@example.org',
    'Bcc: b@example.org',
    'Subject: =?utf-8?b?SMOpbGxv?=',
    'Subject: second subject',
    'Date: Sun, 6 Dec 2026 14:00:00 +0100',
    'Date: Mon, 7 Dec 2026 14:00:00 +0100',
    'Message-ID: <m1@example.net>',
    'In-Reply-To: <p@example.net>',
    'References: <r1@example.net>\r\n <r2@example.net>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain;\r\n charset="utf-8"',
    'Content-Transfer-Encoding: quoted-printable',
    'Content-ID: <cid@example.net>',
    'Content-Description: a description',
    'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
    'Content-Disposition: inline; filename="a.txt"',
    'Content-Language: en, fr',
    'Content-Location: https://example.net/a',
    'X-Other: x',
    '',
    'Caf=C3=A9\r\n',
  ].join('\r\n'),
);

function headerOf(raw: Buffer, node: PartNode): ReturnType<typeof parseHeaders> {
  return parseHeaders(raw.subarray(node.headerStart, node.headerEnd));
}

/** Each inner message's ENVELOPE against the readers over all its header's fields. */
function checkInner(raw: Buffer, node: PartNode): void {
  if (node.message) {
    assert.deepEqual(node.message.envelope, buildEnvelope(headerOf(raw, node.message.root)));
    checkInner(raw, node.message.root);
  }
  for (const c of node.children) checkInner(raw, c);
}

describe('the parser reads only the fields its readers ask for', () => {
  for (const [name, raw] of [['every field', everyField] as const, ...fixtures]) {
    test(`${name}: ENVELOPE and search fields as from every field`, () => {
      const p = parseMessage(raw);
      const all = headerOf(raw, p.root);
      const envelope = buildEnvelope(all);
      assert.deepEqual(p.envelope, envelope);
      assert.deepEqual(p.search, buildSearchFields(all, envelope));
      checkInner(raw, p.root);
    });
  }

  test('every field: the part fields as written', () => {
    const root = parseMessage(everyField).root;
    assert.equal(`${root.type}/${root.subtype}`, 'text/plain');
    assert.deepEqual(root.params, { charset: 'utf-8' });
    assert.equal(root.encoding, 'QUOTED-PRINTABLE');
    assert.equal(root.id, '<cid@example.net>');
    assert.equal(root.description, 'a description');
    assert.equal(root.md5, 'Q2hlY2sgSW50ZWdyaXR5IQ==');
    assert.deepEqual(root.disposition, { type: 'inline', params: { filename: 'a.txt' } });
    assert.deepEqual(root.language, ['en', 'fr']);
    assert.equal(root.location, 'https://example.net/a');
  });
});
