import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type BareLinePolicy, DataDecoder } from '../../../src/smtp/wire/data-reader.js';

interface Outcome {
  out: string;
  done: boolean;
  rest: string;
  bareCr: number;
  bareLf: number;
  size: number;
  tooBig: boolean;
  reply: string | null;
}

/** Feeds the chunks in order until done; rest = what the decoder returned + unfed chunks. */
function run(chunks: Buffer[], bareLf: BareLinePolicy = 'reject', maxSize = 1 << 20): Outcome {
  const parts: Buffer[] = [];
  const d = new DataDecoder({ maxSize, bareLf, onData: (b) => parts.push(Buffer.from(b)) });
  let rest: Buffer[] = [];
  for (let k = 0; k < chunks.length; k++) {
    const r = d.push(chunks[k]);
    if (r.done) {
      rest = [r.rest, ...chunks.slice(k + 1)];
      break;
    }
  }
  const reply = d.done ? d.rejection() : null;
  return {
    out: Buffer.concat(parts).toString('latin1'),
    done: d.done,
    rest: Buffer.concat(rest).toString('latin1'),
    bareCr: d.bareCr,
    bareLf: d.bareLf,
    size: d.size,
    tooBig: d.tooBig,
    reply: reply === null ? null : `${reply.code} ${reply.enhanced}`,
  };
}

const b = (s: string) => Buffer.from(s, 'latin1');
const whole = (s: string, policy?: BareLinePolicy, max?: number) => run([b(s)], policy, max);
const bytewise = (s: string, policy?: BareLinePolicy, max?: number) =>
  run(
    [...b(s)].map((x) => Buffer.from([x])),
    policy,
    max,
  );

/** Every way of cutting the input in two, plus byte by byte, must give the whole-input result. */
function assertSplitInvariant(s: string, policy: BareLinePolicy = 'reject', max?: number): Outcome {
  const expected = whole(s, policy, max);
  const input = b(s);
  for (let cut = 0; cut <= input.length; cut++) {
    const got = run([input.subarray(0, cut), input.subarray(cut)], policy, max);
    assert.deepEqual(got, expected, `cut at ${cut} of ${JSON.stringify(s)}`);
  }
  assert.deepEqual(bytewise(s, policy, max), expected, `byte by byte: ${JSON.stringify(s)}`);
  return expected;
}

describe('DataDecoder: end of data and dot-stuffing (RFC 5321 §4.1.1.4, §4.5.2)', () => {
  const table: [string, string, string][] = [
    // [raw after 354, decoded message, rest]
    ['hello\r\n.\r\n', 'hello\r\n', ''],
    ['.\r\n', '', ''],
    ['\r\n.\r\n', '\r\n', ''],
    ['a\r\nb\r\n\r\n.\r\n', 'a\r\nb\r\n\r\n', ''],
    ['..hidden\r\n.\r\n', '.hidden\r\n', ''],
    ['a\r\n..\r\n.\r\n', 'a\r\n.\r\n', ''],
    ['a\r\n...\r\n.\r\n', 'a\r\n..\r\n', ''],
    ['a\r\n.x\r\n.\r\n', 'a\r\nx\r\n', ''],
    ['a.b\r\n x.\r\n.\r\n', 'a.b\r\n x.\r\n', ''],
    ['hi\r\n.\r\nQUIT\r\n', 'hi\r\n', 'QUIT\r\n'],
    [
      'hi\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n',
      'hi\r\n',
      'MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n',
    ],
    ['.\r\n.\r\n', '', '.\r\n'],
    ['x\r\n.\r\n.\r\n', 'x\r\n', '.\r\n'],
  ];
  for (const [raw, out, rest] of table) {
    test(JSON.stringify(raw), () => {
      const r = assertSplitInvariant(raw);
      assert.equal(r.done, true);
      assert.equal(r.out, out);
      assert.equal(r.rest, rest);
      assert.equal(r.size, out.length);
      assert.equal(r.reply, null);
    });
  }

  const unfinished = [
    'hello',
    'hello\r\n',
    'hello\r\n.',
    'hello\r\n.\r',
    '.',
    '.\r',
    'a.\r\n',
    'a\r\n .\r\n',
  ];
  for (const raw of unfinished) {
    test(`not finished: ${JSON.stringify(raw)}`, () => {
      assert.equal(assertSplitInvariant(raw).done, false);
    });
  }

  test('push after done returns the chunk untouched', () => {
    const d = new DataDecoder({ maxSize: 100 });
    assert.deepEqual(d.push(b('.\r\n')), { done: true, rest: b('') });
    assert.deepEqual(d.push(b('NOOP\r\n')), { done: true, rest: b('NOOP\r\n') });
    assert.equal(d.message().length, 0);
  });

  test('without onData the message is collected', () => {
    const d = new DataDecoder({ maxSize: 100 });
    d.push(b('Subject: x\r\n\r\n..body\r'));
    const r = d.push(b('\n.\r\nQUIT\r\n'));
    assert.deepEqual(r, { done: true, rest: b('QUIT\r\n') });
    assert.equal(d.message().toString(), 'Subject: x\r\n\r\n.body\r\n');
  });

  test('ordinary lines in one chunk are passed on as one Buffer', () => {
    const seen: Buffer[] = [];
    const d = new DataDecoder({ maxSize: 1000, onData: (x) => seen.push(x) });
    d.push(b('line one\r\nline two\r\nline three\r\n'));
    assert.equal(seen.length, 1);
  });
});

