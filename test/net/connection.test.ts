import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { describe, mock, test } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { Connection, INPUT_HIGH_WATER, type LineResult } from '../../src/net/connection.js';
import { fakeConnection, tcpPair } from './helpers.js';

function text(r: LineResult): string {
  assert.equal(r.kind, 'line', `expected a line, got ${r.kind}`);
  return r.kind === 'line' ? r.line.toString('latin1') : '';
}

describe('Connection.readLine', () => {
  test('whole lines in one chunk', async () => {
    const { sock, conn } = fakeConnection();
    sock.feed('EHLO a\r\nNOOP\r\n');
    assert.deepEqual(await conn.readLine(100), {
      kind: 'line',
      line: Buffer.from('EHLO a'),
      crlf: true,
    });
    assert.equal(text(await conn.readLine(100)), 'NOOP');
    assert.equal(conn.hasBufferedInput(), false);
  });

  test('split between CR and LF, with the read already waiting', async () => {
    const { sock, conn } = fakeConnection();
    const p = conn.readLine(100);
    sock.feed('HELO x\r');
    await new Promise((r) => setImmediate(r));
    sock.feed('\nQUIT\r\n');
    const r = await p;
    assert.equal(text(r), 'HELO x');
    assert.ok(r.kind === 'line' && r.crlf);
    assert.equal(text(await conn.readLine(100)), 'QUIT');
  });

  test('byte by byte', async () => {
    const { sock, conn } = fakeConnection();
    const input = 'A1 LOGIN a b\r\nA2 LOGOUT\r\n';
    const reading = (async () => [text(await conn.readLine(50)), text(await conn.readLine(50))])();
    for (const ch of input) {
      sock.feed(ch);
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(await reading, ['A1 LOGIN a b', 'A2 LOGOUT']);
  });

  test('bare LF is a line end, reported with crlf false', async () => {
    const { sock, conn } = fakeConnection();
    sock.feed('USER a\nPASS b\r\n');
    assert.deepEqual(await conn.readLine(100), {
      kind: 'line',
      line: Buffer.from('USER a'),
      crlf: false,
    });
    const r = await conn.readLine(100);
    assert.ok(r.kind === 'line' && r.crlf);
  });

  test('too-long line is reported once, discarded to its LF, and the next line reads fine', async () => {
    const { sock, conn } = fakeConnection();
    const p = conn.readLine(16);
    sock.feed('x'.repeat(40));
    assert.deepEqual(await p, { kind: 'too-long' });
    for (let i = 0; i < 50; i++) sock.feed('y'.repeat(1000));
    await new Promise((r) => setImmediate(r));
    assert.equal(conn.bufferedBytes, 0, 'the rest of the long line is not buffered');
    sock.feed('yyy\r\nNOOP\r\n');
    assert.equal(text(await conn.readLine(16)), 'NOOP');
  });

  test('eof in the middle of a line gives eof, and eof again after', async () => {
    const { sock, conn } = fakeConnection();
    sock.feed('QUI');
    const p = conn.readLine(100);
    sock.finish();
    assert.deepEqual(await p, { kind: 'eof' });
    assert.deepEqual(await conn.readLine(100), { kind: 'eof' });
    assert.equal(await conn.readBytes(1), null);
    assert.equal(await conn.readChunk(), null);
  });

  test('a second read while one waits is refused, not interleaved', async () => {
    const { sock, conn } = fakeConnection();
    const first = conn.readLine(10);
    await assert.rejects(conn.readLine(10), /concurrent read/);
    sock.feed('a\r\n');
    assert.equal(text(await first), 'a');
  });
});

describe('Connection byte reads', () => {
  test('readBytes across chunks, then lines continue after it', async () => {
    const { sock, conn } = fakeConnection();
    sock.feed('A1 APPEND x {10}\r\n0123');
    assert.equal(text(await conn.readLine(100)), 'A1 APPEND x {10}');
    const p = conn.readBytes(10);
    sock.feed('45');
    sock.feed('6789)\r\n');
    assert.equal((await p)?.toString(), '0123456789');
    assert.equal(text(await conn.readLine(100)), ')');
  });

  test('readBytes returns null when the stream ends short', async () => {
    const { sock, conn } = fakeConnection();
    sock.feed('abc');
    const p = conn.readBytes(10);
    sock.finish();
    assert.equal(await p, null);
  });

  test('readChunk returns what is buffered; unread puts bytes back in front', async () => {
    const { sock, conn } = fakeConnection();
    sock.feed('hello ');
    sock.feed('world');
    await new Promise((r) => setImmediate(r));
    assert.equal((await conn.readChunk())?.toString(), 'hello world');
    conn.unread(Buffer.from('rld'));
    assert.equal(conn.hasBufferedInput(), true);
    sock.feed('\r\n');
    assert.equal(text(await conn.readLine(10)), 'rld');
  });
});

describe('Connection timeouts, errors and writes', () => {
  test('idle timeout resolves the waiting read, and later reads at once', async () => {
    const { conn } = fakeConnection();
    conn.setIdleTimeout(30);
    assert.deepEqual(await conn.readLine(10), { kind: 'timeout' });
    assert.equal(conn.timedOut, true);
    assert.equal(await conn.readChunk(), null);
    assert.equal(await conn.readBytes(5), null);
  });

  test('readChunk resolves null on idle timeout and sets timedOut', async () => {
    const { conn } = fakeConnection();
    conn.setIdleTimeout(20);
    assert.equal(await conn.readChunk(), null);
    assert.equal(conn.timedOut, true);
  });

  test('input that arrives in time is not a timeout', async () => {
    const { sock, conn } = fakeConnection();
    conn.setIdleTimeout(5000);
    const p = conn.readLine(10);
    sock.feed('ok\r\n');
    assert.equal(text(await p), 'ok');
    assert.equal(conn.timedOut, false);
  });

  test('the idle clock runs only while a read waits, and each wait gets the whole time', async () => {
    const { sock, conn } = fakeConnection();
    conn.setIdleTimeout(40);
    sock.feed('one\r\n');
    assert.equal(text(await conn.readLine(10)), 'one');
    // Working (no read waiting) for longer than the timeout is not idleness.
    await new Promise((r) => setTimeout(r, 80));
    const p = conn.readLine(10);
    // 30 ms into this wait: within its own 40 ms, whatever the clock did between waits.
    await new Promise((r) => setTimeout(r, 30));
    sock.feed('two\r\n');
    assert.equal(text(await p), 'two');
    assert.equal(conn.timedOut, false);
    // And a wait that lasts past it still times out.
    assert.deepEqual(await conn.readLine(10), { kind: 'timeout' });
  });

  test('a socket error becomes eof, never an unhandled error', async () => {
    const { sock, conn } = fakeConnection();
    const p = conn.readLine(10);
    sock.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    assert.deepEqual(await p, { kind: 'eof' });
    assert.equal(conn.closed, true);
  });

  test('write passes bytes through; writing after close resolves quietly', async () => {
    const { sock, conn } = fakeConnection();
    await conn.write('220 hi\r\n');
    await conn.write(Buffer.from([0xff, 0x0d, 0x0a]));
    assert.equal(sock.output(), '220 hi\r\n\xff\r\n');
    let closedCalled = false;
    conn.onClose(() => {
      closedCalled = true;
    });
    conn.destroy();
    await conn.write('after close\r\n');
    assert.equal(sock.output(), '220 hi\r\n\xff\r\n');
    await new Promise<void>((r) => conn.onClose(r));
    assert.equal(closedCalled, true);
  });

  test('peer address is normalised from IPv4-mapped IPv6', () => {
    const { conn } = fakeConnection();
    assert.equal(conn.remoteAddress, '192.0.2.7');
    assert.equal(conn.secure, false);
    assert.match(conn.id, /^[0-9a-z]+$/);
    assert.notEqual(fakeConnection().conn.id, conn.id);
  });
});

describe('Connection over TCP', () => {
  test('backpressure: a 5 MB stream read slowly arrives intact with bounded buffering', async () => {
    const { server, client, done } = await tcpPair();
    try {
      const conn = new Connection(server, { log: silentLogger() });
      const size = 5 * 1024 * 1024;
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
      client.end(data);
      const hash = createHash('sha256');
      let received = 0;
      let maxBuffered = 0;
      let reads = 0;
      for (;;) {
        // A slow consumer: yield to the event loop between reads so input piles up.
        await new Promise((r) => setImmediate(r));
        maxBuffered = Math.max(maxBuffered, conn.bufferedBytes);
        const chunk =
          reads++ % 2 === 0
            ? await conn.readBytes(Math.min(1000, size - received))
            : await conn.readChunk();
        if (!chunk || chunk.length === 0) break;
        hash.update(chunk);
        received += chunk.length;
        if (received === size) break;
      }
      assert.equal(received, size);
      assert.equal(hash.digest('hex'), createHash('sha256').update(data).digest('hex'));
      // One socket read past the high-water mark at most (64 KiB reads on loopback).
      assert.ok(maxBuffered <= INPUT_HIGH_WATER + 256 * 1024, `buffered ${maxBuffered} bytes`);
      assert.ok(maxBuffered >= INPUT_HIGH_WATER / 2, 'the reader was slow enough to test pausing');
      assert.equal(await conn.readChunk(), null);
    } finally {
      done();
    }
  });

  test('write waits for drain when the peer is slow, and all bytes arrive', async () => {
    const { server, client, done } = await tcpPair();
    try {
      const conn = new Connection(server as net.Socket, { log: silentLogger() });
      client.pause();
      const block = Buffer.alloc(1024 * 1024, 0x61);
      const writes = (async () => {
        for (let i = 0; i < 8; i++) await conn.write(block);
        await conn.close();
      })();
      let total = 0;
      client.on('data', (d: Buffer) => {
        total += d.length;
      });
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(server.writableLength < 8 * block.length, 'writer held back by drain');
      client.resume();
      await writes;
      await new Promise<void>((r) => (client.readableEnded ? r() : client.once('end', r)));
      assert.equal(total, 8 * block.length);
    } finally {
      done();
    }
  });

  test('finish: the peer gets the bytes and our FIN, and the socket goes without waiting for the peer', {
    timeout: 60_000,
  }, async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
    // The peer keeps its side open after our FIN (as a client may until it reads the reply).
    const client = net.connect({
      port: (srv.address() as net.AddressInfo).port,
      host: '127.0.0.1',
      allowHalfOpen: true,
    });
    const server = await accepted;
    srv.close();
    const chunks: Buffer[] = [];
    client.on('data', (d: Buffer) => chunks.push(d));
    const ended = new Promise<void>((r) => client.once('end', r));
    // close() would wait for the peer's side and then for its grace timer: neither comes
    // with timers frozen, so only a finish() that does not wait for the peer resolves.
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const conn = new Connection(server, { log: silentLogger() });
      await conn.write('221 2.0.0 Bye\r\n');
      await conn.finish();
      assert.equal(conn.closed, true);
      assert.equal(server.destroyed, true);
    } finally {
      mock.timers.reset();
    }
    await ended;
    assert.equal(Buffer.concat(chunks).toString('latin1'), '221 2.0.0 Bye\r\n');
    client.destroy();
  });

  test('finish destroys the socket only after its last write completed', async () => {
    // Node runs a write's completion on a tick even when write(2) took every byte; a stream
    // destroyed before it builds an ERR_STREAM_DESTROYED error (with its stack) for nobody.
    const { server, client, done } = await tcpPair();
    try {
      const conn = new Connection(server as net.Socket, { log: silentLogger() });
      const destroyedAtCompletion: boolean[] = [];
      const sock = server as net.Socket;
      const write = sock.write.bind(sock) as (
        d: unknown,
        cb: (e?: Error | null) => void,
      ) => boolean;
      sock.write = ((data: unknown, cb?: (e?: Error | null) => void) =>
        write(data, (err) => {
          destroyedAtCompletion.push(sock.destroyed);
          cb?.(err);
        })) as typeof sock.write;
      const ended = new Promise<void>((r) => client.once('end', r));
      client.resume();
      assert.equal(conn.send('221 2.0.0 Bye\r\n'), undefined, 'the kernel took the reply');
      await conn.finish();
      await ended;
      assert.deepEqual(destroyedAtCompletion, [false]);
      assert.equal(server.destroyed, true);
    } finally {
      done();
    }
  });

  test('finish with bytes still queued in the stream (a peer not reading): every byte, then FIN', async () => {
    const { server, client, done } = await tcpPair();
    try {
      const conn = new Connection(server as net.Socket, { log: silentLogger() });
      client.pause();
      // More than the kernel's buffers take: the rest waits in the stream when finish starts.
      const block = Buffer.alloc(8 * 1024 * 1024, 0x61);
      void conn.write(block);
      assert.ok(server.writableLength > 0, 'some bytes wait in the stream');
      const finished = conn.finish();
      let total = 0;
      client.on('data', (d: Buffer) => {
        total += d.length;
      });
      const ended = new Promise<void>((r) => client.once('end', r));
      client.resume();
      await ended;
      await finished;
      assert.equal(total, block.length);
    } finally {
      done();
    }
  });
});
