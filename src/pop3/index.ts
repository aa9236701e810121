// The POP3 protocol engine for the 'pop3' (STLS, RFC 2595) and 'pop3s' (implicit TLS,
// RFC 8314) listeners: sessions in worker processes (`[pop3] workers`, see workers/pool.ts),
// or in this process when there are none.
import { availableParallelism } from 'node:os';
import { plaintextPolicy } from '../auth/plaintext.js';
import type { Connection } from '../net/connection.js';
import type { ProtocolFactory, ServerContext } from '../server.js';
import { AccountEnds } from './account-ends.js';
import { localBackend } from './backend.js';
import { COMMANDS } from './commands/index.js';
import { IDLE_TIMEOUT_MS } from './limits.js';
import { Pop3Session, type Pop3SessionOptions } from './session.js';
import { errLine } from './wire.js';
import { Pop3WorkerPool } from './workers/pool.js';

export interface Pop3ProtocolOptions {
  /** Autologout timer; RFC 1939 §3 asks for at least 10 minutes. Tests pass less. */
  idleTimeoutMs?: number;
  /** The worker's entry script (tests: one that fails to start). */
  workerEntry?: string;
  /**
   * The window in which more than twice the pool's size in worker crashes stop the replacing
   * (default a minute). Tests on a loaded machine pass a longer one: their rounds of kills
   * must fall within it however slowly the workers start.
   */
  workerCrashWindowMs?: number;
}

/** `[pop3] workers` as a number of processes. */
export function workerCount(setting: 'auto' | number, cpus = availableParallelism()): number {
  if (setting !== 'auto') return setting;
  return cpus < 2 ? 0 : Math.min(cpus, 4);
}

export function createPop3Protocol(opts: Pop3ProtocolOptions = {}): ProtocolFactory {
  const idleTimeoutMs = opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  // One pool for both listeners of a server (110 and 995), made by the first of them.
  const pools = new WeakMap<ServerContext, Pop3WorkerPool>();
  const ends = new WeakMap<ServerContext, AccountEnds>();
  /** One per server: a disabled account's sessions end, here and in every worker. */
  const accountEnds = (ctx: ServerContext): AccountEnds => {
    let e = ends.get(ctx);
    if (e) return e;
    const made = new AccountEnds();
    ends.set(ctx, made);
    ctx.store.subscribe((ev) => {
      if (ev.kind !== 'account-disabled') return;
      made.disabled(ev.accountId);
      pools.get(ctx)?.accountDisabled(ev.accountId);
    });
    e = made;
    return e;
  };
  return (ctx, listener) => {
    const session: Omit<Pop3SessionOptions, 'starttls'> = {
      accountEnds: accountEnds(ctx),
      backend: localBackend(ctx),
      hostname: ctx.cfg.hostname,
      plaintext: plaintextPolicy(ctx.cfg.auth),
      tls: ctx.tls,
      idleTimeoutMs,
      commands: ctx.metrics.commandMetrics('pop3', Object.keys(COMMANDS)),
    };
    const workers = workerCount(ctx.cfg.pop3.workers);
    if (workers === 0) {
      return {
        handler: (conn: Connection, { shuttingDown }) =>
          new Pop3Session(
            conn,
            { ...session, starttls: listener.tls === 'starttls' },
            shuttingDown,
          ).run(),
        onTooMany: (conn: Connection) =>
          conn.write(errLine('Too many connections, try again later', 'SYS/TEMP')),
      };
    }
    let pool = pools.get(ctx);
    if (!pool) {
      pool = newPool(ctx, session, workers, opts);
      pools.set(ctx, pool);
    }
    const p = pool;
    return {
      handoff: (socket, refuse, head) => {
        // A refused client on the implicit-TLS port gets no handshake (CPU): it is closed, as
        // net/listener.ts does for 993 and 465.
        if (refuse && listener.tls === 'implicit') {
          socket.destroy();
          return Promise.resolve();
        }
        return p.handoff(socket, listener.name, listener.tls, refuse, head);
      },
      shutdown: (deadlineMs) => p.shutdown(deadlineMs),
    };
  };
}

function newPool(
  ctx: ServerContext,
  session: Omit<Pop3SessionOptions, 'starttls'>,
  size: number,
  opts: Pop3ProtocolOptions,
): Pop3WorkerPool {
  return new Pop3WorkerPool({
    size,
    entry: opts.workerEntry,
    crashWindowMs: opts.workerCrashWindowMs,
    session,
    log: ctx.log,
    // The workers' command latencies, sent every few seconds (workers/worker.ts).
    onCommands: (snapshots) => session.commands?.merge(snapshots),
    init: {
      cfg: {
        dataDir: ctx.cfg.dataDir,
        store: ctx.cfg.store,
        hostname: ctx.cfg.hostname,
        tlsFiles: ctx.cfg.tlsFiles,
      },
      plaintextNetworks: [...session.plaintext.networks],
      logLevel: ctx.log.level,
      logFormat: ctx.cfg.log.format,
      idleTimeoutMs: session.idleTimeoutMs,
    },
  });
}

export const pop3Protocol: ProtocolFactory = createPop3Protocol();
