// A raw IMAP client for session tests: write exact bytes, read responses line by line, wait
// for a tagged completion. Literals in responses are kept in the text (`{N}\r\n` + bytes).
import type net from 'node:net';
import tls from 'node:tls';
import { imapProtocol } from '../../../src/imap/index.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { connectLoopback, SocketInbox } from '../../helpers/socket-inbox.js';

/** How long a reply may take before a test gives up on it (see `until`). */
const REPLY_TIMEOUT_MS = 20_000;

export class RawClient {
  private readonly inbox: SocketInbox;

  constructor(public socket: net.Socket) {
    this.inbox = new SocketInbox(socket);
  }

  /** The server closed the connection. */
  get closed(): boolean {
    return this.inbox.ended;
  }

  static async connect(port: number, secure = false): Promise<RawClient> {
    const c = new RawClient(await connectLoopback(port, secure));
    await c.line(); // greeting
    return c;
  }

  /** Everything received and not yet consumed, as text. */
  peek(): string {
    return this.inbox.buf.toString('utf8');
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /**
   * Waits until `pred(received text)` returns an index >= 0; consumes up to it. The default
   * deadline only bounds a test that is failing anyway: a command on a machine shared with
   * other work (load 20 on two CPUs, the PostgreSQL store) took over 3 s to be answered.
   */
  async until(pred: (text: string) => number, timeoutMs = REPLY_TIMEOUT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.inbox.buf.toString('latin1');
      const end = pred(text);
      if (end >= 0) {
        const out = this.inbox.buf.subarray(0, end);
        this.inbox.buf = this.inbox.buf.subarray(end);
        return out.toString('utf8');
      }
      if (this.closed) throw new Error(`connection closed; received: ${text}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; received: ${JSON.stringify(text)}`);
      await this.inbox.wait(left);
    }
  }

  /** One line (without CRLF). */
  async line(timeoutMs?: number): Promise<string> {
    const l = await this.until((t) => {
      const i = t.indexOf('\r\n');
      return i < 0 ? -1 : i + 2;
    }, timeoutMs);
    return l.slice(0, -2);
  }

  /** Sends `tag text` and returns all lines up to and including the tagged one. */
  async cmd(tag: string, text: string | Buffer, timeoutMs?: number): Promise<string[]> {
    this.write(
      typeof text === 'string'
        ? `${tag} ${text}\r\n`
        : Buffer.concat([Buffer.from(`${tag} `), text]),
    );
    return this.tagged(tag, timeoutMs);
  }

  async tagged(tag: string, timeoutMs?: number): Promise<string[]> {
    const text = await this.until((t) => {
      const re = new RegExp(
        `(^|\\r\\n)${tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} [^\\r]*\\r\\n`,
      );
      const m = re.exec(t);
      return m ? m.index + m[0].length : -1;
    }, timeoutMs);
    return text.split('\r\n').slice(0, -1);
  }

  async startTls(): Promise<void> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.inbox.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}

export const last = (lines: string[]): string => lines[lines.length - 1];

export interface ImapTestEnv {
  ts: TestServer;
  port: number;
  tlsPort: number;
  accountId: number;
  /** A logged-in client (LOGIN over plaintext is allowed in this env). */
  login(user?: string): Promise<RawClient>;
}

export const USER = 'alice@example.test';
export const PASS = 'secret-pw';

export async function startImap(
  opts: { allowPlaintext?: boolean; extraToml?: string } = {},
): Promise<ImapTestEnv> {
  const ts = await startTestServer({
    listeners: ['imap', 'imaps'],
    protocols: { imap: imapProtocol, imaps: imapProtocol },
    allowPlaintext: opts.allowPlaintext ?? true,
    extraToml: opts.extraToml,
  });
  const accountId = await ts.addUser(USER, PASS);
  const port = ts.port('imap');
  const tlsPort = ts.port('imaps');
  return {
    ts,
    port,
    tlsPort,
    accountId,
    async login(user = USER) {
      const c = await RawClient.connect(tlsPort, true);
      const r = await c.cmd('L0', `LOGIN ${user} ${PASS}`);
      if (!last(r).startsWith('L0 OK')) throw new Error(`login failed: ${r.join('\n')}`);
      return c;
    },
  };
}

export function message(subject: string, body = 'Hello there.\r\n'): Buffer {
  return Buffer.from(
    `From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n` +
      `Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <${subject.replace(/\W/g, '')}@x>\r\n\r\n${body}`,
  );
}

/**
 * APPENDs with a non-synchronizing literal; returns the APPENDUID uid. `timeoutMs` as for
 * RawClient.until (a large message on a loaded machine needs more than the default).
 */
export async function append(
  c: RawClient,
  mailbox: string,
  msg: Buffer,
  flags = '',
  timeoutMs?: number,
): Promise<number> {
  const r = await c.cmd(
    'AP',
    Buffer.concat([
      Buffer.from(`APPEND ${mailbox} (${flags}) {${msg.length}+}\r\n`),
      msg,
      Buffer.from('\r\n'),
    ]),
    timeoutMs,
  );
  const m = /APPENDUID \d+ (\d+)/.exec(last(r));
  if (!m) throw new Error(`append failed: ${r.join('\n')}`);
  return Number(m[1]);
}
