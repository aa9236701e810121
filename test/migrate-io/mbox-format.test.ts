// The mbox format: From lines (RFC 4155 §2's asctime, read loosely), the splitter (where a
// message begins, >From unquoting for mboxrd and mboxo, LF/CRLF mixes, text before the first
// From line, size limit), and the state fields to flags; each as a table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatFromLine,
  formatMboxState,
  type MboxJunk,
  type MboxMessage,
  MboxSplitter,
  type MboxVariant,
  mboxState,
  parseFromLine,
} from '../../src/migrate-io/mbox-format.js';

test('From lines: sender and asctime date, zones, two-digit years, bad ones', () => {
  const cases: Array<[string, string, string] | [string, null]> = [
    [
      'From god@heaven.af.mil Sat Jan  3 01:05:34 1996',
      'god@heaven.af.mil',
      '1996-01-03T01:05:34.000Z',
    ],
    ['From MAILER-DAEMON Fri Jul  8 12:08:34 2011', 'MAILER-DAEMON', '2011-07-08T12:08:34.000Z'],
    ['From - Thu Dec 04 19:51:22 2025', '-', '2025-12-04T19:51:22.000Z'],
    ['From a@b Wed Dec  4 19:51:22 2024 +0100', 'a@b', '2024-12-04T18:51:22.000Z'],
    ['From a@b Wed Dec  4 19:51:22 -0230 2024', 'a@b', '2024-12-04T22:21:22.000Z'],
    ['From a@b Wed Dec  4 19:51:22 CET DST 2024', 'a@b', '2024-12-04T19:51:22.000Z'],
    ['From a@b Mon Jan  5 10:00 98', 'a@b', '1998-01-05T10:00:00.000Z'],
    ['From a@b Mon Jan  5 10:00:00 05', 'a@b', '2005-01-05T10:00:00.000Z'],
    ['From a@b Jan  5 10:00:00 2005', 'a@b', '2005-01-05T10:00:00.000Z'],
    ['From  Sat Jan  3 01:05:34 1996', '', '1996-01-03T01:05:34.000Z'],
    ['From a@b Sat Jan  3 01:05:34 1996\r', 'a@b', '1996-01-03T01:05:34.000Z'],
    ['From a@b Sat Jan  3 01:05:34 1996 remote from x', 'a@b', '1996-01-03T01:05:34.000Z'],
    ['From a@b', null],
    ['From here on, we talk about it', null],
    ['From a@b Sat Foo  3 01:05:34 1996', null],
    ['From a@b Sat Feb 31 01:05:34 1996', null],
    ['From a@b Sat Jan  3 25:05:34 1996', null],
    ['from a@b Sat Jan  3 01:05:34 1996', null],
    ['>From a@b Sat Jan  3 01:05:34 1996', null],
  ];
  for (const c of cases) {
    const got = parseFromLine(c[0]);
    if (c[1] === null) assert.equal(got, null, c[0]);
    else assert.deepEqual(got && [got.sender, got.date.toISOString()], [c[1], c[2]], c[0]);
  }
  const d = new Date('2025-03-07T08:09:10Z');
  assert.equal(formatFromLine('a@b', d), 'From a@b Fri Mar  7 08:09:10 2025');
  assert.equal(formatFromLine('', d), 'From MAILER-DAEMON Fri Mar  7 08:09:10 2025');
  assert.equal(parseFromLine(formatFromLine('x@y', d))?.date.toISOString(), d.toISOString());
});

function split(text: string | Buffer[], variant: MboxVariant = 'mboxrd', max = 1 << 20) {
  const msgs: MboxMessage[] = [];
  const junk: MboxJunk[] = [];
  const s = new MboxSplitter(
    variant,
    max,
    (m) => msgs.push(m),
    (j) => junk.push(j),
  );
  for (const c of typeof text === 'string' ? [Buffer.from(text)] : text) s.push(c);
  s.end();
  return { msgs, junk, raws: msgs.map((m) => m.raw.toString()) };
}

const F1 = 'From a@b Sat Jan  3 01:05:34 1996';
const F2 = 'From c@d Sun Jan  4 01:05:34 1996';

test('splitter: messages, separators, empty lines kept inside and at the end of a body', () => {
  const cases: Array<[string, string[], number[]]> = [
    [
      `${F1}\nS: 1\n\nbody\n\n${F2}\nS: 2\n\nb2\n`,
      ['S: 1\r\n\r\nbody\r\n', 'S: 2\r\n\r\nb2\r\n'],
      [1, 6],
    ],
    // No final empty line; CRLF and LF mixed.
    [
      `${F1}\r\nS: 1\r\n\r\nbody\n\r\n${F2}\nS: 2\n\nb2`,
      ['S: 1\r\n\r\nbody\r\n', 'S: 2\r\n\r\nb2\r\n'],
      [1, 6],
    ],
    // Two empty lines before the next From: one is the message's.
    [
      `${F1}\nS: 1\n\nbody\n\n\n${F2}\nS: 2\n\nb\n`,
      ['S: 1\r\n\r\nbody\r\n\r\n', 'S: 2\r\n\r\nb\r\n'],
      [1, 7],
    ],
    // A From line not after an empty line, or that does not parse, is body text.
    [
      `${F1}\nS: 1\n\nbody\n${F2}\n\nFrom here on\n`,
      [`S: 1\r\n\r\nbody\r\n${F2}\r\n\r\nFrom here on\r\n`],
      [1],
    ],
    ['', [], []],
  ];
  for (const [text, raws, lines] of cases) {
    const r = split(text);
    assert.deepEqual(r.raws, raws, JSON.stringify(text));
    assert.deepEqual(
      r.msgs.map((m) => m.line),
      lines,
      JSON.stringify(text),
    );
    assert.deepEqual(r.junk, []);
  }
});

