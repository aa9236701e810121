// A scripted SMTP server for the client's edge cases: answers the usual commands with the
// extensions it is given, records what it received (commands, messages, whether the client
// sent a command before the previous reply), and lets a test replace any answer with its
// own: another reply, raw bytes, a hang, a close.
import net from 'node:net';
import tls from 'node:tls';

export type Answer =
  /** Reply lines; "\n" separates lines, CRLF is added. */
  | string
  /** Bytes as they are, then optionally close. */
  | { raw: Buffer | string; close?: boolean }
  /** Say nothing more, ever (the client must time out). */
  | { hang: true }
  /** Close the connection at once. */
  | { close: true };

export interface FakeOptions {
  greeting?: string;
  /** EHLO keywords after the greeting line. */
  extensions?: string[];
  /** Answer EHLO with 502 (an old server: the client must say HELO). */
  noEhlo?: boolean;
  /** Certificate for STARTTLS (offer it in `extensions`) and implicit TLS. */
  tls?: { cert: string; key: string };
  implicitTls?: boolean;
  /**
   * Replaces the default answer to a command line (as received, without CRLF). The end of a
   * message is the command "<end of data>", with the message as the session's last one.
   * Return undefined for the default.
   */
  answer?: (cmd: string, s: FakeSession) => Answer | undefined;
  /** Hold the replies from MAIL on until DATA or BDAT: only a pipelining client gets that far. */
  holdRepliesUntilData?: boolean;
  /** Answer STARTTLS with 220, then the ClientHello with garbage (a failed handshake). */
  brokenTls?: boolean;
  /** Close the connection after this many octets of message data. */
  closeAfterDataBytes?: number;
  /** Milliseconds before the greeting of the n-th session (0-based). */
  greetingDelayMs?: (n: number) => number;
  /**
   * The reply to the end of data of this many messages waits until the next command line
   * has come in: only a client that pipelines the next transaction behind the message
   * (RFC 2920 §3.1) gets it.
   */
  holdEndOfData?: number;
}

export interface FakeSession {
  /** Command lines in order (STARTTLS included; AUTH lines as sent). */
  commands: string[];
  /** Commands received in clear, before any TLS. */
  clearCommands: string[];
  /** Commands that arrived together with more bytes after them (pipelined). */
  pipelined: string[];
  /** Messages received: DATA unstuffed, or BDAT chunks joined. */
  messages: Buffer[];
  /** The DATA bytes as received, before unstuffing. */
  rawData: Buffer[];
  /** Per message sent with DATA: octets that had come in behind its end when it was read. */
  afterData: number[];
  tls: boolean;
  closed: Promise<void>;
}

export interface FakeServer {
  port: number;
  sessions: FakeSession[];
  close(): Promise<void>;
}

/** Reads lines and counted bytes from a stream that may be swapped for a TLS one. */
class Reader {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended = false;
  private stream: net.Socket;
  private readonly onData = (c: Buffer) => {
    this.buf = Buffer.concat([this.buf, c]);
    this.poke();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.poke();
  };

  constructor(stream: net.Socket) {
    this.stream = stream;
    this.attach();
  }

  private attach(): void {
    this.stream.on('data', this.onData);
    this.stream.on('end', this.onEnd);
    this.stream.on('close', this.onEnd);
    this.stream.on('error', this.onEnd);
  }

  swap(stream: net.Socket): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream = stream;
    this.buf = Buffer.alloc(0);
    this.attach();
  }

  get buffered(): number {
    return this.buf.length;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private wait(): Promise<void> {
    return new Promise((r) => {
      this.wake = r;
    });
  }

  async line(): Promise<string | null> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.toString('utf8', 0, i);
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      if (this.ended) return null;
      await this.wait();
    }
  }

  async bytes(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) {
      if (this.ended) return null;
      await this.wait();
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Up to and including CRLF "." CRLF (the data starts after a CRLF). */
  async data(limit?: number): Promise<Buffer | null> {
    for (;;) {
      const withStart = Buffer.concat([Buffer.from('\r\n'), this.buf]);
      const i = withStart.indexOf('\r\n.\r\n');
      if (i >= 0) {
        const out = this.buf.subarray(0, i + 3);
        this.buf = this.buf.subarray(i + 3);
        return out;
      }
      if (limit !== undefined && this.buf.length >= limit) return null;
      if (this.ended) return null;
      await this.wait();
    }
  }
}

