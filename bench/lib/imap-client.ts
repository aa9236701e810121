// A minimal raw IMAP client for the benches: the same client measures Letterbox and Dovecot.
// It pipelines (many tagged commands in flight), reads literals by their byte count without
// keeping their bytes (RFC 9051 §4.3), sends synchronizing literals after the server's `+`
// (or at once under LITERAL+, RFC 7888), and reports untagged responses to a listener, which
// IDLE (RFC 2177) needs. It is light enough to hold 10,000 connections in one process.
import { connect, type Socket } from 'node:net';

export interface Reply {
  status: 'OK' | 'NO' | 'BAD';
  text: string;
  /** Untagged lines received while this command ran (literal bytes left out). */
  untagged: string[];
  /** Literal octets received while this command ran. */
  literalBytes: number;
}

/** A command part: strings go as they are, Buffers as literals. */
export type Part = string | Buffer;

interface Pending {
  tag: string;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  untagged: string[];
  literalBytes: number;
  keep: boolean;
}

const CRLF = Buffer.from('\r\n');
const LITERAL_AT_END = /\{(\d+)\+?\}$/;

export class ImapClient {
  private buf: Buffer = Buffer.alloc(0);
  /** Octets of a literal still to skip, then the rest of its line follows. */
  private literalLeft = 0;
  /** The line read so far when a literal interrupted it. */
  private partial = '';
  private readonly pending = new Map<string, Pending>();
  /** Commands in the order they were sent, for untagged lines (they go to the oldest). */
  private readonly order: Pending[] = [];
  private readonly continuations: Array<() => void> = [];
  private nextTag = 1;
  /** Writes run one after another, so a command waiting for `+` is not interleaved. */
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private greeting: ((line: string) => void) | null = null;
  capabilities = new Set<string>();
  /** Called for every untagged line (e.g. `* 5 EXISTS` in IDLE). */
  onUntagged: ((line: string) => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.receive(d));
    socket.on('close', () => this.fail(new Error('connection closed')));
    socket.on('error', (e) => this.fail(e));
  }

  static connect(host: string, port: number, timeoutMs = 30_000): Promise<ImapClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const client = new ImapClient(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no IMAP greeting from ${host}:${port}`));
      }, timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      client.greeting = (line) => {
        clearTimeout(timer);
        if (line.startsWith('* OK') || line.startsWith('* PREAUTH')) resolve(client);
        else reject(new Error(`greeting: ${line}`));
      };
    });
  }

  /** Connects and logs in; capabilities are read after login (they change with state). */
  static async login(host: string, port: number, user: string, pass: string): Promise<ImapClient> {
    const c = await ImapClient.connect(host, port);
    const r = await c.command(`LOGIN ${quote(user)} ${quote(pass)}`);
    if (r.status !== 'OK') {
      c.destroy();
      throw new Error(`LOGIN ${user}: ${r.status} ${r.text}`);
    }
    const caps = await c.command('CAPABILITY');
    for (const line of caps.untagged) {
      if (/^\* CAPABILITY /i.test(line)) {
        c.capabilities = new Set(line.slice(13).toUpperCase().split(' '));
      }
    }
    return c;
  }

  /**
   * Sends one command (parts joined by nothing; put the spaces in the strings). Resolves with
   * the tagged reply; `keep: false` drops untagged lines (counting only), for huge responses.
   */
  command(
    parts: Part | Part[],
    opts: { keep?: boolean; onContinue?: () => void } = {},
  ): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    const tag = `A${this.nextTag++}`;
    const p = new Promise<Reply>((resolve, reject) => {
      const entry: Pending = {
        tag,
        resolve,
        reject,
        untagged: [],
        literalBytes: 0,
        keep: opts.keep ?? true,
      };
      this.pending.set(tag, entry);
      this.order.push(entry);
    });
    const list = Array.isArray(parts) ? parts : [parts];
    this.writing = this.writing
      .then(() => this.send(tag, list, opts.onContinue))
      .catch(() => {
        // A write to a closed socket: fail() rejects the pending commands.
      });
    return p;
  }

  private async send(tag: string, parts: Part[], onContinue?: () => void): Promise<void> {
    const plus = this.capabilities.has('LITERAL+');
    let chunk = `${tag} `;
    for (const part of parts) {
      if (typeof part === 'string') {
        chunk += part;
        continue;
      }
      // RFC 9051 §4.3: a synchronizing literal waits for "+"; RFC 7888 LITERAL+ does not.
      chunk += plus ? `{${part.length}+}\r\n` : `{${part.length}}\r\n`;
      if (!plus) {
        const go = new Promise<void>((r) => this.continuations.push(r));
        this.socket.write(chunk);
        await go;
        if (this.closed) return;
        this.socket.write(part);
      } else {
        this.socket.write(chunk);
        this.socket.write(part);
      }
      chunk = '';
    }
    // A command that itself waits for "+" (IDLE) registers before the line goes out.
    if (onContinue) this.continuations.push(onContinue);
    this.socket.write(`${chunk}\r\n`);
  }

  /**
   * Enters IDLE; resolves once the server says `+`, with the command's final reply (wrapped:
   * an async function returning a promise would wait for it). End it with `done()`.
   */
  async idle(): Promise<{ reply: Promise<Reply> }> {
    let entered!: () => void;
    const go = new Promise<void>((r) => {
      entered = r;
    });
    const reply = this.command('IDLE', { keep: false, onContinue: entered });
    await Promise.race([go, reply]);
    return { reply };
  }

  /** RFC 2177: DONE ends IDLE. */
  done(): void {
    this.socket.write('DONE\r\n');
  }

  async logout(): Promise<void> {
    try {
      await this.command('LOGOUT');
    } catch {
      // The server may close before we read its OK.
    }
    this.destroy();
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private fail(e: Error): void {
    this.closed = true;
    for (const p of this.order.splice(0)) p.reject(e);
    this.pending.clear();
    for (const c of this.continuations.splice(0)) c();
  }

  private receive(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    let pos = 0;
    while (pos < this.buf.length) {
      if (this.literalLeft > 0) {
        const n = Math.min(this.literalLeft, this.buf.length - pos);
        this.literalLeft -= n;
        const cur = this.order[0];
        if (cur) cur.literalBytes += n;
        pos += n;
        continue;
      }
      const eol = this.buf.indexOf(CRLF, pos);
      if (eol < 0) break;
      const text = this.buf.toString('latin1', pos, eol);
      pos = eol + 2;
      const m = LITERAL_AT_END.exec(text);
      if (m) {
        // The line goes on after the literal's octets.
        this.partial += `${text.slice(0, m.index)}{${m[1]}}`;
        this.literalLeft = Number(m[1]);
        continue;
      }
      const line = this.partial + text;
      this.partial = '';
      this.line(line);
    }
    this.buf = pos >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
  }

  private line(line: string): void {
    if (this.greeting) {
      const g = this.greeting;
      this.greeting = null;
      g(line);
      return;
    }
    if (line.startsWith('+')) {
      this.continuations.shift()?.();
      return;
    }
    if (line.startsWith('*')) {
      const cur = this.order[0];
      if (cur?.keep) cur.untagged.push(line);
      this.onUntagged?.(line);
      return;
    }
    const sp = line.indexOf(' ');
    const tag = line.slice(0, sp);
    const p = this.pending.get(tag);
    if (!p) return;
    this.pending.delete(tag);
    const i = this.order.indexOf(p);
    if (i >= 0) this.order.splice(i, 1);
    const rest = line.slice(sp + 1);
    const sp2 = rest.indexOf(' ');
    const status = (sp2 < 0 ? rest : rest.slice(0, sp2)).toUpperCase() as Reply['status'];
    p.resolve({
      status,
      text: sp2 < 0 ? '' : rest.slice(sp2 + 1),
      untagged: p.untagged,
      literalBytes: p.literalBytes,
    });
  }
}

/** An IMAP quoted string (RFC 9051 §4.3) for simple ASCII arguments. */
export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Throws unless the reply is OK: a bench must not count failed operations as done. */
export function expectOk(r: Reply, what: string): Reply {
  if (r.status !== 'OK') throw new Error(`${what}: ${r.status} ${r.text}`);
  return r;
}
