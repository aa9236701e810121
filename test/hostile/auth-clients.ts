// Minimal IMAP login clients for the auth attacks: each attempt is its own connection, from a
// chosen loopback address (127.0.0.0/8 is all local, so 127.0.0.2, .3, ... are distinct
// sources for the server's throttle without any network setup).
import { connect, type Socket } from 'node:net';

/** Reads CRLF lines from a socket, one at a time. */
function lineReader(sock: Socket): () => Promise<string> {
  let buf = '';
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => {
    buf += d;
    let nl = buf.indexOf('\r\n');
    while (nl >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 2);
      nl = buf.indexOf('\r\n');
    }
    wake?.();
  });
  const end = () => {
    ended = true;
    wake?.();
  };
  sock.on('close', end);
  sock.on('error', end);
  return async () => {
    while (lines.length === 0) {
      if (ended) throw new Error('connection closed');
      await new Promise<void>((r) => {
        wake = r;
      });
      wake = null;
    }
    return lines.shift()!;
  };
}

function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * One IMAP LOGIN on a fresh connection from `localAddress`; resolves to the tagged reply line
 * ("a OK ...", "a NO [UNAVAILABLE] ..."). The connection is closed afterwards.
 */
export async function imapLogin(
  port: number,
  localAddress: string,
  user: string,
  password: string,
): Promise<string> {
  const sock = connect({ host: '127.0.0.1', port, localAddress });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const next = lineReader(sock);
    const greeting = await next();
    if (!greeting.startsWith('* OK')) throw new Error(`greeting: ${greeting}`);
    sock.write(`a LOGIN ${quote(user)} ${quote(password)}\r\n`);
    for (;;) {
      const line = await next();
      if (line.startsWith('a ')) return line;
    }
  } finally {
    sock.destroy();
  }
}
