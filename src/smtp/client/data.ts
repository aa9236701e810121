// The message as it goes on the wire after DATA (RFC 5321 §4.5.2): lines end with CRLF, a
// line that begins with "." gets another one in front, and CRLF "." CRLF ends it.
//
// A bare LF or bare CR in the message (RFC 5321 §2.3.8: CR and LF occur only together) is
// sent as CRLF. Left alone, "<LF>.<LF>" would be read as the end of the data by a lenient
// remote, and the bytes after it as commands (SMTP smuggling, CVE-2023-51764). With BDAT
// (RFC 3030) the bytes go as they are: a chunk has a length, not a terminator.
//
// Lines are found with native searches (one per line), never octet by octet in JavaScript:
// a message with CRLF lines and none beginning with "." is sent as it is, the terminator in a
// buffer of its own; one with dot lines is copied once in runs between them; only a message
// with a bare CR or LF takes the octet-by-octet path.

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

const END = Buffer.from('.\r\n', 'latin1');
const CRLF_END = Buffer.from('\r\n.\r\n', 'latin1');

/**
 * The bytes to write after a 354: stuffed, CRLF-normalized, then the final "." line, as a
 * list of buffers to write together. A message that needs no change is the first buffer
 * itself (not copied).
 */
export function dotStuff(message: Buffer): Buffer[] {
  const n = message.length;
  if (n === 0) return [END];
  const dots = dotLines(message);
  if (dots === null) return [stuffCopy(message)];
  // The terminator starts a line of its own (§4.1.1.4): end the last line first if needed.
  const end = message[n - 1] === LF ? END : CRLF_END;
  if (dots.length === 0) return [message, end];
  const out = Buffer.allocUnsafe(n + dots.length);
  let o = 0;
  let from = 0;
  for (const at of dots) {
    o += message.copy(out, o, from, at);
    out[o++] = DOT;
    from = at;
  }
  message.copy(out, o, from, n);
  return [out, end];
}

/**
 * Where the lines that begin with "." start, when every line end is CRLF (each CR followed by
 * LF, each LF preceded by CR); null when there is a bare CR or LF.
 */
function dotLines(message: Buffer): readonly number[] | null {
  const n = message.length;
  const dots: number[] = message[0] === DOT ? [0] : [];
  for (let i = message.indexOf(LF); i >= 0; i = message.indexOf(LF, i + 1)) {
    if (i === 0 || message[i - 1] !== CR) return null;
    if (i + 1 < n && message[i + 1] === DOT) dots.push(i + 1);
  }
  for (let i = message.indexOf(CR); i >= 0; i = message.indexOf(CR, i + 1)) {
    if (message[i + 1] !== LF) return null;
  }
  return dots;
}

/** The general case: a copy with dots doubled, bare CR and LF made CRLF, and the terminator. */
function stuffCopy(message: Buffer): Buffer {
  const n = message.length;
  const out = Buffer.allocUnsafe(n + extra(message) + 5);
  let o = 0;
  let lineStart = true;
  for (let i = 0; i < n; i++) {
    const c = message[i];
    if (lineStart && c === DOT) out[o++] = DOT;
    if (c === CR) {
      out[o++] = CR;
      out[o++] = LF;
      if (message[i + 1] === LF) i++;
      lineStart = true;
    } else if (c === LF) {
      out[o++] = CR;
      out[o++] = LF;
      lineStart = true;
    } else {
      out[o++] = c;
      lineStart = false;
    }
  }
  if (!lineStart) {
    out[o++] = CR;
    out[o++] = LF;
  }
  out[o++] = DOT;
  out[o++] = CR;
  out[o++] = LF;
  return out.subarray(0, o);
}

/** Octets stuffCopy adds to the message's own (before the terminator). */
function extra(message: Buffer): number {
  let add = 0;
  let lineStart = true;
  const n = message.length;
  for (let i = 0; i < n; i++) {
    const c = message[i];
    if (lineStart && c === DOT) add++;
    if (c === CR) {
      if (message[i + 1] === LF) i++;
      else add++;
      lineStart = true;
    } else if (c === LF) {
      add++;
      lineStart = true;
    } else {
      lineStart = false;
    }
  }
  return add;
}
