// The body of a RETR or TOP response (RFC 1939 §3): the exact stored bytes, with every line
// that starts with "." given one more ".", ending in CRLF, then the ".\r\n" terminator.
// Output comes as slices of the input (no copy of a large message), at most `maxPiece` each,
// except where stuffed lines are dense: those stretches are copied with their dots.
import { headerBounds } from '../mime/header-scan.js';

const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');
const STUFF = Buffer.from('.');
const TERMINATOR = Buffer.from('.\r\n');
const LF_DOT = Buffer.from('\n.');

/** More stuffed lines than this in one window: copy the window instead of slicing it. */
const DENSE = 64;

export function* dotStuffed(data: Buffer, maxPiece: number): Generator<Buffer> {
  if (data.length > 0 && data[0] === DOT) yield STUFF;
  // A line starts after every LF; after a bare LF too, since clients split lines on it.
  // Window by window: where stuffed lines are few, the output is slices of the message (no
  // copy of a large message); where they are many (a message of short lines that begin with
  // "."), slices would be two pieces a line, and the window is copied with its dots instead.
  const window = Math.max(1, Math.floor(maxPiece / 2));
  // The next "\n." at or after pos (-1: none): it only moves forward, so the whole search is
  // one pass over the message whatever the window size.
  let next = data.indexOf(LF_DOT);
  for (let pos = 0; pos < data.length; ) {
    const end = Math.min(data.length, pos + window);
    const dots: number[] = [];
    while (next >= 0 && next < end && dots.length <= DENSE) {
      dots.push(next);
      next = data.indexOf(LF_DOT, next + 1);
    }
    if (dots.length > DENSE) {
      // The rest of this window is copied; the search goes on after it.
      while (next >= 0 && next < end) next = data.indexOf(LF_DOT, next + 1);
    }
    if (dots.length > DENSE) {
      yield copyStuffed(data, pos, end);
    } else {
      let start = pos;
      for (const i of dots) {
        yield* pieces(data, start, i + 1, maxPiece);
        yield STUFF;
        start = i + 1;
      }
      yield* pieces(data, start, end, maxPiece);
    }
    pos = end;
  }
  // RFC 1939 §3: the terminator is CRLF "." CRLF, so the last line must end in CRLF even
  // when the stored message does not (a bare-LF ending then shows one empty line more).
  const n = data.length;
  if (n > 0 && !(data[n - 1] === LF && n >= 2 && data[n - 2] === 0x0d)) yield CRLF;
  yield TERMINATOR;
}

/** data[from, to) with a "." added after every LF that is followed by "." (in or past it). */
function copyStuffed(data: Buffer, from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe((to - from) * 2);
  let o = 0;
  for (let k = from; k < to; k++) {
    const b = data[k]!;
    out[o++] = b;
    if (b === LF && data[k + 1] === DOT) out[o++] = DOT;
  }
  return out.subarray(0, o);
}

function* pieces(data: Buffer, from: number, to: number, maxPiece: number): Generator<Buffer> {
  for (let i = from; i < to; i += maxPiece) yield data.subarray(i, Math.min(to, i + maxPiece));
}

/**
 * RFC 1939 §7 TOP: the header, the blank line after it, and the first `lines` lines of the
 * body. A message with no blank line is all header, and is returned whole.
 */
export function topOf(data: Buffer, lines: number): Buffer {
  // The header as the MIME parser reads it, so TOP 0 and IMAP BODY[HEADER] agree.
  const { bodyStart } = headerBounds(data);
  if (bodyStart >= data.length) return data;
  let pos = bodyStart;
  for (let k = 0; k < lines && pos < data.length; k++) {
    const lf = data.indexOf(LF, pos);
    pos = lf < 0 ? data.length : lf + 1;
  }
  return data.subarray(0, pos);
}
