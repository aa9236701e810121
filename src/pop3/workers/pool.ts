// POP3 worker processes, in the main process: POP3 sessions are served on more than one CPU.
// A download is a tight loop of RETR and DELE in which every message costs a read of its bytes
// and a socket write; one event loop serving every session spends its CPU on exactly that, so
// the sessions go to worker processes (Node hands a socket to another process; a thread cannot
// take one). A worker runs the protocol and reads message bytes itself (a read-only store
// reader); logins, maildrop locks, \Seen and the UPDATE are answered here (calls.ts), so the
// lock table, the auth throttle and every store write with its change events stay in one place.
//
// Workers start with the first POP3 connection, each connection goes to the worker with the
// fewest sessions, and a worker that dies takes only its own sessions with it (its locks are
// released here); the next connection starts a new one. Where no worker can be started, the
// connection is served in this process, as with `workers = 0`.
import { type ChildProcess, fork } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { HistogramSnapshot } from '../../http/metrics-family.js';
import type { Logger } from '../../log.js';
import type { Connection } from '../../net/connection.js';
import { settleWithin } from '../../net/listener.js';
import { servePop3Socket } from '../serve-socket.js';
import type { Pop3SessionOptions } from '../session.js';
import { CALLS, type CallContext } from './calls.js';
import type { ConnTls, FromWorker, Method, ToWorker, WorkerInit } from './protocol.js';
import { toWire } from './rpc.js';

/**
 * V8 options of a worker, measured with bench/pop3 (10 x 1,000 RETR+DELE of 10 KB):
 * - a worker allocates a buffer per message it sends; with V8's small default young
 *   generation it collected garbage every 15-30 ms (~8% of its CPU): 16 MB from the start
 *   makes that a few times rarer;
 * - a session's code is compiled to baseline machine code at once instead of being
 *   interpreted until it counts as hot (about 7% more messages per second in the bench,
 *   whose sessions are short);
 * - a function is optimized after a quarter of the default interrupt budget: the small
 *   per-message functions of a session (timers, writes, line reads) had not been optimized
 *   after 2,000 messages per worker, and were compiled while the next sessions ran (three
 *   runs: 26.2k, 23.4k, 30.1k msg/s without, 28.1k, 28.7k, 28.1k with).
 */
const WORKER_V8_FLAGS = [
  '--min-semi-space-size=16',
  '--max-semi-space-size=32',
  '--always-sparkplug',
  '--interrupt-budget=16384',
];
/** A worker that has not said `ready` by then is killed; its connections go elsewhere. */
const START_TIMEOUT_MS = 30_000;
/** After the shutdown deadline: how long a worker gets to exit before SIGKILL. */
const EXIT_GRACE_MS = 2000;
/** After a worker failed to start, sessions are served here this long before trying again. */
const RETRY_START_MS = 60_000;
/** The window in which workers that keep dying stop being replaced at once. */
const CRASH_WINDOW_MS = 60_000;

export interface PoolOptions {
  size: number;
  init: WorkerInit;
  /** How this process serves a session itself, and answers the workers' calls. */
  session: Omit<Pop3SessionOptions, 'starttls'>;
  log: Logger;
  /** The worker script; by default worker.ts beside this module. */
  entry?: string;
  /** The window for counting crashes (CRASH_WINDOW_MS by default). */
  crashWindowMs?: number;
  /** Command latencies a worker recorded since its last report. */
  onCommands?: (snapshots: HistogramSnapshot[]) => void;
}

class Worker {
  /** Open sessions by connection id: each resolves its handoff promise. */
  readonly sessions = new Map<number, () => void>();
  /** Maildrop locks its sessions hold, by lock id. */
  readonly locks = new Map<number, () => void>();
  readonly ready: Promise<boolean>;
  readonly exited: Promise<void>;
  alive = true;
  /** It said `ready` once: its exit later is a crash to replace, not a failed start. */
  started = false;
  /** Sends not yet called back (see send). */
  private readonly sending = new Set<(ok: boolean) => void>();

  constructor(
    readonly proc: ChildProcess,
    onMessage: (w: Worker, m: FromWorker) => void,
  ) {
    this.exited = new Promise((resolve) =>
      proc.once('exit', () => {
        for (const done of [...this.sending]) done(false);
        resolve();
      }),
    );
    this.ready = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        resolve(false);
      }, START_TIMEOUT_MS);
      proc.on('message', (m: FromWorker) => {
        if (m.t === 'ready') {
          clearTimeout(timer);
          this.started = true;
          resolve(true);
        } else onMessage(this, m);
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
      // fork itself failed (no 'exit' follows).
      proc.once('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
  }

  /**
   * Resolves true once written, false when it cannot be. Node parks a send behind a handle
   * the worker has not yet acknowledged, and never calls a parked send back if the worker
   * dies first: its exit answers false then (the handle, never sent, is still ours).
   */
  send(m: ToWorker, handle?: net.Socket): Promise<boolean> {
    if (!this.alive || !this.proc.connected) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.sending.delete(done);
        resolve(ok);
      };
      this.sending.add(done);
      try {
        this.proc.send(m, handle, {}, (err) => done(!err));
      } catch {
        done(false);
      }
    });
  }
}

