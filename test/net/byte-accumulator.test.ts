// Message bytes in tiny pieces are held compactly and counted against the memory budget.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteAccumulator } from '../../src/net/byte-accumulator.js';
import { InputBuffer } from '../../src/net/input.js';
import { MemoryBudget } from '../../src/net/memory-budget.js';

describe('ByteAccumulator', () => {
  test('a megabyte in 10-byte pieces is kept in a few blocks, in order, byte for byte', () => {
    const budget = new MemoryBudget(4 << 20);
    const acc = new ByteAccumulator(budget);
    const whole = Buffer.alloc(1 << 20);
    for (let i = 0; i < whole.length; i++) whole[i] = (i * 7) & 0xff;
    for (let at = 0; at < whole.length; at += 10) {
      assert.equal(acc.push(whole.subarray(at, Math.min(at + 10, whole.length))), true);
    }
    const pieces = acc.pieces();
    assert.ok(pieces.length <= 17, `${pieces.length} pieces`);
    assert.deepEqual(Buffer.concat(pieces), whole);
    // What is held is what is counted, and it is the message plus at most one block.
    assert.equal(budget.inUse, acc.heldBytes);
    assert.ok(acc.heldBytes <= whole.length + 64 * 1024, `${acc.heldBytes} held`);
    acc.reset();
    assert.equal(budget.inUse, 0);
  });

  test('large pieces are kept as they are and small ones between them keep their order', () => {
    const acc = new ByteAccumulator();
    const big = Buffer.alloc(20_000, 0x61);
    acc.push(Buffer.from('head '));
    acc.push(big);
    acc.push(Buffer.from(' tail'));
    const pieces = acc.pieces();
    assert.equal(pieces.length, 3);
    assert.equal(pieces[1], big);
    assert.equal(Buffer.concat(pieces).toString(), `head ${big.toString()} tail`);
  });

  test('over the budget: everything is dropped, further bytes are refused, memory given back', () => {
    const budget = new MemoryBudget(100_000);
    const other = budget.tryTake(30_000);
    assert.ok(other);
    const acc = new ByteAccumulator(budget);
    assert.equal(acc.push(Buffer.alloc(50_000)), true);
    assert.equal(acc.push(Buffer.alloc(50_000)), false);
    assert.equal(acc.overBudget, true);
    assert.equal(acc.length, 0);
    assert.equal(budget.inUse, 30_000);
    assert.equal(acc.push(Buffer.from('x')), false);
    acc.reset();
    assert.equal(acc.overBudget, false);
    assert.equal(acc.push(Buffer.from('x')), true);
  });
});

describe('InputBuffer: unconsumed tiny chunks', () => {
  test('are merged into blocks while they wait, and read back byte for byte', () => {
    const b = new InputBuffer();
    const sent: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) {
      const c = Buffer.from(`${i % 10}23456789\n`);
      sent.push(c);
      b.push(c);
    }
    // 20,000 chunks of 10 bytes: without merging, 20,000 Buffer objects would wait here.
    const internal = (b as unknown as { chunks: Buffer[] }).chunks;
    assert.ok(internal.length < 64, `${internal.length} chunks held`);
    assert.deepEqual(b.takeAll(), Buffer.concat(sent));
  });

  test('a view handed out is never overwritten by later input', () => {
    const b = new InputBuffer();
    for (let i = 0; i < 20; i++) b.push(Buffer.from(`${String.fromCharCode(97 + i)}`));
    const first = b.take(20);
    const copy = Buffer.from(first);
    for (let i = 0; i < 100; i++) b.push(Buffer.from('ZZ'));
    assert.deepEqual(first, copy);
    assert.equal(b.takeAll().toString(), 'ZZ'.repeat(100));
  });
});
