// Loop detection by Received count (RFC 5321 §6.3): the header block only, field names as the
// MIME header parser reads them, and an early stop so a hostile header costs one pass at most.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { getAll, parseHeaders } from '../../src/mime/headers.js';
import { countReceived, LOOP_STATUS, MAX_RECEIVED, tooManyHops } from '../../src/queue/loop.js';

const msg = (...lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');
const received = (n: number) =>
  Array.from({ length: n }, (_, i) => `Received: from h${i} by h${i + 1}; Mon, 1 Jan 2024`);

describe('countReceived', () => {
  test('counts Received fields of the header, not the body, not look-alikes', () => {
    const m = msg(
      'Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000',
      'RECEIVED: from b',
      '  by c; folded continuation, not a field',
      'received\t: obsolete space before the colon (RFC 5322 §4.5)',
      'X-Received: not a Received field',
      'Received-SPF: pass',
      'Receivedx: no',
      ' Received: a continuation line',
      'Subject: Received: in a value',
      '',
      'Received: in the body',
      'Received: in the body',
      '',
    );
    assert.equal(countReceived(m, 100), 3);
  });

  test('LF-only line ends, and a message that is all header', () => {
    assert.equal(countReceived(Buffer.from('Received: a\nReceived: b\n\nReceived: c\n'), 10), 2);
    assert.equal(countReceived(Buffer.from('Received: a\r\nReceived: b'), 10), 2);
    assert.equal(countReceived(Buffer.from(''), 10), 0);
    assert.equal(countReceived(Buffer.from('\r\nReceived: body'), 10), 0);
    assert.equal(countReceived(Buffer.from('Received'), 10), 0);
  });

  test('stops at max + 1', () => {
    const m = msg(...received(500), '', 'body');
    assert.equal(countReceived(m, 10), 11);
    assert.equal(countReceived(m, 499), 500);
    assert.equal(countReceived(m, 500), 500);
    assert.equal(countReceived(m, 0), 1);
  });

  test('tooManyHops: more than MAX_RECEIVED (RFC 5321 §6.3: at least 100)', () => {
    assert.equal(MAX_RECEIVED, 100);
    assert.equal(LOOP_STATUS, '5.4.6');
    assert.equal(tooManyHops(msg(...received(100), '', 'b')), false);
    assert.equal(tooManyHops(msg(...received(101), '', 'b')), true);
    assert.equal(tooManyHops(msg(...received(3), '', 'b'), 2), true);
  });

  test('hostile headers: a million fields, a 5 MB line, a million "Received" without colon', () => {
    const many = Buffer.from('Received: x\r\n'.repeat(1_000_000));
    assert.equal(countReceived(many, MAX_RECEIVED), MAX_RECEIVED + 1);
    const long = Buffer.concat([
      Buffer.from('X: '),
      Buffer.alloc(5_000_000, 'a'),
      Buffer.from('\r\nReceived: y\r\n\r\n'),
    ]);
    assert.equal(countReceived(long, MAX_RECEIVED), 1);
    const spaces = Buffer.from(`Received${' '.repeat(10)}\r\n`.repeat(1_000_000));
    assert.equal(countReceived(spaces, MAX_RECEIVED), 0);
  });

  test('property: agrees with the MIME header parser (mime/headers.ts)', () => {
    const line = fc.oneof(
      fc.constantFrom(
        'Received: x',
        'received:y',
        'ReCeIvEd \t: z',
        'X-Received: no',
        'Received',
        ' Received: cont',
        '\tcont',
        'Subject: s',
        ':Received',
        'Received-SPF: pass',
        '',
      ),
      fc.string({ maxLength: 12 }).map((s) => s.replace(/[\r\n]/g, '')),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.boolean(), fc.nat(20), (lines, lf, max) => {
        const m = Buffer.from(lines.join(lf ? '\n' : '\r\n'), 'utf8');
        const all = getAll(parseHeaders(m), 'received').length;
        assert.equal(countReceived(m, max), Math.min(all, max + 1));
      }),
      { numRuns: 3000 },
    );
  });
});
