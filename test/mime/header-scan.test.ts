// The one header scanner (src/mime/header-scan.ts) against the four it replaced: the MIME
// parser's header end, delivery's CRLF-only header end and field spans, and the field splitter
// of parseHeaders, kept here as references and compared on random header-like bytes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  fieldNameIs,
  forEachField,
  hasHeaderField,
  headerBounds,
} from '../../src/mime/header-scan.js';
import { parseHeaders } from '../../src/mime/headers.js';

const b = (s: string) => Buffer.from(s, 'latin1');

// --- References: the code this scanner replaced, as it was ---------------------------------

/**
 * The tolerant end, line by line: the first line that is empty (LF, or CR LF) ends the
 * header. mime/structure.ts had two searches that agreed with this except on "\n\r\n\n" (it
 * took the later LF-only empty line), and on an empty range (it answered past its end).
 */
function refMimeEnd(raw: Buffer, start: number, end: number): [number, number] {
  let pos = start;
  for (;;) {
    const nl = raw.indexOf(0x0a, pos);
    if (nl < 0 || nl >= end) return [end, end];
    if (nl === pos) return [pos, pos + 1];
    if (nl === pos + 1 && raw[pos] === 0x0d) return [pos, pos + 2];
    pos = nl + 1;
  }
}

/** delivery/headers.ts headerEnd. */
function refDeliveryEnd(raw: Buffer): number {
  if (raw.subarray(0, 2).equals(Buffer.from('\r\n'))) return 2;
  const i = raw.indexOf('\r\n\r\n');
  return i < 0 ? raw.length : i + 4;
}

/** delivery/headers.ts fieldSpans (name trimmed and lower-cased, '' without a colon). */
function refFieldSpans(raw: Buffer): Array<{ name: string; start: number; end: number }> {
  const end = refDeliveryEnd(raw);
  const spans: Array<{ name: string; start: number; end: number }> = [];
  let pos = 0;
  while (pos < end) {
    let nl = raw.indexOf('\n', pos);
    if (nl < 0 || nl >= end) nl = end - 1;
    const line = raw.subarray(pos, nl + 1);
    const first = line[0];
    if ((first === 0x20 || first === 0x09) && spans.length > 0) {
      spans[spans.length - 1]!.end = nl + 1;
    } else {
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.subarray(0, colon).toString('latin1').trim().toLowerCase() : '';
      spans.push({ name, start: pos, end: nl + 1 });
    }
    pos = nl + 1;
  }
  return spans;
}

/** mime/headers.ts parseHeaders, the field splitter (name, raw). */
function refParseHeaders(block: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let fieldStart = -1;
  let fieldEnd = -1;
  let colonAt = -1;
  let nextColon = -1;
  let pos = 0;
  const len = block.length;
  const flush = () => {
    if (fieldStart >= 0) {
      const name = block.toString('latin1', fieldStart, colonAt).trimEnd();
      if (!/\s/.test(name)) out.push([name, block.toString('latin1', fieldStart, fieldEnd)]);
    }
    fieldStart = -1;
  };
  while (pos < len) {
    let nl = block.indexOf(0x0a, pos);
    if (nl < 0) nl = len;
    const lineEnd = nl > pos && block[nl - 1] === 0x0d ? nl - 1 : nl;
    const first = block[pos];
    if (lineEnd === pos) {
      flush();
      break;
    }
    if (first === 0x20 || first === 0x09) {
      if (fieldStart >= 0) fieldEnd = lineEnd;
    } else {
      flush();
      if (nextColon < pos) {
        nextColon = block.indexOf(0x3a, pos);
        if (nextColon < 0) nextColon = len;
      }
      if (nextColon > pos && nextColon < lineEnd) {
        fieldStart = pos;
        fieldEnd = lineEnd;
        colonAt = nextColon;
      }
    }
    pos = nl + 1;
  }
  flush();
  return out;
}

/** Header-like bytes: names, colons, spaces, CR and LF in every combination. */
const headerish = fc
  .array(
    fc.constantFrom(
      'From',
      'to',
      'DKIM-Signature',
      ':',
      ' ',
      '\t',
      'x',
      '\r',
      '\n',
      '\r\n',
      '\r\n\r\n',
      '\n\n',
      '\n\r\n',
      ': v',
      '\r\n ',
    ),
    { maxLength: 40 },
  )
  .map((parts) => b(parts.join('')));