/** RFC 5321 §4.5.2: the message without its terminator and with one leading dot removed per line. */
export function unstuff(raw: Buffer): Buffer {
  const text = raw.subarray(0, raw.length - 3).toString('latin1');
  const lines = text.split('\r\n').map((l) => (l.startsWith('.') ? l.slice(1) : l));
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

export async function startFakeServer(opts: FakeOptions = {}): Promise<FakeServer> {
  const sessions: FakeSession[] = [];
  const sockets = new Set<net.Socket>();
  const handler = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let closedResolve!: () => void;
    const s: FakeSession = {
      commands: [],
      clearCommands: [],
      pipelined: [],
      messages: [],
      rawData: [],
      afterData: [],
      tls: opts.implicitTls === true,
      closed: new Promise((r) => {
        closedResolve = r;
      }),
    };
    socket.on('close', () => {
      sockets.delete(socket);
      closedResolve();
    });
    sessions.push(s);
    void run(socket, s, opts, sessions.length - 1).catch(() => socket.destroy());
  };
  const server = opts.implicitTls
    ? tls.createServer({ cert: opts.tls!.cert, key: opts.tls!.key }, handler)
    : net.createServer(handler);
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sessions,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function run(
  socket: net.Socket,
  s: FakeSession,
  opts: FakeOptions,
  sessionIndex: number,
): Promise<void> {
  let stream: net.Socket = socket;
  const reader = new Reader(stream);
  const held: string[] = [];
  let holding = false;
  let alive = true;
  const write = (text: string) => {
    if (holding) held.push(text);
    else stream.write(text);
  };
  const reply = (lines: string) => write(lines.split('\n').join('\r\n') + '\r\n');
  /** Applies a custom answer; true when the session must stop. */
  const apply = (a: Answer): boolean => {
    if (typeof a === 'string') {
      reply(a);
      return false;
    }
    if ('hang' in a) {
      alive = false;
      return true;
    }
    if ('raw' in a) {
      stream.write(a.raw);
      if (a.close) stream.end();
      return a.close === true;
    }
    stream.destroy();
    return true;
  };
  const custom = (cmd: string): Answer | undefined => opts.answer?.(cmd, s);

  const delay = opts.greetingDelayMs?.(sessionIndex) ?? 0;
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  const g = custom('<greeting>');
  if (g !== undefined) {
    if (apply(g)) return;
  } else reply(opts.greeting ?? '220 fake.test ESMTP');
  let holdEnds = opts.holdEndOfData ?? 0;
  let heldEnd: Answer | null = null;
  while (alive) {
    const line = await reader.line();
    if (line === null) return;
    if (heldEnd !== null) {
      const a = heldEnd;
      heldEnd = null;
      if (apply(a)) return;
    }
    s.commands.push(line);
    if (!s.tls) s.clearCommands.push(line);
    if (reader.buffered > 0) s.pipelined.push(line);
    const verb = line.split(' ')[0].toUpperCase();
    if (verb === 'MAIL' && opts.holdRepliesUntilData) holding = true;
    const c = custom(line);
    if ((verb === 'DATA' || verb === 'BDAT') && holding) {
      holding = false;
      for (const h of held.splice(0)) stream.write(h);
    }
    if (c !== undefined) {
      if (apply(c)) return;
      if (verb !== 'DATA' || !(typeof c === 'string' && c.startsWith('354'))) continue;
    }
    switch (verb) {
      case 'EHLO':
        if (opts.noEhlo) reply('502 5.5.1 EHLO not implemented');
        else {
          const lines = ['fake.test', ...(opts.extensions ?? [])];
          write(lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
        }
        break;
      case 'HELO':
        reply('250 fake.test');
        break;
      case 'STARTTLS': {
        if (!opts.tls) {
          reply('454 4.7.0 no TLS');
          break;
        }
        reply('220 2.0.0 go ahead');
        if (opts.brokenTls) {
          // Answer the ClientHello with something that is not TLS, then close.
          await reader.bytes(1);
          stream.end('this is not TLS\r\n');
          return;
        }
        const secure = new tls.TLSSocket(socket, {
          isServer: true,
          cert: opts.tls.cert,
          key: opts.tls.key,
        });
        secure.on('error', () => {});
        stream = secure;
        reader.swap(secure);
        s.tls = true;
        break;
      }
      case 'AUTH':
        reply('235 2.7.0 Authentication successful');
        break;
      case 'MAIL':
        reply('250 2.1.0 Sender OK');
        break;
      case 'RCPT':
        reply('250 2.1.5 Recipient OK');
        break;
      case 'DATA': {
        if (c === undefined) reply('354 go ahead');
        const raw = await reader.data(opts.closeAfterDataBytes);
        if (raw === null) {
          stream.destroy();
          return;
        }
        s.rawData.push(raw);
        s.afterData.push(reader.buffered);
        s.messages.push(unstuff(raw));
        const end = custom('<end of data>');
        if (holdEnds > 0) {
          holdEnds--;
          heldEnd = end ?? '250 2.0.0 queued';
        } else if (end !== undefined) {
          if (apply(end)) return;
        } else reply('250 2.0.0 queued');
        break;
      }
      case 'BDAT': {
        const [, size, last] = line.split(' ');
        const chunk = await reader.bytes(Number(size));
        if (chunk === null) return;
        const prev = s.rawData.length > 0 && s.messages.length < s.rawData.length;
        if (prev) s.rawData[s.rawData.length - 1] = Buffer.concat([s.rawData.at(-1)!, chunk]);
        else s.rawData.push(chunk);
        if (last?.toUpperCase() === 'LAST') {
          s.messages.push(s.rawData.at(-1)!);
          const end = custom('<end of data>');
          if (end !== undefined) {
            if (apply(end)) return;
          } else reply('250 2.0.0 queued');
        } else reply(`250 2.0.0 ${size} octets`);
        break;
      }
      case 'RSET':
      case 'NOOP':
        reply('250 2.0.0 OK');
        break;
      case 'QUIT':
        reply('221 2.0.0 bye');
        stream.end();
        return;
      default:
        reply('500 5.5.1 unknown command');
    }
  }
}
