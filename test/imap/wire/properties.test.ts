// fast-check properties over the whole wire layer: never throw on garbage, round-trip values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseListArgs, parseStatusArgs, parseStoreArgs } from '../../../src/imap/wire/args.js';
import { parseFetchArgs } from '../../../src/imap/wire/fetch-items.js';
import {
  type ArgCursor,
  argsFrom,
  ImapParseError,
  parseCommand,
  tryParse,
} from '../../../src/imap/wire/parser.js';
import { CommandReceiver, type ReceiverEvent } from '../../../src/imap/wire/receiver.js';
import { parseSearchArgs } from '../../../src/imap/wire/search-keys.js';
import {
  astring,
  dateTimeToString,
  sequenceSetToString,
} from '../../../src/imap/wire/serializer.js';

const OPTS = { maxLineLength: 200, maxLiteralSize: 64, literalPlus: false };
const FAMILY: ((c: ArgCursor) => unknown)[] = [
  parseFetchArgs,
  parseSearchArgs,
  parseStoreArgs,
  parseListArgs,
  parseStatusArgs,
  (c) => [c.space(), c.mailbox(), c.space(), c.flagList(), c.space(), c.dateTime(), c.end()],
];

const TOKENS = [
  'a',
  'A1',
  ' ',
  '  ',
  'FETCH',
  'UID',
  'SEARCH',
  'STORE',
  'LIST',
  'STATUS',
  'NOT',
  'OR',
  '(',
  ')',
  '[',
  ']',
  '<',
  '>',
  '.',
  '{3}',
  '{2+}',
  '{0}',
  '~{1+}',
  '{70+}',
  '{99999999999999999999}',
  '\r\n',
  '\n',
  '\r',
  '"',
  '\\',
  '1:*',
  '$',
  '*',
  '%',
  'BODY',
  'BODY.PEEK',
  'HEADER.FIELDS',
  'MIME',
  'FLAGS',
  '+FLAGS.SILENT',
  '\\Seen',
  'RETURN',
  'CHARSET',
  'MODSEQ',
  '1-Feb-1994',
  'INBOX',
  '\x00',
  '\xff',
  'NIL',
  '&Jjo-',
  'x'.repeat(150),
];

const garbage = fc
  .array(
    fc.oneof(
      fc.constantFrom(...TOKENS).map((s) => Buffer.from(s, 'latin1')),
      fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)),
    ),
    { maxLength: 40 },
  )
  .map((parts) => Buffer.concat(parts));

/** Feeds `input` in chunks cut at `cuts`, answering nothing, and returns every event. */
function receive(input: Buffer, cuts: number[]): ReceiverEvent[] {
  const rx = new CommandReceiver(OPTS);
  const events: ReceiverEvent[] = [];
  let start = 0;
  for (const cut of [
    ...cuts.map((c) => c % (input.length + 1)).sort((x, y) => x - y),
    input.length,
  ]) {
    events.push(...rx.push(input.subarray(start, Math.max(start, cut))));
    start = Math.max(start, cut);
  }
  return events;
}

describe('properties', () => {
  test('receiver and parsers never throw on arbitrary bytes, and chunking does not matter', () => {
    fc.assert(
      fc.property(garbage, fc.array(fc.nat(), { maxLength: 6 }), (input, cuts) => {
        const whole = receive(input, []);
        assert.deepEqual(receive(input, cuts), whole);
        for (const ev of whole) {
          if (ev.kind !== 'command') continue;
          const first = parseCommand(ev.command);
          if (first instanceof ImapParseError) continue;
          for (const family of FAMILY) {
            const p = parseCommand(ev.command);
            assert.ok(!(p instanceof ImapParseError));
            const r = tryParse(() => family(p.args));
            if (r instanceof ImapParseError) assert.match(r.message, /^[\x20-\x7e]{1,200}$/);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('astring(bytes) read back with astring() gives the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.boolean(), (arr, utf8) => {
        const bytes = Buffer.from(arr);
        const wire = Buffer.concat([
          Buffer.from('t X '),
          astring(bytes, { utf8 }),
          Buffer.from('\r\n'),
        ]);
        const rx = new CommandReceiver({ ...OPTS, maxLiteralSize: 1000 });
        const events = rx.push(wire).filter((e) => e.kind !== 'continue');
        assert.equal(events.length, 1);
        const ev = events[0];
        assert.ok(ev.kind === 'command');
        const p = parseCommand(ev.command);
        assert.ok(!(p instanceof ImapParseError));
        const back = tryParse(() => {
          p.args.space();
          const v = p.args.astring();
          p.args.end();
          return v;
        });
        assert.deepEqual(back, bytes);
      }),
      { numRuns: 2000 },
    );
  });

  test('sequence sets round-trip through text', () => {
    const seq = fc.oneof(fc.integer({ min: 1, max: 4294967295 }), fc.constant('*' as const));
    fc.assert(
      fc.property(fc.array(fc.tuple(seq, seq), { minLength: 1, maxLength: 8 }), (pairs) => {
        const text = pairs.map(([a, b]) => `${a}:${b}`).join(',');
        const set = tryParse(() => argsFrom(text).sequenceSet());
        assert.ok(!(set instanceof ImapParseError));
        const again = tryParse(() => argsFrom(sequenceSetToString(set)).sequenceSet());
        assert.deepEqual(again, set);
      }),
    );
  });

  test('date-time round-trips to the second in any zone', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0000-01-02'), max: new Date('9999-12-31'), noInvalidDate: true }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        (date, offset) => {
          const text = dateTimeToString(date, offset);
          const back = tryParse(() => argsFrom(text).dateTime());
          assert.ok(back instanceof Date, text);
          assert.equal(back.getTime(), Math.floor(date.getTime() / 1000) * 1000);
        },
      ),
    );
  });
});
