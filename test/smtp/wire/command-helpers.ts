// Shared helpers for the command parser tests.
import assert from 'node:assert/strict';
import { type ParseOptions, parseCommand } from '../../../src/smtp/wire/command.js';

export const parse = (line: string, opts: ParseOptions = {}) =>
  parseCommand(Buffer.from(line), opts);

/** The reply of an error as "code enhanced"; fails the test when the line parses. */
export function errorOf(line: string, opts: ParseOptions = {}): string {
  const r = parse(line, opts);
  assert.equal(r.kind, 'error', `expected an error for ${JSON.stringify(line)}`);
  if (r.kind !== 'error') throw new Error('unreachable');
  return `${r.reply.code} ${r.reply.enhanced}`;
}
