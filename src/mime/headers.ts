// Header block parsing (RFC 5322 §2.2). Works on bytes: the raw field is kept as a slice of
// the message so that IMAP BODY[HEADER.FIELDS] can return it byte for byte.
import { decodeUtf8OrLatin1, isAscii } from './charset.js';

export interface HeaderField {
  /** Field name as written (trailing whitespace before the colon removed). */
  name: string;
  /** Field name in lower case, for lookups. */
  lname: string;
  /** The whole field including folding, without the final line break. */
  raw: Buffer;
  /** Unfolded value, leading/trailing whitespace trimmed; UTF-8 with latin1 fallback. */
  value: string;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

/**
 * Splits a header block into fields, in order. Tolerant of real-world damage:
 * LF-only line endings, lines without a colon (skipped, and they end the field before them),
 * continuation lines with no field to continue (skipped), fields with an empty body.
 */
export function parseHeaders(block: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let fieldStart = -1;
  let fieldEnd = -1; // end of the field's last line, without its line break
  let colonAt = -1;
  let nextColon = -1;
  let pos = 0;
  const len = block.length;
  const flush = () => {
    if (fieldStart >= 0) {
      const f = makeField(block, fieldStart, fieldEnd, colonAt);
      if (f) fields.push(f);
    }
    fieldStart = -1;
  };
  while (pos < len) {
    let nl = block.indexOf(LF, pos);
    if (nl < 0) nl = len;
    const lineEnd = nl > pos && block[nl - 1] === CR ? nl - 1 : nl;
    const first = block[pos];
    if (lineEnd === pos) {
      // An empty line ends the header block; callers pass only the block, so stop here.
      flush();
      break;
    }
    if (first === SP || first === TAB) {
      // RFC 5322 §2.2.3: a line starting with WSP continues the field before it.
      if (fieldStart >= 0) fieldEnd = lineEnd;
    } else {
      flush();
      // The next colon is searched once and reused, so lines without one stay linear.
      if (nextColon < pos) {
        nextColon = block.indexOf(COLON, pos);
        if (nextColon < 0) nextColon = len;
      }
      if (nextColon > pos && nextColon < lineEnd) {
        fieldStart = pos;
        fieldEnd = lineEnd;
        colonAt = nextColon;
      }
      // else: garbage line without a colon (or starting with one) is skipped.
    }
    pos = nl + 1;
  }
  flush();
  return fields;
}

function makeField(block: Buffer, start: number, end: number, colon: number): HeaderField | null {
  const name = block.toString('latin1', start, colon).trimEnd();
  if (/\s/.test(name)) return null;
  let value = isAscii(block, colon + 1, end)
    ? block.toString('latin1', colon + 1, end)
    : decodeUtf8OrLatin1(block.subarray(colon + 1, end));
  // RFC 5322 §2.2.3: unfolding removes the CRLF before each WSP; the WSP stays.
  if (value.includes('\n') || value.includes('\r')) {
    value = value.replace(/\r?\n(?=[ \t])/g, '').replace(/[\r\n]/g, '');
  }
  return { name, lname: name.toLowerCase(), raw: block.subarray(start, end), value: value.trim() };
}

/** The first field with that name (case-insensitive), or null. */
export function getHeader(fields: readonly HeaderField[], name: string): HeaderField | null {
  const l = name.toLowerCase();
  for (const f of fields) if (f.lname === l) return f;
  return null;
}

/** All fields with that name (case-insensitive), in order. */
export function getAll(fields: readonly HeaderField[], name: string): HeaderField[] {
  const l = name.toLowerCase();
  return fields.filter((f) => f.lname === l);
}

/** Value of the first field with that name, or null. */
export function headerValue(fields: readonly HeaderField[], name: string): string | null {
  return getHeader(fields, name)?.value ?? null;
}
