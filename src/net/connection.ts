// One client connection as a sequential session sees it: await a line, await N bytes, write
// with backpressure, upgrade to TLS in place. Socket trouble becomes eof, never an exception.
import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../log.js';
import {
  type ConnFacts,
  hostPort,
  logClosed,
  logOpened,
  logTls,
  newConnectionId,
} from './conn-log.js';
import { ConnectionGuard } from './guard.js';
import { InputBuffer, type LineResult } from './input.js';
import { normalizeIp } from './limits.js';
import { type TlsProvider, tlsFailureReason } from './tls.js';

export type { LineResult };

/**
 * Stop reading from the socket once this much input waits unconsumed: a client that sends
 * faster than the session consumes is held back by TCP flow control instead of our memory.
 */
export const INPUT_HIGH_WATER = 256 * 1024;
/** After close() ends our side, how long the peer gets to close its side before destroy. */
const CLOSE_GRACE_MS = 1000;
/** STARTTLS handshake deadline (shorter when the idle timeout is). */
const HANDSHAKE_MS = 10_000;

/** STARTTLS negotiation failed; the connection is already destroyed. Not a server fault. */
export class TlsHandshakeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TlsHandshakeError';
  }
}

/** What a read takes from the input: a line, exactly n bytes, or whatever is there. */
const LINE = 0;
const BYTES = 1;
const CHUNK = 2;

/**
 * A read waiting for input, as data (no closure per read): thousands of sessions sit in one
 * for hours (IMAP IDLE), and each closure costs its object and context.
 */
interface PendingRead {
  readonly kind: typeof LINE | typeof BYTES | typeof CHUNK;
  /** LINE: the longest line; BYTES: how many. */
  readonly n: number;
  /** Completes the read with what it took, or its timeout value. */
  readonly done: (result: LineResult | Buffer | null) => void;
}

const TIMED_OUT: LineResult = { kind: 'timeout' };

export interface ConnectionOptions {
  /** The server's logger; the connection binds its listener, id and peer to it. */
  log: Logger;
  /** The listener's name (`imap`, `submissions`...), for the logs. */
  listener?: string;
  secure?: boolean;
  /** The guard of the socket's code, when the caller made one first (net/guard.ts). */
  guard?: ConnectionGuard;
}

export class Connection implements ConnFacts {
  readonly id = newConnectionId();
  readonly listener: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** `address:port`, IPv6 in brackets. */
  readonly peer: string;
  readonly log: Logger;
  /**
   * Where the connection's code schedules timers and detached promises, so that a throw in
   * them ends this connection only (net/guard.ts).
   */
  readonly guard: ConnectionGuard;
  secure: boolean;
  /** Set by the protocol when a login succeeds: the account's address, for the close line. */
  account: string | undefined;
  tlsVersion: string | undefined;
  tlsCipher: string | undefined;
  /** An idle timeout fired; every later read reports timeout (or null) at once. */
  timedOut = false;

  private socket: net.Socket;
  private readonly input = new InputBuffer();
  private pending: PendingRead | null = null;
  private ended = false;
  private paused = false;
  private idleMs = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private socketClosed = false;
  private closeCallbacks: (() => void)[] = [];
  /** Where the open and close lines go (conn-log.ts): the logger the connection was given. */
  private readonly serverLog: Logger;
  /** Whole milliseconds: a small integer is stored in the object, a fraction in a heap number. */
  private readonly openedAt = Math.floor(performance.now());
  /** Bytes read and written on the plaintext socket before STARTTLS replaced it. */
  private plainIn = 0;
  private plainOut = 0;
  private readonly listeners = {
    data: (chunk: Buffer) => this.onData(chunk),
    end: () => this.onEnd(),
    error: (err: Error) => this.onError(err),
    close: () => this.onSocketClose(),
  };

  constructor(socket: net.Socket, opts: ConnectionOptions) {
    this.socket = socket;
    this.listener = opts.listener ?? 'unknown';
    this.remoteAddress = normalizeIp(socket.remoteAddress ?? 'unknown');
    this.remotePort = socket.remotePort ?? 0;
    this.peer = hostPort(this.remoteAddress, this.remotePort);
    this.secure = opts.secure ?? socket instanceof tls.TLSSocket;
    if (socket instanceof tls.TLSSocket) this.noteTls(socket);
    this.serverLog = opts.log;
    this.log = opts.log.child({ listener: this.listener, conn: this.id, peer: this.peer });
    this.guard = opts.guard ?? new ConnectionGuard(this.log, () => this.destroy());
    logOpened(this.serverLog, this);
    this.attach(socket);
    if (socket.destroyed) this.onSocketClose();
  }

