// The lines an operator follows a connection by (issue 16, item 8; net/conn-log.ts), captured
// from the real server: one 'connection opened' and one 'connection closed' per connection with
// the listener, the peer, the TLS version and cipher (STARTTLS included), the duration, the
// bytes, the account and the connection id; auth lines with the connection id and listener;
// 'message accepted' with the recipients and the queue ids `letterbox queue list` shows; an
// IPv6 peer in brackets from a listener on ::1.
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { pino } from 'pino';
import { startHttp } from '../../src/http/server.js';
import { wrapLogger } from '../../src/log.js';
import { hostPort } from '../../src/net/conn-log.js';
import { ConnectionLimiter } from '../../src/net/limits.js';
import { startListener } from '../../src/net/listener.js';
import type { MailStore } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { type MemoryLog, memoryLog } from '../helpers/memory-log.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { LineClient } from './helpers.js';

type Rec = Record<string, unknown>;

let mem: MemoryLog;
let srv: TestServer;
const USER = 'alice@example.test';
const PASS = 'correct horse battery';

before(async () => {
  mem = memoryLog('info');
  srv = await startTestServer({
    listeners: ['submission', 'imap', 'pop3'],
    extraToml: '[pop3]\nworkers = 0\n',
    log: mem.log,
  });
  await srv.addUser(USER, PASS);
});

after(async () => {
  await srv?.stop();
});

async function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  const sock = net.connect(port, host);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  return sock;
}

async function upgrade(sock: net.Socket): Promise<tls.TLSSocket> {
  const t = tls.connect({ socket: sock, servername: 'localhost', rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    t.once('secureConnect', resolve);
    t.once('error', reject);
  });
  return t;
}

/** Reads lines up to one that matches `last`; fails on end of input. */
async function until(c: LineClient, last: RegExp): Promise<string[]> {
  const got: string[] = [];
  for (;;) {
    const l = await c.line();
    if (l === null) throw new Error(`connection ended waiting for ${last}: ${got.join(' | ')}`);
    got.push(l);
    if (last.test(l)) return got;
  }
}

async function say(c: LineClient, line: string, last: RegExp): Promise<string[]> {
  c.socket.write(`${line}\r\n`);
  return until(c, last);
}

const byConn = (id: unknown, msg: string) => (r: Rec) => r.conn === id && r.msg === msg;

/** The open and close lines of the connection whose client side is on `localPort`. */
async function linesOf(localPort: number): Promise<{ opened: Rec; closed: Rec; id: string }> {
  const peer = `127.0.0.1:${localPort}`;
  let opened: Rec | undefined;
  await eventually(() => {
    opened = mem.records.find((r) => r.msg === 'connection opened' && r.peer === peer);
    return opened !== undefined;
  }, 'the open line');
  const id = opened!.conn as string;
  let closed: Rec | undefined;
  await eventually(
    () => {
      closed = mem.records.find(byConn(id, 'connection closed'));
      return closed !== undefined;
    },
    'the close line',
    30_000,
  );
  return { opened: opened!, closed: closed!, id };
}

function assertOpened(opened: Rec, listener: string, peer: string): void {
  assert.equal(opened.level, 30);
  assert.equal(opened.listener, listener);
  assert.equal(opened.peer, peer);
  assert.match(String(opened.conn), /^[0-9a-f]{4}[0-9a-z]+$/);
  assert.equal(opened.tls, undefined, 'plaintext until STARTTLS');
}

function assertClosed(closed: Rec, opened: Rec, account: string): void {
  assert.equal(closed.level, 30);
  for (const k of ['listener', 'peer', 'conn']) assert.equal(closed[k], opened[k], k);
  assert.equal(closed.account, account);
  assert.match(String(closed.tls), /^TLSv1\.[23]$/);
  assert.equal(typeof closed.cipher, 'string');
  assert.ok(Number.isInteger(closed.durationMs) && (closed.durationMs as number) >= 0);
  // Every command and reply crossed: more than the STARTTLS exchange alone.
  assert.ok((closed.bytesIn as number) > 40, `bytesIn ${closed.bytesIn}`);
  assert.ok((closed.bytesOut as number) > 100, `bytesOut ${closed.bytesOut}`);
}

function assertTlsLine(id: string, listener: string): void {
  const t = mem.records.find(byConn(id, 'TLS established'));
  assert.ok(t, 'a TLS line once STARTTLS completed');
  assert.equal(t.level, 30);
  assert.equal(t.listener, listener);
  assert.match(String(t.tls), /^TLSv1\.[23]$/);
}

