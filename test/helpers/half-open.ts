// A client that says goodbye and keeps its side of the connection open (allowHalfOpen), as a
// client may until it has read the server's last reply; and the server's count of open
// connections, to see that the server let the socket go without waiting for that side.
// Waits use no timers (setImmediate), so they work while a test has setTimeout frozen.
import net from 'node:net';
import type { TestServer } from './server.js';

export class HalfOpenClient {
  private chunks: Buffer[] = [];
  private wakers: Array<() => void> = [];
  /** Resolves at the server's FIN: a normal end of stream, not an error. */
  readonly ended: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      for (const w of this.wakers.splice(0)) w();
    });
    this.ended = new Promise<void>((resolve, reject) => {
      socket.once('end', resolve);
      socket.once('error', reject);
    });
  }

  static async connect(port: number): Promise<HalfOpenClient> {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new HalfOpenClient(socket);
  }

  /** Everything received so far. */
  text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  /** Until what was received matches `re` (the test's own timeout bounds the wait). */
  async waitFor(re: RegExp): Promise<void> {
    while (!re.test(this.text())) await new Promise<void>((r) => this.wakers.push(r));
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }
}

/** The server's open connections on `listener` (letterbox_connections_open). */
export async function openConnections(ts: TestServer, listener: string): Promise<number> {
  const gauge = ts.server.ctx.metrics.registry.getSingleMetric('letterbox_connections_open');
  if (!gauge) throw new Error('no letterbox_connections_open');
  const { values } = await gauge.get();
  return values.find((v) => v.labels.listener === listener)?.value ?? 0;
}

/** Polls (with setImmediate, not timers) until `check` holds; fails after `timeoutMs`. */
export async function untilImmediate(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((r) => setImmediate(r));
  }
}
