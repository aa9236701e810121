// STARTTLS (RFC 9051 §6.2.1) and COMPRESS=DEFLATE (RFC 4978): both answer OK in the old
// framing, then switch the byte stream.
import zlib from 'node:zlib';
import { TlsHandshakeError } from '../../net/connection.js';
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

/**
 * A raw DEFLATE stream each way (RFC 4978 §4: RFC 1951 without zlib header), flushed with
 * Z_SYNC_FLUSH after each batch of output so the client can decode every response at once.
 */
export class DeflateChannel {
  private readonly deflater = zlib.createDeflateRaw();
  private readonly inflater = zlib.createInflateRaw();
  private deflated: Buffer[] = [];
  private inflated: Buffer[] = [];
  private deflateChain: Promise<unknown> = Promise.resolve();
  private inflateChain: Promise<unknown> = Promise.resolve();

  constructor() {
    this.deflater.on('data', (c: Buffer) => this.deflated.push(c));
    this.inflater.on('data', (c: Buffer) => this.inflated.push(c));
    this.inflater.on('error', () => {});
    this.deflater.on('error', () => {});
  }

  deflate(data: Buffer): Promise<Buffer> {
    const p = this.deflateChain.then(() => run(this.deflater, data, () => this.takeDeflated()));
    this.deflateChain = p.catch(() => {});
    return p;
  }

  /** Decompressed bytes of a chunk (possibly none yet); rejects on corrupt input. */
  inflate(data: Buffer): Promise<Buffer> {
    const p = this.inflateChain.then(() => run(this.inflater, data, () => this.takeInflated()));
    this.inflateChain = p.catch(() => {});
    return p;
  }

  private takeDeflated(): Buffer {
    const b = Buffer.concat(this.deflated);
    this.deflated = [];
    return b;
  }

  private takeInflated(): Buffer {
    const b = Buffer.concat(this.inflated);
    this.inflated = [];
    return b;
  }
}

function run(
  stream: zlib.DeflateRaw | zlib.InflateRaw,
  data: Buffer,
  take: () => Buffer,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed) {
      reject(new Error('compression stream failed'));
      return;
    }
    const onError = (err: Error) => reject(err);
    stream.once('error', onError);
    stream.write(data);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.off('error', onError);
      resolve(take());
    });
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
    s.startCompression(new DeflateChannel());
  },
});