  /** True once close() or destroy() was called or the socket closed. */
  get closed(): boolean {
    return this.closing !== undefined || this.socketClosed || this.socket.destroyed;
  }

  /** Bytes received and not yet consumed (for tests and metrics). */
  get bufferedBytes(): number {
    return this.input.length;
  }

  /** Input already received but not consumed: pipelining before the greeting, or STARTTLS injection. */
  hasBufferedInput(): boolean {
    return this.input.length > 0 || this.socket.readableLength > 0;
  }

  /**
   * Next line of at most `maxLength` bytes, not counting its CRLF or bare LF. A longer line
   * is reported once as 'too-long' and the rest of it is dropped up to its LF as it arrives,
   * never buffered. A partial line followed by end of input is dropped and reported as 'eof'.
   */
  readLine(maxLength: number): Promise<LineResult> {
    return this.read(LINE, maxLength) as Promise<LineResult>;
  }

  /** Exactly `n` bytes (a literal, a BDAT chunk); null on eof or timeout. */
  readBytes(n: number): Promise<Buffer | null> {
    return this.read(BYTES, n) as Promise<Buffer | null>;
  }

  /** Whatever is buffered, else the next chunk to arrive; null on eof or timeout. */
  readChunk(): Promise<Buffer | null> {
    return this.read(CHUNK, 0) as Promise<Buffer | null>;
  }

  /**
   * readChunk() for a caller waiting on a callback, not a promise: `done` gets what the
   * promise would resolve with, at once (inside this call) when input is there. An IMAP
   * session waiting for its client holds nothing else for its read.
   */
  readChunkThen(done: (chunk: Buffer | null) => void): void {
    this.readThen(CHUNK, 0, done as PendingRead['done']);
  }

  /** Push bytes back in front of the input, to be read again. */
  unread(buf: Buffer): void {
    this.input.unshift(buf);
    this.updateFlow();
  }

  /**
   * While a read waits, if no input arrives for `ms` it resolves as timed out (and so does
   * every later read). The clock runs only while waiting for the client, not while the
   * session works. 0 disables. Also bounds how long a write may wait for the peer to read.
   */
  setIdleTimeout(ms: number): void {
    this.idleMs = ms;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.armIdle();
  }

  /**
   * Resolves when the socket accepted the data, or after 'drain' when its buffer is full, so
   * a large FETCH or RETR goes no faster than the client reads. Resolves quietly when the
   * connection is closed: the next read then reports eof. Several buffers go out in one
   * writev (cork/uncork) instead of being copied into one.
   */
  write(data: Buffer | string | readonly (Buffer | string)[]): Promise<void> {
    return this.send(data) ?? Promise.resolve();
  }

