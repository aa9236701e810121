import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InputBuffer, type LineResult } from '../../src/net/input.js';

/** Feed `chunks` one by one, taking lines as soon as they are complete. */
function lines(chunks: Buffer[], max: number): string[] {
  const b = new InputBuffer();
  const out: string[] = [];
  const drain = () => {
    for (let r = b.takeLine(max); r; r = b.takeLine(max)) out.push(show(r));
  };
  for (const c of chunks) {
    b.push(c);
    drain();
  }
  return out;
}

function show(r: LineResult): string {
  return r.kind === 'line' ? `${r.crlf ? 'crlf' : 'lf'}:${r.line.toString('latin1')}` : r.kind;
}

function splitAt(s: string, cuts: number[]): Buffer[] {
  const buf = Buffer.from(s, 'latin1');
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

describe('InputBuffer.takeLine', () => {
  test('a line exactly at the limit is accepted, one byte more is too long', () => {
    assert.deepEqual(lines([Buffer.from('abcd\r\nabcde\r\nok\n')], 4), [
      'crlf:abcd',
      'too-long',
      'lf:ok',
    ]);
  });

  test('a lone CR inside a line is kept as content', () => {
    assert.deepEqual(lines([Buffer.from('a\rb\r\n')], 10), ['crlf:a\rb']);
  });

  test('discarding an over-long line never buffers it', () => {
    const b = new InputBuffer();
    b.push(Buffer.from('x'.repeat(20)));
    assert.deepEqual(b.takeLine(8), { kind: 'too-long' });
    assert.equal(b.length, 0);
    for (let i = 0; i < 100; i++) b.push(Buffer.from('y'.repeat(1000)));
    assert.equal(b.length, 0, 'the rest of the long line is dropped as it arrives');
    // 'zz\r\n' ends the discarded line; 'next' is the first line read after it.
    b.push(Buffer.from('zz\r\nnext\r\n'));
    const r = b.takeLine(8);
    assert.ok(r?.kind === 'line');
    assert.equal(r.line.toString(), 'next');
  });

  test('take and unshift across chunks', () => {
    const b = new InputBuffer();
    b.push(Buffer.from('ab'));
    b.push(Buffer.from('cd'));
    b.push(Buffer.from('ef'));
    assert.equal(b.take(3).toString(), 'abc');
    b.unshift(Buffer.from('XY'));
    assert.equal(b.length, 5);
    assert.equal(b.takeAll().toString(), 'XYdef');
    assert.equal(b.length, 0);
  });

  test('any chunking gives the same lines as one chunk', () => {
    const alphabet = fc.constantFrom('a', 'b', '\r', '\n', ' ');
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 80 }).map((a) => a.join('')),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 0, max: 12 }),
        (text, cuts, max) => {
          const whole = lines([Buffer.from(text, 'latin1')], max);
          assert.deepEqual(lines(splitAt(text, cuts), max), whole);
          const bytes = [...Buffer.from(text, 'latin1')].map((x) => Buffer.from([x]));
          assert.deepEqual(lines(bytes, max), whole);
        },
      ),
      { numRuns: 500 },
    );
  });
});