describe('DataDecoder: SMTP smuggling sequences never end the message', () => {
  // The end-of-data variants from the 2023 SMTP smuggling research and their relatives.
  const variants = [
    '\n.\n',
    '\n.\r\n',
    '\r.\r',
    '\r.\r\n',
    '\r\n.\n',
    '\r\n.\r',
    '\n.\r',
    '\r.\n',
    '\r\n.\r\r\n',
    '\r\n.\n\r\n',
    '\r\n\x00.\r\n',
    '\r\n .\r\n',
    '\r\n.\x00\r\n',
    '\n\n.\n\n',
    '\r\r.\r\r',
  ];
  const smuggled =
    'MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n' +
    'From: ceo@bank.example\r\n\r\nPay now\r\n';
  for (const v of variants) {
    for (const policy of ['reject', 'normalize'] as const) {
      test(`${JSON.stringify(v)} (${policy})`, () => {
        const raw = `Subject: hi\r\n\r\nbody${v}${smuggled}`;
        const open = assertSplitInvariant(raw, policy);
        assert.equal(open.done, false, 'smuggling sequence ended the message');
        // The real terminator still works after it, and the smuggled commands stay in the body.
        const closed = assertSplitInvariant(`${raw}.\r\nQUIT\r\n`, policy);
        assert.equal(closed.done, true);
        assert.equal(closed.rest, 'QUIT\r\n');
        assert.ok(closed.out.includes('RCPT TO:<victim@example.com>'));
      });
    }
  }
});

