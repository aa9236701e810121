// Logging: pino JSON to stdout, pretty when stdout is a terminal. One root logger per process,
// one child per connection (see net/). Never log a password or a message body.
import { type Logger, pino } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Force pretty output on or off; by default pretty only on a TTY. */
  pretty?: boolean;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.LETTERBOX_LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    return pino({
      level,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss' },
      },
    });
  }
  return pino({ level, base: { pid: process.pid } });
}

/** A logger that drops everything: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
