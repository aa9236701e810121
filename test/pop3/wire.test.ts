import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseMessage } from '../../src/mime/structure.js';
import { dotStuffed, topOf } from '../../src/pop3/dotstuff.js';
import { errLine, okLine, parseCommandLine, parseNumber } from '../../src/pop3/wire.js';

/** What a client does with a multi-line body: split at CRLF.CRLF, remove one leading dot. */
function unstuff(wire: Buffer): Buffer {
  const text = wire.toString('latin1');
  assert.ok(
    text.endsWith('\r\n.\r\n') || text === '.\r\n',
    `bad terminator: ${JSON.stringify(text)}`,
  );
  const body = text === '.\r\n' ? '' : text.slice(0, -3);
  const lines = body.split('\n').map((l) => (l.startsWith('.') ? l.slice(1) : l));
  return Buffer.from(lines.join('\n'), 'latin1');
}

const stuff = (s: string | Buffer, piece = 4096) =>
  Buffer.concat([...dotStuffed(Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'), piece)]);

describe('parseCommandLine', () => {
  test('keyword is upper-cased, args split, rest kept for PASS', () => {
    assert.deepEqual(parseCommandLine(Buffer.from('list 2')), {
      keyword: 'LIST',
      args: ['2'],
      rest: '2',
    });
    assert.deepEqual(parseCommandLine(Buffer.from('PASS my secret  pw')), {
      keyword: 'PASS',
      args: ['my', 'secret', 'pw'],
      rest: 'my secret  pw',
    });
    assert.deepEqual(parseCommandLine(Buffer.from('STAT')), {
      keyword: 'STAT',
      args: [],
      rest: '',
    });
  });
  test('empty line is no command; UTF-8 passwords survive', () => {
    assert.equal(parseCommandLine(Buffer.alloc(0)), null);
    assert.equal(parseCommandLine(Buffer.from(' x')), null);
    assert.equal(parseCommandLine(Buffer.from('PASS pässwörd'))?.rest, 'pässwörd');
  });
  test('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        parseCommandLine(Buffer.from(bytes));
      }),
    );
  });
});

describe('status lines and numbers', () => {
  test('+OK and -ERR with a response code', () => {
    assert.equal(okLine('').toString(), '+OK\r\n');
    assert.equal(okLine('2 320').toString(), '+OK 2 320\r\n');
    assert.equal(errLine('locked', 'IN-USE').toString(), '-ERR [IN-USE] locked\r\n');
    assert.equal(errLine('nope').toString(), '-ERR nope\r\n');
  });
  test('message numbers are plain digits', () => {
    assert.equal(parseNumber('1'), 1);
    assert.equal(parseNumber('007'), 7);
    for (const bad of [undefined, '', '-1', '+1', '1.0', '1e3', 'x', '9999999999']) {
      assert.equal(parseNumber(bad), null, String(bad));
    }
  });
});

describe('dotStuffed', () => {
  const cases: Array<[string, string, string]> = [
    ['plain', 'a\r\nb\r\n', 'a\r\nb\r\n.\r\n'],
    ['leading dot on first line', '.x\r\n', '..x\r\n.\r\n'],
    ['dot lines inside', 'a\r\n.\r\n..b\r\n', 'a\r\n..\r\n...b\r\n.\r\n'],
    ['no final CRLF gets one', 'a\r\nb', 'a\r\nb\r\n.\r\n'],
    ['last line is a lone dot without CRLF', 'a\r\n.', 'a\r\n..\r\n.\r\n'],
    ['empty message', '', '.\r\n'],
    ['bare LF line start is stuffed too', 'a\n.b\n', 'a\n..b\n\r\n.\r\n'],
  ];
  for (const [name, input, wire] of cases) {
    test(name, () => assert.equal(stuff(input).toString('latin1'), wire));
  }

  test('pieces never exceed the limit and are slices, not copies', () => {
    const big = Buffer.alloc(10_000, 0x61);
    const pieces = [...dotStuffed(big, 1000)];
    assert.ok(pieces.every((p) => p.length <= 1000));
    assert.equal(pieces[0]!.buffer, big.buffer);
    assert.equal(Buffer.concat(pieces).length, 10_000 + 2 + 3);
  });

  test('property: a client recovers the exact bytes (plus a final CRLF if missing)', () => {
    const alphabet = fc.constantFrom('.', '\r\n', 'a', '\r', '\n', '..', ' ');
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 60 }),
        fc.integer({ min: 1, max: 7 }),
        (parts, piece) => {
          const msg = parts
            .join('')
            .replace(/\r(?!\n)/g, 'r')
            .replace(/(?<!\r)\n/g, '\r\n');
          const wire = stuff(msg, piece);
          const expected = msg === '' || msg.endsWith('\r\n') ? msg : `${msg}\r\n`;
          assert.equal(unstuff(wire).toString('latin1'), expected);
          // No early terminator: the only CRLF.CRLF is at the very end.
          const t = wire.toString('latin1');
          assert.equal(t.indexOf('\r\n.\r\n'), t.length === 3 ? -1 : t.length - 5);
        },
      ),
    );
  });
});

describe('topOf', () => {
  const msg = 'Subject: x\r\nFrom: a@b\r\n\r\nline1\r\nline2\r\nline3\r\n';
  test('header, blank line and n body lines', () => {
    assert.equal(topOf(Buffer.from(msg), 0).toString(), 'Subject: x\r\nFrom: a@b\r\n\r\n');
    assert.equal(
      topOf(Buffer.from(msg), 2).toString(),
      'Subject: x\r\nFrom: a@b\r\n\r\nline1\r\nline2\r\n',
    );
    assert.equal(topOf(Buffer.from(msg), 99).toString(), msg);
  });
  test('no blank line: all header; empty header; last line without CRLF', () => {
    assert.equal(topOf(Buffer.from('Subject: x\r\n'), 0).toString(), 'Subject: x\r\n');
    assert.equal(topOf(Buffer.from('\r\nbody\r\nmore'), 1).toString(), '\r\nbody\r\n');
    assert.equal(topOf(Buffer.from('H: v\r\n\r\nb1\r\nb2'), 5).toString(), 'H: v\r\n\r\nb1\r\nb2');
  });
  test('the header ends where IMAP BODY[HEADER] ends it (one scanner, mime/header-scan)', () => {
    // A bare LF, then an empty CRLF line: the old TOP found no end and sent the whole message.
    for (const m of ['Subject: x\n\r\nline1\r\nline2\r\n', 'A: 1\r\nB: 2\n\nl1\nl2\n']) {
      const raw = Buffer.from(m, 'latin1');
      const header = raw.subarray(0, parseMessage(raw).root.headerEnd).toString('latin1');
      assert.equal(topOf(raw, 0).toString('latin1'), header);
      assert.ok(topOf(raw, 1).length < raw.length);
    }
  });
});
