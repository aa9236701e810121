// BODY[section], partial ranges and BINARY on real fixtures (RFC 9051 §6.4.5, RFC 3516).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  applyPartial,
  binaryBytes,
  binarySize,
  SectionError,
  sectionBytes,
} from '../../../src/imap/fetch/sections.js';
import { parseSection } from '../../../src/imap/wire/fetch-items.js';
import { argsFrom } from '../../../src/imap/wire/parser.js';
import { parseMessage } from '../../../src/mime/index.js';

const load = (name: string) =>
  readFileSync(new URL(`../../fixtures/mime/${name}`, import.meta.url));

/** BODY[<spec>] of the message, as text. */
function body(raw: Buffer, spec: string): string {
  const section = parseSection(argsFrom(`[${spec}]`));
  const out = sectionBytes(raw, parseMessage(raw).root, section);
  return out.toString('utf8');
}

describe('sectionBytes on forward-rfc822 (multipart/mixed with a message/rfc822 part)', () => {
  const raw = load('forward-rfc822.eml');
  const innerHeader =
    'From: Erin <erin@example.net>\r\nTo: carol@example.com\r\nSubject: Lunch?\r\n' +
    'Message-ID: <lunch@example.net>\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n';
  const innerText =
    '--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nNoon at the usual place?\r\n' +
    '--inner\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<b>Noon</b> at the usual place?\r\n' +
    '--inner--';
  const table: [string, string][] = [
    ['', raw.toString('utf8')],
    [
      'HEADER',
      'From: carol@example.com\r\nTo: dave@example.com\r\nSubject: Fwd: Lunch?\r\n' +
        'Date: Thu, 6 Mar 2025 12:00:00 -0500\r\nMIME-Version: 1.0\r\n' +
        'Content-Type: multipart/mixed; boundary=outer\r\n\r\n',
    ],
    ['1', 'See below.'],
    ['1.MIME', 'Content-Type: text/plain\r\n\r\n'],
    ['2', innerHeader + innerText],
    ['2.MIME', 'Content-Type: message/rfc822\r\nContent-Description: forwarded message\r\n\r\n'],
    ['2.HEADER', innerHeader],
    ['2.TEXT', innerText],
    ['2.1', 'Noon at the usual place?'],
    ['2.2', '<b>Noon</b> at the usual place?'],
    ['2.2.MIME', 'Content-Type: text/html; charset=us-ascii\r\n\r\n'],
    // RFC 9051 §6.4.5: fields in message order (not request order), then the blank line.
    ['HEADER.FIELDS (SUBJECT FROM)', 'From: carol@example.com\r\nSubject: Fwd: Lunch?\r\n\r\n'],
    ['HEADER.FIELDS (subject)', 'Subject: Fwd: Lunch?\r\n\r\n'],
    ['HEADER.FIELDS (X-NONE)', '\r\n'],
    [
      '2.HEADER.FIELDS.NOT (FROM TO CONTENT-TYPE)',
      'Subject: Lunch?\r\nMessage-ID: <lunch@example.net>\r\n\r\n',
    ],
    ['2.HEADER.FIELDS (TO)', 'To: carol@example.com\r\n\r\n'],
    // Sections that do not exist are empty.
    ['3', ''],
    ['1.HEADER', ''],
    ['1.TEXT', ''],
    ['1.HEADER.FIELDS (FROM)', ''],
    ['2.3', ''],
    ['2.1.1', ''],
    ['9.9.9.MIME', ''],
  ];
  for (const [spec, want] of table) {
    test(`BODY[${spec}]`, () => assert.equal(body(raw, spec), want));
  }
});

