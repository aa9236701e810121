import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CommandReceiver, type ReceiverEvent } from '../../../src/imap/wire/receiver.js';
import { eventsOf, OPTS } from './helpers.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const cmd = (lines: string[], literals: string[] = []): ReceiverEvent => ({
  kind: 'command',
  command: { lines: lines.map(b), literals: literals.map(b) },
});
const CONT: ReceiverEvent = { kind: 'continue', text: 'Ready for literal data' };

const SMALL = { maxLineLength: 40, maxLiteralSize: 10, literalPlus: true };
const MINUS = { maxLineLength: 100, maxLiteralSize: 10000, literalPlus: false };

interface Case {
  name: string;
  input: string;
  opts?: typeof OPTS;
  want: ReceiverEvent[];
}

const CASES: Case[] = [
  { name: 'simple', input: 'a1 NOOP\r\n', want: [cmd(['a1 NOOP'])] },
  {
    name: 'pipelined',
    input: 'a CAPABILITY\r\nb NOOP\r\n',
    want: [cmd(['a CAPABILITY']), cmd(['b NOOP'])],
  },
  { name: 'bare LF', input: 'a NOOP\nb NOOP\r\n', want: [cmd(['a NOOP']), cmd(['b NOOP'])] },
  { name: 'empty lines ignored', input: '\r\n\r\na NOOP\r\n', want: [cmd(['a NOOP'])] },
  {
    name: 'sync literals',
    input: 'a LOGIN {4}\r\nfred {6}\r\nsecret\r\n',
    want: [CONT, CONT, cmd(['a LOGIN {4}', ' {6}', ''], ['fred', 'secret'])],
  },
  {
    name: 'non-sync literals',
    input: 'a LOGIN {4+}\r\nfred {6+}\r\nsecret\r\n',
    want: [cmd(['a LOGIN {4+}', ' {6+}', ''], ['fred', 'secret'])],
  },
  {
    name: 'literal holding CRLF and what looks like commands',
    input: 'a APPEND INBOX {17+}\r\nb NOOP\r\n{3}\r\nxy\r\n\r\nc NOOP\r\n',
    want: [cmd(['a APPEND INBOX {17+}', ''], ['b NOOP\r\n{3}\r\nxy\r\n']), cmd(['c NOOP'])],
  },
  {
    name: 'literal8',
    input: 'a APPEND INBOX ~{3+}\r\na\x00b\r\n',
    want: [cmd(['a APPEND INBOX ~{3+}', ''], ['a\x00b'])],
  },
  {
    name: 'empty sync literal',
    input: 'a LOGIN {0}\r\n {0}\r\n\r\n',
    want: [CONT, CONT, cmd(['a LOGIN {0}', ' {0}', ''], ['', ''])],
  },
  {
    name: 'marker inside an open quoted string is not a literal',
    input: 'a LOGIN "x {5}\r\nb NOOP\r\n',
    want: [cmd(['a LOGIN "x {5}']), cmd(['b NOOP'])],
  },
  {
    name: 'escaped quote keeps the string open',
    input: 'a X "a\\" {2}\r\n',
    want: [cmd(['a X "a\\" {2}'])],
  },
  {
    name: 'escaped backslash closes the string',
    input: 'a X "a\\\\" {2}\r\nhi\r\n',
    want: [CONT, cmd(['a X "a\\\\" {2}', ''], ['hi'])],
  },
  {
    name: 'sync literal too big: the line is dropped, the next command parsed',
    input: 'a APPEND INBOX {11}\r\nb NOOP\r\n',
    opts: SMALL,
    want: [
      { kind: 'literal-too-big', tag: 'a', size: 11, nonSync: false, reason: 'limit' },
      cmd(['b NOOP']),
    ],
  },
  {
    name: 'non-sync literal too big: its bytes and the rest of the command are swallowed',
    input: 'a APPEND INBOX {11+}\r\nc NOOP\r\nxyz more {2+}\r\nzz end\r\nb NOOP\r\n',
    opts: SMALL,
    want: [
      { kind: 'literal-too-big', tag: 'a', size: 11, nonSync: true, reason: 'limit' },
      cmd(['b NOOP']),
    ],
  },
  {
    name: 'too big after an accepted literal: tag from the first line',
    input: 'x1 APPEND {3+}\r\nabc {99+}\r\n' + 'z'.repeat(99) + '\r\nb NOOP\r\n',
    opts: SMALL,
    want: [
      { kind: 'literal-too-big', tag: 'x1', size: 99, nonSync: true, reason: 'limit' },
      cmd(['b NOOP']),
    ],
  },
  {
    name: 'LITERAL-: {4096+} is fine',
    input: `a APPEND INBOX {4096+}\r\n${'m'.repeat(4096)}\r\n`,
    opts: MINUS,
    want: [cmd(['a APPEND INBOX {4096+}', ''], ['m'.repeat(4096)])],
  },
  {
    name: 'LITERAL-: {4097+} is refused and swallowed',
    input: `a APPEND INBOX {4097+}\r\n${'m'.repeat(4097)}\r\nb NOOP\r\n`,
    opts: MINUS,
    want: [
      { kind: 'literal-too-big', tag: 'a', size: 4097, nonSync: true, reason: 'literal-minus' },
      cmd(['b NOOP']),
    ],
  },
  {
    name: 'LITERAL-: a large sync literal is fine',
    input: `a APPEND INBOX {5000}\r\n${'m'.repeat(5000)}\r\n`,
    opts: MINUS,
    want: [CONT, cmd(['a APPEND INBOX {5000}', ''], ['m'.repeat(5000)])],
  },
  {
    name: 'line too long',
    input: `a NOOP ${'x'.repeat(60)}\r\nb NOOP\r\n`,
    opts: SMALL,
    want: [{ kind: 'line-too-long', tag: 'a' }, cmd(['b NOOP'])],
  },
  {
    name: 'line exactly at the limit is fine',
    input: `a NOOP ${'x'.repeat(33)}\r\n`,
    opts: SMALL,
    want: [cmd([`a NOOP ${'x'.repeat(33)}`])],
  },
  {
    name: 'line one over the limit',
    input: `a NOOP ${'x'.repeat(34)}\nb NOOP\r\n`,
    opts: SMALL,
    want: [{ kind: 'line-too-long', tag: 'a' }, cmd(['b NOOP'])],
  },
  {
    name: 'too long line ending in a non-sync literal swallows it',
    input: `a X ${'x'.repeat(60)} {3+}\r\nabc\r\nb NOOP\r\n`,
    opts: SMALL,
    want: [{ kind: 'line-too-long', tag: 'a' }, cmd(['b NOOP'])],
  },
  {
    name: 'too long line ending in a sync literal ends the command',
    input: `a X ${'x'.repeat(60)} {3}\r\nb NOOP\r\n`,
    opts: SMALL,
    want: [{ kind: 'line-too-long', tag: 'a' }, cmd(['b NOOP'])],
  },
  {
    name: 'line length counts all the lines of a command',
    input: `a X {1+}\r\n1 ${'y'.repeat(20)} {1+}\r\n2 ${'y'.repeat(20)}\r\nb NOOP\r\n`,
    opts: { ...SMALL, maxLiteralSize: 1000 },
    want: [{ kind: 'line-too-long', tag: 'a' }, cmd(['b NOOP'])],
  },
  {
    name: 'command size limit over several literals',
    input: `a APPEND {10+}\r\n${'1'.repeat(10)} {10+}\r\n${'2'.repeat(10)} {5+}\r\n12345\r\nb NOOP\r\n`,
    opts: { ...SMALL, maxCommandSize: 25 },
    want: [
      { kind: 'literal-too-big', tag: 'a', size: 10, nonSync: true, reason: 'limit' },
      cmd(['b NOOP']),
    ],
  },
];

