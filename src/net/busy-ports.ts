// When one listener cannot bind because its port is taken (or below 1024 without the right),
// the operator wants every such port in one line, not one per restart: the configured
// listeners are probed (bind and release) and named together.
import net from 'node:net';
import { hostPort } from './conn-log.js';
import { describeListenCode, ListenError } from './listener.js';

export interface ListenAddress {
  name: string;
  host: string;
  port: number;
}

/** The bind failures named all together: another process holds it, or it needs a privilege. */
const GATHERED = new Set(['EADDRINUSE', 'EACCES']);

/** The listeners whose bind fails with `code` (EADDRINUSE by default); port 0 never does. */
export async function busyPorts(
  listeners: readonly ListenAddress[],
  code = 'EADDRINUSE',
): Promise<ListenAddress[]> {
  const probe = (l: ListenAddress) =>
    new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === code));
      srv.listen({ host: l.host, port: l.port }, () => srv.close(() => resolve(false)));
    });
  const candidates = listeners.filter((l) => l.port !== 0);
  const busy = await Promise.all(candidates.map(probe));
  return candidates.filter((_, i) => busy[i]);
}

/**
 * Every port that failed the same way, one line:
 * `cannot listen: address already in use: 127.0.0.1:25 (smtp), [::]:993 (imaps)`.
 */
export class PortsInUseError extends ListenError {
  constructor(
    readonly busy: readonly ListenAddress[],
    code: string,
    options?: { cause?: unknown },
  ) {
    const first = busy[0]!;
    super(first.host, first.port, code, first.name, options);
    const list = busy.map((b) => `${hostPort(b.host, b.port)} (${b.name})`).join(', ');
    this.message = `cannot listen: ${describeListenCode(code)}: ${list}`;
    this.name = 'PortsInUseError';
  }
}

/**
 * The error to report for a listener that could not bind: for EADDRINUSE and EACCES, every
 * configured listener whose bind fails the same way (the one that failed first included, even
 * if it came free meanwhile), in the config's order. Other failures are reported as they are.
 */
export async function withEveryBusyPort(
  err: ListenError,
  listeners: readonly ListenAddress[],
): Promise<ListenError> {
  if (!GATHERED.has(err.code)) return err;
  const failed = { name: err.listenerName, host: err.host, port: err.port };
  const busy = await busyPorts(
    listeners.filter((l) => l.name !== failed.name),
    err.code,
  );
  const names = new Set([failed.name, ...busy.map((b) => b.name)]);
  const ordered = listeners.filter((l) => names.has(l.name));
  return new PortsInUseError(ordered.length > 0 ? ordered : [failed], err.code, { cause: err });
}
