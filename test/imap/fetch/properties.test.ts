// fast-check: sectionBytes never throws and stays within the message for any section path.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  applyPartial,
  binaryBytes,
  blockFieldsEnd,
  blockSectionBytes,
  type HeaderSectionText,
  headerFields,
  messageSectionBytes,
  sectionBytes,
} from '../../../src/imap/fetch/sections.js';
import type { Section, SectionText } from '../../../src/imap/wire/fetch-items.js';
import { headerBounds } from '../../../src/mime/header-scan.js';
import { parseHeaders } from '../../../src/mime/headers.js';
import { parseMessage } from '../../../src/mime/index.js';
import { HeaderCache } from '../../../src/store/header-cache.js';

const dir = new URL('../../fixtures/mime/', import.meta.url);
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.eml'))
  .map((f) => {
    const raw = readFileSync(new URL(f, dir));
    return { raw, root: parseMessage(raw).root };
  });

const sectionText: fc.Arbitrary<SectionText | null> = fc.oneof(
  fc.constant(null),
  fc.constantFrom<SectionText>({ kind: 'HEADER' }, { kind: 'TEXT' }, { kind: 'MIME' }),
  fc.record({
    kind: fc.constant('HEADER.FIELDS' as const),
    not: fc.boolean(),
    fields: fc.array(fc.constantFrom('From', 'SUBJECT', 'to', 'Content-Type', 'X-Nope'), {
      minLength: 1,
    }),
  }),
);
const section: fc.Arbitrary<Section> = fc.record({
  part: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 5 }),
  text: sectionText,
});

/** Whether b is a view into a's memory. */
const within = (a: Buffer, b: Buffer) =>
  b.length === 0 ||
  (b.buffer === a.buffer &&
    b.byteOffset >= a.byteOffset &&
    b.byteOffset + b.length <= a.byteOffset + a.length);

test('sectionBytes returns a slice of the message (HEADER.FIELDS: lines of its header)', () => {
  fc.assert(
    fc.property(fc.constantFrom(...fixtures), section, (m, s) => {
      const out = sectionBytes(m.raw, m.root, s);
      if (s.text?.kind === 'HEADER.FIELDS') {
        // Chosen field lines plus one blank line (and a line break for a last line that
        // had none): never more than the whole header block and two CRLFs.
        assert.ok(out.length <= m.raw.length + 4);
        if (s.part.length === 0) assert.ok(out.length <= m.root.headerEnd + 4);
      } else {
        assert.ok(within(m.raw, out));
      }
    }),
    { numRuns: 2000 },
  );
});

test('sectionBytes and binaryBytes never throw on random bytes parsed as a message', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), section, (bytes, s) => {
      const raw = Buffer.from(bytes);
      const root = parseMessage(raw).root;
      assert.ok(Buffer.isBuffer(sectionBytes(raw, root, s)));
      binaryBytes(raw, root, s.part);
    }),
    { numRuns: 1000 },
  );
});

test('applyPartial is a sub-slice no longer than asked', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 64 }),
      fc.nat(100),
      fc.integer({ min: 1, max: 100 }),
      (bytes, offset, length) => {
        const buf = Buffer.from(bytes);
        const out = applyPartial(buf, { offset, length });
        assert.ok(out.length <= length && within(buf, out));
        assert.deepEqual(out, buf.subarray(offset, offset + length));
      },
    ),
  );
});

/** Bytes made of what headers are made of, damaged ones included. */
const headerish = fc
  .array(
    fc.constantFrom(
      'From',
      'subject',
      'X-A b',
      ':',
      ' ',
      '\t',
      '\r\n',
      '\n',
      '\r',
      'a',
      '\xa0',
      '\x0b',
      'From: x\r\n',
      '\r\n\r\n',
    ),
    { maxLength: 40 },
  )
  .map((parts) => Buffer.from(parts.join(''), 'latin1'));

/** headerFields as it was, over parseHeaders: the reference for the scan without values. */
function headerFieldsByParse(block: Buffer, names: string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const out: Buffer[] = [];
  let crlf = true;
  for (const f of parseHeaders(block)) {
    const start = f.raw.byteOffset - block.byteOffset;
    let end = start + f.raw.length;
    if (block[end] === 0x0d && block[end + 1] === 0x0a) end += 2;
    else if (block[end] === 0x0a) {
      end += 1;
      crlf = false;
    }
    if (wanted.has(f.lname) !== not) {
      out.push(block.subarray(start, end));
      if (end === start + f.raw.length) out.push(Buffer.from('\r\n'));
    }
  }
  out.push(Buffer.from(crlf ? '\r\n' : '\n'));
  return Buffer.concat(out);
}