function assertAuthLine(id: string, listener: string, protocol: string): void {
  const a = mem.records.find(byConn(id, 'authentication succeeded'));
  assert.ok(a, 'the auth line names the connection');
  assert.equal(a.listener, listener);
  assert.equal(a.protocol, protocol);
  assert.equal(a.username, USER);
}

test('IMAP with STARTTLS and LOGIN: opened, TLS, auth and closed lines', async () => {
  const sock = await connect(srv.port('imap'));
  const localPort = sock.localPort!;
  let c = new LineClient(sock);
  await until(c, /^\* OK/);
  await say(c, 'a STARTTLS', /^a OK/);
  c = new LineClient(await upgrade(sock));
  await say(c, `b LOGIN ${USER} "${PASS}"`, /^b OK/);
  await say(c, 'c LOGOUT', /^c OK/);
  c.socket.end();
  const { opened, closed, id } = await linesOf(localPort);
  assertOpened(opened, 'imap', `127.0.0.1:${localPort}`);
  assertTlsLine(id, 'imap');
  assertAuthLine(id, 'imap', 'imap');
  assertClosed(closed, opened, USER);
});

test('POP3 with STLS and USER/PASS: opened, TLS, auth and closed lines', async () => {
  const sock = await connect(srv.port('pop3'));
  const localPort = sock.localPort!;
  let c = new LineClient(sock);
  await until(c, /^\+OK/);
  await say(c, 'STLS', /^\+OK/);
  c = new LineClient(await upgrade(sock));
  await say(c, `USER ${USER}`, /^\+OK/);
  await say(c, `PASS ${PASS}`, /^\+OK/);
  await say(c, 'QUIT', /^\+OK/);
  c.socket.end();
  const { opened, closed, id } = await linesOf(localPort);
  assertOpened(opened, 'pop3', `127.0.0.1:${localPort}`);
  assertTlsLine(id, 'pop3');
  assertAuthLine(id, 'pop3', 'pop3');
  assertClosed(closed, opened, USER);
});

test('submission with STARTTLS and AUTH: the accepted line lists recipients and queue ids', async () => {
  const sock = await connect(srv.port('submission'));
  const localPort = sock.localPort!;
  let c = new LineClient(sock);
  await until(c, /^220 /);
  await say(c, 'EHLO client.test', /^250 /);
  await say(c, 'STARTTLS', /^220 /);
  c = new LineClient(await upgrade(sock));
  await say(c, 'EHLO client.test', /^250 /);
  const plain = Buffer.from(`\0${USER}\0${PASS}`).toString('base64');
  await say(c, `AUTH PLAIN ${plain}`, /^235 /);
  await say(c, `MAIL FROM:<${USER}>`, /^250 /);
  await say(c, `RCPT TO:<${USER}>`, /^250 /);
  await say(c, 'RCPT TO:<bob@remote.test>', /^250 /);
  await say(c, 'DATA', /^354 /);
  const body = `From: ${USER}\r\nTo: bob@remote.test\r\nSubject: logs\r\n\r\nhello\r\n.`;
  const [reply] = await say(c, body, /^250 /);
  await say(c, 'QUIT', /^221 /);
  c.socket.end();
  const { opened, closed, id } = await linesOf(localPort);
  assertOpened(opened, 'submission', `127.0.0.1:${localPort}`);
  assertTlsLine(id, 'submission');
  assertAuthLine(id, 'submission', 'smtp');
  assertClosed(closed, opened, USER);

  const accepted = mem.records.find(byConn(id, 'message accepted'));
  assert.ok(accepted, 'the accepted line names the connection');
  assert.equal(accepted.listener, 'submission');
  assert.deepEqual(accepted.recipients, [USER, 'bob@remote.test']);
  assert.equal(accepted.local, 1);
  assert.equal(accepted.remote, 1);
  // The reply's id is the message's; the queue id is what `letterbox queue list` shows.
  assert.ok(reply!.includes(String(accepted.msgId)), reply);
  const queue = await srv.server.ctx.store.listOutbound();
  assert.deepEqual(
    accepted.queueIds,
    queue.map((q) => q.id),
  );
  assert.equal(queue[0]!.recipients[0]!.address, 'bob@remote.test');
});

test('a failed login names the connection and listener too', async () => {
  const sock = await connect(srv.port('imap'));
  let c = new LineClient(sock);
  await until(c, /^\* OK/);
  await say(c, 'a STARTTLS', /^a OK/);
  c = new LineClient(await upgrade(sock));
  await say(c, `b LOGIN ${USER} wrong`, /^b NO/);
  await say(c, 'c LOGOUT', /^c OK/);
  c.socket.end();
  const { closed, id } = await linesOf(sock.localPort!);
  const a = mem.records.find(byConn(id, 'authentication failed'));
  assert.ok(a);
  assert.equal(a.listener, 'imap');
  assert.equal(a.reason, 'invalid');
  assert.equal(closed.account, undefined, 'no account on a connection that never logged in');
});

