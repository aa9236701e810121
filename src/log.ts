// Logging: pino JSON to stdout, pretty when stdout is a terminal. One root logger per process,
// one child per connection (see net/). Never log a password or a message body.
//
// A pino child logger is a full logger object (its own level methods, shapes and serialized
// bindings: about a kilobyte), and a connection makes two or three of them. Ten thousand
// connections in IDLE write almost nothing at the configured level, so children here are lazy:
// a small object with the bindings, which makes the pino child on its first enabled call.
import { type Logger as PinoLogger, pino } from 'pino';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
type Bindings = Record<string, unknown>;
type LogFn = PinoLogger['info'];

/** The part of pino's logger Letterbox uses; a pino logger is one. */
export interface Logger {
  level: string;
  isLevelEnabled(level: string): boolean;
  child(bindings: Bindings): Logger;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

export interface LogOptions {
  level?: string;
  /** Force pretty output on or off; by default pretty only on a TTY. */
  pretty?: boolean;
}

/** `[log] format` as LogOptions.pretty: undefined for auto (pretty on a terminal). */
export function prettyFor(format: 'auto' | 'json' | 'pretty'): boolean | undefined {
  return format === 'auto' ? undefined : format === 'pretty';
}

/** A child whose pino logger is made on first use at an enabled level. */
class LazyChild implements Logger {
  private made: Logger | undefined;

  constructor(
    private readonly root: Logger,
    /** Every binding from the root down, merged (a later child's key wins). */
    private readonly bindings: Bindings,
  ) {}

  get level(): string {
    return this.root.level;
  }

  set level(level: string) {
    this.root.level = level;
  }

  isLevelEnabled(level: string): boolean {
    return this.root.isLevelEnabled(level);
  }

  child(bindings: Bindings): Logger {
    // Not a spread: V8 copies `{ ...a, ...b }` with keys b adds on a slow path (~0.5 us, and
    // a connection and each of its messages make children).
    return new LazyChild(this.root, Object.assign({}, this.bindings, bindings));
  }

  private emit(level: Level, args: unknown[]): void {
    if (!this.root.isLevelEnabled(level)) return;
    this.made ??= this.root.child(this.bindings);
    const made = this.made;
    (made[level] as (...a: unknown[]) => void).apply(made, args);
  }

  trace(...args: unknown[]): void {
    this.emit('trace', args);
  }
  debug(...args: unknown[]): void {
    this.emit('debug', args);
  }
  info(...args: unknown[]): void {
    this.emit('info', args);
  }
  warn(...args: unknown[]): void {
    this.emit('warn', args);
  }
  error(...args: unknown[]): void {
    this.emit('error', args);
  }
  fatal(...args: unknown[]): void {
    this.emit('fatal', args);
  }
}

/** Lazy children for an existing pino logger (tests hand one in). */
export function wrapLogger(logger: PinoLogger): Logger {
  // The root too: without bindings, its pino child writes what the root itself would.
  return new LazyChild(logger, {});
}

/**
 * pino-pretty's options on a terminal: local date and time to the millisecond with the zone
 * offset (a log read the next day, or next to another host's, needs the date), colours.
 */
export const PRETTY_OPTIONS = {
  colorize: true,
  translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l o',
  ignore: 'hostname',
} as const;

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.LETTERBOX_LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    return wrapLogger(
      pino({ level, transport: { target: 'pino-pretty', options: PRETTY_OPTIONS } }),
    );
  }
  return wrapLogger(pino({ level, base: { pid: process.pid } }));
}

/** A logger that drops everything: for tests and library use. */
export function silentLogger(): Logger {
  return wrapLogger(pino({ level: 'silent' }));
}
