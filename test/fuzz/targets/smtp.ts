// SMTP fuzz targets: the line reader and command parser as the session runs them, paths and
// parameters, xtext, the DATA decoder (against a reference decoder, any chunking) and BDAT.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InputBuffer } from '../../../src/net/input.js';
import { MAX_COMMAND_LINE } from '../../../src/smtp/session.js';
import { parsePath } from '../../../src/smtp/wire/address.js';
import { BdatReader } from '../../../src/smtp/wire/bdat-reader.js';
import { parseCommand } from '../../../src/smtp/wire/command.js';
import { type BareLinePolicy, DataDecoder } from '../../../src/smtp/wire/data-reader.js';
import { parseMailParams, parseRcptParams } from '../../../src/smtp/wire/params.js';
import { formatReply, type SmtpReply } from '../../../src/smtp/wire/reply.js';
import { decodeXtext, encodeXtext } from '../../../src/smtp/wire/xtext.js';
import { type AnyTarget, erase, type FuzzTarget, type Steps } from '../lib/harness.js';
import { anyInput, chunkSizes, type Sample, split } from '../lib/mutate.js';
import { DATA_WORDS, dataStream, SMTP_WORDS, smtpCommand, smtpStream } from '../lib/smtp-gen.js';

export function checkReply(r: SmtpReply): void {
  const wire = formatReply(r).toString('latin1');
  assert.ok(wire.endsWith('\r\n'), 'reply ends with CRLF');
  for (const line of wire.slice(0, -2).split('\r\n')) {
    // RFC 5321 §4.2: Reply-code [ SP textstring ] (a bare code when the text is empty).
    assert.match(line, /^[2-5]\d\d([ -][\t\x20-\x7e]*)?$/, 'reply line is code + printable text');
    assert.ok(line.length + 2 <= 512, 'RFC 5321 §4.5.3.1.5: reply line at most 512 octets');
  }
}

