// The receiver's memory: literals counted against the budget before a byte is read, given back
// with the command; limits raised after login.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CommandReceiver, type ReceiverEvent } from '../../../src/imap/wire/receiver.js';
import { MemoryBudget } from '../../../src/net/memory-budget.js';

const OPTS = { maxLineLength: 1000, maxLiteralSize: 8192, literalPlus: true };
const b = (s: string) => Buffer.from(s, 'latin1');

function drain(rx: CommandReceiver, input: string | Buffer): ReceiverEvent[] {
  return rx.push(typeof input === 'string' ? b(input) : input);
}

describe('CommandReceiver limits and memory', () => {
  test('a literal is counted when announced and handed to the session with the command', () => {
    const budget = new MemoryBudget(1 << 20);
    const rx = new CommandReceiver(OPTS, budget);
    assert.deepEqual(drain(rx, 'a APPEND INBOX {5}\r\n'), [
      { kind: 'continue', text: 'Ready for literal data' },
    ]);
    assert.equal(budget.inUse, 5);
    const [ev] = drain(rx, 'hello\r\n');
    assert.equal(ev?.kind, 'command');
    if (ev?.kind !== 'command') return;
    assert.equal(ev.command.held, 5);
    assert.equal(ev.command.literals[0]?.toString(), 'hello');
    budget.give(ev.command.held ?? 0);
    assert.equal(budget.inUse, 0);
  });

  test('over the budget: NO for the command (reason memory), nothing counted, next command runs', () => {
    const budget = new MemoryBudget(100);
    const rx = new CommandReceiver(OPTS, budget);
    const events = drain(rx, 'a APPEND INBOX {500+}\r\n' + 'x'.repeat(500) + '\r\nb NOOP\r\n');
    assert.deepEqual(events[0], {
      kind: 'literal-too-big',
      tag: 'a',
      size: 500,
      nonSync: true,
      reason: 'memory',
    });
    assert.equal(events[1]?.kind, 'command');
    assert.equal(budget.inUse, 0);
  });

  test('a command abandoned mid-literal gives its memory back on dispose', () => {
    const budget = new MemoryBudget(1 << 20);
    const rx = new CommandReceiver(OPTS, budget);
    drain(rx, 'a APPEND INBOX {4000+}\r\nonly part of it');
    assert.equal(budget.inUse, 4000);
    rx.dispose();
    assert.equal(budget.inUse, 0);
  });

  test('a literal sent in 1-byte pieces is one buffer of its size', () => {
    const rx = new CommandReceiver(OPTS);
    const body = 'y'.repeat(5000);
    const events: ReceiverEvent[] = [];
    for (const ch of `a APPEND INBOX {5000+}\r\n${body}\r\n`) events.push(...drain(rx, ch));
    const ev = events.find((e) => e.kind === 'command');
    assert.ok(ev && ev.kind === 'command');
    assert.equal(ev.command.literals[0]?.toString(), body);
    assert.equal(ev.command.literals[0]?.buffer.byteLength, 5000);
  });

  test('setLimits raises the literal limit for literals announced afterwards', () => {
    const rx = new CommandReceiver(OPTS);
    const [before] = drain(rx, 'a LOGIN {100000}\r\n');
    assert.equal(before?.kind, 'literal-too-big');
    rx.setLimits({ maxLiteralSize: 1 << 20 });
    const [after] = drain(rx, 'b APPEND INBOX {100000}\r\n');
    assert.deepEqual(after, { kind: 'continue', text: 'Ready for literal data' });
  });
});