describe('DataDecoder: bare CR / LF policy', () => {
  const table: [string, BareLinePolicy, string, number, number, string | null][] = [
    // [raw, policy, decoded, bareCr, bareLf, reply at the end]
    ['a\nb\r\n.\r\n', 'reject', 'a\nb\r\n', 0, 1, '550 5.6.0'],
    ['a\nb\r\n.\r\n', 'normalize', 'a\r\nb\r\n', 0, 1, null],
    ['a\rb\r\n.\r\n', 'reject', 'a\rb\r\n', 1, 0, '550 5.6.0'],
    ['a\rb\r\n.\r\n', 'normalize', 'a\r\nb\r\n', 1, 0, null],
    ['a\r\r\n.\r\n', 'normalize', 'a\r\n\r\n', 1, 0, null],
    ['a\n\r\n.\r\n', 'normalize', 'a\r\n\r\n', 0, 1, null],
    // A bare LF never starts a line: no unstuffing after it, and "." there is content.
    ['a\n.\nb\r\n.\r\n', 'reject', 'a\n.\nb\r\n', 0, 2, '550 5.6.0'],
    ['a\n.\nb\r\n.\r\n', 'normalize', 'a\r\n.\r\nb\r\n', 0, 2, null],
    ['a\n..b\r\n.\r\n', 'normalize', 'a\r\n..b\r\n', 0, 1, null],
    // After a real CRLF the first dot of a longer line is stuffing, whatever follows it.
    ['.\nx\r\n.\r\n', 'reject', '\nx\r\n', 0, 1, '550 5.6.0'],
    ['.\nx\r\n.\r\n', 'normalize', '\r\nx\r\n', 0, 1, null],
    ['.\rx\r\n.\r\n', 'reject', '\rx\r\n', 1, 0, '550 5.6.0'],
    ['.\rx\r\n.\r\n', 'normalize', '\r\nx\r\n', 1, 0, null],
    ['.\r\r\n.\r\n', 'reject', '\r\r\n', 1, 0, '550 5.6.0'],
    ['.\r\r\n.\r\n', 'normalize', '\r\n\r\n', 1, 0, null],
    ['x\r\n\n.\r\n.\r\n', 'normalize', 'x\r\n\r\n.\r\n', 0, 1, null],
  ];
  for (const [raw, policy, out, cr, lf, reply] of table) {
    test(`${JSON.stringify(raw)} ${policy}`, () => {
      const r = assertSplitInvariant(raw, policy);
      assert.equal(r.done, true);
      assert.equal(r.out, out);
      assert.equal(r.bareCr, cr);
      assert.equal(r.bareLf, lf);
      assert.equal(r.reply, reply);
      assert.equal(r.size, out.length);
    });
  }

  test('default policy is reject', () => {
    const d = new DataDecoder({ maxSize: 100 });
    d.push(b('a\nb\r\n.\r\n'));
    assert.equal(d.rejection()?.code, 550);
  });
});

describe('DataDecoder: size limit', () => {
  test('at the limit is accepted', () => {
    const r = assertSplitInvariant('123456789\r\n.\r\n', 'reject', 11);
    assert.equal(r.tooBig, false);
    assert.equal(r.out, '123456789\r\n');
    assert.equal(r.reply, null);
  });

  test('past the limit: keeps reading to the end, stores nothing more, answers 552 5.3.4', () => {
    const body = `${'x'.repeat(50)}\r\n`.repeat(20);
    const raw = `${body}.\r\nQUIT\r\n`;
    for (const r of [whole(raw, 'reject', 100), bytewise(raw, 'reject', 100)]) {
      assert.equal(r.done, true);
      assert.equal(r.rest, 'QUIT\r\n');
      assert.equal(r.tooBig, true);
      assert.equal(r.size, body.length);
      // Exactly the first maxSize octets were passed on, then nothing.
      assert.equal(r.out, body.slice(0, 100));
      assert.equal(r.reply, '552 5.3.4');
    }
  });

  test('maxSize 0 stores nothing but still finds the end', () => {
    const r = whole('abc\r\n.\r\nRSET\r\n', 'reject', 0);
    assert.deepEqual([r.out, r.done, r.rest, r.tooBig], ['', true, 'RSET\r\n', true]);
    assert.deepEqual(whole('.\r\n', 'reject', 0).tooBig, false);
  });

  test('too big wins over bare line endings in the final reply', () => {
    assert.equal(whole('aaaa\nbbbb\r\n.\r\n', 'reject', 4).reply, '552 5.3.4');
  });
});

// Reference model, written from the RFC text rather than as a state machine: the message ends
// at the first <CRLF>.<CRLF> of CRLF+raw; lines are split by CRLF only; a line starting with "."
// loses it; with 'normalize' every remaining CR or LF (all bare) becomes CRLF.
function reference(raw: string, policy: BareLinePolicy) {
  const at = `\r\n${raw}`.indexOf('\r\n.\r\n');
  if (at < 0) return null;
  const body = raw.slice(0, at);
  let cr = 0;
  let lf = 0;
  const lines = body.split('\r\n').map((line) => {
    const l = line.startsWith('.') ? line.slice(1) : line;
    cr += l.split('\r').length - 1;
    lf += l.split('\n').length - 1;
    return policy === 'normalize' ? l.replace(/\r|\n/g, '\r\n') : l;
  });
  return { out: lines.join('\r\n'), rest: raw.slice(at + 3), cr, lf };
}

