import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { BdatReader } from '../../../src/smtp/wire/bdat-reader.js';

describe('BdatReader (RFC 3030 §2)', () => {
  test('takes exactly size octets, no unstuffing, rest is the next command', () => {
    const got: Buffer[] = [];
    const r = new BdatReader(8, { onData: (b) => got.push(b) });
    assert.deepEqual(r.push(Buffer.from('..\r\n')), { done: false });
    assert.equal(r.remaining, 4);
    assert.deepEqual(r.push(Buffer.from('.\r\n.QUIT\r\n')), {
      done: true,
      rest: Buffer.from('QUIT\r\n'),
    });
    assert.equal(Buffer.concat(got).toString(), '..\r\n.\r\n.');
  });

  test('BDAT 0 is done at once', () => {
    const r = new BdatReader(0);
    assert.equal(r.done, true);
    assert.deepEqual(r.push(Buffer.from('RSET\r\n')), {
      done: true,
      rest: Buffer.from('RSET\r\n'),
    });
  });

  test('discard counts without passing bytes on', () => {
    let called = false;
    const r = new BdatReader(3, { discard: true, onData: () => (called = true) });
    assert.deepEqual(r.push(Buffer.from('abcd')), { done: true, rest: Buffer.from('d') });
    assert.equal(called, false);
  });

  test('bad sizes are programming errors', () => {
    assert.throws(() => new BdatReader(-1), RangeError);
    assert.throws(() => new BdatReader(1.5), RangeError);
  });

  test('any chunking gives the same bytes and rest', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.nat(100),
        fc.array(fc.nat(100)),
        (bytes, size, cuts) => {
          const input = Buffer.from(bytes);
          const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort(
            (a, b) => a - b,
          );
          const got: Buffer[] = [];
          const r = new BdatReader(size, { onData: (b) => got.push(b) });
          let prev = 0;
          let rest: Buffer | null = null;
          for (const p of [...points, input.length]) {
            const res = r.push(input.subarray(prev, p));
            if (res.done) {
              rest = Buffer.concat([res.rest, input.subarray(p)]);
              break;
            }
            prev = p;
          }
          const take = Math.min(size, input.length);
          assert.ok(Buffer.concat(got).equals(input.subarray(0, take)));
          if (size <= input.length) assert.ok(rest?.equals(input.subarray(size)));
          else assert.equal(rest, null);
        },
      ),
    );
  });
});
