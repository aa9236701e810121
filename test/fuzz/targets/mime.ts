// MIME fuzz targets: whole messages (structure, envelope, search fields, text extraction, and
// the FETCH values built from them) and the header-value parsers one by one.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hasField, stripForgedAuthResults } from '../../../src/delivery/headers.js';
import { authInput } from '../../../src/delivery/inbound-auth.js';
import { indexMessage } from '../../../src/delivery/local.js';
import { bodyStructureValue } from '../../../src/imap/fetch/bodystructure.js';
import { envelopeValue } from '../../../src/imap/fetch/envelope.js';
import { binaryBytes, headerFields, SectionError } from '../../../src/imap/fetch/sections.js';
import { baseSubject } from '../../../src/imap/search/sort.js';
import { serialize } from '../../../src/imap/wire/serializer.js';
import { parseAddressList } from '../../../src/mime/address.js';
import { decodeCharset } from '../../../src/mime/charset.js';
import { parseDate } from '../../../src/mime/date.js';
import { decodeEncodedWords } from '../../../src/mime/encoded-words.js';
import { parseHeaders } from '../../../src/mime/headers.js';
import { htmlToText } from '../../../src/mime/html.js';
import { parseParamValue } from '../../../src/mime/params.js';
import { parseMessage } from '../../../src/mime/structure.js';
import { decodeTransfer } from '../../../src/mime/transfer.js';
import type { ParsedMessage, PartNode } from '../../../src/mime/types.js';
import { type AnyTarget, erase, type FuzzTarget, Steps } from '../lib/harness.js';
import { addressList, dateValue, MIME_WORDS, message, paramValue } from '../lib/mime-gen.js';
import { anyInput, type Sample } from '../lib/mutate.js';

function checkNode(node: PartNode, lo: number, hi: number): void {
  assert.ok(lo <= node.headerStart && node.headerStart <= node.headerEnd, 'header within parent');
  assert.equal(node.headerEnd, node.bodyStart);
  assert.ok(node.bodyStart <= node.bodyEnd && node.bodyEnd <= hi, 'body within parent');
  assert.equal(node.size, node.bodyEnd - node.bodyStart);
  let prev = node.bodyStart;
  for (const c of node.children) {
    assert.ok(c.headerStart >= prev, 'children in order, not overlapping');
    checkNode(c, node.bodyStart, node.bodyEnd);
    prev = c.bodyEnd;
  }
  if (node.message) checkNode(node.message.root, node.bodyStart, node.bodyEnd);
}

/** Part paths (IMAP section numbers) of the tree, at most `max`. */
function partPaths(root: PartNode, max: number): number[][] {
  const out: number[][] = [];
  const walk = (node: PartNode, path: number[]) => {
    if (out.length >= max) return;
    out.push(path);
    const kids = node.message ? [node.message.root] : node.children;
    kids.forEach((k, i) => {
      walk(k, [...path, i + 1]);
    });
  };
  walk(root, []);
  return out;
}

const messages = anyInput(message, MIME_WORDS, { maxBytes: 128 * 1024, maxRandom: 4096 });

/**
 * A message as delivery and FETCH see it: parseMessage never throws, offsets nest, the result
 * is plain JSON, and BODYSTRUCTURE, ENVELOPE, BINARY and HEADER.FIELDS are built from it
 * without a throw.
 */
export const mimeMessage: FuzzTarget<Sample> = {
  name: 'mime messages',
  runs: 1000,
  arb: messages,
  run(s, steps) {
    const raw = s.bytes;
    const p: ParsedMessage = steps.time(() => parseMessage(raw), 'parseMessage');
    assert.equal(p.size, raw.length);
    assert.equal(p.root.headerStart, 0);
    assert.equal(p.root.bodyEnd, raw.length);
    checkNode(p.root, 0, raw.length);
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p, 'plain JSON');
    if (p.search.date !== null) assert.ok(Number.isFinite(p.search.date));
    // FETCH of what the parse found, untimed here (next target): must not throw.
    fetchItems(raw, p, new Steps());
  },
};

/** The FETCH items built from a parsed message, one step each. */
function fetchItems(raw: Buffer, p: ParsedMessage, steps: Steps): void {
  steps.time(() => serialize(bodyStructureValue(p.root, true)), 'BODYSTRUCTURE');
  steps.time(() => serialize(bodyStructureValue(p.root, false, { utf8: true })), 'BODY');
  steps.time(() => serialize(envelopeValue(p.envelope)), 'ENVELOPE');
  const header = raw.subarray(p.root.headerStart, p.root.headerEnd);
  steps.time(() => headerFields(header, ['From', 'subject'], false), 'HEADER.FIELDS');
  for (const path of partPaths(p.root, 20)) {
    steps.time(() => {
      const b = binaryBytes(raw, p.root, path);
      if (!(b instanceof SectionError)) assert.ok(Buffer.isBuffer(b));
    }, 'BINARY');
  }
}

