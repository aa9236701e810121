// The client side of the SMTP wire for the load generator: connect, read replies (multi-line
// included), EHLO. Raw sockets and Buffers only, so the client costs as little CPU as it can:
// it shares the machine with the server it measures.

import { connect, type Socket } from 'node:net';
import type { MessageTemplate } from './message.js';

export interface Reply {
  code: number;
  /** Text of every line, without the code and separator. */
  lines: string[];
}

export class SmtpProtocolError extends Error {
  constructor(
    message: string,
    readonly reply?: Reply,
  ) {
    super(reply ? `${message}: ${reply.code} ${reply.lines.join(' / ')}` : message);
  }
}

/**
 * Splits the server's byte stream into replies. RFC 5321 §4.2.1: every line of a multi-line
 * reply but the last has a hyphen after the code; the last has a space (or nothing).
 */
export class ReplyReader {
  private pending = '';
  private lines: string[] = [];
  private readonly ready: Reply[] = [];
  private readonly waiters: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.push(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new SmtpProtocolError('connection closed by the server')));
  }

  /** The next complete reply, in order. */
  next(): Promise<Reply> {
    const r = this.ready.shift();
    if (r) return Promise.resolve(r);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private push(chunk: Buffer): void {
    // Replies are short ASCII: decoding them as latin1 is exact and cheap.
    this.pending += chunk.toString('latin1');
    let nl = this.pending.indexOf('\r\n');
    while (nl >= 0) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 2);
      this.lines.push(line.slice(4));
      if (line.length < 4 || line[3] !== '-') {
        const reply: Reply = { code: Number.parseInt(line.slice(0, 3), 10), lines: this.lines };
        this.lines = [];
        const w = this.waiters.shift();
        if (w) w.resolve(reply);
        else this.ready.push(reply);
      }
      nl = this.pending.indexOf('\r\n');
    }
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}

export interface Connection {
  socket: Socket;
  replies: ReplyReader;
  /** EHLO keywords, upper-cased (e.g. PIPELINING, SIZE). */
  extensions: Set<string>;
}

export function expect(reply: Reply, code: number, what: string): void {
  if (reply.code !== code) throw new SmtpProtocolError(`${what}: expected ${code}`, reply);
}

/** Connects, reads the greeting and says EHLO once (RFC 5321 §4.1.1.1). */
export async function openSession(host: string, port: number, helo: string): Promise<Connection> {
  const socket = connect({ host, port, noDelay: true });
  const replies = new ReplyReader(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  expect(await replies.next(), 220, 'greeting');
  socket.write(`EHLO ${helo}\r\n`);
  const ehlo = await replies.next();
  expect(ehlo, 250, 'EHLO');
  // The first line is the server's name; each later line starts with a keyword.
  const extensions = new Set(ehlo.lines.slice(1).map((l) => l.split(' ')[0]!.toUpperCase()));
  return { socket, replies, extensions };
}

/** QUIT (RFC 5321 §4.1.1.10) and close; errors at this point no longer matter. */
export async function closeSession(c: Connection): Promise<void> {
  try {
    c.socket.write('QUIT\r\n');
    await Promise.race([c.replies.next(), new Promise((r) => setTimeout(r, 2000))]);
  } catch {
    // The server may close first: the measurement is over either way.
  } finally {
    c.socket.destroy();
  }
}

/** Writes and resolves once the bytes are handed to the kernel. */
export function writeFlushed(socket: Socket, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * One message's MAIL, RCPT and DATA, then its header and body, on an open session (the
 * terminator is the caller's, which may time it). RFC 2920 §3.1: with PIPELINING, MAIL, RCPT
 * and DATA go in one write; DATA ends the group.
 */
export async function sendEnvelopeAndBody(
  c: Connection,
  o: { sender: string; recipient: string; template: MessageTemplate },
  n: number,
  pipelining: boolean,
): Promise<void> {
  const mail = `MAIL FROM:<${o.sender}> SIZE=${o.template.size}\r\n`;
  const rcpt = `RCPT TO:<${o.recipient}>\r\n`;
  if (pipelining) {
    c.socket.write(`${mail}${rcpt}DATA\r\n`);
    const [m, r, d] = [await c.replies.next(), await c.replies.next(), await c.replies.next()];
    expect(m, 250, 'MAIL');
    expect(r, 250, 'RCPT');
    expect(d, 354, 'DATA');
  } else {
    c.socket.write(mail);
    expect(await c.replies.next(), 250, 'MAIL');
    c.socket.write(rcpt);
    expect(await c.replies.next(), 250, 'RCPT');
    c.socket.write('DATA\r\n');
    expect(await c.replies.next(), 354, 'DATA');
  }
  c.socket.write(o.template.header(n));
  c.socket.write(o.template.wireBody);
}

export const END_OF_DATA = Buffer.from('.\r\n', 'latin1');
