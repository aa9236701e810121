/**
 * Serializing IMAP data for server responses (RFC 9051 §4, §9). Everything returns Buffers;
 * strings given as JS strings are encoded as UTF-8.
 *
 *   astring(x)   atom when possible, else quoted, else literal (mailbox names in LIST)
 *   string(x)    quoted when possible, else literal
 *   nstring(x)   NIL for null, else string(x)
 *   quoted(x)    always quoted (throws TypeError when the bytes cannot be quoted: a bug)
 *   literal(x)   always `{N}\r\n` + bytes; literal8(x) is `~{N}\r\n` + bytes (RFC 3516)
 *   list(items)  `(a b c)` from already serialized items
 *   sequenceSetToString(set), dateTimeToString(date)
 *   ImapValue + serialize(value): a small tree (atom | string | literal | number | list |
 *   concat | nil | raw) so that ENVELOPE, BODYSTRUCTURE and the like are built as values, then written once.
 *
 * `opts.utf8`: whether 8-bit (valid UTF-8) may go into quoted strings. RFC 9051 §4.3 allows it
 * in IMAP4rev2; for an IMAP4rev1 client without UTF8=ACCEPT (RFC 6855) 8-bit data must be a
 * literal, which is the default here.
 */
import { isUtf8 } from 'node:buffer';
import { formatDateTime } from './dates.js';
import { type Interval, numbersToIntervals, type SeqNumber, type SequenceSet } from './sequence.js';

export interface WriteOptions {
  readonly utf8?: boolean;
}

type Bytes = Buffer | string;
const toBuf = (x: Bytes): Buffer => (typeof x === 'string' ? Buffer.from(x, 'utf8') : x);

// RFC 9051 §9 ASTRING-CHAR: CHAR (0x01-0x7f) minus atom-specials, plus "]".
const ASTRING_CHAR = new Uint8Array(256);
for (let b = 0x21; b < 0x7f; b++) ASTRING_CHAR[b] = 1;
for (const c of '(){%*"\\') ASTRING_CHAR[c.charCodeAt(0)] = 0;

/** Whether the bytes can be sent as a quoted string (RFC 9051 §9 QUOTED-CHAR). */
export function isQuotable(bytes: Buffer, opts: WriteOptions = {}): boolean {
  let eightBit = false;
  for (const b of bytes) {
    if (b === 0x00 || b === 0x0a || b === 0x0d) return false;
    if (b >= 0x80) eightBit = true;
  }
  return !eightBit || (opts.utf8 === true && isUtf8(bytes));
}

export function quoted(x: Bytes, opts: WriteOptions = {}): Buffer {
  const bytes = toBuf(x);
  if (!isQuotable(bytes, opts)) throw new TypeError('bytes cannot be sent as a quoted string');
  const out: number[] = [0x22];
  for (const b of bytes) {
    // quoted-specials are escaped with a backslash.
    if (b === 0x22 || b === 0x5c) out.push(0x5c);
    out.push(b);
  }
  out.push(0x22);
  return Buffer.from(out);
}

/** A synchronizing-form literal; servers never send `{N+}` (RFC 9051 §4.3). */
export function literal(x: Bytes): Buffer {
  const bytes = toBuf(x);
  return Buffer.concat([Buffer.from(`{${bytes.length}}\r\n`, 'latin1'), bytes]);
}

/** RFC 3516 literal8, for FETCH BINARY[] data that may contain NUL. */
export function literal8(x: Bytes): Buffer {
  const bytes = toBuf(x);
  return Buffer.concat([Buffer.from(`~{${bytes.length}}\r\n`, 'latin1'), bytes]);
}

export function string(x: Bytes, opts: WriteOptions = {}): Buffer {
  const bytes = toBuf(x);
  return isQuotable(bytes, opts) ? quoted(bytes, opts) : literal(bytes);
}

export function astring(x: Bytes, opts: WriteOptions = {}): Buffer {
  const bytes = toBuf(x);
  // An atom NIL would read back as nil wherever an nstring may stand: quote it.
  const isNil = bytes.length === 3 && bytes.toString('latin1').toUpperCase() === 'NIL';
  if (bytes.length > 0 && !isNil && bytes.every((b) => ASTRING_CHAR[b] === 1)) {
    return Buffer.from(bytes);
  }
  return string(bytes, opts);
}