/** FETCH BODYSTRUCTURE, BODY, ENVELOPE, HEADER.FIELDS, BINARY of any message: each a step. */
export const imapFetchValues: FuzzTarget<Sample> = {
  name: 'imap FETCH items of any message',
  runs: 600,
  arb: messages,
  run(s, steps) {
    fetchItems(s.bytes, parseMessage(s.bytes), steps);
  },
};

const headerValue = fc
  .oneof(addressList, dateValue, paramValue)
  .map((v) => Buffer.from(v, 'latin1'));
const LABELS = [
  'utf-8',
  'iso-2022-jp',
  'shift_jis',
  'utf-16be',
  'gb18030',
  'koi8-r',
  'replacement',
  'x-nope',
  'windows-1252',
  'big5',
];

/** The header-value parsers, each one a step, on any text. */
export const mimeValues: FuzzTarget<{ s: Sample; label: number }> = {
  name: 'mime header values',
  runs: 1200,
  arb: fc.record({
    s: anyInput(headerValue, MIME_WORDS, { maxBytes: 64 * 1024 }),
    label: fc.nat(LABELS.length - 1),
  }),
  run({ s, label }, steps) {
    const bytes = s.bytes;
    const v = bytes.toString('latin1');
    const u = bytes.toString('utf8');
    for (const text of [v, u]) {
      for (const decodeWords of [false, true]) {
        const list = steps.time(() => parseAddressList(text, { decodeWords }), 'parseAddressList');
        for (const a of list) {
          assert.ok(a.host !== null || a.name === null, 'group markers have no name');
        }
      }
      steps.time(() => decodeEncodedWords(text), 'decodeEncodedWords');
      const pv = steps.time(() => parseParamValue(text), 'parseParamValue');
      assert.equal(
        Object.getPrototypeOf(pv.params),
        Object.prototype,
        'params keep their prototype',
      );
      for (const x of Object.values(pv.params)) assert.equal(typeof x, 'string');
      const d = steps.time(() => parseDate(text), 'parseDate');
      if (d !== null) assert.ok(Number.isFinite(d));
      steps.time(() => htmlToText(text), 'htmlToText');
    }
    steps.time(() => parseHeaders(bytes), 'parseHeaders');
    steps.time(() => decodeCharset(bytes, LABELS[label]), 'decodeCharset');
    steps.time(() => decodeTransfer(bytes, 'base64'), 'base64');
    steps.time(() => decodeTransfer(bytes, 'quoted-printable'), 'quoted-printable');
  },
};

/**
 * Delivery's work on the bytes of an incoming message: the index the store keeps, the
 * Authentication-Results fields dropped (RFC 8601 §5), the header-only input for mailauth.
 */
export const deliveryHeaders: FuzzTarget<Sample> = {
  name: 'delivery header surgery',
  runs: 600,
  arb: anyInput(
    fc
      .tuple(fc.constantFrom('spf=pass (x)', 'dkim=fail (', 'none'), message)
      .map(([r, m]) =>
        Buffer.concat([Buffer.from(`Authentication-Results: mx.example.org; ${r}\r\n`), m]),
      ),
    [
      'Authentication-Results: ',
      'mx.example.org',
      'DKIM-Signature: ',
      '(',
      ')',
      ';',
      ...MIME_WORDS,
    ],
    { maxBytes: 128 * 1024, maxRandom: 4096 },
  ),
  run(s, steps) {
    steps.time(() => indexMessage(s.bytes), 'indexMessage');
    const out = steps.time(
      () => stripForgedAuthResults(s.bytes, 'mx.example.org'),
      'stripForgedAuthResults',
    );
    assert.ok(out.length <= s.bytes.length);
    steps.time(() => hasField(s.bytes, 'message-id'), 'hasField');
    const a = steps.time(() => authInput(s.bytes), 'authInput');
    assert.ok(a.length <= s.bytes.length);
  },
};

/** RFC 5256 §2.1 base subject (SORT SUBJECT, THREAD) over any decoded subject. */
export const imapBaseSubject: FuzzTarget<Sample> = {
  name: 'imap SORT/THREAD base subject',
  runs: 500,
  arb: anyInput(
    fc
      .constantFrom('Re: [fwd: Re: x] (fwd)', 'Fwd: [list] Re: hello (fwd) (fwd)', '[a][b] re : x')
      .map((s) => Buffer.from(s)),
    ['[fwd:', ']', '(fwd)', 'Re:', 'Fw:', '[', ' ', '\t'],
    { maxBytes: 64 * 1024 },
  ),
  run(s, steps) {
    steps.time(() => baseSubject(s.bytes.toString('latin1')));
  },
};

export const MIME_TARGETS: AnyTarget[] = [
  erase(deliveryHeaders),
  erase(mimeMessage),
  erase(imapFetchValues),
  erase(mimeValues),
  erase(imapBaseSubject),
];
