// The last line of defence: an exception or a rejection that escapes one connection's code is
// logged and ends that connection, never the server.
//
// Each connection has a ConnectionGuard that knows how to end it. Its code reaches the guard
// along the three ways it can be called back, and each catches what it throws:
// - the session's promise (guardConnection): a rejection is the guard's, not the runner's;
// - the listeners of its sockets (watch: the accepted socket's emit, and the TLSSocket that
//   STARTTLS makes, and a COMPRESS channel's zlib streams, run in a try/catch);
// - the timers, immediates, microtasks and detached promises it starts: connection code does
//   not call setTimeout & co. or leave a promise with `void`, it asks its guard
//   (conn.guard.setTimeout, .setImmediate, .nextTick, .queueMicrotask, .detach, .wrap), which runs the
//   callback in a try/catch or gives the promise a rejection handler. test/net/guard-lint
//   keeps bare timers and `void` promises out of src/imap, src/smtp, src/pop3, src/net and
//   src/http (a line that is not connection code says why with `// unguarded: ...`), and
//   biome's noFloatingPromises keeps out promises left without any handler.
// Until 2026-12-05 an AsyncLocalStorage scope per connection did this, found by the process
// handlers below; in Node 20 that turns on promise hooks for every promise in the process
// (about 30 us per IMAP command, 12 KB per SMTP message, 1.5 KB per IDLE session). A guard is
// one small object per connection and costs nothing on a path that does not fail.
//
// A failure outside every connection is in code all connections share (a listener, the store,
// the queue, a timer of the server's own, or connection code that went around its guard);
// after it the process's state is unknown, so installProcessGuard's handlers log it at fatal
// and the process exits with EX_SOFTWARE (70) for its supervisor to restart it (the store is
// crash-safe: SQLite WAL, mail acknowledged only once on disk). That is Node's own default for
// both, and the choice a process-per-service server (Postfix's master restarting a child)
// makes; serving on with a half-updated shared state could lose mail silently.
import type { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';

/** EX_SOFTWARE (sysexits.h): an internal software error. */
export const EXIT_INTERNAL_ERROR = 70;

/** How a failure in one connection's code is reported and contained. */
export class ConnectionGuard {
  private ended = false;

  /**
   * `log`: the connection's logger (connection id and peer bound). `end`: end the connection
   * at once: destroy its socket (HTTP: answer 500 first if it can).
   */
  constructor(
    readonly log: Logger,
    private readonly end: () => void,
  ) {}

  /** A failure of this connection's code: logged, and the connection ended (once). */
  fail(err: unknown, origin: string): void {
    this.log.error({ err, origin }, 'uncaught error in connection code: ending the connection');
    if (this.ended) return;
    this.ended = true;
    try {
      this.end();
    } catch (endErr) {
      this.log.error({ err: endErr }, 'ending the failed connection failed');
    }
  }

  /** setTimeout for connection code: what `cb` throws ends the connection. */
  setTimeout(cb: () => void, ms: number): NodeJS.Timeout {
    return setTimeout(callGuarded, ms, this, cb, 'timer');
  }

  /** setImmediate for connection code. */
  setImmediate(cb: () => void): NodeJS.Immediate {
    return setImmediate(callGuarded, this, cb, 'immediate');
  }

  /** process.nextTick for connection code: `cb(arg)` after the ticks already queued. */
  nextTick<T>(cb: (arg: T) => void, arg: T): void {
    process.nextTick(callGuardedWith, this, cb, arg);
  }

  /** queueMicrotask for connection code. */
  queueMicrotask(cb: () => void): void {
    queueMicrotask(() => callGuarded(this, cb, 'microtask'));
  }

  /** A promise after `ms` (a wait in a session: rate limit, greeting delay). */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => setTimeout(resolve, ms));
  }

  /** A promise the connection does not wait for: its rejection ends the connection. */
  detach(p: PromiseLike<unknown>): void {
    p.then(undefined, (err: unknown) => this.fail(err, 'detached promise'));
  }

  /** `fn` as a callback for someone else to call (an AbortSignal listener, a zlib flush). */
  wrap<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (err) {
        this.fail(err, 'callback');
      }
    };
  }

  /**
   * Run every listener of `emitter` (a socket of the connection, a stream it made) in a
   * try/catch: what one throws ends the connection, and the emit returns as if handled (an
   * 'error' nobody listens for included).
   */
  watch(emitter: EventEmitter): void {
    const emit = emitter.emit;
    const guard = this;
    emitter.emit = function guardedEmit(this: EventEmitter, event: string | symbol, ...args) {
      try {
        return emit.call(this, event, ...args);
      } catch (err) {
        guard.fail(err, `'${String(event)}' listener`);
        return true;
      }
    };
  }
}

function callGuarded(guard: ConnectionGuard, cb: () => void, origin: string): void {
  try {
    cb();
  } catch (err) {
    guard.fail(err, origin);
  }
}

function callGuardedWith<T>(guard: ConnectionGuard, cb: (arg: T) => void, arg: T): void {
  try {
    cb(arg);
  } catch (err) {
    guard.fail(err, 'nextTick');
  }
}

/**
 * Run a connection's code: `fn` returns its session's promise; `socket`, the accepted socket,
 * has its listeners watched. The result never rejects: a throw or a rejection is the guard's.
 */
export function guardConnection(
  guard: ConnectionGuard,
  socket: EventEmitter | null,
  fn: () => Promise<unknown>,
): Promise<void> {
  if (socket) guard.watch(socket);
  let session: Promise<unknown>;
  try {
    session = fn();
  } catch (err) {
    guard.fail(err, 'session');
    return Promise.resolve();
  }
  return session.then(ignore, (err: unknown) => guard.fail(err, 'session'));
}

function ignore(): void {}

export interface ProcessGuardOptions {
  /** The process's logger, for failures outside every connection. */
  log: Logger;
  /** Called after a failure outside every connection is logged; default process.exit. */
  exit?: (code: number) => void;
}

/** Install the process-wide handlers; returns their removal. */
export function installProcessGuard(opts: ProcessGuardOptions): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const unowned = (err: unknown, origin: string) => {
    opts.log.fatal({ err, origin }, `${origin} outside any connection: exiting`);
    exit(EXIT_INTERNAL_ERROR);
  };
  const onException = (err: Error, origin: string) => unowned(err, origin);
  const onRejection = (reason: unknown) => unowned(reason, 'unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
