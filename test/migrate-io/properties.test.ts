// Property tests of the import parsers: they never throw on any input, an mbox message
// written by the export is read back as the same bytes and flags, and the line-end helpers
// round-trip.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { mboxMessage } from '../../src/migrate-io/export.js';
import { toCrlf, toLf } from '../../src/migrate-io/lines.js';
import {
  parseDovecotKeywords,
  parseMaildirName,
  parseSubscriptions,
  parseUidlist,
} from '../../src/migrate-io/maildir-format.js';
import {
  type MboxMessage,
  MboxSplitter,
  mboxState,
  parseFromLine,
} from '../../src/migrate-io/mbox-format.js';

const text = fc.string({
  maxLength: 200,
  unit: fc.constantFrom(
    'a',
    'F',
    'r',
    'o',
    'm',
    ' ',
    '>',
    ':',
    '2',
    ',',
    '\n',
    '\r',
    '\t',
    'V',
    'S',
    '1',
    'é',
  ),
});

test('parsers never throw on any text', () => {
  fc.assert(
    fc.property(text, (t) => {
      parseMaildirName(t, ['$Junk']);
      parseDovecotKeywords(t);
      parseUidlist(t);
      parseSubscriptions(t);
      parseFromLine(t);
      mboxState(Buffer.from(t));
      const s = new MboxSplitter(
        'mboxrd',
        100,
        () => {},
        () => {},
      );
      s.push(Buffer.from(t));
      s.end();
    }),
    { numRuns: 2000 },
  );
});

test('an exported message is read back whole: bytes (CRLF) and flags', () => {
  const line = fc.string({
    maxLength: 30,
    unit: fc.constantFrom('x', ' ', '>', 'F', 'r', 'o', 'm', 'From ', '.'),
  });
  const flagSet = fc.subarray([
    '\\Seen',
    '\\Answered',
    '\\Flagged',
    '\\Deleted',
    '\\Draft',
    '$Junk',
    'work',
  ]);
  fc.assert(
    fc.property(fc.array(line, { maxLength: 12 }), flagSet, (body, flags) => {
      const raw = Buffer.from(`Subject: s\r\n\r\n${body.map((l) => `${l}\r\n`).join('')}`);
      const date = new Date('2024-05-06T07:08:09Z');
      const out: MboxMessage[] = [];
      const s = new MboxSplitter(
        'mboxrd',
        1 << 20,
        (m) => out.push(m),
        () => assert.fail('junk'),
      );
      const file = Buffer.concat([
        mboxMessage({ flags, internalDate: date }, raw),
        mboxMessage({ flags: [], internalDate: date }, raw),
      ]);
      s.push(file);
      s.end();
      assert.equal(out.length, 2);
      const st = mboxState(out[0]!.raw);
      assert.equal(st.raw.toString(), raw.toString());
      assert.deepEqual([...st.flags].sort(), [...flags].sort());
      assert.equal(out[0]!.from.date.toISOString(), date.toISOString());
    }),
    { numRuns: 500 },
  );
});

test('toCrlf and toLf round-trip text without lone CRs', () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 100, unit: fc.constantFrom('a', '\n', '\r\n', ' ') }),
      (t) => {
        const crlf = toCrlf(Buffer.from(t));
        assert.doesNotMatch(crlf.toString(), /[^\r]\n|^\n/);
        assert.equal(toCrlf(toLf(crlf)).toString(), crlf.toString());
        assert.equal(toLf(crlf).toString(), t.replaceAll('\r\n', '\n'));
      },
    ),
    { numRuns: 500 },
  );
});
