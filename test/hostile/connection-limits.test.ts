// Connections per source, all listeners together (issue 15 item 7): counted at accept, before
// any TLS handshake, one count per source (an IPv4 address or an IPv6 /64) shared by every
// listener, POP3's worker handoff included. A refused plain connection gets the protocol's
// refusal (SMTP 421 4.7.0, RFC 5321 §3.8; IMAP BYE [UNAVAILABLE], RFC 9051 §7.1; POP3
// -ERR [SYS/TEMP], RFC 3206 §4); a refused implicit-TLS one is closed without a handshake; a
// silent implicit-TLS connection is closed after the handshake deadline (10 s).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { eventually } from '../helpers/eventually.js';
import { RawClient } from './raw.js';
import { type ServerProcess, startServerProcess } from './spawn.js';

const LIMIT = 6;

type Plain = 'smtp' | 'submission' | 'imap' | 'pop3';
const GREETING: Record<Plain, RegExp> = {
  smtp: /^220 /,
  submission: /^220 /,
  imap: /^\* OK /,
  pop3: /^\+OK/,
};
const REFUSAL: Record<Plain, RegExp> = {
  smtp: /^421 4\.7\.0 /,
  submission: /^421 4\.7\.0 /,
  imap: /^\* BYE \[UNAVAILABLE\]/,
  pop3: /^-ERR \[SYS\/TEMP\]/,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Health {
  listeners: { name: string; connections?: number }[];
}

describe('connection limits per source, all listeners together', () => {
  let srv: ServerProcess;
  const open: RawClient[] = [];

  before(async () => {
    srv = await startServerProcess({
      listeners: ['smtp', 'submission', 'imap', 'imaps', 'pop3', 'pop3s', 'http'],
      sections: {
        limits: { max_connections_per_ip: LIMIT },
        smtp: { greet_delay_ms: 0 },
        // POP3 in a worker process, through the handoff listener.
        pop3: { workers: 1 },
      },
    });
  });
  after(async () => {
    for (const c of open) c.close();
    await srv.stop();
  });

  /** Connects and reads the first line the server sends. */
  async function imapsConnections(): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${srv.port('http')}/healthz`);
    const body = (await res.json()) as Health;
    return body.listeners.find((l) => l.name === 'imaps')?.connections ?? 0;
  }

  async function attempt(name: Plain, localAddress?: string) {
    const c = await RawClient.connect(srv.port(name), { localAddress });
    open.push(c);
    const [line] = await c.until(/^.*\r\n/m);
    return { c, line };
  }

  /** A connection that is served; slots come back once the server saw a close, so poll. */
  async function served(name: Plain, localAddress?: string): Promise<RawClient> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { c, line } = await attempt(name, localAddress);
      if (GREETING[name].test(line)) return c;
      c.close();
      assert.match(line, REFUSAL[name]);
      if (Date.now() > deadline) throw new Error(`${name}: still refused: ${line}`);
      await sleep(100);
    }
  }

  /** The next connection is refused with the protocol's refusal, then closed. */
  async function refused(name: Plain, localAddress?: string): Promise<void> {
    const { c, line } = await attempt(name, localAddress);
    assert.match(line, REFUSAL[name], `${name} from ${localAddress ?? '127.0.0.1'}`);
    await c.untilClosed();
  }

  function closeAll(): void {
    for (const c of open.splice(0)) c.close();
  }

  test('(a) 3 IMAP + 3 SMTP use the 6 slots: POP3 (worker) and submission are refused', async () => {
    const held: RawClient[] = [];
    for (let i = 0; i < 3; i++) held.push(await served('imap'));
    for (let i = 0; i < 3; i++) held.push(await served('smtp'));
    // Both were served before: the old code counted each listener on its own.
    await refused('pop3');
    await refused('submission');
    await refused('imap');
    // One closed: a slot is free again (once the server saw the close).
    held[0]!.close();
    const pop = await served('pop3');
    await refused('submission');
    pop.close();
    await served('submission');
    closeAll();
  });

  test('(b) silent connections to imaps hold slots until the 10 s handshake deadline', async () => {
    // A source of its own: connections the test before closed may not be released yet, and
    // then the silent ones would be refused at once.
    const from = '127.0.0.5';
    const silent = await Promise.all(
      Array.from({ length: LIMIT }, () => connectSilent(srv.port('imaps'), from)),
    );
    // The six are counted at accept, before any handshake. A probe sent before the server
    // accepted them all would take a slot itself, so first wait until imaps holds them
    // (/healthz reports each listener's open connections).
    await eventually(async () => (await imapsConnections()) >= LIMIT, 'imaps accepts', 15_000);
    await refused('imap', from);
    await refused('pop3', from);
    // A refused implicit-TLS connection is closed without a handshake.
    const tlsAttempt = await tlsOutcome(srv.port('imaps'), from);
    assert.equal(tlsAttempt, 'closed', 'imaps over the limit: closed, no handshake');
    // The same on pop3s, whose sessions run in worker processes (handoff listener).
    const pop3sAttempt = await tlsOutcome(srv.port('pop3s'), from);
    assert.equal(pop3sAttempt, 'closed', 'pop3s over the limit: closed, no handshake');

    // The server closes them after HANDSHAKE_MS (10 s); the old code left them open.
    await Promise.all(silent.map((s) => s.closed(30_000)));
    // Their slots are free: every listener serves again, TLS included.
    await served('imap', from);
    await served('pop3', from);
    const t = await RawClient.connect(srv.port('imaps'), { tls: true, localAddress: from });
    open.push(t);
    await t.until(/^\* OK .*\r\n/m);
    closeAll();
  });

  test('(b) a lone silent imaps connection under the limit is closed too', async () => {
    // Node's tls.Server reports the handshake timeout and leaves the socket open.
    const s = await connectSilent(srv.port('imaps'), '127.0.0.6');
    await s.closed(30_000);
  });

  test('(c) another loopback address is another source', async () => {
    for (let i = 0; i < 3; i++) await served('imap');
    for (let i = 0; i < 3; i++) await served('pop3');
    await refused('smtp');
    // 127.0.0.2 has its own six.
    await served('imap', '127.0.0.2');
    await served('smtp', '127.0.0.2');
    await served('pop3', '127.0.0.2');
    for (let i = 0; i < 3; i++) await served('submission', '127.0.0.2');
    await refused('imap', '127.0.0.2');
    await refused('pop3', '127.0.0.2');
    await refused('submission');
    // And 127.0.0.3 its own too.
    await served('pop3', '127.0.0.3');
    await served('submission', '127.0.0.3');
    closeAll();
  });
});

interface Silent {
  /** Resolves when the server closed the connection; fails after `ms`. */
  closed(ms: number): Promise<void>;
}

/** A TCP connection that never sends a byte (no ClientHello). */
async function connectSilent(port: number, localAddress: string): Promise<Silent> {
  const s = net.connect({ port, host: '127.0.0.1', localAddress });
  s.on('error', () => {});
  s.on('data', () => {});
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  });
  return {
    async closed(ms) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          s.destroy();
          reject(new Error('the server left a silent connection open'));
        }, ms);
      });
      try {
        await Promise.race([closed, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Opens a TLS connection: 'secure' if the handshake completed, 'closed' if it was cut first. */
async function tlsOutcome(port: number, localAddress: string): Promise<'secure' | 'closed'> {
  // localAddress goes on to net.connect (tls.ConnectionOptions does not declare it).
  const at = { port, host: '127.0.0.1', localAddress };
  const s = tls.connect({ ...at, rejectUnauthorized: false });
  s.on('error', () => {});
  const outcome = await new Promise<'secure' | 'closed'>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('TLS: neither handshake nor close')), 30_000);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      resolve('secure');
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
  s.destroy();
  return outcome;
}
