// Inputs for the fuzz targets: random bytes, grammar-built valid inputs, and those inputs
// mutated (byte flips, truncation, deletion, duplication, insertion of protocol-significant
// bytes, and "amplification": a slice or token repeated thousands of times, which is what
// exposes a parser whose time grows faster than its input).
//
// Every generated input is a Sample: its bytes plus a short recipe saying how it was built,
// which is what a failure report prints (a 60 KB input is unreadable; "base + '(' x 40000 at
// 12" is not).
import fc from 'fast-check';

export class Sample {
  constructor(
    readonly bytes: Buffer,
    readonly recipe: string,
  ) {}

  [fc.toStringMethod](): string {
    return this.recipe;
  }

  toString(): string {
    return this.recipe;
  }
}

/** Bytes for a report: latin1 as a JSON string, cut in the middle past `max` characters. */
export function showBytes(b: Buffer | string, max = 240): string {
  const s = typeof b === 'string' ? b : b.toString('latin1');
  if (s.length <= max) return JSON.stringify(s);
  const head = s.slice(0, Math.floor(max * 0.6));
  const tail = s.slice(s.length - Math.floor(max * 0.3));
  return `${JSON.stringify(head)} ... (${s.length - head.length - tail.length} more) ... ${JSON.stringify(tail)}`;
}

/** Bytes that mean something to at least one of our parsers. */
export const SPECIAL_TOKENS: readonly string[] = [
  '\r',
  '\n',
  '\r\n',
  '\r\n\r\n',
  '\n.\n',
  '\r\n.\r\n',
  '.\r\n',
  '\0',
  '\x7f',
  '\x80',
  '\xff',
  '\xc3\xa9',
  '\xed\xa0\x80', // a UTF-8-encoded surrogate: invalid UTF-8
  ' ',
  '\t',
  '"',
  '\\',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '<',
  '>',
  '*',
  '%',
  '$',
  '&',
  '-',
  '+',
  ',',
  '.',
  ':',
  ';',
  '=',
  '?',
  '@',
  '~',
  '{0}',
  '{1}',
  '{123}',
  '{5+}',
  '~{3}',
  '{4096+}',
  '{4294967296}',
  '{99999999999999999999}',
  '{9007199254740993+}',
  '4294967295',
  '4294967296',
  '18446744073709551616',
  '99999999999999999999999999',
  '-1',
  '0',
  '1:*',
  'NIL',
  '=?utf-8?q?',
  '=?',
  '?=',
  '--',
  'boundary=',
  '&-',
  '&Jjo-',
  '%2F',
  '//',
  '/../',
  '<p',
  '<!--',
];

const special = fc.constantFrom(...SPECIAL_TOKENS);

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'trunc'; at: number }
  | { op: 'del'; at: number; len: number }
  | { op: 'dup'; at: number; len: number }
  | { op: 'ins'; at: number; text: string }
  | { op: 'amp'; at: number; len: number; token: string | null; times: number };

export interface MutateOptions {
  /** Largest number of repetitions of an amplified slice (the input stays under maxBytes). */
  maxTimes?: number;
  /** Amplification stops adding copies past this size. */
  maxBytes?: number;
  /** Extra tokens worth inserting for this protocol. */
  tokens?: readonly string[];
}

function mutationArb(opts: Required<Omit<MutateOptions, 'tokens'>>, tokens: fc.Arbitrary<string>) {
  // Half of the edits in the first bytes, where commands and header fields begin.
  const at = fc.oneof(fc.nat(80), fc.nat());
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('flip' as const), at, bit: fc.nat(7) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('set' as const), at, byte: fc.nat(255) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('trunc' as const), at }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('del' as const),
        at,
        len: fc.integer({ min: 1, max: 16 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('dup' as const),
        at,
        len: fc.integer({ min: 1, max: 32 }),
      }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant('ins' as const),
        at,
        text: fc.oneof(
          { weight: 4, arbitrary: tokens },
          { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }).map(latin1Of) },
        ),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('amp' as const),
        at,
        len: fc.integer({ min: 1, max: 12 }),
        token: fc.option(tokens, { freq: 2 }),
        times: fc.integer({ min: 2, max: opts.maxTimes }),
      }),
    },
  );
}

