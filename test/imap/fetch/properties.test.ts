// fast-check: sectionBytes never throws and stays within the message for any section path.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { applyPartial, binaryBytes, sectionBytes } from '../../../src/imap/fetch/sections.js';
import type { Section, SectionText } from '../../../src/imap/wire/fetch-items.js';
import { parseMessage } from '../../../src/mime/index.js';

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