const CONTROL = /[\x00-\x1f\x7f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Lines out of an InputBuffer fed in chunks, as Connection.readLine hands them out. */
export function readLines(
  chunks: Buffer[],
  maxLength: number,
  steps: Steps,
  onLine: (line: Buffer) => void,
): string[] {
  const input = new InputBuffer();
  const seen: string[] = [];
  for (const chunk of chunks) {
    steps.time(() => {
      input.push(chunk);
      for (let r = input.takeLine(maxLength); r; r = input.takeLine(maxLength)) {
        if (r.kind === 'line') {
          assert.ok(r.line.length <= maxLength, 'line within its limit');
          assert.equal(r.line.indexOf(0x0a), -1, 'no LF inside a line');
          seen.push(r.line.toString('latin1'));
          onLine(r.line);
        } else seen.push(`<${r.kind}>`);
      }
    });
    // Memory: what waits for an LF is never more than one line.
    assert.ok(input.length <= maxLength + 1, `buffered ${input.length} within a line`);
  }
  return seen;
}

function checkCommand(line: Buffer, utf8: boolean): void {
  const c = parseCommand(line, { smtputf8Allowed: utf8 });
  switch (c.kind) {
    case 'error':
      assert.ok(c.reply.code >= 400, 'an error is 4xx or 5xx');
      checkReply(c.reply);
      return;
    case 'MAIL':
    case 'RCPT': {
      const a = c.kind === 'MAIL' ? c.from : c.to;
      if (a) {
        assert.ok(!CONTROL.test(a.raw) && !CONTROL.test(a.local), 'no controls in an address');
        assert.ok(Buffer.byteLength(a.domain) <= 257, 'domain within 255 octets (+ brackets)');
      }
      if (c.kind === 'MAIL' && c.params.size !== undefined) {
        assert.ok(Number.isFinite(c.params.size) && c.params.size >= 0);
      }
      if (c.kind === 'MAIL' && c.params.envid !== undefined) {
        assert.match(c.params.envid, /^[\x20-\x7e]{1,100}$/);
      }
      return;
    }
    case 'BDAT':
      // The session sizes a reader with it: must be a safe integer.
      new BdatReader(c.size);
      return;
    case 'AUTH':
      assert.match(c.mechanism, /^[A-Z0-9_-]{1,20}$/);
      return;
  }
}

/**
 * A command stream through the session's reader and parser: parseCommand never throws,
 * refusals are well-formed replies, the reader holds at most one line, whatever the chunking.
 */
export const smtpCommands: FuzzTarget<{ s: Sample; sizes: number[]; utf8: boolean }> = {
  name: 'smtp command lines',
  runs: 1500,
  arb: fc.record({
    s: anyInput(smtpStream, SMTP_WORDS, { maxBytes: 16 * 1024 }),
    sizes: chunkSizes,
    utf8: fc.boolean(),
  }),
  run({ s, sizes, utf8 }, steps) {
    const chunked = readLines(split(s.bytes, sizes), MAX_COMMAND_LINE, steps, (line) =>
      steps.time(() => checkCommand(line, utf8)),
    );
    const whole = readLines([s.bytes], MAX_COMMAND_LINE, steps, () => {});
    assert.deepEqual(chunked, whole, 'same lines whatever the chunking');
  },
};

/** parsePath at any position of any string, and the parameter parsers, never throw. */
export const smtpAddressParams: FuzzTarget<{ s: string; pos: number; flags: number }> = {
  name: 'smtp paths, parameters, xtext',
  runs: 1500,
  arb: fc.record({
    s: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      smtpCommand,
      smtpCommand.map((c) => c.slice(c.indexOf(':') + 1)),
      anyInput(
        smtpCommand.map((c) => Buffer.from(c)),
        SMTP_WORDS,
        { maxBytes: 8 * 1024 },
      ).map((x) => x.bytes.toString('utf8')),
    ),
    pos: fc.nat(),
    flags: fc.nat(3),
  }),
  run({ s, pos, flags }) {
    const at = pos % (s.length + 1);
    const p = parsePath(s, at, {
      allowNull: (flags & 1) !== 0,
      allowPostmaster: (flags & 2) !== 0,
    });
    if (p.ok) assert.ok(p.end > at && p.end <= s.length, 'path end within the string');
    for (const r of [parseMailParams(s, (flags & 1) !== 0), parseRcptParams(s)]) {
      if (!r.ok) checkReply(r.reply);
    }
    decodeXtext(s);
    // xtext round trip for text without lone surrogates (they have no UTF-8 form).
    if (!LONE_SURROGATE.test(s)) assert.equal(decodeXtext(encodeXtext(s)), s);
  },
};

interface Decoded {
  out: Buffer;
  size: number;
  bareCr: number;
  bareLf: number;
  rest: Buffer;
}

/**
 * Reference DATA decoder, written for clarity (RFC 5321 §4.1.1.4, §4.5.2): lines end at CRLF
 * only; the data ends at the first line "."; a leading dot of any other line is removed.
 */
function referenceDecode(raw: Buffer, policy: BareLinePolicy): Decoded {
  const lineStart = (k: number) => k === 0 || (raw[k - 2] === 0x0d && raw[k - 1] === 0x0a);
  let end = -1;
  for (let k = 0; k + 3 <= raw.length; k++) {
    if (lineStart(k) && raw[k] === 0x2e && raw[k + 1] === 0x0d && raw[k + 2] === 0x0a) {
      end = k;
      break;
    }
  }
  assert.ok(end >= 0, 'reference input is terminated');
  const out: number[] = [];
  let bareCr = 0;
  let bareLf = 0;
  for (let k = 0; k < end; k++) {
    const b = raw[k];
    if (b === 0x2e && lineStart(k)) continue;
    if (b === 0x0d && raw[k + 1] !== 0x0a) {
      bareCr++;
      out.push(...(policy === 'normalize' ? [0x0d, 0x0a] : [b]));
    } else if (b === 0x0a && (k === 0 || raw[k - 1] !== 0x0d)) {
      bareLf++;
      out.push(...(policy === 'normalize' ? [0x0d, 0x0a] : [b]));
    } else out.push(b);
  }
  return { out: Buffer.from(out), size: out.length, bareCr, bareLf, rest: raw.subarray(end + 3) };
}

