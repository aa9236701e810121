// POP3 and SASL fuzz targets: command lines as the session reads them, the dot-stuffed RETR
// and TOP output of any stored message, and the SASL exchanges shared by all three protocols.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { continueSasl, type SaslStep, startSasl } from '../../../src/auth/sasl.js';
import { dotStuffed, topOf } from '../../../src/pop3/dotstuff.js';
import { MAX_COMMAND_LINE, OUTBOX_FLUSH, WRITE_CHUNK } from '../../../src/pop3/limits.js';
import { parseCommandLine, parseNumber } from '../../../src/pop3/wire.js';
import { DataDecoder } from '../../../src/smtp/wire/data-reader.js';
import { type AnyTarget, erase, type FuzzTarget } from '../lib/harness.js';
import { message } from '../lib/mime-gen.js';
import { anyInput, chunkSizes, type Sample, split } from '../lib/mutate.js';
import { readLines } from './smtp.js';

const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');

/** PLAIN messages and LOGIN answers, valid and not, base64-encoded or not. */
const saslLine = fc.oneof(
  fc
    .tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }))
    .map(([z, c, p]) => Buffer.from(`${z}\0${c}\0${p}`).toString('base64')),
  fc.string({ maxLength: 20 }).map((s) => Buffer.from(s).toString('base64')),
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a).toString('base64')),
  fc.constantFrom('*', '=', '', '====', 'AA=A', b64('a\0b'), b64('\0\0'), b64('\xff\xfe')),
  fc.string({ unit: 'binary-ascii', maxLength: 30 }),
);

const pop3Command = fc.oneof(
  fc.constantFrom(
    'CAPA',
    'STAT',
    'LIST',
    'UIDL',
    'NOOP',
    'RSET',
    'QUIT',
    'STLS',
    'AUTH',
    'APOP a b',
  ),
  fc
    .tuple(fc.constantFrom('USER', 'PASS'), fc.string({ maxLength: 20 }))
    .map(([c, a]) => `${c} ${a}`),
  fc
    .tuple(
      fc.constantFrom('RETR', 'DELE', 'LIST', 'UIDL', 'TOP'),
      fc.constantFrom('1', '0', '999999999', '1000000000', '-1', '1 2', '01', '1 99999999999'),
    )
    .map(([c, n]) => `${c} ${n}`),
  fc
    .tuple(fc.constantFrom('PLAIN', 'LOGIN', 'plain', 'X'), fc.option(saslLine))
    .map(([m, ir]) => `AUTH ${m}${ir === null ? '' : ` ${ir}`}`),
  saslLine,
);

const pop3Stream = fc
  .array(pop3Command, { minLength: 1, maxLength: 6 })
  .map((cs) => Buffer.from(cs.map((c) => `${c}\r\n`).join(''), 'utf8'));

const POP3_WORDS = ['USER ', 'PASS ', 'RETR ', 'TOP ', 'AUTH PLAIN ', 'AUTH LOGIN ', '\r\n', ' '];

/** A SASL exchange driven to its end by the given client lines. */
function runSasl(mech: string, initial: string | undefined, lines: readonly string[]): SaslStep {
  let step = startSasl(mech, initial);
  for (const line of lines) {
    if (step.kind !== 'challenge') break;
    assert.match(step.challenge, /^[A-Za-z0-9+/=]*$/, 'a challenge is base64');
    step = continueSasl(step.state, line);
  }
  if (step.kind === 'done') {
    const c = step.credentials;
    assert.ok(c.authcid.length > 0 && c.password.length > 0, 'non-empty authcid and password');
    assert.ok(!`${c.authzid}${c.authcid}${c.password}`.includes('\0'), 'no NUL left in a field');
  }
  return step;
}

/**
 * POP3 command lines through the session's reader (1000-octet lines), keyword split and
 * number parsing, and AUTH's SASL exchange: nothing throws, numbers are in range.
 */
export const pop3Commands: FuzzTarget<{ s: Sample; sizes: number[] }> = {
  name: 'pop3 command lines and AUTH',
  runs: 800,
  arb: fc.record({
    s: anyInput(pop3Stream, POP3_WORDS, { maxBytes: 16 * 1024 }),
    sizes: chunkSizes,
  }),
  run({ s, sizes }, steps) {
    readLines(split(s.bytes, sizes), MAX_COMMAND_LINE, steps, (line) =>
      steps.time(() => {
        const cmd = parseCommandLine(line);
        if (cmd === null) return;
        assert.equal(cmd.keyword, cmd.keyword.toUpperCase());
        for (const a of cmd.args.slice(0, 2)) {
          const n = parseNumber(a);
          if (n !== null) assert.ok(Number.isSafeInteger(n) && n >= 0 && n < 1e9);
        }
        // The line itself as the answer to the first challenge: any text reaches continueSasl.
        if (cmd.keyword === 'AUTH' && cmd.args.length > 0) {
          runSasl(cmd.args[0], cmd.args[1], [cmd.rest]);
        }
      }, 'command'),
    );
  },
};

