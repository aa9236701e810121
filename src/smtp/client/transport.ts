// One client socket to a remote SMTP server: writes commands, reads replies, upgrades to TLS.
// Every wait has a timeout (RFC 5321 §4.5.3.2); memory per connection is bounded by the reply
// parser's limits and by the replies owed (a reply nobody asked for ends the connection).
// A failure (timeout, close, garbage) is sticky: the socket is destroyed and every later call
// rejects with the same SmtpClientError.
import net from 'node:net';
import tls from 'node:tls';
import type { SmtpReply } from '../wire/reply.js';
import {
  type ReplyLimits,
  ReplyParser,
  ReplySyntaxError,
  toRemoteReply,
} from '../wire/reply-parser.js';
import { SmtpClientError } from './errors.js';

/** Message bytes are written in slices of this size; each slice's drain has its own timeout. */
const WRITE_SLICE = 64 * 1024;

/** Options for the TLS client side (STARTTLS or implicit). */
export interface ClientTlsOptions {
  /** SNI and the name the certificate is checked against (not sent for an IP literal). */
  servername: string;
  /** Certificates to trust instead of Node's bundled roots (tests, a private smarthost CA). */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** tls.connect options shared by STARTTLS and implicit TLS. The caller verifies afterwards. */
export function tlsConnectOptions(o: ClientTlsOptions): tls.ConnectionOptions {
  return {
    // RFC 3207 / RFC 7435: with opportunistic TLS any certificate is better than clear text,
    // so the handshake never fails on verification; the policy check comes after it.
    rejectUnauthorized: false,
    servername: net.isIP(o.servername) === 0 ? o.servername : undefined,
    // RFC 8996: no TLS 1.0 / 1.1.
    minVersion: 'TLSv1.2',
    ...(o.ca === undefined ? {} : { ca: o.ca }),
  };
}

interface Waiter {
  resolve(reply: SmtpReply): void;
  reject(err: SmtpClientError): void;
}

export class ClientTransport {
  private socket: net.Socket;
  private readonly parser: ReplyParser;
  /** Replies the remote owes: the greeting, then one per command written. */
  private owed = 0;
  private waiter: Waiter | null = null;
  private lingering = false;
  private failure: SmtpClientError | null = null;
  private readonly failListeners = new Set<(err: SmtpClientError) => void>();

  private readonly onData = (chunk: Buffer) => this.data(chunk);
  private readonly onClose = () =>
    this.fail(new SmtpClientError('closed', 'the remote closed the connection'));
  private readonly onError = (err: Error) =>
    this.fail(new SmtpClientError('closed', `connection error: ${err.message}`, { cause: err }));

  constructor(socket: net.Socket, limits: Partial<ReplyLimits> = {}, greeting = true) {
    this.socket = socket;
    this.parser = new ReplyParser(limits);
    if (greeting) this.owed = 1;
    socket.setNoDelay(true);
    this.attach(socket);
  }

  /** The remote's address, or null. */
  get remoteAddress(): string | null {
    return this.socket.remoteAddress ?? null;
  }

  /** 'TLSv1.3' etc. once TLS is up, else null. */
  get tlsVersion(): string | null {
    return this.socket instanceof tls.TLSSocket ? this.socket.getProtocol() : null;
  }

  get tlsSocket(): tls.TLSSocket | null {
    return this.socket instanceof tls.TLSSocket ? this.socket : null;
  }

  /** Nothing has failed and the socket is open. */
  get healthy(): boolean {
    return this.failure === null;
  }

  get error(): SmtpClientError | null {
    return this.failure;
  }

  private attach(s: net.Socket): void {
    s.on('data', this.onData);
    s.on('close', this.onClose);
    s.on('error', this.onError);
  }

  private detach(s: net.Socket): void {
    s.off('data', this.onData);
    s.off('close', this.onClose);
    s.off('error', this.onError);
  }

  private data(chunk: Buffer): void {
    if (this.failure) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      const msg = err instanceof ReplySyntaxError ? err.message : String(err);
      this.fail(new SmtpClientError('protocol', `bad reply from the remote: ${msg}`));
      return;
    }
    if (this.parser.pending > this.owed) {
      // RFC 5321 §3.8: a server may send 421 at any time and close. Anything else unasked
      // for is a broken (or hostile) server; the owed replies before it stay readable.
      const extra = this.parser.peekLast()!;
      const reply = toRemoteReply(extra);
      this.fail(
        reply?.code === 421
          ? new SmtpClientError('closed', 'the remote is closing the connection (421)', { reply })
          : new SmtpClientError('protocol', 'the remote sent a reply nobody asked for', { reply }),
      );
      return;
    }
    if (this.waiter !== null) {
      const ready = this.takePending();
      if (ready === undefined) return;
      const w = this.waiter;
      this.waiter = null;
      w.resolve(ready);
    }
  }

  /** The next owed reply already received, if any. */
  private takePending(): SmtpReply | undefined {
    if (this.owed <= 0 || this.parser.pending === 0) return undefined;
    this.owed--;
    return this.parser.shift();
  }

  /** Ends the connection with `err` (once): pending and later calls reject with it. */
  fail(err: SmtpClientError): void {
    if (this.failure) return;
    this.failure = err;
    this.detach(this.socket);
    // A late 'error' from a destroyed socket must not become an uncaught exception.
    this.socket.on('error', () => {});
    this.socket.destroy();
    const w = this.waiter;
    this.waiter = null;
    if (w) {
      const ready = this.takePending();
      if (ready !== undefined) w.resolve(ready);
      else w.reject(err);
    }
    for (const l of this.failListeners) l(err);
    this.failListeners.clear();
  }