describe('sectionBytes on other shapes', () => {
  test('three levels deep', () => {
    const raw = load('nested-3-deep.eml');
    assert.equal(body(raw, '1.1'), 'plain version');
    assert.equal(body(raw, '1.2.1'), '<p>html version</p>');
    assert.equal(body(raw, '1.2.2'), 'R0lGODlhAQABAAAAACw=');
    assert.equal(
      body(raw, '1.2.2.MIME'),
      'Content-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <pixel>\r\n\r\n',
    );
    assert.equal(body(raw, '2'), 'AAECAwQFBgcICQ==');
    assert.equal(body(raw, '1.3'), '');
  });

  test('non-multipart message: part 1 is the body', () => {
    const raw = load('latin1-qp.eml');
    const p = parseMessage(raw);
    assert.equal(body(raw, '1'), raw.subarray(p.root.bodyStart).toString('utf8'));
    assert.equal(body(raw, 'TEXT'), body(raw, '1'));
    assert.equal(body(raw, '2'), '');
  });

  test('message/rfc822 parts of a digest: HEADER and TEXT of each', () => {
    const raw = load('digest.eml');
    assert.match(body(raw, '1.HEADER'), /^From: a@example.org\r\nSubject: first\r\n\r\n$/);
    assert.equal(body(raw, '2.HEADER.FIELDS (SUBJECT)'), 'Subject: second\r\n\r\n');
  });

  test('folded fields are returned whole; LF-only messages keep LF', () => {
    const raw = Buffer.from('Subject: a\r\n  folded\r\nX-A: 1\r\nTo: b@c\r\n\r\nbody');
    assert.equal(
      body(raw, 'HEADER.FIELDS (SUBJECT TO)'),
      'Subject: a\r\n  folded\r\nTo: b@c\r\n\r\n',
    );
    const lf = load('lf-only.eml');
    assert.equal(body(lf, 'HEADER.FIELDS (SUBJECT)'), 'Subject: written with LF only\n\n');
  });

  test('a header block without a blank line (headers-only message)', () => {
    const raw = load('headers-only.eml');
    assert.equal(body(raw, 'HEADER.FIELDS (SUBJECT)'), 'Subject: no body at all\r\n\r\n');
    assert.equal(body(raw, 'TEXT'), '');
  });
});

describe('applyPartial', () => {
  const buf = Buffer.from('0123456789');
  const table: [number, number, string][] = [
    [0, 5, '01234'],
    [5, 5, '56789'],
    [8, 5, '89'],
    [9, 1, '9'],
    [10, 1, ''],
    [20, 100, ''],
    [0, 4294967295, '0123456789'],
  ];
  for (const [offset, length, want] of table) {
    test(`<${offset}.${length}>`, () =>
      assert.equal(applyPartial(buf, { offset, length }).toString(), want));
  }
  test('no partial returns the buffer', () => assert.equal(applyPartial(buf, null), buf));
});

describe('BINARY', () => {
  test('base64 decoded, with NUL bytes', () => {
    const raw = load('nested-3-deep.eml');
    const root = parseMessage(raw).root;
    assert.deepEqual(binaryBytes(raw, root, [2]), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    assert.equal(binarySize(raw, root, [2]), 10);
    assert.equal(binarySize(raw, root, [1, 2, 2]), 14);
    // Composite parts are returned as they are.
    assert.equal((binaryBytes(raw, root, [1]) as Buffer).toString(), body(raw, '1'));
  });

  test('quoted-printable decoded', () => {
    const raw = load('latin1-qp.eml');
    const data = binaryBytes(raw, parseMessage(raw).root, [1]);
    assert.ok(Buffer.isBuffer(data));
    assert.ok(data.toString('latin1').includes('Grüße'));
    assert.ok(!data.includes('=FC'));
  });

  test('7bit returned as is; missing part empty; [] the whole message', () => {
    const raw = load('forward-rfc822.eml');
    const root = parseMessage(raw).root;
    assert.equal((binaryBytes(raw, root, [1]) as Buffer).toString(), 'See below.');
    assert.equal((binaryBytes(raw, root, [7]) as Buffer).length, 0);
    assert.equal(binaryBytes(raw, root, []), raw);
  });

  test('unknown Content-Transfer-Encoding is an UNKNOWN-CTE value, not a throw', () => {
    const raw = Buffer.from(
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n' +
        'Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n--b--\r\n',
    );
    const root = parseMessage(raw).root;
    const r = binaryBytes(raw, root, [1]);
    assert.ok(r instanceof SectionError);
    assert.equal(r.code, 'UNKNOWN-CTE');
    assert.ok(binarySize(raw, root, [1]) instanceof SectionError);
  });
});