/** Cuts bytes into chunks at the given (sorted, deduplicated) positions. */
function cutAt(input: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(input.subarray(prev, p));
    prev = p;
  }
  out.push(input.subarray(prev));
  return out;
}

describe('DataDecoder: properties', () => {
  const tricky = fc
    .array(fc.constantFrom('\r', '\n', '.', 'a', '\r\n', '\r\n.', '.\r\n', '\x00', '\xff'), {
      maxLength: 40,
    })
    .map((a) => a.join(''));
  const cuts = fc.array(fc.nat(), { maxLength: 8 });
  const policy = fc.constantFrom<BareLinePolicy>('reject', 'normalize');

  test('(a) stuffed message + CRLF.CRLF in random chunks decodes back, done at the end', () => {
    // Lines of any bytes but CR and LF, dots frequent at the start of a line.
    const line = fc
      .array(fc.oneof(fc.constant(0x2e), fc.integer({ min: 0, max: 255 })), { maxLength: 30 })
      .map((a) => Buffer.from(a.filter((x) => x !== 0x0d && x !== 0x0a)));
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 12 }),
        fc.uint8Array({ maxLength: 20 }),
        cuts,
        (lines, after, cs) => {
          const crlf = b('\r\n');
          const message = Buffer.concat(lines.flatMap((l) => [l, crlf]));
          // RFC 5321 §4.5.2: the sender doubles a leading dot.
          const stuffed = Buffer.concat(
            lines.flatMap((l) => (l[0] === 0x2e ? [b('.'), l, crlf] : [l, crlf])),
          );
          const terminatorEnd = stuffed.length + 3;
          const input = Buffer.concat([stuffed, b('.\r\n'), after]);
          const parts: Buffer[] = [];
          const d = new DataDecoder({
            maxSize: Number.MAX_SAFE_INTEGER,
            onData: (x) => parts.push(x),
          });
          let offset = 0;
          for (const chunk of cutAt(input, cs)) {
            const r = d.push(chunk);
            offset += chunk.length;
            if (offset < terminatorEnd) {
              assert.equal(r.done, false);
              continue;
            }
            assert.equal(r.done, true, 'not done after the terminator');
            if (!r.done) return;
            assert.deepEqual(r.rest, chunk.subarray(chunk.length - (offset - terminatorEnd)));
            break;
          }
          assert.ok(Buffer.concat(parts).equals(message));
          assert.equal(d.size, message.length);
          assert.equal(d.bareCr + d.bareLf, 0);
          assert.equal(d.rejection(), null);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('(b) never throws on arbitrary bytes, and chunking never changes the result', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        cuts,
        policy,
        fc.nat(300),
        (bytes, cs, p, max) => {
          const input = Buffer.from(bytes);
          const one = run([input], p, max);
          assert.deepEqual(run(cutAt(input, cs), p, max), one);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('(b) decodes like the reference model on tricky inputs, in any chunking', () => {
    fc.assert(
      fc.property(tricky, cuts, policy, (raw, cs, p) => {
        const got = run(cutAt(b(raw), cs), p);
        const ref = reference(raw, p);
        assert.equal(got.done, ref !== null, JSON.stringify(raw));
        if (ref === null) return;
        assert.equal(got.out, ref.out, JSON.stringify(raw));
        assert.equal(got.rest, ref.rest);
        assert.equal(got.bareCr, ref.cr);
        assert.equal(got.bareLf, ref.lf);
      }),
      { numRuns: 5000 },
    );
  });

  test('stored bytes are exactly the first maxSize octets of the message', () => {
    fc.assert(
      fc.property(tricky, cuts, policy, fc.nat(40), (raw, cs, p, max) => {
        const ref = reference(raw, p);
        const got = run(cutAt(b(raw), cs), p, max);
        assert.ok(got.out.length <= max);
        if (ref === null) return;
        assert.equal(got.size, ref.out.length);
        assert.equal(got.tooBig, ref.out.length > max);
        assert.equal(got.out, ref.out.slice(0, max));
      }),
      { numRuns: 3000 },
    );
  });
});
