// IMAP fuzz targets: the command receiver (bytes to commands, any chunking), the command and
// argument parsers of every command in the table, mailbox names (modified UTF-7 and the
// store's rules) and dates.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { COMMANDS } from '../../../src/imap/commands/table.js';
import { clientMailboxName } from '../../../src/imap/commands/util.js';
import { compileMailboxPattern } from '../../../src/imap/mailbox-pattern.js';
import { ImapError } from '../../../src/imap/responses.js';
import type { ImapSession } from '../../../src/imap/session.js';
import { parseDateText, parseDateTimeText } from '../../../src/imap/wire/dates.js';
import { ImapParseError, parseCommand, tryParse } from '../../../src/imap/wire/parser.js';
import {
  CommandReceiver,
  type ReceivedCommand,
  type ReceiverEvent,
  type ReceiverOptions,
} from '../../../src/imap/wire/receiver.js';
import { resolveSequenceSet, type SequenceSet } from '../../../src/imap/wire/sequence.js';
import { decodeMailboxName, encodeMailboxName } from '../../../src/imap/wire/utf7.js';
import { isStoreError } from '../../../src/store/errors.js';
import { type AnyTarget, erase, type FuzzTarget, Steps } from '../lib/harness.js';
import { commandStream, IMAP_WORDS } from '../lib/imap-gen.js';
import { anyInput, chunkSizes, type Sample, showBytes, split } from '../lib/mutate.js';

/** The session's limits, and small ones that make every limit path reachable. */
const CONFIGS: ReceiverOptions[] = [
  { maxLineLength: 64 * 1024, maxLiteralSize: 50 << 20, literalPlus: true },
  { maxLineLength: 64, maxLiteralSize: 32, literalPlus: false },
  { maxLineLength: 200, maxLiteralSize: 1000, maxCommandSize: 1500, literalPlus: true },
];

// At most one socket read (64 KB) per input: a step is what the server does with one read.
const input = anyInput(commandStream, IMAP_WORDS, { maxBytes: 64 * 1024 });

const MARKER = /~?\{(\d+)\+?\}$/;
const PRINTABLE = /^[\x20-\x7e]*$/;

/** What the session does after a command: IDLE and AUTHENTICATE read a raw line next. */
function wantsRawLine(ev: ReceiverEvent): boolean {
  if (ev.kind !== 'command') return false;
  return /^\S+ (IDLE|AUTHENTICATE)\b/i.test(ev.command.lines[0].toString('latin1'));
}

/**
 * Takes every event, as the session does: one next() call is one step (the session may await
 * a handler between two), and IDLE / AUTHENTICATE switch the receiver to a raw line.
 */
function drain(rx: CommandReceiver, out: ReceiverEvent[], steps: Steps): void {
  for (let ev = steps.time(() => rx.next(), 'next'); ev; ev = steps.time(() => rx.next(), 'next')) {
    out.push(ev);
    if (wantsRawLine(ev)) rx.expectRawLine();
  }
}

function checkEvent(ev: ReceiverEvent, o: Required<ReceiverOptions>): void {
  switch (ev.kind) {
    case 'command': {
      const { lines, literals } = ev.command;
      assert.equal(lines.length, literals.length + 1, 'one more line than literals');
      let text = 0;
      let total = 0;
      lines.forEach((l, i) => {
        assert.equal(l.indexOf(0x0a), -1, 'no LF inside a command line');
        text += l.length;
        if (i < literals.length) {
          const m = MARKER.exec(l.toString('latin1'));
          assert.ok(m, 'a line before a literal ends with its marker');
          assert.equal(Number(m[1]), literals[i].length, 'literal has its announced size');
        }
      });
      for (const lit of literals) {
        assert.ok(lit.length <= o.maxLiteralSize, 'literal within maxLiteralSize');
        total += lit.length;
      }
      assert.ok(text <= o.maxLineLength, `command text ${text} within maxLineLength`);
      assert.ok(text + total <= o.maxCommandSize, 'command within maxCommandSize');
      break;
    }
    case 'line':
      assert.equal(ev.line.indexOf(0x0a), -1, 'no LF inside a raw line');
      assert.ok(ev.line.length <= o.maxLineLength, 'raw line within maxLineLength');
      break;
    case 'literal-too-big':
    case 'line-too-long':
      if (ev.tag !== undefined) assert.match(ev.tag, /^[\x21-\x7e]+$/);
      break;
    case 'continue':
      assert.match(ev.text, PRINTABLE);
      break;
  }
}

const shortTag = (e: ReceiverEvent): ReceiverEvent =>
  // A line-too-long event carries the tag seen so far: when the first space comes past the
  // limit, a whole stream sees it and a chunked one does not. Both are harmless.
  e.kind === 'line-too-long' && e.tag !== undefined && e.tag.length > 64
    ? { ...e, tag: undefined }
    : e;