export class Pop3WorkerPool {
  private workers: Worker[] = [];
  private nextConnId = 1;
  private nextLockId = 1;
  /** No worker is started before this time (one just failed to start). */
  private startBlockedUntil = 0;
  /** When started workers died, within the last CRASH_WINDOW_MS. */
  private crashes: number[] = [];
  private closing: Promise<void> | undefined;
  private readonly entry: string;
  private readonly unsubscribeTls: () => void;
  /** Sessions served in this process (no worker could take them), and their shutdown. */
  private readonly local = new Set<Connection>();
  private readonly localShutdown = new AbortController();

  constructor(private readonly opts: PoolOptions) {
    // Under tsx (tests) this module is the .ts source, and so is its sibling.
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    this.entry = opts.entry ?? fileURLToPath(new URL(`./worker${ext}`, import.meta.url));
    setMaxListeners(0, this.localShutdown.signal);
    this.unsubscribeTls = opts.session.tls.onReload(() => {
      for (const w of this.workers) void w.send({ t: 'reload-tls' });
    });
  }

  /**
   * Serve the socket in a worker; resolves when its session is over. A socket whose first
   * bytes were read here (`head`: the ClientHello an ACME tls-alpn-01 check looked at) is
   * served in this process: bytes read cannot travel with the handle.
   */
  async handoff(
    socket: net.Socket,
    listener: string,
    tls: ConnTls,
    refuse: boolean,
    head?: Buffer,
  ): Promise<void> {
    if (head) return this.serveHere(socket, listener, tls, refuse, head);
    const w = this.closing ? undefined : await this.pick();
    if (!w) return this.serveHere(socket, listener, tls, refuse);
    const id = this.nextConnId++;
    const over = new Promise<void>((resolve) => w.sessions.set(id, resolve));
    if (!(await w.send({ t: 'conn', id, listener, tls, refuse }, socket))) {
      w.sessions.delete(id);
      this.opts.log.warn({ pid: w.proc.pid }, 'could not hand a POP3 connection to its worker');
      return this.serveHere(socket, listener, tls, refuse);
    }
    return over;
  }

  private serveHere(
    socket: net.Socket,
    listener: string,
    tls: ConnTls,
    refuse: boolean,
    head?: Buffer,
  ): Promise<void> {
    // Accepted paused, to be handed over untouched: here it has to flow like any other.
    socket.resume();
    return servePop3Socket(socket, {
      listener,
      tls,
      refuse,
      ...(head ? { head } : {}),
      session: this.opts.session,
      log: this.opts.log,
      shuttingDown: this.localShutdown.signal,
      track: (conn) => {
        this.local.add(conn);
        conn.onClose(() => this.local.delete(conn));
      },
    });
  }

  /** The account was disabled: every worker ends its sessions (this process's end themselves). */
  accountDisabled(accountId: number): void {
    for (const w of this.workers) void w.send({ t: 'account-disabled', accountId });
  }

  /** Tell every worker to say goodbye, wait up to `deadlineMs`, then make sure they are gone. */
  shutdown(deadlineMs: number): Promise<void> {
    this.closing ??= (async () => {
      this.unsubscribeTls();
      this.localShutdown.abort();
      const cut = setTimeout(() => {
        for (const c of this.local) c.destroy();
      }, deadlineMs);
      await Promise.all(this.workers.map((w) => this.stop(w, deadlineMs)));
      clearTimeout(cut);
    })();
    return this.closing;
  }

  /** The worker with the fewest sessions, once the pool is full and started. */
  private async pick(): Promise<Worker | undefined> {
    // A worker whose channel closed is dying: it takes no more connections. One that had
    // started keeps its place until its 'exit' (SIGKILL makes sure that comes), which releases
    // what it held, counts the crash and replaces it (replaceCrashed): replacing it here first
    // would start a worker that the crash it is about to count may forbid.
    for (const w of this.workers) {
      if (w.alive && w.started && !w.proc.connected) w.proc.kill('SIGKILL');
    }
    this.workers = this.workers.filter((w) => w.alive && (w.proc.connected || w.started));
    if (Date.now() >= this.startBlockedUntil) {
      while (this.workers.length < this.opts.size) this.workers.push(this.spawn());
    }
    const started = await Promise.all(this.workers.map((w) => w.ready));
    if (started.includes(false) && Date.now() >= this.startBlockedUntil) {
      this.startBlockedUntil = Date.now() + RETRY_START_MS;
      this.opts.log.error(
        { retryInSeconds: RETRY_START_MS / 1000 },
        'a POP3 worker did not start; serving POP3 in the main process meanwhile',
      );
    }
    let best: Worker | undefined;
    for (const w of this.workers) {
      if (!w.alive || !w.proc.connected) continue;
      if (!best || w.sessions.size < best.sessions.size) best = w;
    }
    return best;
  }