/** A JS string (any code points) as the latin1 string of its UTF-8 bytes. */
function latin1Of(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

function apply(base: Buffer, muts: Mutation[], maxBytes: number): [Buffer, string[]] {
  let b = base;
  const steps: string[] = [];
  for (const m of muts) {
    const at = m.at % (b.length + 1);
    switch (m.op) {
      case 'flip':
        if (b.length === 0) break;
        b = Buffer.from(b);
        b[at % b.length] ^= 1 << m.bit;
        steps.push(`flip@${at % b.length}^${1 << m.bit}`);
        break;
      case 'set':
        if (b.length === 0) break;
        b = Buffer.from(b);
        b[at % b.length] = m.byte;
        steps.push(`set@${at % b.length}=0x${m.byte.toString(16)}`);
        break;
      case 'trunc':
        b = b.subarray(0, at);
        steps.push(`trunc@${at}`);
        break;
      case 'del':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        steps.push(`del@${at}+${m.len}`);
        break;
      case 'dup': {
        const piece = b.subarray(at, at + m.len);
        b = Buffer.concat([b.subarray(0, at), piece, b.subarray(at)]);
        steps.push(`dup@${at}+${piece.length}`);
        break;
      }
      case 'ins':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.text, 'latin1'), b.subarray(at)]);
        steps.push(`ins@${at} ${showBytes(m.text, 40)}`);
        break;
      case 'amp': {
        const unit =
          m.token !== null || at >= b.length
            ? Buffer.from(m.token ?? 'x', 'latin1')
            : b.subarray(at, at + m.len);
        const times = Math.max(
          1,
          Math.min(m.times, Math.floor((maxBytes - b.length) / unit.length)),
        );
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.alloc(unit.length * times, unit),
          b.subarray(at),
        ]);
        steps.push(`amp@${at} ${showBytes(unit.toString('latin1'), 40)} x${times}`);
        break;
      }
    }
  }
  return [b, steps];
}

/** Samples built from `base` with 0-4 mutations. */
export function mutated(
  base: fc.Arbitrary<Buffer>,
  opts: MutateOptions = {},
): fc.Arbitrary<Sample> {
  const o = { maxTimes: opts.maxTimes ?? 20_000, maxBytes: opts.maxBytes ?? 64 * 1024 };
  const tokens = opts.tokens ? fc.constantFrom(...SPECIAL_TOKENS, ...opts.tokens) : special;
  return fc.tuple(base, fc.array(mutationArb(o, tokens), { maxLength: 4 })).map(([b, muts]) => {
    const [bytes, steps] = apply(b, muts, o.maxBytes);
    const recipe =
      steps.length === 0 ? showBytes(b) : `${showBytes(b, 160)} then ${steps.join(', ')}`;
    return new Sample(bytes, recipe);
  });
}

/** Uniformly random bytes. */
export function randomBytes(maxLength = 2048): fc.Arbitrary<Sample> {
  return fc.uint8Array({ maxLength }).map((a) => {
    const b = Buffer.from(a);
    return new Sample(b, showBytes(b));
  });
}

/** Bytes glued from a dictionary of tokens (protocol words plus the specials), random order. */
export function tokenSoup(words: readonly string[], maxTokens = 60): fc.Arbitrary<Sample> {
  return fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: words.length > 0 ? fc.constantFrom(...words) : special },
        { weight: 2, arbitrary: special },
        { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map(latin1Of) },
      ),
      { maxLength: maxTokens },
    )
    .map((parts) => {
      const b = Buffer.from(parts.join(''), 'latin1');
      return new Sample(b, showBytes(b));
    });
}

/** Random input, token soup and mutated valid input, in one arbitrary. */
export function anyInput(
  valid: fc.Arbitrary<Buffer>,
  words: readonly string[],
  opts: MutateOptions & { maxRandom?: number } = {},
): fc.Arbitrary<Sample> {
  return fc.oneof(
    { weight: 1, arbitrary: randomBytes(opts.maxRandom ?? 1024) },
    { weight: 2, arbitrary: tokenSoup([...words, ...(opts.tokens ?? [])]) },
    {
      weight: 1,
      arbitrary: valid.map((b) => new Sample(b, showBytes(b))),
    },
    { weight: 6, arbitrary: mutated(valid, opts) },
  );
}

/** Sizes to cut a stream into; cycled until the stream ends. */
export const chunkSizes = fc.oneof(
  fc.constant([1] as number[]),
  fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 20 }),
  fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 10 }),
);

/** Cuts `b` into fresh Buffers (copies, like socket reads) of the cycled sizes. */
export function split(b: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (let k = 0; pos < b.length; k++) {
    const n = sizes[k % sizes.length];
    out.push(Buffer.from(b.subarray(pos, pos + n)));
    pos += n;
  }
  return out;
}

/** Concatenates strings (taken as latin1) and Buffers. */
export function bytesOf(parts: readonly (string | Buffer)[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
}
