// serialize() gathers text and keeps bytes apart (serializer.ts, Pieces): for any value tree,
// the bytes are those of writing each token on its own with the primitive functions (string,
// astring, literal, literal8), as serialize did before, with and without UTF8=ACCEPT; and
// serializeLine is the prefix, the value and CRLF, and serializeLineParts the same in pieces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  astring,
  type ImapValue,
  literal,
  literal8,
  serialize,
  serializeLine,
  serializeLineParts,
  string,
  v,
  type WriteOptions,
} from '../../../src/imap/wire/serializer.js';

/** One Buffer per token, concatenated: the reading of the format this is checked against. */
function reference(value: ImapValue, opts: WriteOptions): Buffer {
  const out: Buffer[] = [];
  const write = (x: ImapValue): void => {
    switch (x.type) {
      case 'atom':
        out.push(Buffer.from(x.value, 'latin1'));
        return;
      case 'string':
        out.push(string(x.value, opts));
        return;
      case 'astring':
        out.push(astring(x.value, opts));
        return;
      case 'literal':
        out.push(x.binary ? literal8(x.value) : literal(x.value));
        return;
      case 'number':
        out.push(Buffer.from(String(x.value)));
        return;
      case 'list':
        out.push(Buffer.from('('));
        x.items.forEach((item, i) => {
          if (i > 0) out.push(Buffer.from(' '));
          write(item);
        });
        out.push(Buffer.from(')'));
        return;
      case 'nil':
        out.push(Buffer.from('NIL'));
        return;
      case 'raw':
        out.push(typeof x.value === 'string' ? Buffer.from(x.value, 'utf8') : x.value);
        return;
    }
  };
  write(value);
  return Buffer.concat(out);
}

// Text and bytes with the characters that decide the form: quoted-specials, CR, LF, NUL,
// 8-bit (valid UTF-8 or not), characters above U+00FF.
const text = fc
  .array(
    fc.constantFrom(
      'a',
      'Z',
      '0',
      ' ',
      '"',
      '\\',
      '\r',
      '\n',
      '\0',
      '\t',
      'é',
      '日',
      '(',
      ']',
      '~',
    ),
    {
      maxLength: 12,
    },
  )
  .map((cs) => cs.join(''));
const bytes = fc.oneof(
  text,
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)),
  text.map((t) => Buffer.from(t, 'utf8')),
);
const atom = fc.constantFrom('UID', 'FLAGS', '\\Seen', '\\*', '$Label1', 'BODY', 'k\u0101');
const value: fc.Arbitrary<ImapValue> = fc.letrec<{ value: ImapValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    atom.map((a) => v.atom(a)),
    bytes.map((b) => v.str(b)),
    bytes.map((b) => v.astr(b)),
    fc.tuple(bytes, fc.boolean()).map(([b, bin]) => v.literal(b, bin)),
    fc.nat().map((n) => v.num(n)),
    fc.constant(v.nil),
    bytes.map((b) => v.raw(b)),
    fc.array(tie('value'), { maxLength: 5 }).map((items) => v.list(items)),
  ),
})).value;

test('serialize gives the bytes of writing each token on its own', () => {
  fc.assert(
    fc.property(value, fc.boolean(), (x, utf8) => {
      const opts = { utf8 };
      let want: Buffer;
      try {
        want = reference(x, opts);
      } catch {
        return; // bytes the primitives refuse (none here); serialize is not asked
      }
      assert.deepEqual(serialize(x, opts), want);
      const line = Buffer.concat([Buffer.from('* 7 FETCH '), want, Buffer.from('\r\n')]);
      assert.deepEqual(serializeLine('* 7 FETCH ', x, opts), line);
      // The same bytes in pieces: strings ASCII only (a session counts and copies them as
      // UTF-8), the rest Buffers, no two strings in a row.
      const parts = serializeLineParts('* 7 FETCH ', x, opts);
      parts.forEach((p, i) => {
        if (typeof p !== 'string') return;
        assert.match(p, /^[\x00-\x7f]+$/);
        assert.notEqual(typeof parts[i + 1], 'string');
      });
      assert.deepEqual(
        Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))),
        line,
      );
    }),
    { numRuns: 3000 },
  );
});

test('a FETCH line of UID, FLAGS and a header section', () => {
  const header = Buffer.from('Subject: caf\u00e9\r\n\r\n');
  const line = serializeLine(
    '* 1 FETCH ',
    v.list([
      v.atom('UID'),
      v.num(4),
      v.atom('FLAGS'),
      v.list([v.atom('\\Seen')]),
      v.raw('BODY[HEADER.FIELDS (SUBJECT)]'),
      v.str(header),
    ]),
  );
  assert.equal(
    line.toString('latin1'),
    `* 1 FETCH (UID 4 FLAGS (\\Seen) BODY[HEADER.FIELDS (SUBJECT)] {${header.length}}\r\n${header.toString('latin1')})\r\n`,
  );
});
