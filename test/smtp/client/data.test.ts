// The DATA bytes the client writes (RFC 5321 §4.5.2 dot-stuffing, §2.3.8 line ends, §4.1.1.4
// terminator): a table of exact outputs, a property test against a byte-by-byte reference, and
// the no-copy path for messages that need no change.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { dotStuff } from '../../../src/smtp/client/data.js';

/** What the wire must carry, computed one octet at a time (the plain reading of the RFC). */
function reference(message: Buffer): Buffer {
  const out: number[] = [];
  let lineStart = true;
  for (let i = 0; i < message.length; i++) {
    const c = message[i]!;
    if (lineStart && c === 0x2e) out.push(0x2e);
    if (c === 0x0d || c === 0x0a) {
      out.push(0x0d, 0x0a);
      if (c === 0x0d && message[i + 1] === 0x0a) i++;
      lineStart = true;
    } else {
      out.push(c);
      lineStart = false;
    }
  }
  if (!lineStart) out.push(0x0d, 0x0a);
  out.push(0x2e, 0x0d, 0x0a);
  return Buffer.from(out);
}

const wire = (s: string) => Buffer.concat(dotStuff(Buffer.from(s, 'latin1'))).toString('latin1');

describe('client dot-stuffing', () => {
  const cases: Array<[string, string, string]> = [
    ['empty message', '', '.\r\n'],
    ['CRLF lines', 'a\r\nb\r\n', 'a\r\nb\r\n.\r\n'],
    ['last line without CRLF', 'a\r\nb', 'a\r\nb\r\n.\r\n'],
    ['a lone dot line', 'a\r\n.\r\nb\r\n', 'a\r\n..\r\nb\r\n.\r\n'],
    ['dot first in the message', '.x\r\n', '..x\r\n.\r\n'],
    ['a dot not at a line start', 'a.b\r\n.\r\n', 'a.b\r\n..\r\n.\r\n'],
    ['two dots', '..\r\n', '...\r\n.\r\n'],
    ['bare LF made CRLF', 'a\nb\n', 'a\r\nb\r\n.\r\n'],
    ['LF dot LF (smuggling) stuffed', 'a\n.\nMAIL FROM:<x>\n', 'a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n'],
    ['bare CR made CRLF', 'a\rb\r\n', 'a\r\nb\r\n.\r\n'],
    ['CR dot CR', 'a\r.\rb', 'a\r\n..\r\nb\r\n.\r\n'],
    ['CR at the very end', 'a\r', 'a\r\n.\r\n'],
    ['LF first', '\nb', '\r\nb\r\n.\r\n'],
    ['CRLF only', '\r\n', '\r\n.\r\n'],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => {
      assert.equal(wire(input), expected);
      assert.equal(reference(Buffer.from(input, 'latin1')).toString('latin1'), expected);
    });
  }

  test('a message that needs no change is sent as it is, not copied', () => {
    const m = Buffer.from('Subject: x\r\n\r\nbody.\r\n');
    const parts = dotStuff(m);
    assert.equal(parts[0], m, 'the same buffer');
    assert.equal(Buffer.concat(parts).toString(), 'Subject: x\r\n\r\nbody.\r\n.\r\n');
  });

  test('any bytes: the same as the octet-by-octet reference', () => {
    // Lines of the characters that matter (CR, LF, ".") and others, in any order.
    const octet = fc.constantFrom(0x0d, 0x0a, 0x2e, 0x41, 0x20, 0xc3);
    fc.assert(
      fc.property(fc.array(octet, { maxLength: 60 }), (bytes) => {
        const m = Buffer.from(bytes);
        assert.deepEqual(Buffer.concat(dotStuff(m)), reference(m));
      }),
      { numRuns: 5000 },
    );
  });
});
