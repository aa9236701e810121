// Shared helpers for the IMAP wire tests: run bytes through a receiver, then the parser.
import assert from 'node:assert/strict';
import {
  type ArgCursor,
  ImapParseError,
  type ParsedCommand,
  parseCommand,
} from '../../../src/imap/wire/parser.js';
import {
  CommandReceiver,
  type ReceiverEvent,
  type ReceiverOptions,
} from '../../../src/imap/wire/receiver.js';

export const OPTS: ReceiverOptions = {
  maxLineLength: 1024,
  maxLiteralSize: 1 << 20,
  literalPlus: true,
};

/** All events for the input fed as the given chunks. */
export function eventsOf(
  chunks: (string | Buffer)[],
  opts: ReceiverOptions = OPTS,
): ReceiverEvent[] {
  const rx = new CommandReceiver(opts);
  const out: ReceiverEvent[] = [];
  for (const c of chunks)
    out.push(...rx.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c));
  return out;
}

/** Parses one complete command given as wire text (literals are non-synchronizing or not). */
export function parse(text: string | Buffer): ParsedCommand | ImapParseError {
  const events = eventsOf([text]).filter((e) => e.kind !== 'continue');
  assert.equal(events.length, 1, `expected one event, got ${JSON.stringify(events)}`);
  const ev = events[0];
  assert.equal(ev.kind, 'command');
  return parseCommand(ev.command);
}

/** The argument cursor of a command that must parse. */
export function argsOf(text: string | Buffer): ArgCursor {
  const p = parse(text);
  if (p instanceof ImapParseError) assert.fail(`parse failed: ${p.message}`);
  return p.args;
}
