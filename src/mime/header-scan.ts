// The one scanner of a header block (RFC 5322 §2.2), on bytes: where the header ends, and its
// fields one by one with their byte spans, folded lines included. The MIME parser, header
// surgery at delivery, the inbound checks, the submission originator check and POP3 TOP all
// read the header through it, so they agree on where it ends and what a field is.
//
// Lines end at LF; a CR before it belongs to the line break. Two readings of the end:
// - tolerant (what the MIME parser stores and IMAP/POP3 serve): the first empty line, after
//   an LF or a CRLF alike;
// - CRLF only (`crlfOnly`): the first CRLF CRLF, as RFC 5322 §2.1 writes it. It is never
//   shorter than the tolerant one: delivery's checks use it so that they see every field any
//   reader may take for a header field.
// No regular expression: linear in the input (issue 15: remote input).

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

export interface HeaderBounds {
  /** End of the header fields: after the last field's line break, where the empty line is. */
  fieldsEnd: number;
  /** First byte of the body, after the empty line; `end` when there is no empty line. */
  bodyStart: number;
}

/**
 * The header block of raw[start, end). With no empty line the whole range is header (both
 * offsets are `end`). An empty header (the range starts with the empty line) gives
 * fieldsEnd === start.
 */
export function headerBounds(
  raw: Buffer,
  start = 0,
  end = raw.length,
  crlfOnly = false,
): HeaderBounds {
  if (start >= end) return { fieldsEnd: end, bodyStart: end };
  if (raw[start] === CR && raw[start + 1] === LF && start + 1 < end)
    return { fieldsEnd: start, bodyStart: start + 2 };
  const view = raw.subarray(start, end);
  if (crlfOnly) {
    const i = view.indexOf('\r\n\r\n');
    return i < 0
      ? { fieldsEnd: end, bodyStart: end }
      : { fieldsEnd: start + i + 2, bodyStart: start + i + 4 };
  }
  if (raw[start] === LF) return { fieldsEnd: start, bodyStart: start + 1 };
  // The earliest LF followed by an empty line: "\n\r\n" or "\n\n". The usual CRLF header is
  // found by the first search; the second then only reads the header, not a large body.
  const crlf = view.indexOf('\n\r\n');
  const lf = view.subarray(0, crlf < 0 ? view.length : crlf + 1).indexOf('\n\n');
  if (lf >= 0) return { fieldsEnd: start + lf + 1, bodyStart: start + lf + 2 };
  if (crlf >= 0) return { fieldsEnd: start + crlf + 1, bodyStart: start + crlf + 3 };
  return { fieldsEnd: end, bodyStart: end };
}

/**
 * Called once per field, in order:
 * - `start`: the field's first byte;
 * - `colon`: its first colon, or -1 for a line that has none (not a field: a reader skips it,
 *   and an empty line reads as one of these);
 * - `valueEnd`: the end of its last line without the line break;
 * - `end`: after its last line break.
 * Return true to stop the scan (anything else goes on).
 */
export type FieldVisitor = (start: number, colon: number, valueEnd: number, end: number) => unknown;

/**
 * Every field of raw[start, end) (pass a range from headerBounds). A line that starts with a
 * space or a tab continues the field before it (RFC 5322 §2.2.3), whatever that was; with no
 * field before it, it is a field of its own. A line without a colon is reported with colon -1,
 * and ends the field before it.
 */
export function forEachField(raw: Buffer, start: number, end: number, visit: FieldVisitor): void {
  let fStart = -1;
  let fColon = -1;
  let fValueEnd = -1;
  let fEnd = -1;
  // The next colon is searched once and reused, so lines without one stay linear.
  let nextColon = -1;
  let pos = start;
  while (pos < end) {
    let nl = raw.indexOf(LF, pos);
    if (nl < 0 || nl >= end) nl = end;
    const lineEnd = nl > pos && raw[nl - 1] === CR ? nl - 1 : nl;
    const next = nl < end ? nl + 1 : end;
    const first = raw[pos];
    if ((first === SP || first === TAB) && fStart >= 0) {
      fValueEnd = lineEnd;
      fEnd = next;
    } else {
      if (fStart >= 0 && visit(fStart, fColon, fValueEnd, fEnd) === true) return;
      if (nextColon < pos) {
        nextColon = raw.indexOf(COLON, pos);
        if (nextColon < 0 || nextColon >= end) nextColon = end;
      }
      fStart = pos;
      fColon = nextColon < lineEnd ? nextColon : -1;
      fValueEnd = lineEnd;
      fEnd = next;
    }
    pos = next;
  }
  if (fStart >= 0) visit(fStart, fColon, fValueEnd, fEnd);
}

const isWsp = (c: number | undefined) => c === SP || c === TAB || c === CR || c === LF;

/**
 * True when the name before `colon` is `lname` (lower case), compared case-insensitively
 * with white space around it ignored (RFC 5322 §4.5.3 obs-optional: WSP before the colon).
 */
export function fieldNameIs(raw: Buffer, start: number, colon: number, lname: string): boolean {
  if (colon < 0) return false;
  let a = start;
  let b = colon;
  while (a < b && isWsp(raw[a])) a++;
  while (b > a && isWsp(raw[b - 1])) b--;
  if (b - a !== lname.length) return false;
  for (let i = 0; i < lname.length; i++) {
    let c = raw[a + i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lname.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * True when the header of `raw` has a field named one of `lnames` (lower case). The header is
 * read CRLF only (see above): a check that must not miss a field sees the longest header.
 */
export function hasHeaderField(raw: Buffer, ...lnames: string[]): boolean {
  const { fieldsEnd } = headerBounds(raw, 0, raw.length, true);
  let found = false;
  forEachField(raw, 0, fieldsEnd, (start, colon) => {
    for (const n of lnames) if (fieldNameIs(raw, start, colon, n)) found = true;
    return found;
  });
  return found;
}