/**
 * RETR and TOP of any stored message: the dot-stuffed output, read back by a client (our own
 * SMTP DATA decoder reads the same framing), ends exactly at its terminator (no early
 * `CRLF.CRLF`, which would let a message inject lines into the session) and gives the
 * message back when its lines end in CRLF.
 */
export const pop3Retr: FuzzTarget<{ s: Sample; lines: number; piece: number }> = {
  name: 'pop3 RETR/TOP dot-stuffing',
  runs: 500,
  // Odd piece sizes check the framing; the session's own use is timed by the next target.
  untimed: true,
  arb: fc.record({
    s: anyInput(message, ['\r\n.', '\n.', '.\r\n', '\r\n.\r\n', '..'], { maxBytes: 64 * 1024 }),
    lines: fc.nat(20),
    piece: fc.integer({ min: 1, max: 70000 }),
  }),
  run({ s, lines, piece }) {
    for (const data of [s.bytes, topOf(s.bytes, lines)]) {
      const out = Buffer.concat([...dotStuffed(data, piece)]);
      const decoded: Buffer[] = [];
      const d = new DataDecoder({
        maxSize: out.length,
        onData: (b) => decoded.push(Buffer.from(b)),
      });
      const r = d.push(out);
      assert.ok(
        r.done && r.rest.length === 0,
        'the terminator is the last 5 bytes, and only there',
      );
      const crlfOnly = !/(^|[^\r])\n/.test(data.toString('latin1'));
      if (crlfOnly) {
        const n = data.length;
        const expected =
          n === 0 || (data[n - 2] === 0x0d && data[n - 1] === 0x0a)
            ? data
            : Buffer.concat([data, Buffer.from('\r\n')]);
        assert.deepEqual(Buffer.concat(decoded), expected, 'RETR gives the message back');
      }
    }
  },
};

/**
 * RETR as the session sends it: pieces of at most WRITE_CHUNK, gathered until OUTBOX_FLUSH
 * bytes wait, then written (the only point where the event loop turns). Each such batch is a
 * step.
 */
export const pop3RetrSteps: FuzzTarget<Sample> = {
  name: 'pop3 RETR output steps',
  runs: 150,
  arb: anyInput(message, ['\r\n.', '\n.', '.\r\n', '..'], {
    maxBytes: 256 * 1024,
    maxTimes: 100_000,
  }),
  run(s, steps) {
    const pieces = dotStuffed(s.bytes, WRITE_CHUNK);
    for (let done = false; !done; ) {
      steps.time(() => {
        let queued = 0;
        const batch: Buffer[] = [];
        while (queued < OUTBOX_FLUSH) {
          const next = pieces.next();
          if (next.done) {
            done = true;
            break;
          }
          batch.push(next.value);
          queued += next.value.length;
        }
        Buffer.concat(batch);
      }, 'batch');
    }
  },
};

/** The SASL mechanisms on any initial response and any sequence of client lines. */
export const saslExchange: FuzzTarget<{ mech: string; ir: string | null; lines: string[] }> = {
  name: 'sasl PLAIN and LOGIN',
  runs: 1500,
  arb: fc.record({
    mech: fc.oneof(
      fc.constantFrom('PLAIN', 'LOGIN', 'plain', 'Login', 'CRAM-MD5', ''),
      fc.string({ maxLength: 8 }),
    ),
    ir: fc.option(
      fc.oneof(
        saslLine,
        anyInput(
          saslLine.map((l) => Buffer.from(l)),
          [],
          { maxBytes: 8192 },
        ).map((x) => x.bytes.toString('latin1')),
      ),
    ),
    lines: fc.array(saslLine, { maxLength: 3 }),
  }),
  run({ mech, ir, lines }, steps) {
    steps.time(() => runSasl(mech, ir ?? undefined, lines));
  },
};

export const POP3_SASL_TARGETS: AnyTarget[] = [
  erase(pop3Commands),
  erase(pop3Retr),
  erase(pop3RetrSteps),
  erase(saslExchange),
];
