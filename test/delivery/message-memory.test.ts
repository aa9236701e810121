// Reused message memory: a Buffer handed back is handed out again to a message that fits,
// never one that was pinned, never one much too big, and never a huge one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { give, pin, take } from '../../src/delivery/message-memory.js';

test('memory given back is taken again by a message that fits', () => {
  const a = take(100_000);
  give(a);
  const b = take(90_000);
  assert.equal(b.buffer, a.buffer);
  assert.equal(b.length, 90_000);
  give(b);
});

test('memory more than twice too big is not handed out for a small message', () => {
  const a = take(300_000);
  give(a);
  const small = take(1000);
  assert.notEqual(small.buffer, a.buffer);
  assert.equal(take(300_000).buffer, a.buffer);
});

test('pinned memory never comes back', () => {
  const a = take(200_000);
  pin(a.subarray(10));
  give(a);
  assert.notEqual(take(200_000).buffer, a.buffer);
});

test('memory over the keep limit is left to the garbage collector', () => {
  const a = take(8 << 20);
  give(a);
  assert.notEqual(take(8 << 20).buffer, a.buffer);
});

test('a new message gets memory of its own, not a slab shared with other buffers', () => {
  const a = take(64);
  assert.equal(a.buffer.byteLength, 64);
});

test('memory is taken again once however often it was given back, and never when not lent', () => {
  const a = take(500_000);
  give(a);
  give(a);
  const b = take(500_000);
  assert.equal(b.buffer, a.buffer);
  assert.notEqual(take(500_000).buffer, a.buffer);
  const foreign = Buffer.allocUnsafeSlow(600_000);
  give(foreign);
  assert.notEqual(take(600_000).buffer, foreign.buffer);
  give(b);
});