  /** Waits for the next reply, at most `timeoutMs`; `what` names the command for errors. */
  read(timeoutMs: number, what: string): Promise<SmtpReply> {
    const ready = this.takePending();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter !== null) return Promise.reject(new Error('concurrent read on a connection'));
    return new Promise<SmtpReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new SmtpClientError('timeout', `no reply to ${what} within ${Math.round(timeoutMs)} ms`),
        );
      }, timeoutMs);
      this.waiter = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /**
   * Writes `data` and counts `replies` more replies owed. Resolves once the data is handed to
   * the kernel, slice by slice; each slice that meets backpressure waits for 'drain' at most
   * `timeoutMs` (RFC 5321 §4.5.3.2.5: a data block timeout, not one for the whole message).
   */
  async write(
    data: Buffer | Buffer[] | string,
    timeoutMs: number,
    replies = 1,
    linger = false,
  ): Promise<void> {
    if (this.failure) throw this.failure;
    this.owed += replies;
    const bufs =
      typeof data === 'string' ? [Buffer.from(data, 'utf8')] : Array.isArray(data) ? data : [data];
    // Several buffers (a message and its terminator) leave in one system call: corked until
    // the last one, or until backpressure makes us wait (a corked socket never drains).
    const cork = linger || bufs.length > 1;
    if (cork) this.socket.cork();
    let held = false;
    try {
      for (const buf of bufs) {
        for (let pos = 0; pos < buf.length; pos += WRITE_SLICE) {
          if (this.failure) throw this.failure;
          const slice = buf.subarray(pos, Math.min(buf.length, pos + WRITE_SLICE));
          if (!this.socket.write(slice)) {
            if (cork) this.socket.uncork();
            await this.drain(timeoutMs);
            if (cork) this.socket.cork();
          }
        }
      }
      if (linger && !this.failure) {
        // The bytes wait for what the current turn of the event loop writes after them (the
        // next transaction's commands), so that both reach the remote in one segment: a
        // server that answers each read at once would otherwise send the reply to these
        // bytes alone, and its next reply would wait for our delayed ACK (Nagle, ~40 ms).
        held = true;
        this.lingering = true;
        process.nextTick(() => {
          this.lingering = false;
          this.socket.uncork();
        });
      }
    } finally {
      if (cork && !held) this.socket.uncork();
    }
    if (this.failure) throw this.failure;
  }

  /** Bytes written with `linger` still wait in the socket for more to join them. */
  get joinable(): boolean {
    return this.lingering && this.failure === null;
  }

  private drain(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.socket.off('drain', onDrain);
        this.failListeners.delete(onFail);
      };
      const onDrain = () => {
        done();
        resolve();
      };
      const onFail = (err: SmtpClientError) => {
        done();
        reject(err);
      };
      const timer = setTimeout(() => {
        done();
        const err = new SmtpClientError(
          'timeout',
          `the remote took no data for ${Math.round(timeoutMs)} ms`,
        );
        this.fail(err);
        reject(err);
      }, timeoutMs);
      this.socket.once('drain', onDrain);
      this.failListeners.add(onFail);
    });
  }

  /**
   * RFC 3207 §4: after the 220 to STARTTLS, the TLS handshake. Nothing the remote sent before
   * it may be read after it (a man in the middle could inject replies in clear: CVE-2011-0411
   * on the client side), so buffered bytes are an error. Resolves with the TLS socket; a
   * failed handshake fails the transport with kind 'tls'.
   */
  async startTls(o: ClientTlsOptions, timeoutMs: number): Promise<tls.TLSSocket> {
    if (this.failure) throw this.failure;
    if (this.parser.midReply || this.parser.pending > 0) {
      const err = new SmtpClientError('protocol', 'the remote sent data after its 220 to STARTTLS');
      this.fail(err);
      throw err;
    }
    const plain = this.socket;
    this.detach(plain);
    plain.on('error', () => {});
    const secure = tls.connect({ ...tlsConnectOptions(o), socket: plain });
    this.socket = secure;
    try {
      await handshake(secure, timeoutMs);
    } catch (err) {
      const e = err as SmtpClientError;
      this.failure = null;
      this.fail(e);
      throw e;
    }
    this.attach(secure);
    if (secure.destroyed) this.onClose();
    return secure;
  }

  /** Destroys the socket; later calls reject. */
  close(): void {
    this.fail(new SmtpClientError('closed', 'connection closed'));
  }
}

/** Waits for a TLS socket's handshake, at most `timeoutMs`; rejects with kind 'tls'. */
export function handshake(secure: tls.TLSSocket, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      secure.off('secureConnect', onOk);
      secure.off('error', onErr);
      secure.off('close', onClose);
    };
    const onOk = () => {
      done();
      resolve();
    };
    const onErr = (err: Error) => {
      done();
      secure.on('error', () => {});
      secure.destroy();
      reject(new SmtpClientError('tls', `TLS handshake failed: ${err.message}`, { cause: err }));
    };
    const onClose = () => onErr(new Error('connection closed during the handshake'));
    const timer = setTimeout(
      () => onErr(new Error(`no handshake within ${Math.round(timeoutMs)} ms`)),
      timeoutMs,
    );
    secure.once('secureConnect', onOk);
    secure.on('error', onErr);
    secure.once('close', onClose);
  });
}
