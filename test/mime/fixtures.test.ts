// Expected structure of each fixture in test/fixtures/mime (written by generate.ts there).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { findPart } from '../../src/mime/sections.js';
import { decodeTransfer, parseMessage } from '../../src/mime/structure.js';
import type { ParsedMessage, PartNode } from '../../src/mime/types.js';

const dir = new URL('../fixtures/mime/', import.meta.url);
const load = (name: string) => readFileSync(new URL(name, dir));

/** Section labels and types in tree order, by the RFC 9051 §6.4.5 numbering. */
function outline(p: ParsedMessage): string[] {
  const out: string[] = [];
  const walk = (node: PartNode, label: string) => {
    out.push(`${label || 'root'} ${node.type}/${node.subtype}`);
    const kids =
      node.type === 'multipart' ? node.children : node.message ? inner(node.message.root) : [];
    for (const [i, k] of kids.entries()) walk(k, label ? `${label}.${i + 1}` : `${i + 1}`);
  };
  const inner = (root: PartNode) => (root.type === 'multipart' ? root.children : [root]);
  walk(p.root, '');
  return out;
}

interface Expect {
  outline: string[];
  /** section -> exact raw body bytes (as UTF-8 text) */
  bodies?: Record<string, string>;
  lines?: Record<string, number>;
  check?: (p: ParsedMessage, raw: Buffer) => void;
}

const part = (p: ParsedMessage, s: string) => {
  const node = findPart(p, s === '' ? [] : s.split('.').map(Number));
  assert.ok(node, `section ${s}`);
  return node;
};
const decoded = (raw: Buffer, n: PartNode) =>
  decodeTransfer(raw.subarray(n.bodyStart, n.bodyEnd), n.encoding);

const png = Buffer.concat([
  Buffer.from('89504e470d0a1a0a', 'hex'),
  Buffer.from(Array.from({ length: 120 }, (_, i) => (i * 37) & 0xff)),
]);

