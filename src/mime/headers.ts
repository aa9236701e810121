// Header block parsing (RFC 5322 §2.2). Works on bytes: the raw field is kept as a slice of
// the message so that IMAP BODY[HEADER.FIELDS] can return it byte for byte.
import { decodeUtf8OrLatin1, isAscii } from './charset.js';
import { forEachField, headerBounds } from './header-scan.js';

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

/**
 * Splits a header block into fields, in order, up to its first empty line. Tolerant of
 * real-world damage: LF-only line endings, lines without a colon (skipped, and they end the
 * field before them), continuation lines with no field to continue (skipped), fields with an
 * empty body.
 */
export function parseHeaders(block: Buffer): HeaderField[] {
  return parseHeaderFields(block, 0, headerBounds(block).fieldsEnd);
}

/**
 * The fields of raw[start, end), a range that holds no empty line (from headerBounds). With
 * `only` (lower-case names), just the fields of those names, in the same order: a reader that
 * asks for a few names (the MIME parser) pays nothing for the value of the others.
 */
export function parseHeaderFields(
  raw: Buffer,
  start: number,
  end: number,
  only?: ReadonlySet<string>,
): HeaderField[] {
  const fields: HeaderField[] = [];
  forEachField(raw, start, end, (s, colon, valueEnd) => {
    // A line without a colon, or starting with one, is no field; nor is a continuation line
    // with no field before it.
    if (colon <= s || raw[s] === 0x20 || raw[s] === 0x09) return;
    const f = makeField(raw, s, valueEnd, colon, only);
    if (f) fields.push(f);
  });
  return fields;
}

const LINE_BREAKS = /[\r\n]+/g;

function makeField(
  block: Buffer,
  start: number,
  end: number,
  colon: number,
  only: ReadonlySet<string> | undefined,
): HeaderField | null {
  const name = block.toString('latin1', start, colon).trimEnd();
  const lname = name.toLowerCase();
  // No name in `only` holds white space, which makes a name no field's below.
  if (only !== undefined && !only.has(lname)) return null;
  if (/\s/.test(name)) return null;
  let value = isAscii(block, colon + 1, end)
    ? block.toString('latin1', colon + 1, end)
    : decodeUtf8OrLatin1(block.subarray(colon + 1, end));
  // RFC 5322 §2.2.3: unfolding removes the CRLF before each WSP; the WSP stays. A CR or LF
  // elsewhere (a line without a colon ends the field before it, so only stray ones) is
  // dropped too: every CR and LF goes, in one pass.
  if (value.includes('\n') || value.includes('\r')) value = value.replace(LINE_BREAKS, '');
  return { name, lname, raw: block.subarray(start, end), value: value.trim() };
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