/**
 * The DATA decoder against the reference, with any chunking, both bare-line policies and
 * small size limits: same bytes, same size and counts, the same rest after the terminator,
 * never more than maxSize kept.
 */
export const smtpData: FuzzTarget<{ s: Sample; sizes: number[]; normalize: boolean; max: number }> =
  {
    name: 'smtp DATA decoder',
    runs: 800,
    arb: fc.record({
      s: anyInput(dataStream, DATA_WORDS, { maxBytes: 64 * 1024 }),
      sizes: chunkSizes,
      normalize: fc.boolean(),
      max: fc.oneof(fc.nat(64), fc.constant(1 << 20)),
    }),
    run({ s, sizes, normalize, max }, steps) {
      const policy: BareLinePolicy = normalize ? 'normalize' : 'reject';
      // Terminated for sure: the reference needs an end.
      const raw = Buffer.concat([s.bytes, Buffer.from('\r\n.\r\n')]);
      const got: Buffer[] = [];
      const d = new DataDecoder({
        maxSize: max,
        bareLf: policy,
        onData: (b) => got.push(Buffer.from(b)),
      });
      const rest: Buffer[] = [];
      for (const chunk of split(raw, sizes)) {
        const r = steps.time(() => d.push(chunk));
        if (r.done) rest.push(r.rest);
      }
      assert.ok(d.done, 'the terminator is found');
      const ref = referenceDecode(raw, policy);
      const out = Buffer.concat(got);
      assert.ok(out.length <= max, 'never more than maxSize passed on');
      assert.deepEqual(out, ref.out.subarray(0, max), 'decoded bytes');
      assert.equal(d.size, ref.size, 'size');
      assert.equal(d.tooBig, ref.size > max, 'tooBig');
      assert.equal(d.bareCr, ref.bareCr, 'bare CR count');
      assert.equal(d.bareLf, ref.bareLf, 'bare LF count');
      assert.deepEqual(Buffer.concat(rest), ref.rest, 'bytes after the terminator');
      const rej = d.rejection();
      if (rej) checkReply(rej);
      else assert.ok(!d.tooBig && (normalize || ref.bareCr + ref.bareLf === 0));
    },
  };

/** BDAT: exactly `size` octets are taken, whatever the chunking; the rest is handed back. */
export const smtpBdat: FuzzTarget<{ size: number; extra: Buffer; sizes: number[] }> = {
  name: 'smtp BDAT reader',
  runs: 300,
  arb: fc.record({
    size: fc.oneof(fc.nat(100), fc.nat(70000)),
    extra: fc.uint8Array({ maxLength: 50 }).map((a) => Buffer.from(a)),
    sizes: chunkSizes,
  }),
  run({ size, extra, sizes }, steps) {
    const stream = Buffer.concat([Buffer.alloc(size, 0x61), extra]);
    let taken = 0;
    const r = new BdatReader(size, { onData: (b) => (taken += b.length) });
    const rest: Buffer[] = [];
    for (const chunk of split(stream, sizes)) {
      if (r.done) {
        rest.push(chunk);
        continue;
      }
      const p = steps.time(() => r.push(chunk));
      if (p.done) rest.push(p.rest);
    }
    if (size === 0 || stream.length > 0) assert.ok(r.done);
    assert.equal(taken, size);
    assert.deepEqual(Buffer.concat(rest), extra);
  },
};

export const SMTP_TARGETS: AnyTarget[] = [
  erase(smtpCommands),
  erase(smtpAddressParams),
  erase(smtpData),
  erase(smtpBdat),
];