export function nstring(x: Bytes | null, opts: WriteOptions = {}): Buffer {
  return x === null ? Buffer.from('NIL') : string(x, opts);
}

/** `(a b c)` from serialized items. */
export function list(items: readonly Bytes[]): Buffer {
  const parts: Buffer[] = [Buffer.from('(')];
  items.forEach((item, i) => {
    if (i > 0) parts.push(Buffer.from(' '));
    parts.push(toBuf(item));
  });
  parts.push(Buffer.from(')'));
  return Buffer.concat(parts);
}

const seqText = (a: SeqNumber, b: SeqNumber): string => (a === b ? `${a}` : `${a}:${b}`);

/**
 * A sequence set as text: a parsed SequenceSet (`$` for the saved one), resolved intervals, or
 * plain numbers (compressed into ranges: [1,2,3,7] -> `1:3,7`).
 */
export function sequenceSetToString(
  set: SequenceSet | readonly Interval[] | readonly number[],
): string {
  if (!Array.isArray(set)) {
    const s = set as SequenceSet;
    if (s.kind === 'saved') return '$';
    return s.ranges.map(([a, b]) => seqText(a, b)).join(',');
  }
  const intervals =
    set.length > 0 && typeof set[0] === 'number'
      ? numbersToIntervals(set as readonly number[])
      : (set as readonly Interval[]);
  return intervals.map(([a, b]) => seqText(a, b)).join(',');
}

/** RFC 9051 date-time with its DQUOTEs: `"17-Jul-1996 09:44:25 +0000"` (UTC by default). */
export function dateTimeToString(date: Date, offsetMinutes = 0): string {
  return `"${formatDateTime(date, offsetMinutes)}"`;
}

export type ImapValue =
  | { readonly type: 'atom'; readonly value: string }
  | { readonly type: 'string'; readonly value: Bytes }
  | { readonly type: 'astring'; readonly value: Bytes }
  | { readonly type: 'literal'; readonly value: Bytes; readonly binary?: boolean }
  | { readonly type: 'number'; readonly value: number }
  | { readonly type: 'list'; readonly items: readonly ImapValue[] }
  | { readonly type: 'concat'; readonly items: readonly ImapValue[] }
  | { readonly type: 'nil' }
  | { readonly type: 'raw'; readonly value: Bytes };

/** Constructors for ImapValue. */
export const v = {
  atom: (value: string): ImapValue => ({ type: 'atom', value }),
  str: (value: Bytes): ImapValue => ({ type: 'string', value }),
  /** string, or NIL for null/undefined (ENVELOPE fields). */
  nstr: (value: Bytes | null | undefined): ImapValue =>
    value === null || value === undefined ? { type: 'nil' } : { type: 'string', value },
  astr: (value: Bytes): ImapValue => ({ type: 'astring', value }),
  literal: (value: Bytes, binary = false): ImapValue => ({ type: 'literal', value, binary }),
  num: (value: number): ImapValue => ({ type: 'number', value }),
  list: (items: readonly ImapValue[]): ImapValue => ({ type: 'list', items }),
  /** The items one after the other with nothing between (RFC 9051 §9 env-from's addresses). */
  concat: (items: readonly ImapValue[]): ImapValue => ({ type: 'concat', items }),
  nil: { type: 'nil' } as ImapValue,
  raw: (value: Bytes): ImapValue => ({ type: 'raw', value }),
};

