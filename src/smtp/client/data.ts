// The message as it goes on the wire after DATA (RFC 5321 §4.5.2): lines end with CRLF, a
// line that begins with "." gets another one in front, and CRLF "." CRLF ends it.
//
// A bare LF or bare CR in the message (RFC 5321 §2.3.8: CR and LF occur only together) is
// sent as CRLF. Left alone, "<LF>.<LF>" would be read as the end of the data by a lenient
// remote, and the bytes after it as commands (SMTP smuggling, CVE-2023-51764). With BDAT
// (RFC 3030) the bytes go as they are: a chunk has a length, not a terminator.

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/** The bytes to write after a 354: stuffed, CRLF-normalized, with the final "." line. */
export function dotStuff(message: Buffer): Buffer {
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
  // The terminator starts a line of its own (§4.1.1.4): end the last line first if needed.
  if (!lineStart) {
    out[o++] = CR;
    out[o++] = LF;
  }
  out[o++] = DOT;
  out[o++] = CR;
  out[o++] = LF;
  return out.subarray(0, o);
}

/** Octets dotStuff adds to the message's own (before the terminator). */
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