function splits(input: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 1; i < input.length; i++) out.push([input.subarray(0, i), input.subarray(i)]);
  return out;
}

describe('CommandReceiver', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const input = b(c.input);
      const whole = eventsOf([input], c.opts ?? OPTS);
      assert.deepEqual(whole, c.want);
      for (const parts of splits(input)) {
        assert.deepEqual(eventsOf(parts, c.opts ?? OPTS), c.want, `split at ${parts[0].length}`);
      }
      const bytes = [...input].map((x) => Buffer.from([x]));
      assert.deepEqual(eventsOf(bytes, c.opts ?? OPTS), c.want, 'byte by byte');
    });
  }

  test('a literal size beyond any number is too big', () => {
    const ev = eventsOf(['a APPEND INBOX {99999999999999999999}\r\nb NOOP\r\n'], SMALL);
    assert.deepEqual(ev, [
      {
        kind: 'literal-too-big',
        tag: 'a',
        size: Number.POSITIVE_INFINITY,
        nonSync: false,
        reason: 'limit',
      },
      cmd(['b NOOP']),
    ]);
  });

  test('untagged garbage gives line-too-long without a tag', () => {
    const ev = eventsOf([`${'x'.repeat(50)}\r\n`], SMALL);
    assert.deepEqual(ev, [{ kind: 'line-too-long', tag: undefined }]);
  });

  test('an over-long first word is no tag, however the line was cut into reads', () => {
    // The word before the first space ends past the line limit (SMALL: 40): whole or cut
    // anywhere, the receiver sees no tag (it looked at the whole buffer when it came at once).
    const line = `${'x'.repeat(60)} NOOP\r\n`;
    for (const cut of [0, 20, 41, 45, 61, line.length]) {
      const parts = [line.slice(0, cut), line.slice(cut)].filter((p) => p !== '');
      assert.deepEqual(
        eventsOf(parts, SMALL),
        [{ kind: 'line-too-long', tag: undefined }],
        `cut ${cut}`,
      );
    }
  });

  test('continue comes before the literal bytes arrive', () => {
    const rx = new CommandReceiver(OPTS);
    assert.deepEqual(rx.push(b('a LOGIN {4}\r\n')), [CONT]);
    assert.deepEqual(rx.push(b('fred')), []);
    assert.deepEqual(rx.push(b(' x\r\n')), [cmd(['a LOGIN {4}', ' x'], ['fred'])]);
  });

  test('expectRawLine reads the next line raw (IDLE DONE), in the same chunk', () => {
    for (const chunks of [
      ['a IDLE\r\nDONE\r\nb NOOP\r\n'],
      [...'a IDLE\r\nDONE\r\nb NOOP\r\n'].map((ch) => ch),
    ]) {
      const rx = new CommandReceiver(OPTS);
      const seen: ReceiverEvent[] = [];
      for (const chunk of chunks) {
        rx.feed(b(chunk));
        for (let ev = rx.next(); ev; ev = rx.next()) {
          seen.push(ev);
          if (ev.kind === 'command' && ev.command.lines[0].toString() === 'a IDLE') {
            rx.expectRawLine();
          }
        }
      }
      assert.deepEqual(seen, [cmd(['a IDLE']), { kind: 'line', line: b('DONE') }, cmd(['b NOOP'])]);
    }
  });

  test('a raw line is not scanned for literals (AUTHENTICATE response)', () => {
    const rx = new CommandReceiver(OPTS);
    rx.feed(b('a AUTHENTICATE PLAIN\r\nAGZyZWQAc2VjcmV0 {5}\r\nb NOOP\r\n'));
    assert.deepEqual(rx.next(), cmd(['a AUTHENTICATE PLAIN']));
    rx.expectRawLine();
    assert.deepEqual(rx.next(), { kind: 'line', line: b('AGZyZWQAc2VjcmV0 {5}') });
    assert.deepEqual(rx.next(), cmd(['b NOOP']));
    assert.equal(rx.next(), undefined);
    assert.equal(rx.bufferedBytes, 0);
  });

  test('a raw line over the limit is refused and skipped', () => {
    const rx = new CommandReceiver(SMALL);
    rx.expectRawLine();
    const ev = rx.push(b(`${'A'.repeat(100)}\r\nb NOOP\r\n`));
    assert.deepEqual(ev, [{ kind: 'line-too-long', tag: undefined }, cmd(['b NOOP'])]);
  });

  test('expectRawLine asked mid-command applies once the command is done', () => {
    const rx = new CommandReceiver(OPTS);
    rx.feed(b('a X {2}\r\n'));
    assert.deepEqual(rx.next(), CONT);
    rx.expectRawLine();
    rx.feed(b('hi\r\nDONE\r\n'));
    assert.deepEqual(rx.next(), cmd(['a X {2}', ''], ['hi']));
    assert.deepEqual(rx.next(), { kind: 'line', line: b('DONE') });
  });

  test('expectRawLine between a literal and the rest of its command waits for the command', () => {
    const rx = new CommandReceiver(OPTS);
    rx.feed(b('a X {2+}\r\nhi'));
    assert.equal(rx.next(), undefined);
    rx.expectRawLine();
    rx.feed(b(' tail\r\nDONE\r\n'));
    assert.deepEqual(rx.next(), cmd(['a X {2+}', ' tail'], ['hi']));
    assert.deepEqual(rx.next(), { kind: 'line', line: b('DONE') });
  });

  test('pendingCommand / dropPending: a command refused instead of its continuation', () => {
    let held = 0;
    const budget = {
      tryTake: (n: number) => {
        held += n;
        return true;
      },
      give: (n: number) => {
        held -= n;
      },
    };
    const rx = new CommandReceiver(OPTS, budget);
    rx.feed(b('a APPEND INBOX {3+}\r\nabc CATENATE (TEXT {5}\r\n'));
    assert.deepEqual(rx.next(), CONT);
    const pending = rx.pendingCommand();
    assert.deepEqual(pending.lines.map(String), ['a APPEND INBOX {3+}', ' CATENATE (TEXT {5}']);
    assert.deepEqual(pending.literals.map(String), ['abc']);
    assert.equal(held, 8);
    rx.dropPending();
    assert.equal(held, 0);
    // The client got a tagged answer and sends no literal: the next line is a new command.
    assert.deepEqual(rx.push(b('b NOOP\r\n')), [cmd(['b NOOP'])]);
  });

  test('bufferedBytes counts input not yet turned into events', () => {
    const rx = new CommandReceiver(OPTS);
    rx.feed(b('a NOOP\r\nb NOOP\r\n'));
    assert.equal(rx.bufferedBytes, 16);
    rx.next();
    assert.equal(rx.bufferedBytes, 8);
  });
});
