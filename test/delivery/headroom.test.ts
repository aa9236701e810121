// assemble + prepend: the trace fields go into room in front of the message, not a new copy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assemble, prepend } from '../../src/delivery/headroom.js';

test('a prefix that fits is written in front of the message, sharing its memory', () => {
  const message = assemble([Buffer.from('Subject: a\r\n'), Buffer.from('\r\nbody\r\n')]);
  assert.equal(message.toString(), 'Subject: a\r\n\r\nbody\r\n');
  const out = prepend(Buffer.from('Received: x\r\n'), message);
  assert.equal(out.toString(), 'Received: x\r\nSubject: a\r\n\r\nbody\r\n');
  assert.equal(out.buffer, message.buffer, 'no copy of the message');
  // The room is used once: a second prefix gets a copy and leaves the first result intact.
  const again = prepend(Buffer.from('Other: y\r\n'), message);
  assert.equal(again.toString(), 'Other: y\r\nSubject: a\r\n\r\nbody\r\n');
  assert.notEqual(again.buffer, message.buffer);
  assert.equal(out.toString(), 'Received: x\r\nSubject: a\r\n\r\nbody\r\n');
});

test('a prefix larger than the room, or a buffer not made by assemble, is copied', () => {
  const message = assemble([Buffer.from('x')]);
  const big = Buffer.alloc(5000, 0x41);
  const out = prepend(big, message);
  assert.equal(out.length, 5001);
  assert.equal(out[5000], 0x78);
  const plain = Buffer.from('plain');
  assert.equal(prepend(Buffer.from('P:'), plain).toString(), 'P:plain');
});
