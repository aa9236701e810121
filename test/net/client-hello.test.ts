// The ClientHello reader the ACME tls-alpn-01 responder uses (net/client-hello.ts): SNI and
// ALPN as real clients (Node's OpenSSL) send them, the handshake split over records and TCP
// reads, and everything that is not a ClientHello (plaintext, SSLv2, truncated lengths) read as
// `invalid` without throwing.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import tls from 'node:tls';
import { parseClientHello, readClientHello } from '../../src/net/client-hello.js';

/** The bytes a real TLS client sends first, captured by a plain TCP server. */
async function captureHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => {
    server.once('connection', (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        const all = Buffer.concat(chunks);
        if (parseClientHello(all).kind !== 'partial') {
          s.destroy();
          resolve(all);
        }
      });
    });
  });
  const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
  c.on('error', () => {});
  const hello = await got;
  c.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return hello;
}

/** The same handshake bytes re-framed into records of at most `size` bytes. */
function reframe(hello: Buffer, size: number): Buffer {
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let p = 0; p < body.length; p += size) {
    const part = body.subarray(p, p + size);
    const head = Buffer.from([22, 3, 1, 0, 0]);
    head.writeUInt16BE(part.length, 3);
    out.push(head, part);
  }
  return Buffer.concat(out);
}

describe('parseClientHello', () => {
  const cases: [string, tls.ConnectionOptions, { servername?: string; alpn: string[] }][] = [
    [
      'SNI and acme-tls/1',
      { servername: 'Mail.Example.TEST', ALPNProtocols: ['acme-tls/1'] },
      { servername: 'mail.example.test', alpn: ['acme-tls/1'] },
    ],
    [
      'SNI, several protocols in order',
      { servername: 'mail.example.test', ALPNProtocols: ['imap', 'acme-tls/1', 'h2'] },
      { servername: 'mail.example.test', alpn: ['imap', 'acme-tls/1', 'h2'] },
    ],
    [
      'SNI, no ALPN',
      { servername: 'mail.example.test' },
      { servername: 'mail.example.test', alpn: [] },
    ],
    ['no SNI (an IP address), ALPN', { ALPNProtocols: ['acme-tls/1'] }, { alpn: ['acme-tls/1'] }],
    [
      'TLS 1.2 only',
      { servername: 'a.test', maxVersion: 'TLSv1.2', ALPNProtocols: ['acme-tls/1'] },
      { servername: 'a.test', alpn: ['acme-tls/1'] },
    ],
  ];
  for (const [what, opts, want] of cases) {
    test(what, async () => {
      const hello = await captureHello(opts);
      const { kind, ...info } = parseClientHello(hello) as { kind: string };
      assert.equal(kind, 'hello');
      assert.deepEqual(info, want);
      // Split over small records, and cut short at every length: never more than partial.
      const split = reframe(hello, 100);
      const again = parseClientHello(split);
      assert.equal(again.kind, 'hello');
      assert.deepEqual({ ...again, kind: undefined }, { ...want, kind: undefined });
      for (let n = 0; n < split.length; n += 7) {
        assert.equal(parseClientHello(split.subarray(0, n)).kind, 'partial', `cut at ${n}`);
      }
    });
  }

  test('not a ClientHello: invalid, never a throw', async () => {
    const hello = await captureHello({ servername: 'a.test', ALPNProtocols: ['acme-tls/1'] });
    const bad = (f: (b: Buffer) => void) => {
      const b = Buffer.from(hello);
      f(b);
      return b;
    };
    for (const [what, buf] of [
      ['plaintext', Buffer.from('a LOGIN user pass\r\n')],
      ['SSLv2-style hello', Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01, 0, 0, 0, 0])],
      ['an alert record', Buffer.from([21, 3, 3, 0, 2, 2, 40])],
      ['a ServerHello', bad((b) => b.writeUInt8(2, 5))],
      ['an empty record', Buffer.from([22, 3, 1, 0, 0])],
      ['record longer than TLS allows', Buffer.from([22, 3, 1, 0xff, 0xff])],
      ['handshake length over 64 KiB', Buffer.from([22, 3, 1, 0, 4, 1, 0x01, 0x00, 0x01])],
    ] as const) {
      assert.equal(parseClientHello(buf as Buffer).kind, 'invalid', what);
    }
    // Every single-byte corruption of a real hello: no exception.
    for (let i = 0; i < hello.length; i++) {
      const b = Buffer.from(hello);
      b[i] = b[i]! ^ 0xff;
      parseClientHello(b);
    }
  });
});

describe('readClientHello', () => {
  test('reads a hello sent in pieces, gives every byte back, leaves the socket paused', async () => {
    const hello = await captureHello({ servername: 'a.test', ALPNProtocols: ['acme-tls/1'] });
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const c = net.connect(port, '127.0.0.1');
    const s = await accepted;
    const reading = readClientHello(s, 10_000);
    c.write(hello.subarray(0, 10));
    setImmediate(() => c.write(hello.subarray(10)));
    const r = await reading;
    assert.ok(r);
    assert.deepEqual(r.hello, { servername: 'a.test', alpn: ['acme-tls/1'] });
    assert.deepEqual(r.head, hello);
    assert.equal(s.isPaused(), true);
    assert.equal(s.listenerCount('data'), 0);
    c.destroy();
    s.destroy();
    await new Promise<void>((r2) => server.close(() => r2()));
  });

  test('plaintext: no hello, the bytes given back; a silent client: undefined and destroyed', async () => {
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const next = () => new Promise<net.Socket>((r) => server.once('connection', r));
    let accepted = next();
    const c1 = net.connect(port, '127.0.0.1');
    c1.write('a CAPABILITY\r\n');
    const r1 = await readClientHello(await accepted, 10_000);
    assert.deepEqual(r1, { head: Buffer.from('a CAPABILITY\r\n') });
    accepted = next();
    const c2 = net.connect(port, '127.0.0.1');
    const s2 = await accepted;
    assert.equal(await readClientHello(s2, 50), undefined);
    assert.equal(s2.destroyed, true);
    accepted = next();
    const c3 = net.connect(port, '127.0.0.1');
    const s3 = await accepted;
    const r3 = readClientHello(s3, 10_000);
    c3.end();
    assert.equal(await r3, undefined);
    for (const c of [c1, c2, c3]) c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
});