/**
 * The receiver on any bytes, cut any way: never throws, events are well formed and the same
 * whatever the chunking, nothing stays buffered after draining.
 */
export const imapReceiver: FuzzTarget<{ s: Sample; sizes: number[]; cfg: number }> = {
  name: 'imap receiver (chunked)',
  runs: 400,
  arb: fc.record({ s: input, sizes: chunkSizes, cfg: fc.nat(CONFIGS.length - 1) }),
  run({ s, sizes, cfg }, steps) {
    const whole = new CommandReceiver(CONFIGS[cfg]);
    const expected: ReceiverEvent[] = [];
    whole.feed(s.bytes);
    // Timed by the next target; here only the chunked reads (up to 4 KB) are.
    drain(whole, expected, new Steps());
    assert.equal(whole.bufferedBytes, 0, 'all input consumed');
    const rx = new CommandReceiver(CONFIGS[cfg]);
    const got: ReceiverEvent[] = [];
    for (const chunk of split(s.bytes, sizes)) {
      rx.feed(chunk);
      drain(rx, got, steps);
      assert.equal(rx.bufferedBytes, 0, 'all input consumed after each chunk');
    }
    for (const ev of got) checkEvent(ev, rx.options);
    assert.deepEqual(
      got.map(shortTag),
      expected.map(shortTag),
      'same events whatever the chunking',
    );
  },
};

/** One socket read (up to 64 KB) and the events it completes: each next() call is a step. */
export const imapReceiverReads: FuzzTarget<{ s: Sample; cfg: number }> = {
  name: 'imap receiver (64 KB reads)',
  runs: 300,
  arb: fc.record({ s: input, cfg: fc.nat(CONFIGS.length - 1) }),
  run({ s, cfg }, steps) {
    const rx = new CommandReceiver(CONFIGS[cfg]);
    rx.feed(s.bytes);
    drain(rx, [], steps);
  },
};

const session = {} as ImapSession;

function checkParseError(e: ImapParseError): void {
  assert.match(e.message, PRINTABLE, 'error text is printable');
  assert.ok(e.message.length <= 200, 'error text is short');
  if (e.tag !== undefined) assert.match(e.tag, /^[\x21-\x7e]+$/);
  if (e.code !== undefined) assert.match(e.code, PRINTABLE);
}

function checkSet(set: SequenceSet, max: number): void {
  if (set.kind !== 'ranges') return;
  for (const [a, b] of set.ranges) {
    for (const n of [a, b]) {
      if (n !== '*') assert.ok(Number.isInteger(n) && n >= 1 && n <= 4294967295, `seq ${n}`);
    }
  }
  const iv = resolveSequenceSet(set, max);
  let prev = 0;
  for (const [lo, hi] of iv) {
    assert.ok(lo > prev && lo <= hi && hi <= max, 'resolved intervals sorted, disjoint, in range');
    prev = hi + 1;
  }
}

/** Sequence sets anywhere in a parsed argument value. */
function findSets(v: unknown, out: SequenceSet[], depth = 0): void {
  if (v === null || typeof v !== 'object' || depth > 80 || Buffer.isBuffer(v)) return;
  const o = v as Record<string, unknown>;
  if (o.kind === 'ranges' && Array.isArray(o.ranges)) out.push(o as SequenceSet);
  for (const x of Object.values(o)) findSets(x, out, depth + 1);
}

/**
 * Every command the receiver delivers, through parseCommand and the table's argument parser:
 * only ImapParseError may come out (tryParse rethrows anything else), with a printable text.
 */
export const imapParser: FuzzTarget<{ s: Sample; max: number; utf8: boolean }> = {
  name: 'imap command parsers',
  runs: 2500,
  arb: fc.record({ s: input, max: fc.nat(5000), utf8: fc.boolean() }),
  run({ s, max, utf8 }, steps) {
    const rx = new CommandReceiver(CONFIGS[0]);
    rx.feed(s.bytes);
    const events: ReceiverEvent[] = [];
    // The receiver's own steps are timed by the receiver target: only parsing here.
    drain(rx, events, new Steps());
    for (const ev of events) {
      if (ev.kind === 'command') steps.time(() => parseOne(ev.command, max, utf8), 'parse');
    }
  },
};

/** What the session does with one received command, up to running its handler. */
function parseOne(received: ReceivedCommand, max: number, utf8: boolean): void {
  const cmd = parseCommand(received);
  if (cmd instanceof ImapParseError) {
    checkParseError(cmd);
    return;
  }
  assert.match(cmd.tag, /^[\x21-\x7e]+$/);
  const spec = COMMANDS.get(cmd.name);
  if (!spec) return;
  const args = tryParse(() => spec.parse(cmd.args, session));
  if (args instanceof ImapParseError) {
    checkParseError(args);
    return;
  }
  const sets: SequenceSet[] = [];
  findSets(args, sets);
  for (const set of sets) checkSet(set, max);
  // Mailbox names go through the client-name rules next: ImapError (NO) only.
  const a = (args ?? {}) as Record<string, unknown>;
  const names = [a.mailbox, a.name, typeof args === 'string' ? args : undefined];
  for (const n of names) {
    if (typeof n !== 'string') continue;
    try {
      clientMailboxName({ enabled: { utf8 } } as ImapSession, n);
    } catch (err) {
      if (!(err instanceof ImapError) && !isStoreError(err)) throw err;
    }
  }
}