test('the message’s own sections found by scanning equal those from the stored offsets', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        headerish,
        fc.constantFrom(...fixtures.map((f) => f.raw)),
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      ),
      (raw) => {
        const root = parseMessage(raw).root;
        const at = (a: number, b: number) => raw.subarray(a, b);
        assert.deepEqual(messageSectionBytes(raw, null), raw);
        assert.deepEqual(
          messageSectionBytes(raw, { kind: 'HEADER' }),
          at(root.headerStart, root.headerEnd),
        );
        assert.deepEqual(
          messageSectionBytes(raw, { kind: 'TEXT' }),
          at(root.bodyStart, root.bodyEnd),
        );
        assert.equal(messageSectionBytes(raw, { kind: 'MIME' }).length, 0);
      },
    ),
    { numRuns: 2000 },
  );
});

test('headerFields picks the fields parseHeaders finds, byte for byte', () => {
  fc.assert(
    fc.property(
      headerish,
      fc.array(fc.constantFrom('From', 'SUBJECT', 'x-a b', 'a', 'X-Nope'), { minLength: 1 }),
      fc.boolean(),
      (block, names, not) => {
        assert.deepEqual(headerFields(block, names, not), headerFieldsByParse(block, names, not));
      },
    ),
    { numRuns: 3000 },
  );
});

/** Messages with a header of sorts: made of header-like lines, the fixtures, any bytes. */
const headerMessage = fc.oneof(
  headerish,
  fc.tuple(headerish, headerish).map(([a, b]) => Buffer.concat([a, b])),
  fc.constantFrom(...fixtures.map((f) => f.raw)),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
);

/** HEADER, or HEADER.FIELDS[.NOT] of some of these names. */
function headerSectionText(names: string[]): fc.Arbitrary<HeaderSectionText> {
  return fc.oneof(
    fc.constant<HeaderSectionText>({ kind: 'HEADER' }),
    fc.record({
      kind: fc.constant('HEADER.FIELDS' as const),
      not: fc.boolean(),
      fields: fc.array(fc.constantFrom(...names), { minLength: 1 }),
    }),
  );
}

test('the header block a store keeps (HeaderCache) gives the same header sections as the whole message', () => {
  const text = headerSectionText(['From', 'SUBJECT', 'x-a b', 'a', 'X-Nope']);
  fc.assert(
    fc.property(headerMessage, text, (raw, t) => {
      const block = new HeaderCache(1 << 20).put('h', raw);
      assert.deepEqual(messageSectionBytes(block, t), messageSectionBytes(raw, t));
    }),
    { numRuns: 3000 },
  );
});

test('blockSectionBytes: a kept header block gives the message its header sections, asked in any order and again', () => {
  // A quoted name may hold a space: ["a b"] must not be taken for ["a", "b"].
  const text = headerSectionText(['From', 'SUBJECT', 'x-a b', 'a', 'b', 'a b', 'X-Nope']);
  fc.assert(
    fc.property(
      headerMessage,
      // Each request twice over, with fresh arrays (as each FETCH parses its own): the second
      // of a pair is answered from what the first kept with the block.
      fc.array(text, { minLength: 1, maxLength: 6 }),
      (raw, texts) => {
        const block = new HeaderCache(1 << 20).put('h', raw);
        assert.equal(blockFieldsEnd(block), headerBounds(block).fieldsEnd);
        for (const t of texts.flatMap((t) => [t, structuredClone(t)])) {
          assert.deepEqual(blockSectionBytes(block, t), messageSectionBytes(raw, t));
        }
      },
    ),
    { numRuns: 3000 },
  );
});

test('blockSectionBytes: what a block kept for one set of names is not given for another', () => {
  const raw = Buffer.from('A: 1\r\nB: 2\r\nC: 3\r\n\r\nbody');
  const block = new HeaderCache(1 << 20).put('h', raw);
  const fields = (names: string[], not = false) =>
    blockSectionBytes(block, { kind: 'HEADER.FIELDS', not, fields: names }).toString();
  assert.equal(fields(['a b']), '\r\n');
  assert.equal(fields(['a', 'b']), 'A: 1\r\nB: 2\r\n\r\n');
  assert.equal(fields(['B', 'a']), 'A: 1\r\nB: 2\r\n\r\n');
  assert.equal(fields(['a', 'b'], true), 'C: 3\r\n\r\n');
  assert.equal(fields(['c']), 'C: 3\r\n\r\n');
  assert.equal(
    blockSectionBytes(block, { kind: 'HEADER' }).toString(),
    'A: 1\r\nB: 2\r\nC: 3\r\n\r\n',
  );
});
