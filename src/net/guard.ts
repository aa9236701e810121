// The last line of defence: an exception or a rejection that escapes one connection's code is
// logged and ends that connection, never the server.
//
// Each connection's code runs in an AsyncLocalStorage scope (guardConnection) that knows how to
// end the connection. The process-wide handlers (installProcessGuard, installed by
// `letterbox serve`) look up the scope of the code that failed. Node 20 keeps the scope
// visible in an 'uncaughtException' handler for a throw in a timer, an immediate or a
// nextTick callback, in 'unhandledRejection' for a promise rejected in the scope, and in the
// callbacks of a socket created in the scope (a STARTTLS TLSSocket). It does not for the
// events of the accepted socket itself, whose handle was made by the server outside any scope
// (its 'data' callbacks run in that handle's context): guardConnection wraps that socket's
// emit, so its listeners run in the scope and what they throw is caught there.
//
// A failure outside every scope is in code all connections share (a listener, the store, the
// queue, a timer of the server's own); after it the process's state is unknown, so it is logged
// at fatal and the process exits with EX_SOFTWARE (70) for its supervisor to restart it (the
// store is crash-safe: SQLite WAL, mail acknowledged only once on disk). That is Node's own
// default for both, and the choice a process-per-service server (Postfix's master restarting
// a child) makes; serving on with a half-updated shared state could lose mail silently.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';

/** How a failure in one connection's code is reported and contained. */
export interface ConnectionScope {
  /** The connection's logger (connection id and peer bound). */
  readonly log: Logger;
  /** End the connection at once: destroy its socket (HTTP: answer 500 first if it can). */
  end(): void;
}

interface Scope extends ConnectionScope {
  ended: boolean;
}

const storage = new AsyncLocalStorage<Scope>();

/** EX_SOFTWARE (sysexits.h): an internal software error. */
export const EXIT_INTERNAL_ERROR = 70;

/**
 * Run a connection's code (`fn`, which returns its session's promise) in a scope of its own.
 * `socket`: the accepted socket, whose event listeners are run in the scope too.
 */
export function guardConnection<T>(
  scope: ConnectionScope,
  socket: EventEmitter | null,
  fn: () => T,
): T {
  const s: Scope = { log: scope.log, end: scope.end, ended: false };
  if (socket) guardEmits(socket, s);
  return storage.run(s, fn);
}

/** True when the calling code runs in some connection's scope (for tests). */
export function inConnectionScope(): boolean {
  return storage.getStore() !== undefined;
}

function guardEmits(emitter: EventEmitter, scope: Scope): void {
  const emit = emitter.emit;
  emitter.emit = function guardedEmit(this: EventEmitter, event: string | symbol, ...args) {
    return storage.run(scope, () => {
      try {
        return emit.call(this, event, ...args);
      } catch (err) {
        fail(scope, err, `'${String(event)}' listener`);
        return true;
      }
    });
  };
}

function fail(scope: Scope, err: unknown, origin: string): void {
  scope.log.error({ err, origin }, 'uncaught error in connection code: ending the connection');
  if (scope.ended) return;
  scope.ended = true;
  try {
    scope.end();
  } catch (endErr) {
    scope.log.error({ err: endErr }, 'ending the failed connection failed');
  }
}

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
  const onException = (err: Error, origin: string) => {
    const scope = storage.getStore();
    if (scope) fail(scope, err, origin);
    else unowned(err, origin);
  };
  const onRejection = (reason: unknown) => {
    const scope = storage.getStore();
    if (scope) fail(scope, reason, 'unhandledRejection');
    else unowned(reason, 'unhandledRejection');
  };
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