test('hostPort brackets IPv6 and leaves IPv4 and names alone', () => {
  assert.equal(hostPort('::1', 1234), '[::1]:1234');
  assert.equal(hostPort('2001:db8::7', 25), '[2001:db8::7]:25');
  assert.equal(hostPort('192.0.2.1', 143), '192.0.2.1:143');
  assert.equal(hostPort('localhost', 110), 'localhost:110');
});

test('a peer on ::1 is logged in brackets, opened and closed', async () => {
  const m = memoryLog('info');
  const l = await startListener({
    name: 'imap',
    host: '::1',
    port: 0,
    tls: 'none',
    limiter: new ConnectionLimiter(10),
    log: m.log,
    handler: async (conn) => {
      await conn.write('hello\r\n');
      await conn.readLine(100);
    },
  });
  try {
    const sock = await connect(l.address().port, '::1');
    const c = new LineClient(sock);
    assert.equal(await c.line(), 'hello');
    sock.write('bye\r\n');
    await c.closed();
    const peer = `[::1]:${sock.localPort}`;
    await eventually(
      () => m.records.some((r) => r.msg === 'connection closed' && r.peer === peer),
      'the close line',
      30_000,
    );
    const opened = m.records.find((r) => r.msg === 'connection opened');
    const closed = m.records.find((r) => r.msg === 'connection closed');
    assert.deepEqual(
      { listener: opened?.listener, peer: opened?.peer, conn: typeof opened?.conn },
      { listener: 'imap', peer, conn: 'string' },
    );
    assert.equal(closed?.conn, opened?.conn);
    assert.equal(closed?.bytesIn, 5);
    assert.equal(closed?.bytesOut, 7);
    assert.equal(closed?.tls, undefined);
    assert.equal(closed?.account, undefined);
  } finally {
    await l.close(1000);
  }
});

test('the HTTP listener logs its connections the same way (IPv6 peer in brackets)', async () => {
  const m = memoryLog('info');
  const h = await startHttp({ host: '::1', port: 0, store: {} as MailStore, log: m.log });
  try {
    const sock = await connect(h.address().port, '::1');
    const c = new LineClient(sock);
    sock.write('GET /nothing HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    assert.equal(await c.line(), 'HTTP/1.1 404 Not Found');
    await c.closed();
    const peer = `[::1]:${sock.localPort}`;
    await eventually(
      () => m.records.some((r) => r.msg === 'connection closed' && r.peer === peer),
      'the close line',
      30_000,
    );
    const opened = m.records.find((r) => r.msg === 'connection opened');
    const closed = m.records.find((r) => r.msg === 'connection closed');
    assert.equal(opened?.listener, 'http');
    assert.equal(opened?.peer, peer);
    assert.equal(closed?.conn, opened?.conn);
    assert.ok((closed?.bytesIn as number) > 40);
    assert.ok((closed?.bytesOut as number) > 40);
  } finally {
    await h.close(1000);
  }
});

test('the open and close lines make no pino child per connection (log.ts lazy children)', async () => {
  const records: Rec[] = [];
  const base = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l) records.push(JSON.parse(l) as Rec);
        done();
      },
    }),
  );
  let children = 0;
  const child = base.child.bind(base);
  base.child = ((...a: Parameters<typeof child>) => {
    children++;
    return child(...a);
  }) as typeof base.child;
  const l = await startListener({
    name: 'imap',
    host: '127.0.0.1',
    port: 0,
    tls: 'none',
    limiter: new ConnectionLimiter(100),
    log: wrapLogger(base),
    handler: async (conn) => {
      await conn.write('* OK\r\n');
      await conn.readLine(100);
    },
  });
  try {
    const N = 20;
    for (let i = 0; i < N; i++) {
      const sock = await connect(l.address().port);
      const c = new LineClient(sock);
      assert.equal(await c.line(), '* OK');
      sock.end('x\r\n');
      await c.closed();
    }
    await eventually(
      () => records.filter((r) => r.msg === 'connection closed').length === N,
      'every close line',
      30_000,
    );
    assert.equal(records.filter((r) => r.msg === 'connection opened').length, N);
    // The listener's own child (its 'listening' line), not one per connection.
    assert.ok(children <= 2, `${children} pino children for ${N} connections`);
  } finally {
    await l.close(1000);
  }
});
