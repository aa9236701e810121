// A minimal POP3 client for the bench (RFC 1939): single-line replies and multi-line responses
// read by their terminating ".\r\n" without keeping the bytes, with RETR and DELE pipelined
// (RFC 2449 PIPELINING) when the server offers it.
import { connect, type Socket } from 'node:net';

const END = Buffer.from('\r\n.\r\n');

export interface Pop3Reply {
  ok: boolean;
  line: string;
  /** Octets of a multi-line body as received (dot-stuffed, with its CRLFs). */
  bytes: number;
  /** The body's text, only when asked for (CAPA). */
  body: string;
}

interface Waiter {
  multiline: boolean;
  keep: boolean;
  resolve: (r: Pop3Reply) => void;
  reject: (e: Error) => void;
}

export class Pop3Client {
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiters: Waiter[] = [];
  /** Inside a multi-line response: octets seen so far (the status line excluded). */
  private inBody = false;
  private bodyBytes = 0;
  private status = '';
  private kept = '';
  pipelining = false;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.receive(d));
    const fail = (e: Error) => {
      for (const w of this.waiters.splice(0)) w.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static async login(host: string, port: number, user: string, pass: string): Promise<Pop3Client> {
    const socket = connect({ host, port });
    const c = new Pop3Client(socket);
    const greeting = await c.expect(false, false);
    if (!greeting.ok) throw new Error(`greeting: ${greeting.line}`);
    const caps = await c.send('CAPA', true, true);
    c.pipelining = caps.ok && /\r\nPIPELINING\b/i.test(caps.body);
    for (const [cmd, what] of [
      [`USER ${user}`, 'USER'],
      [`PASS ${pass}`, 'PASS'],
    ] as const) {
      const r = await c.send(cmd, false);
      if (!r.ok) throw new Error(`${what}: ${r.line}`);
    }
    return c;
  }

  /** Sends one command; replies come back in order, so several may be in flight. */
  send(line: string, multiline: boolean, keep = false): Promise<Pop3Reply> {
    const p = this.expect(multiline, keep);
    this.socket.write(`${line}\r\n`);
    return p;
  }

  private expect(multiline: boolean, keep: boolean): Promise<Pop3Reply> {
    return new Promise((resolve, reject) =>
      this.waiters.push({ multiline, keep, resolve, reject }),
    );
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    let pos = 0;
    while (pos < this.buf.length && this.waiters.length > 0) {
      const w = this.waiters[0]!;
      if (this.inBody) {
        // pos sits on the CRLF before the body's next line: the body ends at CRLF "." CRLF
        // (RFC 1939 §3), which may straddle two reads, so up to 4 octets wait for the next.
        const end = this.buf.indexOf(END, pos);
        if (end < 0) {
          const keep = Math.min(4, this.buf.length - pos);
          const upto = this.buf.length - keep;
          if (w.keep) this.kept += this.buf.toString('latin1', pos, upto);
          this.bodyBytes += upto - pos;
          pos = upto;
          break;
        }
        if (w.keep) this.kept += this.buf.toString('latin1', pos, end);
        this.bodyBytes += end - pos;
        pos = end + END.length;
        this.inBody = false;
        this.waiters.shift();
        w.resolve({ ok: true, line: this.status, bytes: this.bodyBytes, body: this.kept });
        continue;
      }
      const eol = this.buf.indexOf('\r\n', pos);
      if (eol < 0) break;
      const line = this.buf.toString('latin1', pos, eol);
      const ok = line.startsWith('+OK');
      if (w.multiline && ok) {
        this.status = line;
        this.inBody = true;
        this.bodyBytes = 0;
        this.kept = '';
        pos = eol;
        continue;
      }
      pos = eol + 2;
      this.waiters.shift();
      w.resolve({ ok, line, bytes: 0, body: '' });
    }
    this.buf = pos >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
  }
}
