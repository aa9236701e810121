// A small raw SMTP client for session tests: write exact bytes, read whole replies (multi-line
// ones joined), upgrade to TLS in place, and notice when the server closes the connection.
import type net from 'node:net';
import tls from 'node:tls';
import { connectLoopback, SocketInbox } from '../../helpers/socket-inbox.js';

export interface Reply {
  code: number;
  /** Text of each line after the code and separator. */
  lines: string[];
  /** The last line as sent, e.g. `250 2.0.0 OK`. */
  last: string;
}

/** How long a test waits for a reply before failing (the server answers in milliseconds). */
const REPLY_TIMEOUT_MS = 5000;

export class RawClient {
  private readonly inbox: SocketInbox;
  readonly closed: Promise<void>;
  private socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.inbox = new SocketInbox(socket);
  }

  static async connect(port: number, opts: { tls?: boolean } = {}): Promise<RawClient> {
    return new RawClient(await connectLoopback(port, opts.tls));
  }

  /** Connect and read the 220 greeting. */
  static async open(port: number, opts: { tls?: boolean } = {}): Promise<RawClient> {
    const c = await RawClient.connect(port, opts);
    const g = await c.reply();
    if (g.code !== 220) throw new Error(`unexpected greeting: ${g.last}`);
    return c;
  }

  private async waitData(deadline: number): Promise<void> {
    if (this.inbox.ended)
      throw new Error(`connection closed; unread: ${JSON.stringify(this.pending())}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no reply in time; unread: ${JSON.stringify(this.pending())}`);
    await this.inbox.wait(left);
  }

  /** What has arrived and not been read, as text. */
  pending(): string {
    return this.inbox.buf.toString('latin1');
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** The next complete reply. */
  async reply(timeoutMs = REPLY_TIMEOUT_MS): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    for (;;) {
      const nl = this.inbox.buf.indexOf('\r\n');
      if (nl < 0) {
        await this.waitData(deadline);
        continue;
      }
      const line = this.inbox.buf.subarray(0, nl).toString('latin1');
      this.inbox.buf = this.inbox.buf.subarray(nl + 2);
      const m = /^(\d{3})([ -])(.*)$/.exec(line);
      if (!m) throw new Error(`malformed reply line: ${JSON.stringify(line)}`);
      lines.push(m[3]!);
      if (m[2] === ' ') return { code: Number(m[1]), lines, last: line };
    }
  }

  /** Several replies in order. */
  async replies(n: number): Promise<Reply[]> {
    const out: Reply[] = [];
    for (let i = 0; i < n; i++) out.push(await this.reply());
    return out;
  }

  /** Send one command line (CRLF added) and read its reply. */
  async cmd(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** STARTTLS, then the TLS handshake over the same socket. */
  async starttls(): Promise<void> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.last}`);
    await this.upgrade();
  }

  /** TLS handshake on the existing socket (after the server's 220). */
  async upgrade(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('end');
    plain.removeAllListeners('close');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.inbox.attach(secure);
  }

  /** Resolves when the server has closed the connection (fails after a bound). */
  async waitClosed(timeoutMs = REPLY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.inbox.ended && Date.now() < deadline)
      await this.waitData(deadline).catch(() => {});
    if (!this.inbox.ended) throw new Error('server did not close the connection');
  }

  get isClosed(): boolean {
    return this.inbox.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** EHLO, then the reply's keyword lines (upper-cased, without the greeting line). */
export async function ehlo(c: RawClient, name = 'client.test'): Promise<string[]> {
  const r = await c.cmd(`EHLO ${name}`);
  if (r.code !== 250) throw new Error(`EHLO refused: ${r.last}`);
  return r.lines.slice(1).map((l) => l.toUpperCase());
}

/** AUTH PLAIN with an initial response. */
export function authPlain(user: string, password: string): string {
  return `AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`;
}
