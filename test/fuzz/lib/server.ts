// The real server in-process for the session fuzz targets: IMAP, SMTP (MX and submission) and
// POP3 on loopback, one account with a few messages, and a logger that keeps what is logged at
// error level (an internal error a client's bytes caused is a finding).
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { hashPassword, TEST_SCRYPT_PARAMS } from '../../../src/auth/password.js';
import { parseConfig } from '../../../src/config/load.js';
import type { ListenerName } from '../../../src/config/schema.js';
import { LISTENER_NAMES } from '../../../src/config/schema.js';
import { wrapLogger } from '../../../src/log.js';
import { writeSelfSigned } from '../../../src/net/selfsigned.js';
import { type RunningServer, startServer } from '../../../src/server.js';

export const USER = 'fuzz@example.test';
export const PASSWORD = 'fuzz-secret';

export interface FuzzServer {
  port(name: ListenerName): number;
  /** Lines logged at error or fatal since the last call. */
  takeErrors(): string[];
  stop(): Promise<void>;
}

const ENABLED: ListenerName[] = ['smtp', 'submission', 'imap', 'pop3'];

export async function startFuzzServer(): Promise<FuzzServer> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-fuzz-'));
  await writeSelfSigned(dir, 'localhost');
  const listeners = LISTENER_NAMES.map(
    (n) => `[listeners.${n}]\nenabled = ${ENABLED.includes(n)}\naddress = "127.0.0.1"\nport = 0\n`,
  ).join('\n');
  // Plaintext logins on loopback, no login delays or lockouts (every input logs in), no
  // greeting delay, DNS that fails at once, POP3 in this process, no outbound delivery.
  const toml = `hostname = "localhost"
[log]
level = "silent"
[auth]
allow_plaintext = true
failure_delay_ms = 0
max_failure_delay_ms = 0
max_failures_per_ip = 1000000
max_failures_per_account = 1000000
[limits]
max_connections_per_ip = 1000
[smtp]
greet_delay_ms = 0
auth_checks_timeout_seconds = 1
[dns]
servers = ["127.0.0.1:1"]
timeout_ms = 50
[pop3]
workers = 0
[queue]
deliver = false
${listeners}`;
  const cfg = parseConfig(toml, join(dir, 'letterbox.toml'));
  const errors: string[] = [];
  const log = wrapLogger(pino({ level: 'error' }, { write: (line: string) => errors.push(line) }));
  const server: RunningServer = await startServer(cfg, log);
  const store = server.ctx.store;
  await store.addDomain('example.test');
  await store.createAccount({
    address: USER,
    passwordHash: await hashPassword(PASSWORD, TEST_SCRYPT_PARAMS),
  });
  const port = (name: ListenerName) => {
    const l = server.listeners.find((x) => x.name === name);
    if (!l) throw new Error(`listener ${name} is not running`);
    return l.port;
  };
  // A few messages in INBOX, from the MIME corpus, so that FETCH and SEARCH have data.
  const fixtures = new URL('../../fixtures/mime/', import.meta.url);
  const names = (await readdir(fixtures)).filter((f) => f.endsWith('.eml')).sort();
  const appends: Buffer[] = [Buffer.from(`a LOGIN ${USER} ${PASSWORD}\r\n`)];
  for (const [i, name] of names.entries()) {
    const msg = await readFile(new URL(name, fixtures));
    appends.push(Buffer.from(`p${i} APPEND INBOX {${msg.length}+}\r\n`), msg, Buffer.from('\r\n'));
  }
  appends.push(Buffer.from('z LOGOUT\r\n'));
  const answer = (await exchange(port('imap'), Buffer.concat(appends), 5000)).toString('latin1');
  if (!answer.includes('z OK')) throw new Error(`could not fill INBOX: ${answer.slice(0, 500)}`);
  errors.length = 0;
  return {
    port,
    takeErrors() {
      return errors.splice(0);
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Sends `bytes` and collects the answer until the server closes the connection, or until it
 * has sent nothing for `quietMs` (it waits for more input: a literal, DATA, an AUTH answer);
 * then the connection is dropped. The socket is not half-closed: a server may (and ours does)
 * end a session at the client's EOF without reading what came before it.
 */
export function exchange(port: number, bytes: Buffer, quietMs = 150): Promise<Buffer> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let timer = setTimeout(() => sock.destroy(), quietMs * 4);
    sock.on('data', (d) => {
      got.push(d);
      timer.refresh();
    });
    sock.on('error', () => {}); // a reset after the server's answer is fine; close follows
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
    sock.write(bytes, () => {
      clearTimeout(timer);
      timer = setTimeout(() => sock.destroy(), quietMs);
    });
  });
}
