// When one listener finds its port taken, the operator wants every taken port in one line, not
// one per restart: the configured listeners are probed (bind and release) and named together.
import net from 'node:net';
import { hostPort } from './conn-log.js';
import { ListenError } from './listener.js';

export interface ListenAddress {
  name: string;
  host: string;
  port: number;
}

/** The listeners whose address another process holds (EADDRINUSE); port 0 is never busy. */
export async function busyPorts(listeners: readonly ListenAddress[]): Promise<ListenAddress[]> {
  const probe = (l: ListenAddress) =>
    new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE'));
      srv.listen({ host: l.host, port: l.port }, () => srv.close(() => resolve(false)));
    });
  const candidates = listeners.filter((l) => l.port !== 0);
  const busy = await Promise.all(candidates.map(probe));
  return candidates.filter((_, i) => busy[i]);
}

/** Every port in use, one line: `address already in use: 127.0.0.1:25 (smtp), [::]:993 (imaps)`. */
export class PortsInUseError extends ListenError {
  constructor(
    readonly busy: readonly ListenAddress[],
    options?: { cause?: unknown },
  ) {
    const first = busy[0]!;
    super(first.host, first.port, 'EADDRINUSE', first.name, options);
    const list = busy.map((b) => `${hostPort(b.host, b.port)} (${b.name})`).join(', ');
    this.message = `cannot listen: address already in use: ${list}`;
    this.name = 'PortsInUseError';
  }
}

/**
 * The error to report for a listener that could not bind: for EADDRINUSE, every configured
 * listener whose port is taken (the one that failed first, even if it came free meanwhile).
 */
export async function withEveryBusyPort(
  err: ListenError,
  listeners: readonly ListenAddress[],
): Promise<ListenError> {
  if (err.code !== 'EADDRINUSE') return err;
  const failed = { name: err.listenerName, host: err.host, port: err.port };
  const busy = await busyPorts(listeners.filter((l) => l.name !== failed.name));
  const all = [...listeners.filter((l) => l.name === failed.name), ...busy];
  const ordered = listeners.filter((l) => all.some((b) => b.name === l.name));
  return new PortsInUseError(ordered.length > 0 ? ordered : [failed], { cause: err });
}
