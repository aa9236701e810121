// STARTTLS (RFC 9051 §6.2.1) and COMPRESS=DEFLATE (RFC 4978): both answer OK in the old
// framing, then switch the byte stream.
import zlib from 'node:zlib';
import { TlsHandshakeError } from '../../net/connection.js';
import type { ConnectionGuard } from '../../net/guard.js';
import { bad, no, ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import { AUTHED, command, NOT_AUTHED, noArgs } from './types.js';

export const STARTTLS = command({
  name: 'STARTTLS',
  states: NOT_AUTHED,
  parse: noArgs,
  async run(s) {
    if (s.conn.secure) throw bad('TLS is already active');
    if (!s.listener.starttls) throw bad('STARTTLS is not offered here');
    return ok('Begin TLS negotiation now');
  },
  async afterTagged(s: ImapSession) {
    // RFC 9051 §6.2.1 / RFC 3207 §4.2 (CVE-2011-0411): anything pipelined after STARTTLS in
    // cleartext is dropped, not run inside TLS.
    s.resetReceiver();
    try {
      await s.conn.startTls(s.ctx.tls);
    } catch (err) {
      if (!(err instanceof TlsHandshakeError)) throw err;
      s.state = { kind: 'logout' };
    }
  },
});

/** Inflated bytes buffered at most, per session: zlib stops inflating until they are read. */
const INFLATE_HIGH_WATER = 16 * 1024;

/**
 * A raw DEFLATE stream each way (RFC 4978 §4: RFC 1951 without zlib header), flushed with
 * Z_SYNC_FLUSH after each batch of output so the client can decode every response at once.
 *
 * Input is inflated only as fast as the session consumes it: a few KB of compressed input can
 * stand for gigabytes (a "zip bomb"), and RFC 4978 gives no licence to buffer them. The
 * session pulls (nextInflated) and writes more compressed bytes only when it got null.
 */
export class DeflateChannel {
  private readonly deflater = zlib.createDeflateRaw();
  // zlib passes stream options on to its Transform (the typings leave them out).
  private readonly inflater = zlib.createInflateRaw({
    chunkSize: INFLATE_HIGH_WATER,
    readableHighWaterMark: INFLATE_HIGH_WATER,
  } as zlib.ZlibOptions);
  private deflated: Buffer[] = [];
  private deflateChain: Promise<unknown> = Promise.resolve();
  /** Every compressed byte written so far is inflated (its output may wait to be read). */
  private flushed = true;
  private failed: Error | null = null;
  private waiter: (() => void) | null = null;

  /** `guard`: the connection's; the streams' listeners and callbacks are its code. */
  constructor(private readonly guard: ConnectionGuard) {
    guard.watch(this.deflater);
    guard.watch(this.inflater);
    this.deflater.on('data', (c: Buffer) => this.deflated.push(c));
    this.deflater.on('error', () => {});
    this.inflater.on('readable', () => this.notify());
    this.inflater.on('error', (err) => {
      this.failed = err;
      this.notify();
    });
  }

  deflate(data: Buffer): Promise<Buffer> {
    const p = this.deflateChain.then(() =>
      run(this.deflater, data, () => this.takeDeflated(), this.guard),
    );
    this.deflateChain = p.catch(() => {});
    return p;
  }

  /** Compressed bytes from the client; only after nextInflated() gave null. */
  writeCompressed(data: Buffer): void {
    if (this.failed) return;
    this.flushed = false;
    this.inflater.write(data);
    // The callback runs once everything written before it is inflated and pushed.
    this.inflater.flush(zlib.constants.Z_SYNC_FLUSH, this.onInflated);
  }

  private readonly onInflated = (): void => {
    try {
      this.flushed = true;
      this.notify();
    } catch (err) {
      this.guard.fail(err, 'inflate');
    }
  };

  /**
   * The next inflated bytes (at most about twice INFLATE_HIGH_WATER), or null when all the
   * compressed input written so far has been inflated and read. Rejects on corrupt input.
   */
  async nextInflated(): Promise<Buffer | null> {
    for (;;) {
      if (this.failed) throw this.failed;
      const b = this.inflater.read() as Buffer | null;
      if (b !== null) return b;
      if (this.flushed) return null;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  private notify(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private takeDeflated(): Buffer {
    const b = Buffer.concat(this.deflated);
    this.deflated = [];
    return b;
  }
}

function run(
  stream: zlib.DeflateRaw,
  data: Buffer,
  take: () => Buffer,
  guard: ConnectionGuard,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed) {
      reject(new Error('compression stream failed'));
      return;
    }
    const onError = (err: Error) => reject(err);
    stream.once('error', onError);
    stream.write(data);
    stream.flush(
      zlib.constants.Z_SYNC_FLUSH,
      guard.wrap(() => {
        stream.off('error', onError);
        resolve(take());
      }),
    );
  });
}

export const COMPRESS = command({
  name: 'COMPRESS',
  states: AUTHED,
  parse(c) {
    c.space();
    const mech = c.atom().toUpperCase();
    c.end();
    return mech;
  },
  async run(s, mech) {
    if (mech !== 'DEFLATE') throw bad(`Unknown compression mechanism ${mech}`);
    // RFC 4978 §3: a second COMPRESS gets NO [COMPRESSIONACTIVE].
    if (s.compressed) throw no('COMPRESSIONACTIVE', 'Compression is already active');
    return ok('DEFLATE active');
  },
  async afterTagged(s: ImapSession) {
    s.startCompression(new DeflateChannel(s.conn.guard));
  },
});
