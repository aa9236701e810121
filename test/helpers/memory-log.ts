// A logger that keeps what the server logs as parsed JSON records, for tests that check that a
// decision was logged (and that no secret was).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { type Logger, wrapLogger } from '../../src/log.js';

export interface MemoryLog {
  log: Logger;
  records: Array<Record<string, unknown>>;
  /** Everything logged so far, as the JSON lines it was written as. */
  text(): string;
}

export function memoryLog(level = 'info'): MemoryLog {
  const lines: string[] = [];
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      const line = String(chunk);
      lines.push(line);
      records.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { log: wrapLogger(pino({ level }, sink)), records, text: () => lines.join('') };
}