  private spawn(): Worker {
    const proc = fork(this.entry, [JSON.stringify(this.opts.init)], {
      serialization: 'advanced',
      execArgv: [...workerExecArgv(process.execArgv), ...WORKER_V8_FLAGS],
    });
    const w = new Worker(proc, (w, m) => this.onMessage(w, m));
    proc.on('error', (err) => this.opts.log.error({ err }, 'POP3 worker process error'));
    void w.exited.then(() => this.onExit(w, proc.exitCode, proc.signalCode));
    return w;
  }

  private onExit(w: Worker, code: number | null, signal: string | null): void {
    w.alive = false;
    this.workers = this.workers.filter((x) => x !== w);
    if (!this.closing) {
      this.opts.log.error(
        { pid: w.proc.pid, code, signal, sessions: w.sessions.size },
        'POP3 worker exited; its sessions are lost (no deletions were made for them)',
      );
    }
    for (const release of w.locks.values()) release();
    w.locks.clear();
    for (const over of w.sessions.values()) over();
    w.sessions.clear();
    if (!this.closing && w.started) this.replaceCrashed();
  }

  /**
   * A worker that ran and then died is replaced now, not at the next connection, so the pool
   * is full again before it is needed. One that never started is left to pick(), whose pause
   * after a failed start keeps a worker that cannot start from looping; so is a pool whose
   * workers keep dying (more than twice its size within the crash window, CRASH_WINDOW_MS
   * unless the options say otherwise): it pauses for one window.
   */
  private replaceCrashed(): void {
    const now = Date.now();
    const windowMs = this.opts.crashWindowMs ?? CRASH_WINDOW_MS;
    this.crashes = this.crashes.filter((t) => now - t < windowMs);
    this.crashes.push(now);
    if (this.crashes.length > 2 * this.opts.size) {
      if (now >= this.startBlockedUntil) {
        this.opts.log.error(
          { crashes: this.crashes.length, retryInSeconds: windowMs / 1000 },
          'POP3 workers keep exiting; serving POP3 in the main process meanwhile',
        );
      }
      this.startBlockedUntil = now + windowMs;
      return;
    }
    if (now < this.startBlockedUntil) return;
    while (this.workers.length < this.opts.size) this.workers.push(this.spawn());
  }

  private onMessage(w: Worker, m: FromWorker): void {
    switch (m.t) {
      case 'call':
        void this.answer(w, m.rid, m.method, m.args);
        return;
      case 'release': {
        w.locks.get(m.lockId)?.();
        w.locks.delete(m.lockId);
        return;
      }
      case 'end': {
        w.sessions.get(m.id)?.();
        w.sessions.delete(m.id);
        return;
      }
      case 'commands':
        this.opts.onCommands?.(m.snapshots);
        return;
      case 'ready':
        return;
    }
  }

  private async answer(w: Worker, rid: number, method: Method, args: unknown): Promise<void> {
    try {
      const handler = CALLS[method] as (args: unknown, ctx: CallContext) => Promise<unknown>;
      const value = await handler(args, this.callContext(w));
      await w.send({ t: 'reply', rid, ok: true, value });
    } catch (err) {
      await w.send({ t: 'reply', rid, ok: false, error: toWire(err) });
    }
  }

  private callContext(w: Worker): CallContext {
    return {
      backend: this.opts.session.backend,
      locks: w.locks,
      lockId: () => this.nextLockId++,
      alive: () => w.alive,
    };
  }

  private async stop(w: Worker, deadlineMs: number): Promise<void> {
    if (!(await w.send({ t: 'shutdown', deadlineMs }))) w.proc.kill('SIGTERM');
    if (!(await settleWithin([w.exited], deadlineMs + EXIT_GRACE_MS))) w.proc.kill('SIGKILL');
    await w.exited;
  }
}

/**
 * The Node options a worker runs with: this process's, less the test runner's and the
 * inspector's (a worker is neither a test file nor a second debug target); module loaders
 * (tsx in tests) and profiling flags stay.
 */
export function workerExecArgv(argv: readonly string[]): string[] {
  return argv.filter((a) => !/^--(test|inspect|watch)/.test(a));
}