  /**
   * write() without a promise when there is nothing to wait for: undefined when the socket
   * took the data (or the connection is closed), else the promise write() gives. A session
   * that answers each command with one write (SMTP) then makes no promise for it.
   */
  send(data: Buffer | string | readonly (Buffer | string)[]): Promise<void> | undefined {
    const socket = this.socket;
    if (this.closed || !socket.writable) return undefined;
    // Errors reach the 'error' listener; the callback only keeps them out of the stream default.
    let room: boolean;
    if (Array.isArray(data)) {
      socket.cork();
      room = true;
      for (const b of data) room = socket.write(b, ignoreWriteResult);
      socket.uncork();
    } else {
      room = socket.write(data as Buffer | string, ignoreWriteResult);
    }
    if (room) return undefined;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
      if (this.idleMs > 0) {
        timer = this.guard.setTimeout(() => {
          this.log.debug('peer stopped reading: write timed out');
          this.timedOut = true;
          this.destroy();
        }, this.idleMs);
      }
    });
  }

  /**
   * Upgrade to TLS in place (RFC 3207 §4, RFC 9051 §6.2.1, RFC 2595 §4), called after the
   * protocol wrote its "go ahead" reply. Any plaintext the client sent after the STARTTLS
   * command is DISCARDED first: a man in the middle can append commands to the cleartext
   * packet that would otherwise run as if sent inside TLS (CVE-2011-0411, RFC 3207 §4.2).
   * Rejects with TlsHandshakeError (connection destroyed) if the handshake fails.
   * `head`: implicit TLS only, the start of the handshake already read from the socket
   * (net/client-hello.ts), fed to TLS first.
   */
  async startTls(provider: TlsProvider, head?: Buffer): Promise<void> {
    if (this.secure) throw new Error('startTls on a connection that is already secure');
    const plain = this.socket;
    plain.pause();
    let dropped = this.input.clear();
    for (let b: Buffer | null = plain.read(); b !== null; b = plain.read()) dropped += b.length;
    if (dropped > 0) {
      this.log.info({ bytes: dropped }, 'discarded plaintext sent after STARTTLS');
    }
    this.detach(plain);
    this.plainIn = plain.bytesRead;
    this.plainOut = plain.bytesWritten;
    // The TLS socket takes over the handle; anything still raised on the plain one is noise.
    plain.on('error', (err) => this.log.debug({ err }, 'plain socket error after STARTTLS'));
    if (head) plain.unshift(head);
    const opts = provider.serverOptions();
    const secure = new tls.TLSSocket(plain, {
      isServer: true,
      secureContext: provider.secureContext(),
      SNICallback: opts.SNICallback,
    });
    // Its listeners are this connection's code (net/guard.ts).
    this.guard.watch(secure);
    this.socket = secure;
    this.paused = false;
    this.attach(secure);
    try {
      await this.handshake(secure);
    } catch (err) {
      this.ended = true;
      secure.destroy();
      // The client's failure, not the server's: one info line, no stack.
      const reason = tlsFailureReason(err);
      this.log.info({ reason }, 'TLS handshake failed');
      throw new TlsHandshakeError(`TLS handshake failed: ${reason}`, { cause: err });
    }
    this.secure = true;
    this.noteTls(secure);
    logTls(this.serverLog, this);
    this.updateFlow();
  }

  /** End our side gracefully (flushing writes), destroying the socket if the peer lingers. */
  close(): Promise<void> {
    return this.endOnce((socket, resolve) => {
      const timer = this.guard.setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
      timer.unref();
      this.onClose(() => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }

  /**
   * After the protocol's last word to a client that said goodbye (SMTP 221 to QUIT): end our
   * side and release the socket once our writes are flushed, without waiting for the peer to
   * close its side as close() does. Nothing more is read. A client that resets the connection
   * after reading the goodbye (Postfix's smtp-source does, for every connection) then costs
   * no read error: Node builds an exception with its stack for each ECONNRESET.
   */
  finish(): Promise<void> {
    return this.endOnce((socket, resolve) => {
      this.onClose(resolve);
      // Every byte written is with the kernel already (the usual case: the goodbye went out in
      // one write): close(2) alone sends it and then our FIN (RFC 9293 §3.6, CLOSE: queued
      // data first), as shutdown(2) and close(2) did, one system call and Node's end of the
      // stream fewer. TLS ends with end(), which sends close_notify first.
      // On the next tick, not now: the last write's completion is still queued there (Node
      // runs a write's callback on a tick even when write(2) took it all), and a stream
      // destroyed before that tick builds an ERR_STREAM_DESTROYED, stack and all, for nobody
      // to read (Node 20's errorBuffer): ~20 us of CPU a connection. No I/O runs between.
      if (!this.secure && socket.writableLength === 0) {
        this.guard.nextTick(destroySocket, socket);
        return;
      }
      // The callback runs once the data and our FIN went to the kernel (or on an error): the
      // kernel delivers what is queued after the descriptor is closed.
      socket.end(() => socket.destroy());
    });
  }

  /** The one ending of close() and finish(): `run` starts it unless one began or the socket is gone. */
  private endOnce(run: (socket: net.Socket, resolve: () => void) => void): Promise<void> {
    if (this.closing) return this.closing;
    const socket = this.socket;
    this.closing = new Promise<void>((resolve) => {
      if (this.socketClosed || socket.destroyed) {
        resolve();
        return;
      }
      run(socket, resolve);
    });
    return this.closing;
  }

  /** Drop the connection now. */
  destroy(): void {
    if (!this.closing) this.closing = Promise.resolve();
    this.socket.destroy();
  }

  /** Run `cb` once when the socket has closed (at once, asynchronously, if it already has). */
  onClose(cb: () => void): void {
    if (this.socketClosed) this.guard.queueMicrotask(cb);
    else this.closeCallbacks.push(cb);
  }

  private read(kind: PendingRead['kind'], n: number): Promise<LineResult | Buffer | null> {
    return new Promise((resolve, reject) => {
      try {
        this.readThen(kind, n, resolve);
      } catch (err) {
        reject(err);
      }
    });
  }

  /** A read completing on `done`: at once (inside this call) when the input allows it. */
  private readThen(kind: PendingRead['kind'], n: number, done: PendingRead['done']): void {
    if (this.pending) throw new Error('concurrent read on one connection');
    if (this.timedOut) {
      done(timeoutValue(kind));
      return;
    }
    const now = this.take(kind, n);
    if (now === undefined) {
      this.wait({ kind, n, done });
      return;
    }
    this.updateFlow();
    done(now);
  }

  private wait(read: PendingRead): void {
    this.pending = read;
    this.armIdle();
    this.updateFlow();
  }

  /** What a read takes from the input now; undefined: it must wait for more. */
  private take(kind: PendingRead['kind'], n: number): LineResult | Buffer | null | undefined {
    const input = this.input;
    switch (kind) {
      case LINE:
        return input.takeLine(n) ?? (this.ended ? this.eofMidLine() : undefined);
      case BYTES:
        return input.length >= n ? input.take(n) : this.ended ? null : undefined;
      case CHUNK:
        return input.length > 0 ? input.takeAll() : this.ended ? null : undefined;
    }
  }

  /** Completes the waiting read if the input now allows it; true when it did. */
  private attempt(): boolean {
    const p = this.pending;
    if (!p) return false;
    const r = this.take(p.kind, p.n);
    if (r === undefined) return false;
    this.pending = null;
    p.done(r);
    return true;
  }

  private eofMidLine(): LineResult {
    // An unterminated last line is not a command: drop it so readBytes cannot return it.
    this.input.clear();
    return { kind: 'eof' };
  }

  /**
   * One timer per connection, restarted (refresh) for each wait rather than made anew: a new
   * Timeout and a timer-list insertion per command showed in POP3 profiles. It may fire
   * between waits; then nothing is waiting and it does nothing.
   */
  private armIdle(): void {
    if (!this.pending || this.idleMs <= 0) return;
    if (this.idleTimer) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = this.guard.setTimeout(() => {
      const p = this.pending;
      if (!p) return;
      this.log.debug({ ms: this.idleMs }, 'idle timeout');
      this.timedOut = true;
      this.pending = null;
      p.done(timeoutValue(p.kind));
    }, this.idleMs);
  }

  private onData(chunk: Buffer): void {
    this.input.push(chunk);
    if (this.pending && !this.attempt()) this.armIdle();
    this.updateFlow();
  }

  private onEnd(): void {
    this.ended = true;
    this.attempt();
  }

  private onError(err: Error): void {
    // ECONNRESET, EPIPE, TLS alerts: normal life on the Internet, not a server fault.
    this.log.debug({ err }, 'socket error');
    this.ended = true;
    this.attempt();
  }

  private onSocketClose(): void {
    if (this.socketClosed) return;
    this.socketClosed = true;
    const s = this.socket;
    logClosed(
      this.serverLog,
      this,
      Math.round(performance.now() - this.openedAt),
      this.plainIn + s.bytesRead,
      this.plainOut + s.bytesWritten,
    );
    this.ended = true;
    clearTimeout(this.idleTimer);
    this.attempt();
    const cbs = this.closeCallbacks;
    this.closeCallbacks = [];
    for (const cb of cbs) cb();
  }

  /**
   * Pause the socket while more than INPUT_HIGH_WATER waits unconsumed, unless a read is
   * waiting for more than that (a large literal): then it must keep flowing.
   */
  private updateFlow(): void {
    if (this.ended) return;
    const shouldPause = this.input.length >= INPUT_HIGH_WATER && !this.pending;
    if (shouldPause && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!shouldPause && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Version and cipher of a completed handshake (strings Node keeps; read once). */
  private noteTls(socket: tls.TLSSocket): void {
    this.tlsVersion = socket.getProtocol() ?? undefined;
    this.tlsCipher = socket.getCipher()?.name;
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.listeners.data);
    socket.on('end', this.listeners.end);
    socket.on('error', this.listeners.error);
    socket.on('close', this.listeners.close);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.listeners.data);
    socket.off('end', this.listeners.end);
    socket.off('error', this.listeners.error);
    socket.off('close', this.listeners.close);
  }

  private handshake(socket: tls.TLSSocket): Promise<void> {
    return new Promise((resolve, reject) => {
      const ms = this.idleMs > 0 ? Math.min(this.idleMs, HANDSHAKE_MS) : HANDSHAKE_MS;
      const timer = this.guard.setTimeout(() => finish(new Error('handshake timed out')), ms);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        socket.off('secure', onSecure);
        socket.off('error', finish);
        socket.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onSecure = () => finish();
      const onClose = () => finish(new Error('connection closed during handshake'));
      socket.once('secure', onSecure);
      socket.once('error', finish);
      socket.once('close', onClose);
    });
  }
}

function destroySocket(socket: net.Socket): void {
  socket.destroy();
}

/** A write's callback: its error, if any, reaches the 'error' listener too. */
function ignoreWriteResult(): void {}

/** What a read of this kind gives after an idle timeout. */
function timeoutValue(kind: PendingRead['kind']): LineResult | null {
  return kind === LINE ? TIMED_OUT : null;
}