test('splitter: >From unquoting, mboxrd and mboxo', () => {
  const body = `${F1}\nS: q\n\n>From here\n>>From there\n>>>From far\n> From not quoted\n>Fromage\n`;
  assert.deepEqual(split(body, 'mboxrd').raws, [
    'S: q\r\n\r\nFrom here\r\n>From there\r\n>>From far\r\n> From not quoted\r\n>Fromage\r\n',
  ]);
  assert.deepEqual(split(body, 'mboxo').raws, [
    'S: q\r\n\r\nFrom here\r\n>>From there\r\n>>>From far\r\n> From not quoted\r\n>Fromage\r\n',
  ]);
});

test('splitter: any chunking gives the same messages (lines and CRLF cut apart)', () => {
  const text = Buffer.from(`${F1}\r\nS: 1\r\n\r\n>From x\r\n\r\n${F2}\nS: 2\n\nb2\n`);
  const whole = split([text]).raws;
  for (let cut = 1; cut < text.length; cut++) {
    assert.deepEqual(split([text.subarray(0, cut), text.subarray(cut)]).raws, whole, `cut ${cut}`);
  }
  const bytes = [...text].map((b) => Buffer.from([b]));
  assert.deepEqual(split(bytes).raws, whole);
});

test('splitter: text before the first From line is reported; a message over the limit too', () => {
  const r = split(`garbage\nmore\n\n${F1}\nS: 1\n\nok\n`);
  assert.deepEqual(r.junk, [{ line: 1, reason: 'text before the first From line' }]);
  assert.deepEqual(r.raws, ['S: 1\r\n\r\nok\r\n']);
  const none = split('no mbox at all\n');
  assert.deepEqual(none.junk, [{ line: 1, reason: 'text before the first From line' }]);
  assert.equal(none.msgs.length, 0);
  const big = split(`${F1}\nS: 1\n\n${'x'.repeat(100)}\n\n${F2}\nS: 2\n\nok\n`, 'mboxrd', 50);
  assert.deepEqual(
    big.msgs.map((m) => [m.tooBig, m.size, m.raw.toString()]),
    [
      [true, 110, ''],
      [false, 12, 'S: 2\r\n\r\nok\r\n'],
    ],
  );
});

test('state fields: Status, X-Status, X-Keywords to flags, and taken out of the message', () => {
  const cases: Array<[string, string[], string, boolean]> = [
    ['Subject: a\r\n\r\nb\r\n', [], 'Subject: a\r\n\r\nb\r\n', false],
    ['Subject: a\r\nStatus: RO\r\n\r\nb\r\n', ['\\Seen'], 'Subject: a\r\n\r\nb\r\n', false],
    ['Status: O\r\nSubject: a\r\n\r\nb\r\n', [], 'Subject: a\r\n\r\nb\r\n', false],
    [
      'Subject: a\r\nStatus: R\r\nX-Status: AFTD\r\nX-Keywords: $Junk, work  $Label1\r\n\r\nStatus: RO\r\n',
      ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Junk', 'work', '$Label1'],
      'Subject: a\r\n\r\nStatus: RO\r\n',
      false,
    ],
    // A folded X-Keywords; a keyword that is no atom is dropped.
    ['X-Keywords: a\r\n b (c\r\nSubject: s\r\n\r\n', ['a', 'b'], 'Subject: s\r\n\r\n', false],
    ['X-UID: 4\r\nX-IMAPbase: 1 5\r\nSubject: s\r\n\r\n', [], 'Subject: s\r\n\r\n', false],
    ["X-IMAP: 1 5\r\nSubject: DON'T DELETE\r\n\r\n", [], "Subject: DON'T DELETE\r\n\r\n", true],
  ];
  for (const [raw, flags, out, folderData] of cases) {
    const s = mboxState(Buffer.from(raw));
    assert.deepEqual([s.flags, s.raw.toString(), s.folderData], [flags, out, folderData], raw);
  }
  const all = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Junk', 'x'];
  const written = formatMboxState(all).replace(/\n/g, '\r\n');
  assert.deepEqual(mboxState(Buffer.from(`${written}S: 1\r\n\r\n`)).flags, all);
  assert.equal(formatMboxState([]), 'Status: O\n');
});
