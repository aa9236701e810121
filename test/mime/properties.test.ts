// Property tests: the parser never throws, terminates, and keeps every offset inside its parent.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseAddressList } from '../../src/mime/address.js';
import { decodeEncodedWords } from '../../src/mime/encoded-words.js';
import { parseHeaders } from '../../src/mime/headers.js';
import { parseParamValue } from '../../src/mime/params.js';
import { findPart } from '../../src/mime/sections.js';
import { decodeTransfer, parseMessage } from '../../src/mime/structure.js';
import type { ParsedMessage, PartNode } from '../../src/mime/types.js';

function checkNode(node: PartNode, lo: number, hi: number): void {
  assert.ok(lo <= node.headerStart, 'headerStart within parent');
  assert.ok(node.headerStart <= node.headerEnd);
  assert.equal(node.headerEnd, node.bodyStart);
  assert.ok(node.bodyStart <= node.bodyEnd);
  assert.ok(node.bodyEnd <= hi, 'bodyEnd within parent');
  assert.equal(node.size, node.bodyEnd - node.bodyStart);
  let prev = node.bodyStart;
  for (const c of node.children) {
    assert.ok(c.headerStart >= prev, 'children in order, not overlapping');
    checkNode(c, node.bodyStart, node.bodyEnd);
    prev = c.bodyEnd;
  }
  if (node.message) checkNode(node.message.root, node.bodyStart, node.bodyEnd);
}

function checkParsed(raw: Buffer, p: ParsedMessage): void {
  assert.equal(p.size, raw.length);
  assert.equal(p.root.headerStart, 0);
  assert.equal(p.root.bodyEnd, raw.length);
  checkNode(p.root, 0, raw.length);
  assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
}

const dir = new URL('../fixtures/mime/', import.meta.url);
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.eml'))
  .map((f) => readFileSync(new URL(f, dir)));

// Splices that keep MIME-ish bytes around: delete, insert random or MIME-looking bytes, duplicate.
const token = fc.constantFrom(
  '\r\n',
  '\n',
  '--',
  '\r\n\r\n',
  ':',
  ';',
  '"',
  '=?',
  '?=',
  'boundary=',
  '--b',
  '\t',
  '=',
);
const splice = fc.record({
  at: fc.nat(),
  del: fc.nat({ max: 40 }),
  ins: fc.oneof(
    fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
    token.map((t) => Buffer.from(t)),
  ),
});

function mutate(base: Buffer, edits: { at: number; del: number; ins: Buffer }[]): Buffer {
  let b = base;
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % (b.length + 1);
    b = Buffer.concat([b.subarray(0, at), e.ins, b.subarray(Math.min(b.length, at + e.del))]);
  }
  return b;
}

describe('parseMessage properties', () => {
  test('never throws on arbitrary bytes; offsets nest', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (a) => {
        const raw = Buffer.from(a);
        checkParsed(raw, parseMessage(raw));
      }),
      { numRuns: 300 },
    );
  });

  test('never throws on mutated fixtures; offsets nest', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: fixtures.length - 1 }),
        fc.array(splice, { minLength: 1, maxLength: 8 }),
        (i, edits) => {
          const raw = mutate(fixtures[i], edits);
          checkParsed(raw, parseMessage(raw));
        },
      ),
      { numRuns: 500 },
    );
  });

  // Generated MIME trees: what was built is what is parsed back.
  type Tree = { leaf: string } | { kids: Tree[] };
  const leafText = fc
    .stringMatching(/^[a-z .\r\n]{0,40}$/)
    .map((s) => s.replace(/\r(?!\n)|(?<!\r)\n/g, ''));
  const tree: fc.Arbitrary<Tree> = fc.letrec<{ t: Tree }>((tie) => ({
    t: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leafText.map((leaf) => ({ leaf })),
      fc.array(tie('t'), { minLength: 1, maxLength: 4 }).map((kids) => ({ kids })),
    ),
  })).t;

  function build(t: Tree, id: { n: number }): string {
    if ('leaf' in t) return `Content-Type: text/plain\r\n\r\n${t.leaf}`;
    const b = `b${id.n++}_${'x'.repeat(id.n % 3)}`;
    const parts = t.kids.map((k) => `--${b}\r\n${build(k, id)}\r\n`).join('');
    return `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\npreamble\r\n${parts}--${b}--\r\nepilogue`;
  }

  function compare(raw: Buffer, node: PartNode, t: Tree): void {
    if ('leaf' in t) {
      assert.equal(node.type, 'text');
      assert.equal(raw.subarray(node.bodyStart, node.bodyEnd).toString(), t.leaf);
    } else {
      assert.equal(node.type, 'multipart');
      assert.equal(node.children.length, t.kids.length);
      for (const [i, k] of t.kids.entries()) compare(raw, node.children[i], k);
    }
  }

  test('generated trees parse back to the same structure and bodies', () => {
    fc.assert(
      fc.property(tree, (t) => {
        const raw = Buffer.from(build(t, { n: 0 }));
        const p = parseMessage(raw);
        checkParsed(raw, p);
        compare(raw, p.root, t);
        if ('kids' in t)
          assert.equal(findPart(p, [t.kids.length]), p.root.children[t.kids.length - 1]);
      }),
      { numRuns: 200 },
    );
  });
});

describe('decoder properties', () => {
  test('header, parameter, address and word decoders never throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 }), (s, a) => {
        parseHeaders(Buffer.from(a));
        parseParamValue(s);
        parseAddressList(s, { decodeWords: true });
        decodeEncodedWords(s);
        decodeTransfer(Buffer.from(a), 'base64');
        decodeTransfer(Buffer.from(a), 'quoted-printable');
      }),
      { numRuns: 500 },
    );
  });

  test('base64 decoding inverts encoding, with line breaks inserted', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
        const enc = Buffer.from(a)
          .toString('base64')
          .replace(/.{1,76}/g, '$&\r\n');
        assert.deepEqual(decodeTransfer(Buffer.from(enc), 'base64'), Buffer.from(a));
      }),
    );
  });

  test('quoted-printable of escaped bytes inverts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (a) => {
        const enc = [...a].map((b) => `=${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
        const folded = enc.replace(/.{1,72}/g, '$&=\r\n');
        assert.deepEqual(decodeTransfer(Buffer.from(folded), 'quoted-printable'), Buffer.from(a));
      }),
    );
  });
});

describe('large messages', () => {
  // Speed is measured in bench/, not asserted here (DESIGN.md); this checks correctness at size.
  test('a 10 MB base64 attachment is located with exact offsets', (t) => {
    const attachment = Buffer.alloc(7_500_000, 7).toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw = Buffer.from(
      'Subject: big\r\nContent-Type: multipart/mixed; boundary=big\r\n\r\n--big\r\n' +
        'Content-Type: text/plain\r\n\r\nsee attachment\r\n--big\r\n' +
        'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
        `${attachment}\r\n--big--\r\n`,
    );
    assert.ok(raw.length > 10_000_000);
    const start = performance.now();
    const p = parseMessage(raw);
    const ms = performance.now() - start;
    t.diagnostic(`parsed ${raw.length} bytes in ${ms.toFixed(1)} ms`);
    assert.equal(p.root.children.length, 2);
    assert.equal(p.root.children[1].size, attachment.length);
    assert.equal(p.text, 'see attachment');
  });
});