// An atom, a flag (`\Seen`) or PERMANENTFLAGS' `\*`. Anything else (`BODY[1]`) goes as raw.
const ATOM_OK = /^\\?[^\x00-\x20\x7f-\xff(){%*"\\\]]+$|^\\\*$/;

/**
 * What serialize writes: text (ASCII: atoms, numbers, parentheses, quoted ASCII strings,
 * literal headers) gathered in one string, byte values (8-bit strings, literal data) kept as
 * they are between. A FETCH line of flags and a header section is then three pieces, where a
 * Buffer per token and their concatenation made a dozen allocations per message (issue 19).
 */
class Pieces {
  readonly out: (Buffer | string)[] = [];
  /** Only ASCII goes here (write() sends anything else to bytes()): as latin1 as UTF-8. */
  text = '';

  /** `keepText`: the text pieces stay strings (serializeLineParts), else each is a Buffer. */
  constructor(private readonly keepText = false) {}

  bytes(b: Buffer): void {
    if (this.text !== '') {
      this.out.push(this.keepText ? this.text : Buffer.from(this.text, 'latin1'));
      this.text = '';
    }
    this.out.push(b);
  }

  done(): Buffer {
    if (this.text !== '') this.out.push(Buffer.from(this.text, 'latin1'));
    const out = this.out as Buffer[];
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  parts(): (Buffer | string)[] {
    if (this.text !== '') this.out.push(this.text);
    return this.out;
  }
}

// ASCII without NUL, CR, LF and the quoted-specials: quoted as it is (QUOTED-CHAR, isQuotable).
const PLAIN_QUOTABLE = /^[\x01-\x09\x0b\x0c\x0e-\x21\x23-\x5b\x5d-\x7f]*$/;
const ASCII = /^[\x00-\x7f]*$/;

function write(value: ImapValue, out: Pieces, opts: WriteOptions): void {
  switch (value.type) {
    case 'atom':
      // An atom that is not one is a bug in the caller, not bad client input.
      if (!ATOM_OK.test(value.value))
        throw new TypeError(`not an atom: ${JSON.stringify(value.value)}`);
      // latin1, as ever: ATOM_OK lets characters above U+00FF through, written cut to a byte.
      if (ASCII.test(value.value)) out.text += value.value;
      else out.bytes(Buffer.from(value.value, 'latin1'));
      return;
    case 'string':
      if (typeof value.value === 'string' && PLAIN_QUOTABLE.test(value.value))
        out.text += `"${value.value}"`;
      else writeString(toBuf(value.value), out, opts);
      return;
    case 'astring':
      out.bytes(astring(value.value, opts));
      return;
    case 'literal': {
      const bytes = toBuf(value.value);
      out.text += `${value.binary ? '~' : ''}{${bytes.length}}\r\n`;
      out.bytes(bytes);
      return;
    }
    case 'number':
      if (!Number.isSafeInteger(value.value) || value.value < 0)
        throw new TypeError(`not an IMAP number: ${value.value}`);
      out.text += String(value.value);
      return;
    case 'list': {
      out.text += '(';
      const items = value.items;
      for (let i = 0; i < items.length; i++) {
        if (i > 0) out.text += ' ';
        write(items[i]!, out, opts);
      }
      out.text += ')';
      return;
    }
    case 'concat':
      for (const item of value.items) write(item, out, opts);
      return;
    case 'nil':
      out.text += 'NIL';
      return;
    case 'raw':
      if (typeof value.value === 'string' && ASCII.test(value.value)) out.text += value.value;
      else out.bytes(toBuf(value.value));
      return;
  }
}

/** string(): quoted when possible, else a literal whose bytes are not copied. */
function writeString(bytes: Buffer, out: Pieces, opts: WriteOptions): void {
  if (isQuotable(bytes, opts)) {
    out.bytes(quoted(bytes, opts));
    return;
  }
  out.text += `{${bytes.length}}\r\n`;
  out.bytes(bytes);
}

export function serialize(value: ImapValue, opts: WriteOptions = {}): Buffer {
  const out = new Pieces();
  write(value, out, opts);
  return out.done();
}

/** `prefix` (ASCII), the value and CRLF in one Buffer: `serializeLine('* 3 FETCH ', value)`. */
export function serializeLine(prefix: string, value: ImapValue, opts: WriteOptions = {}): Buffer {
  const out = new Pieces();
  out.text = prefix;
  write(value, out, opts);
  out.text += '\r\n';
  return out.done();
}

/**
 * serializeLine's bytes as the pieces they were made of, not joined: the text between byte
 * values as ASCII strings, the byte values (8-bit strings, literal data) as their Buffers. For
 * a caller that queues them for one write (ImapSession.sendParts, which copies small pieces
 * into one buffer anyway): a FETCH line of flags and a header section then makes no Buffer for
 * its text and no concatenation (issue 19).
 */
export function serializeLineParts(
  prefix: string,
  value: ImapValue,
  opts: WriteOptions = {},
): (Buffer | string)[] {
  const out = new Pieces(true);
  out.text = prefix;
  write(value, out, opts);
  out.text += '\r\n';
  return out.parts();
}