describe('headerBounds', () => {
  test('tolerant: what the MIME parser found, on any range', () => {
    fc.assert(
      fc.property(headerish, fc.nat(8), fc.nat(8), (raw, cutA, cutB) => {
        const start = Math.min(cutA, raw.length);
        const end = Math.max(start, raw.length - cutB);
        // An empty range: the old code could answer past its end (below).
        if (start === end) return;
        const got = headerBounds(raw, start, end);
        assert.deepEqual([got.fieldsEnd, got.bodyStart], refMimeEnd(raw, start, end));
      }),
      { numRuns: 3000, seed: 13 },
    );
  });

  test('CRLF only: where delivery cut the header', () => {
    fc.assert(
      fc.property(headerish, (raw) => {
        assert.equal(headerBounds(raw, 0, raw.length, true).bodyStart, refDeliveryEnd(raw));
      }),
      { numRuns: 3000, seed: 13 },
    );
  });

  test('cases', () => {
    const t = (s: string, crlfOnly = false) => {
      const r = headerBounds(b(s), 0, s.length, crlfOnly);
      return [r.fieldsEnd, r.bodyStart];
    };
    assert.deepEqual(t('A: 1\r\nB: 2\r\n\r\nbody'), [12, 14]);
    assert.deepEqual(t('A: 1\nB: 2\n\nbody'), [10, 11]);
    assert.deepEqual(t('A: 1\r\n'), [6, 6]);
    assert.deepEqual(t('\r\nbody'), [0, 2]);
    assert.deepEqual(t('\nbody'), [0, 1]);
    // A bare LF line, then an empty CRLF line: the header ends there for a tolerant reader.
    assert.deepEqual(t('A: 1\n\r\nB: 2\r\n\r\n'), [5, 7]);
    assert.deepEqual(t('A: 1\n\r\nB: 2\r\n\r\n', true), [13, 15]);
    assert.deepEqual(t('A: 1\n\nB: 2\r\n\r\n', true), [12, 14]);
    assert.deepEqual(t(''), [0, 0]);
    assert.deepEqual(t('From\n\r\n\n\r\n'), [5, 7]);
    // An empty range is an empty header, even before an LF (the MIME parser used to put the
    // body one byte past the end of an empty part: size -1).
    assert.deepEqual(headerBounds(b('x\ny'), 1, 1), { fieldsEnd: 1, bodyStart: 1 });
  });

  test('a CRLF message: the second search reads only the header', () => {
    // 8 MB of CRLF body without an empty LF line: the earlier two-pass search read it all.
    const body = Buffer.alloc(8 << 20, 'a\r\n');
    const raw = Buffer.concat([b('Subject: x\r\n\r\n'), body]);
    assert.deepEqual(headerBounds(raw), { fieldsEnd: 12, bodyStart: 14 });
  });
});

describe('forEachField', () => {
  test('the spans and names delivery read (CRLF-only header)', () => {
    fc.assert(
      fc.property(headerish, (raw) => {
        const { bodyStart } = headerBounds(raw, 0, raw.length, true);
        const got: Array<{ name: string; start: number; end: number }> = [];
        forEachField(raw, 0, bodyStart, (start, colon, _valueEnd, end) => {
          const name =
            colon > start ? raw.toString('latin1', start, colon).trim().toLowerCase() : '';
          got.push({ name, start, end });
        });
        assert.deepEqual(got, refFieldSpans(raw));
      }),
      { numRuns: 3000, seed: 13 },
    );
  });

  test('parseHeaders keeps the fields it found', () => {
    fc.assert(
      fc.property(headerish, (raw) => {
        const got = parseHeaders(raw).map((f) => [f.name, f.raw.toString('latin1')]);
        assert.deepEqual(got, refParseHeaders(raw));
      }),
      { numRuns: 3000, seed: 13 },
    );
  });

  test('stops when the visitor says so', () => {
    const seen: number[] = [];
    forEachField(b('A: 1\r\nB: 2\r\nC: 3\r\n'), 0, 18, (start) => {
      seen.push(start);
      return seen.length === 2;
    });
    assert.deepEqual(seen, [0, 6]);
  });
});

describe('field names', () => {
  test('fieldNameIs: case-insensitive, white space around the name ignored', () => {
    const raw = b('dKiM-SiGnAtUrE : x');
    assert.equal(fieldNameIs(raw, 0, 15, 'dkim-signature'), true);
    assert.equal(fieldNameIs(raw, 0, 15, 'dkim-signatur'), false);
    assert.equal(fieldNameIs(raw, 0, -1, 'dkim-signature'), false);
  });

  test('hasHeaderField: in the header only, folded fields skipped over', () => {
    const raw = b('Subject: a\r\n b\r\nARC-Seal: i=1\r\n\r\nDKIM-Signature: body\r\n');
    assert.equal(hasHeaderField(raw, 'arc-seal'), true);
    assert.equal(hasHeaderField(raw, 'dkim-signature'), false);
    assert.equal(hasHeaderField(raw, 'b'), false);
    assert.equal(hasHeaderField(raw, 'x', 'subject'), true);
  });
});
