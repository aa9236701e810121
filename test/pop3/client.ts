// A raw POP3 client for tests: send exact lines, read status lines and multi-line bodies as
// bytes, upgrade with STLS. Edge cases are easier to script here than with a real client.
import type net from 'node:net';
import tls from 'node:tls';
import { connectLoopback, SocketInbox } from '../helpers/socket-inbox.js';

export class RawPop3 {
  private readonly inbox: SocketInbox;
  greeting = '';

  private constructor(private socket: net.Socket) {
    this.inbox = new SocketInbox(socket);
  }

  static async connect(port: number, opts: { tls?: boolean } = {}): Promise<RawPop3> {
    const c = new RawPop3(await connectLoopback(port, opts.tls));
    c.greeting = await c.line();
    return c;
  }

  get encrypted(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  private async waitFor<T>(take: () => T | undefined, what: string): Promise<T> {
    for (;;) {
      const r = take();
      if (r !== undefined) return r;
      if (this.inbox.ended) throw new Error(`connection closed while waiting for ${what}`);
      await this.inbox.wait();
    }
  }

  /** Next CRLF-terminated line, without its CRLF, as latin1 text. */
  line(): Promise<string> {
    return this.waitFor(() => {
      const i = this.inbox.buf.indexOf('\r\n');
      if (i < 0) return undefined;
      const l = this.inbox.buf.subarray(0, i).toString('latin1');
      this.inbox.buf = this.inbox.buf.subarray(i + 2);
      return l;
    }, 'a line');
  }

  /** A multi-line body after "+OK", up to and excluding the terminator, exactly as sent. */
  rawBody(): Promise<Buffer> {
    return this.waitFor(() => {
      const i = this.inbox.buf.indexOf('.\r\n') === 0 ? -2 : this.inbox.buf.indexOf('\r\n.\r\n');
      if (i === -1) return undefined;
      const body = this.inbox.buf.subarray(0, i + 2);
      this.inbox.buf = this.inbox.buf.subarray(i + 5);
      return body;
    }, 'a multi-line body');
  }

  /** A multi-line body with dot-stuffing removed. */
  async body(): Promise<Buffer> {
    const raw = (await this.rawBody()).toString('latin1');
    return Buffer.from(raw.replace(/(^|\n)\./g, '$1'), 'latin1');
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  async cmd(line: string): Promise<string> {
    this.send(`${line}\r\n`);
    return this.line();
  }

  /** A command answered with a multi-line body: status and the unstuffed lines. */
  async multi(line: string): Promise<{ status: string; lines: string[] }> {
    const status = await this.cmd(line);
    if (!status.startsWith('+OK')) return { status, lines: [] };
    const body = (await this.body()).toString('latin1');
    return { status, lines: body === '' ? [] : body.replace(/\r\n$/, '').split('\r\n') };
  }

  async login(user: string, pass: string): Promise<string> {
    const u = await this.cmd(`USER ${user}`);
    if (!u.startsWith('+OK')) return u;
    return this.cmd(`PASS ${pass}`);
  }

  /** STLS already answered +OK: do the handshake on the same socket. */
  async upgrade(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.inbox.attach(secure);
  }

  /** Resolves when the server has closed the connection. */
  async closed(): Promise<void> {
    await this.waitFor(() => (this.inbox.ended ? true : undefined), 'close').catch(() => {});
  }

  /** Everything received until the server closes. */
  async rest(): Promise<string> {
    await this.closed();
    const s = this.inbox.buf.toString('latin1');
    this.inbox.buf = Buffer.alloc(0);
    return s;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