/**
 * Modified UTF-7 (RFC 3501 §5.1.3): decode never throws, and accepts only what encode
 * produces (so names compare byte for byte); encode then decode gives the name back.
 */
export const imapUtf7: FuzzTarget<{ wire: string; name: string }> = {
  name: 'imap modified UTF-7',
  runs: 1500,
  arb: fc.record({
    wire: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.stringMatching(/^([A-Za-z &-]|&[A-Za-z0-9+,]{0,12}-?)*$/),
      fc.string({ maxLength: 12 }).map(encodeMailboxName),
    ),
    name: fc.string({ unit: 'grapheme', maxLength: 20 }),
  }),
  run({ wire, name }) {
    const d = decodeMailboxName(wire);
    if (d !== null)
      assert.equal(encodeMailboxName(d), wire, `only canonical input: ${showBytes(wire)}`);
    assert.equal(decodeMailboxName(encodeMailboxName(name)), name);
  },
};

/** LIST/LSUB wildcard matching by the written rule, for short inputs only (a regex). */
function referenceMatch(pattern: string, name: string): boolean {
  const p = /^inbox(?=$|[/*%])/i.test(pattern) ? `INBOX${pattern.slice(5)}` : pattern;
  const re = p.replace(/[.*+?^${}()|[\]\\%]/g, (c) =>
    c === '*' ? '.*' : c === '%' ? '[^/]*' : `\\${c}`,
  );
  return new RegExp(`^${re}$`, 's').test(name);
}

const patternText = fc.stringMatching(/^[a*%/.xI]{0,12}$/);

/**
 * LIST and LSUB patterns (RFC 9051 §6.3.9) against mailbox names: the client's pattern is
 * never a backtracking regex (issue 15 item 2): any pattern, each step under the limit, and
 * the same answers as the wildcard rule on short inputs.
 */
export const imapListPattern: FuzzTarget<{ p: Sample; names: string[] }> = {
  name: 'imap LIST pattern matcher',
  runs: 600,
  arb: fc.record({
    p: anyInput(
      patternText.map((t) => Buffer.from(t)),
      ['*', '%', '*a', '%/', 'INBOX', 'a'],
      {
        maxBytes: 64 * 1024,
      },
    ),
    names: fc.array(
      fc.oneof(
        patternText.map((t) => t.replace(/[*%]/g, 'a')),
        fc.constantFrom('INBOX', 'INBOX/a', 'a'.repeat(500), `${'a/'.repeat(16)}b`, 'Entwürfe'),
      ),
      { maxLength: 50 },
    ),
  }),
  run({ p, names }, steps) {
    const pattern = p.bytes.toString('utf8');
    const results = steps.time(() => {
      const match = compileMailboxPattern(pattern);
      return names.map((n) => match(n));
    }, 'match');
    if (pattern.length <= 16) {
      names.forEach((n, i) => {
        if (n.length <= 40)
          assert.equal(results[i], referenceMatch(pattern, n), `${pattern} ~ ${n}`);
      });
    }
  },
};

/** IMAP date and date-time text: null or a real date, never a throw or an Invalid Date. */
export const imapDates: FuzzTarget<string> = {
  name: 'imap dates',
  runs: 800,
  arb: fc.oneof(
    fc.string({ unit: 'binary-ascii', maxLength: 40 }),
    fc
      .tuple(
        fc.constantFrom(' 1', '01', '1', '31', '29', '00', '99'),
        fc.constantFrom('Jan', 'feb', 'FEB', 'Xyz'),
        fc.constantFrom('0000', '1900', '2000', '2024', '9999'),
        fc.constantFrom('00:00:00', '23:59:59', '24:00:00', '99:99:99'),
        fc.constantFrom('+0000', '-1259', '+9999', '-0000'),
      )
      .map((p) => `${p[0]}-${p[1]}-${p[2]} ${p[3]} ${p[4]}`),
  ),
  run(text) {
    const d = parseDateText(text);
    if (d) assert.ok(d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= 31);
    const t = parseDateTimeText(text);
    if (t) assert.ok(Number.isFinite(t.getTime()), 'a valid instant');
  },
};

export const IMAP_TARGETS: AnyTarget[] = [
  erase(imapReceiver),
  erase(imapReceiverReads),
  erase(imapParser),
  erase(imapListPattern),
  erase(imapUtf7),
  erase(imapDates),
];
