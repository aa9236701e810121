// Shared helpers for the net/ tests: an in-memory socket with exact chunking, loopback
// socket pairs, certificates in a temp dir, and a line reader for raw clients.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { silentLogger } from '../../src/log.js';
import { Connection } from '../../src/net/connection.js';
import { generateSelfSigned } from '../../src/net/selfsigned.js';

/** A Duplex that looks like a socket; the test decides exactly how input is chunked. */
export class FakeSocket extends Duplex {
  remoteAddress = '::ffff:192.0.2.7';
  remotePort = 40000;
  localPort = 25;
  written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.written.push(chunk);
    cb();
  }
  /** Deliver one chunk to the reader, exactly as given. */
  feed(data: string | Buffer): void {
    this.push(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }
  /** The peer half-closes: the reader sees end of input. */
  finish(): void {
    this.push(null);
  }
  output(): string {
    return Buffer.concat(this.written).toString('latin1');
  }
}

export function fakeConnection(): { sock: FakeSocket; conn: Connection } {
  const sock = new FakeSocket();
  const conn = new Connection(sock as unknown as net.Socket, { log: silentLogger() });
  return { sock, conn };
}

/** A connected loopback pair: `server` is the accepted side. */
export async function tcpPair(): Promise<{ server: net.Socket; client: net.Socket; done(): void }> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const client = net.connect(port, '127.0.0.1');
  const server = await accepted;
  await new Promise<void>((r) => (client.connecting ? client.once('connect', r) : r()));
  srv.close();
  return {
    server,
    client,
    done() {
      client.destroy();
      server.destroy();
    },
  };
}

export interface CertFiles {
  certFile: string;
  keyFile: string;
  cert: string;
}

/** A temp dir that removes itself; write certificates for host names into it. */
export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'letterbox-net-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const certCache = new Map<string, Promise<{ cert: string; key: string }>>();

/** Write a self-signed cert for `hostname` as `<dir>/<file>.crt/.key` (generated once per name). */
export async function writeCert(
  dir: string,
  hostname: string,
  file = hostname,
): Promise<CertFiles> {
  let p = certCache.get(hostname);
  if (!p) {
    p = generateSelfSigned(hostname);
    certCache.set(hostname, p);
  }
  const { cert, key } = await p;
  const certFile = join(dir, `${file}.crt`);
  const keyFile = join(dir, `${file}.key`);
  writeFileSync(certFile, cert);
  writeFileSync(keyFile, key);
  return { certFile, keyFile, cert };
}

/** Reads CRLF lines from a client socket (plain or TLS); null once the socket ends. */
export class LineClient {
  private buf = '';
  private ended = false;
  private wake: (() => void) | null = null;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.wake?.();
    });
    const end = () => {
      this.ended = true;
      this.wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }
  async line(): Promise<string | null> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        return l;
      }
      if (this.ended) return null;
      await new Promise<void>((r) => {
        this.wake = r;
      });
      this.wake = null;
    }
  }
  /** Resolves when the server closed the connection (everything left unread is ignored). */
  async closed(): Promise<void> {
    while ((await this.line()) !== null) {}
  }
}
