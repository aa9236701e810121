// Entry point of a POP3 worker process (forked by pool.ts). It serves the POP3 sessions of
// the sockets the main process hands it: TLS, the protocol, and reading message bytes from
// the store's files, on its own CPU. Everything else goes to the main process (see
// remote-backend.ts). It exits when told to shut down, or as soon as the main process is gone.
import { setMaxListeners } from 'node:events';
import type net from 'node:net';
import { PlaintextPolicy } from '../../auth/plaintext.js';
import { CommandMetrics, commandFamily } from '../../http/metrics.js';
import { createLogger, prettyFor } from '../../log.js';
import type { Connection } from '../../net/connection.js';
import { ConnectionGuard, guardConnection, installProcessGuard } from '../../net/guard.js';
import { settleWithin } from '../../net/listener.js';
import { TlsProvider, tlsOptionsOf } from '../../net/tls.js';
import { openMessageReader } from '../../store/open.js';
import { AccountEnds } from '../account-ends.js';
import { COMMANDS } from '../commands/index.js';
import { servePop3Socket } from '../serve-socket.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { remoteBackend } from './remote-backend.js';
import { RpcClient } from './rpc.js';

const init = JSON.parse(process.argv[2] ?? '{}') as WorkerInit;
const log = createLogger({ level: init.logLevel, pretty: prettyFor(init.logFormat) }).child({
  pop3Worker: process.pid,
});
const send = (m: FromWorker): boolean => {
  if (!process.connected) return false;
  process.send?.(m);
  return true;
};

installProcessGuard({ log });
const tls = TlsProvider.load(tlsOptionsOf(init.cfg.tlsFiles));
const reader = openMessageReader(init.cfg);
const rpc = new RpcClient(send);
const backend = remoteBackend(rpc, reader, (lockId) => send({ t: 'release', lockId }));
// Command latencies are recorded here and sent to the main process, which serves /metrics.
const commands = commandFamily();
const accountEnds = new AccountEnds();
const sessionOpts = {
  backend,
  accountEnds,
  hostname: init.cfg.hostname,
  plaintext: new PlaintextPolicy(init.plaintextNetworks),
  tls,
  idleTimeoutMs: init.idleTimeoutMs,
  commands: new CommandMetrics(commands, 'pop3', new Set(Object.keys(COMMANDS))),
};

/** Sends what was recorded since the last report, if anything was; resolves once sent. */
function reportCommands(): Promise<void> {
  const snapshots = commands.drain();
  return new Promise((resolve) => {
    if (snapshots.length === 0 || !process.connected || !process.send) return resolve();
    const m: FromWorker = { t: 'commands', snapshots };
    process.send(m, undefined, {}, () => resolve());
  });
}
/** How often a worker reports; a scrape sees a worker's commands at most this late. */
const REPORT_MS = 2000;
// unguarded: the worker process's own timer, outside every connection
setInterval(() => void reportCommands(), REPORT_MS).unref();

const shutdown = new AbortController();
// One listener per session, thousands at a time are normal (see net/listener.ts).
setMaxListeners(0, shutdown.signal);
const sessions = new Set<Promise<void>>();
const conns = new Set<Connection>();

function serve(id: number, socket: net.Socket, m: Extract<ToWorker, { t: 'conn' }>): void {
  if (shutdown.signal.aborted) {
    socket.destroy();
    send({ t: 'end', id });
    return;
  }
  // A bug in one session's code ends that session only (net/guard.ts), not the worker; the
  // guarded promise never rejects.
  const guard = new ConnectionGuard(log, () => socket.destroy());
  const session = guardConnection(guard, socket, () =>
    servePop3Socket(socket, {
      guard,
      listener: m.listener,
      tls: m.tls,
      refuse: m.refuse,
      session: sessionOpts,
      log,
      shuttingDown: shutdown.signal,
      track: (conn) => {
        conns.add(conn);
        conn.onClose(() => conns.delete(conn));
      },
    }),
  ).then(() => {
    sessions.delete(session);
    send({ t: 'end', id });
  });
  sessions.add(session);
}

async function stop(deadlineMs: number): Promise<void> {
  shutdown.abort();
  await settleWithin([...sessions], deadlineMs);
  for (const c of conns) c.destroy();
  await Promise.allSettled([...sessions]);
  await reportCommands();
  exit(0);
}

function exit(code: number): void {
  rpc.close(new Error('POP3 worker exiting'));
  reader.close();
  process.exit(code);
}

const handlers: { [K in ToWorker['t']]: (m: Extract<ToWorker, { t: K }>, h: unknown) => void } = {
  conn: (m, handle) => serve(m.id, handle as net.Socket, m),
  reply: (m) => rpc.settle(m),
  shutdown: (m) => void stop(m.deadlineMs), // unguarded: the worker process's own
  'account-disabled': (m) => accountEnds.disabled(m.accountId),
  'reload-tls': () => {
    // The main process reloaded the same files successfully; keep the old ones on error.
    try {
      tls.reload();
    } catch (err) {
      log.error({ err: (err as Error).message }, 'TLS reload failed in POP3 worker');
    }
  },
};

process.on('message', (m: ToWorker, handle: unknown) => {
  (handlers[m.t] as (m: ToWorker, h: unknown) => void)(m, handle);
});
// The main process is gone (or let go of us): its sessions cannot be served any more.
process.on('disconnect', () => {
  for (const c of conns) c.destroy();
  exit(0);
});
send({ t: 'ready' });
