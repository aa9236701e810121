// What the raw protocol clients of the tests share: a loopback connection (plain or TLS) and
// the bytes received on it, with a way to wait for more.
import net from 'node:net';
import tls from 'node:tls';

/** Connects to 127.0.0.1:port, over TLS (any certificate) when asked. */
export async function connectLoopback(port: number, useTls = false): Promise<net.Socket> {
  const socket = useTls
    ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
    : net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once(useTls ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
  });
  return socket;
}

/** Received bytes; `attach` again after a STARTTLS upgrade to follow the TLS socket. */
export class SocketInbox {
  /** Received and not yet consumed; the client takes from the front. */
  buf = Buffer.alloc(0);
  /** The peer ended or closed the connection. */
  ended = false;
  private waiters: Array<() => void> = [];

  constructor(socket: net.Socket) {
    this.attach(socket);
  }

  attach(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** Resolves when more bytes arrive or the connection ends, or after `ms` if given. */
  wait(ms?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = ms === undefined ? undefined : setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
