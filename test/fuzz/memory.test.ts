// Memory stays bounded: 10 MB of garbage fed in tiny chunks (one fresh Buffer per chunk, as
// socket reads are) to the stateful receivers keeps what they hold under their limits. The
// JS heap and ArrayBuffer memory are measured after a GC at checkpoints, with the receiver
// alive, against its limits plus a fixed allowance for the runtime's noise.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { CommandReceiver, type ReceiverOptions } from '../../src/imap/wire/receiver.js';
import { ByteAccumulator } from '../../src/net/byte-accumulator.js';
import { InputBuffer } from '../../src/net/input.js';
import { DataDecoder } from '../../src/smtp/wire/data-reader.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const TOTAL = 10 * 1024 * 1024;
const CHUNK = 16;
/** Allowance for what the runtime itself moves between two measurements. */
const NOISE = 4 * 1024 * 1024;

function used(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** A deterministic byte stream (xorshift), `unit` bytes of it at a time. */
function* stream(total: number, shape: (rand: () => number) => Buffer): Generator<Buffer> {
  let x = 2463534242;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  let sent = 0;
  while (sent < total) {
    const piece = shape(rand);
    for (let i = 0; i < piece.length; i += CHUNK) {
      yield Buffer.from(piece.subarray(i, i + CHUNK)); // a fresh Buffer, like a socket read
    }
    sent += piece.length;
  }
}

function garbage(rand: () => number, n: number, lf: boolean): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    const v = Math.floor(rand() * 256);
    b[i] = !lf && v === 0x0a ? 0x20 : v;
  }
  return b;
}

/**
 * Feeds the chunks to `feed`, measuring the memory held beyond the baseline every MB; returns
 * the largest figure.
 */
function peakGrowth(chunks: Iterable<Buffer>, feed: (chunk: Buffer) => void): number {
  const base = used();
  let peak = 0;
  let fed = 0;
  let nextCheck = 1024 * 1024;
  for (const chunk of chunks) {
    feed(chunk);
    fed += chunk.length;
    if (fed >= nextCheck) {
      peak = Math.max(peak, used() - base);
      nextCheck += 1024 * 1024;
    }
  }
  return Math.max(peak, used() - base);
}

const MB = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

describe('IMAP receiver: 10 MB of garbage in 16-byte chunks', () => {
  // The session's limits after login, with a 4 MB APPENDLIMIT to keep the test small, and
  // before login (RFC 7888 §4: small literals).
  const configs: [string, ReceiverOptions][] = [
    ['after login', { maxLineLength: 64 * 1024, maxLiteralSize: 4 << 20, literalPlus: true }],
    ['before login', { maxLineLength: 64 * 1024, maxLiteralSize: 8 * 1024, literalPlus: true }],
  ];
  const shapes: [string, (rand: () => number) => Buffer][] = [
    ['one endless line', (r) => garbage(r, 64 * 1024, false)],
    ['random lines', (r) => garbage(r, 64 * 1024, true)],
    [
      'literals announced and sent, the line never ended',
      (r) =>
        Buffer.concat([Buffer.from('a APPEND INBOX {1000000+}\r\n'), garbage(r, 1000000, false)]),
    ],
    [
      'LOGIN literals without the final CRLF',
      (r) => Buffer.concat([Buffer.from('a LOGIN {8000+}\r\n'), garbage(r, 8000, false)]),
    ],
  ];
  for (const [cfgName, cfg] of configs) {
    for (const [shapeName, shape] of shapes) {
      test(`${cfgName}: ${shapeName}`, (t) => {
        const rx = new CommandReceiver(cfg);
        const limit = rx.options.maxCommandSize;
        let maxBuffered = 0;
        const growth = peakGrowth(stream(TOTAL, shape), (chunk) => {
          rx.feed(chunk);
          while (rx.next());
          maxBuffered = Math.max(maxBuffered, rx.bufferedBytes);
        });
        t.diagnostic(`held at most ${MB(growth)} (limit per command ${MB(limit)})`);
        assert.equal(maxBuffered, 0, 'input is consumed as it arrives');
        assert.ok(
          growth < 2 * limit + NOISE,
          `held ${MB(growth)}, limit ${MB(limit)} per command (+ ${MB(NOISE)} allowance)`,
        );
      });
    }
  }
});

describe('SMTP and POP3 line reader: 10 MB without a line end, in 16-byte chunks', () => {
  for (const maxLength of [510, 1000, 12288]) {
    test(`lines of at most ${maxLength} octets`, () => {
      const input = new InputBuffer();
      let maxHeld = 0;
      const growth = peakGrowth(
        stream(TOTAL, (r) => garbage(r, 64 * 1024, false)),
        (chunk) => {
          input.push(chunk);
          while (input.takeLine(maxLength));
          maxHeld = Math.max(maxHeld, input.length);
        },
      );
      assert.ok(maxHeld <= maxLength + 1, `buffered ${maxHeld}`);
      assert.ok(growth < NOISE, `held ${MB(growth)}`);
    });
  }
});

describe('SMTP DATA: 10 MB message in 16-byte chunks, 1 MB size limit', () => {
  test('only the first maxSize octets are kept, in blocks', () => {
    const maxSize = 1 << 20;
    const acc = new ByteAccumulator();
    const d = new DataDecoder({ maxSize, onData: (b) => acc.push(b) });
    const growth = peakGrowth(
      stream(TOTAL, (r) => garbage(r, 64 * 1024, true)),
      (chunk) => {
        d.push(chunk);
      },
    );
    assert.ok(d.tooBig, 'over the limit');
    assert.ok(acc.length <= maxSize && acc.heldBytes <= maxSize + 64 * 1024, `${acc.heldBytes}`);
    assert.ok(growth < 2 * maxSize + NOISE, `held ${MB(growth)}`);
  });
});
