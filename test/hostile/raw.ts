// A raw loopback client for attacks: write exactly the bytes an attacker would, wait for text.
import net from 'node:net';
import tls from 'node:tls';

export class RawClient {
  private received = '';
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      // Keep the tail only: attacks may be answered at length.
      this.received = (this.received + d.toString('latin1')).slice(-65536);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** `localAddress`: the client's own address, e.g. 127.0.0.2 to be another loopback source. */
  static async connect(
    port: number,
    opts: { tls?: boolean; localAddress?: string } = {},
  ): Promise<RawClient> {
    const at = { port, host: '127.0.0.1', localAddress: opts.localAddress };
    const socket = opts.tls ? tls.connect({ ...at, rejectUnauthorized: false }) : net.connect(at);
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Resolves with `true` once the socket accepted the bytes (false if it is gone). */
  write(data: string | Buffer): Promise<boolean> {
    if (this.closed || this.socket.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => {
      if (this.socket.write(data)) resolve(true);
      else {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve(!this.closed);
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      }
    });
  }

  /** Waits until the received text matches `re` (the match), or fails after `ms`. */
  async until(re: RegExp, ms = 15_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.received);
      if (m) {
        this.received = this.received.slice(m.index + m[0].length);
        return m;
      }
      if (this.closed) throw new Error(`closed before ${re}; got: ${this.received.slice(-300)}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${re}; got: ${this.received.slice(-300)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits until the server closed the connection, or fails after `ms`. */
  async untilClosed(ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the server to close');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export const MB = 1024 * 1024;