const expected: Record<string, Expect> = {
  'alternative-related.eml': {
    outline: [
      'root multipart/alternative',
      '1 text/plain',
      '2 multipart/related',
      '2.1 text/html',
      '2.2 image/png',
    ],
    bodies: {
      '1': 'Hello Bob,\r\nhere is our newsletter.',
      '2.1': '<html><body><p>Hello Bob,</p><img src="cid:logo@example.org"></body></html>',
    },
    lines: { '1': 2, '2.1': 1 },
    check(p, raw) {
      const img = part(p, '2.2');
      assert.equal(img.id, '<logo@example.org>');
      assert.equal(img.encoding, 'BASE64');
      assert.deepEqual(img.disposition, { type: 'inline', params: { filename: 'logo.png' } });
      assert.deepEqual(decoded(raw, img), png);
      assert.equal(img.lines, null);
      assert.deepEqual(part(p, '2').params, { boundary: 'rel-1', type: 'text/html' });
      assert.ok(
        raw
          .subarray(part(p, '2').bodyStart, part(p, '2').bodyEnd)
          .toString()
          .endsWith('--rel-1--\r\n'),
      );
      assert.equal(p.text, 'Hello Bob,\r\nhere is our newsletter.\nHello Bob,');
      assert.equal(p.envelope.messageId, '<news-1@example.org>');
      assert.equal(p.search.date, Date.UTC(2025, 2, 4, 8, 15));
    },
  },
  'attachment-rfc2231.eml': {
    outline: ['root multipart/mixed', '1 text/plain', '2 application/pdf', '3 text/plain'],
    bodies: { '1': 'Anbei die Rechnung =E2=82=AC 100.', '3': 'greetings' },
    check(p, raw) {
      assert.equal(p.root.params.boundary, '----=_Part_42_1.2');
      const pdf = part(p, '2');
      assert.deepEqual(pdf.params, { name: 'Rechnung €.pdf' });
      assert.deepEqual(pdf.disposition, {
        type: 'attachment',
        params: { filename: 'Rechnung €.pdf' },
      });
      assert.deepEqual(pdf.language, ['de', 'en']);
      assert.ok(decoded(raw, pdf).toString().startsWith('%PDF-1.4\n'));
      assert.deepEqual(part(p, '3').params, { name: 'Grüße.txt' });
      assert.equal(part(p, '3').disposition?.params.filename, 'Grüße.txt');
      assert.equal(p.envelope.subjectDecoded, 'Rechnung € 100');
      assert.equal(p.envelope.from?.[0].name, '=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=');
      assert.deepEqual(p.search.firstFrom, {
        name: 'Jörg Müller',
        mailbox: 'joerg',
        host: 'example.de',
      });
      assert.equal(p.text, 'Anbei die Rechnung € 100.\ngreetings');
    },
  },
  'forward-rfc822.eml': {
    outline: [
      'root multipart/mixed',
      '1 text/plain',
      '2 message/rfc822',
      '2.1 text/plain',
      '2.2 text/html',
    ],
    bodies: {
      '1': 'See below.',
      '2.1': 'Noon at the usual place?',
      '2.2': '<b>Noon</b> at the usual place?',
    },
    lines: { '2': 15 },
    check(p, raw) {
      const fwd = part(p, '2');
      assert.equal(fwd.description, 'forwarded message');
      const env = fwd.message!.envelope;
      assert.equal(env.subject, 'Lunch?');
      assert.deepEqual(env.from, [{ name: 'Erin', mailbox: 'erin', host: 'example.net' }]);
      assert.equal(env.messageId, '<lunch@example.net>');
      assert.ok(raw.subarray(fwd.bodyStart, fwd.bodyEnd).toString().startsWith('From: Erin'));
      assert.equal(p.envelope.subject, 'Fwd: Lunch?');
      assert.equal(p.text, 'See below.\nNoon at the usual place?\nNoon at the usual place?');
    },
  },
  'latin1-qp.eml': {
    outline: ['root text/plain'],
    check(p) {
      assert.deepEqual(p.root.params, { charset: 'ISO-8859-1' });
      assert.equal(p.root.encoding, 'QUOTED-PRINTABLE');
      assert.equal(
        p.text,
        'Grüße aus Köln, café au lait. Diese Zeile ist sehr lang und wird umgebrochen.\r\n',
      );
      assert.equal(p.envelope.subjectDecoded, 'Grüße aus Köln');
      assert.equal(p.search.firstFrom?.name, 'François');
      assert.equal(p.search.date, Date.UTC(2025, 2, 1, 8, 0));
      assert.equal(p.root.lines, 2);
    },
  },
  'cp1251-base64.eml': {
    outline: ['root text/plain'],
    check(p) {
      assert.equal(p.text, 'Привет, мир! Это тест.');
      assert.equal(p.search.from, 'Привет <ivan@example.ru>');
    },
  },
  'iso2022jp.eml': {
    outline: ['root text/plain'],
    lines: { '1': 1 },
    check(p) {
      assert.equal(p.envelope.subjectDecoded, '日本語テスト');
      assert.equal(p.text, '日本語 テスト\r\n');
    },
  },
  'malformed-headers.eml': {
    outline: ['root text/plain'],
    bodies: { '1': 'body after junk headers\r\n' },
    check(p) {
      assert.deepEqual(p.envelope.to, [{ name: null, mailbox: 'victim', host: 'example.com' }]);
      assert.equal(p.envelope.subject, 'still parsed');
      assert.equal(p.search.references.length, 60);
      assert.equal(p.search.references[59], '<ref-59@example.com>');
    },
  },
  'lf-only.eml': {
    outline: ['root multipart/mixed', '1 text/plain', '2 text/plain'],
    bodies: { '1': 'first', '2': 'second' },
    lines: { '1': 1, '2': 1 },
    check(p, raw) {
      assert.equal(
        raw.subarray(p.root.headerStart, p.root.headerEnd).toString().endsWith('boundary=lf\n\n'),
        true,
      );
      assert.equal(p.envelope.subject, 'written with LF only');
    },
  },
  'missing-close-boundary.eml': {
    outline: ['root multipart/mixed', '1 text/plain', '2 text/plain'],
    bodies: {
      '1': 'complete part',
      '2': 'this part never ends\r\nand runs to the end of the message',
    },
    check(p, raw) {
      assert.equal(part(p, '2').bodyEnd, raw.length);
    },
  },
  'nested-3-deep.eml': {
    outline: [
      'root multipart/mixed',
      '1 multipart/alternative',
      '1.1 text/plain',
      '1.2 multipart/related',
      '1.2.1 text/html',
      '1.2.2 image/gif',
      '2 application/octet-stream',
    ],
    bodies: {
      '1.1': 'plain version',
      '1.2.1': '<p>html version</p>',
      '1.2.2': 'R0lGODlhAQABAAAAACw=',
    },
    check(p, raw) {
      assert.equal(part(p, '1.2.2').id, '<pixel>');
      assert.deepEqual(part(p, '2').disposition, {
        type: 'attachment',
        params: { filename: 'data.bin' },
      });
      assert.deepEqual([...decoded(raw, part(p, '2'))], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    },
  },
  'empty-body.eml': {
    outline: ['root text/plain'],
    bodies: { '1': '' },
    lines: { '1': 0 },
    check(p) {
      assert.equal(p.root.size, 0);
      assert.equal(p.text, '');
    },
  },
  '8bit.eml': {
    outline: ['root text/plain'],
    bodies: { '1': 'Grüezi mitenand, ça va? 👋\r\n' },
    check(p) {
      assert.equal(p.root.encoding, '8BIT');
      assert.equal(p.root.size, Buffer.byteLength('Grüezi mitenand, ça va? 👋\r\n'));
      assert.equal(p.envelope.subject, 'Grüezi');
      assert.equal(p.search.from, 'Zürich <zh@example.ch>');
      assert.equal(p.text, 'Grüezi mitenand, ça va? 👋\r\n');
    },
  },
  'headers-only.eml': {
    outline: ['root text/plain'],
    check(p, raw) {
      assert.equal(p.root.bodyStart, raw.length);
      assert.equal(p.root.headerEnd, raw.length);
      assert.equal(p.envelope.subject, 'no body at all');
    },
  },
  'digest.eml': {
    outline: [
      'root multipart/digest',
      '1 message/rfc822',
      '1.1 text/plain',
      '2 message/rfc822',
      '2.1 text/plain',
    ],
    bodies: { '1.1': 'one', '2.1': 'two' },
    check(p) {
      assert.equal(part(p, '2').message?.envelope.subject, 'second');
      assert.equal(p.text, 'one\ntwo');
    },
  },
};

describe('fixtures', () => {
  test('every .eml has an expectation and at least 10 exist', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.eml'));
    assert.deepEqual(files.sort(), Object.keys(expected).sort());
    assert.ok(files.length >= 10);
  });
  for (const [name, want] of Object.entries(expected)) {
    test(name, () => {
      const raw = load(name);
      const p = parseMessage(raw);
      assert.deepEqual(outline(p), want.outline);
      for (const [s, b] of Object.entries(want.bodies ?? {})) {
        const n = part(p, s);
        assert.equal(raw.subarray(n.bodyStart, n.bodyEnd).toString('utf8'), b, `body of ${s}`);
        assert.equal(n.size, n.bodyEnd - n.bodyStart);
      }
      for (const [s, l] of Object.entries(want.lines ?? {}))
        assert.equal(part(p, s).lines, l, `lines of ${s}`);
      want.check?.(p, raw);
    });
  }
});
