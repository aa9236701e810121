// The body of a RETR or TOP response (RFC 1939 §3): the exact stored bytes, with every line
// that starts with "." given one more ".", ending in CRLF, then the ".\r\n" terminator.
// Output comes as slices of the input (no copy of a large message), at most `maxPiece` each.
import { headerBounds } from '../mime/header-scan.js';

const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');
const STUFF = Buffer.from('.');
const TERMINATOR = Buffer.from('.\r\n');
const LF_DOT = Buffer.from('\n.');

export function* dotStuffed(data: Buffer, maxPiece: number): Generator<Buffer> {
  let start = 0;
  if (data.length > 0 && data[0] === DOT) yield STUFF;
  // A line starts after every LF; after a bare LF too, since clients split lines on it.
  for (let i = data.indexOf(LF_DOT); i >= 0; i = data.indexOf(LF_DOT, i + 1)) {
    yield* pieces(data, start, i + 1, maxPiece);
    yield STUFF;
    start = i + 1;
  }
  yield* pieces(data, start, data.length, maxPiece);
  // RFC 1939 §3: the terminator is CRLF "." CRLF, so the last line must end in CRLF even
  // when the stored message does not (a bare-LF ending then shows one empty line more).
  const n = data.length;
  if (n > 0 && !(data[n - 1] === LF && n >= 2 && data[n - 2] === 0x0d)) yield CRLF;
  yield TERMINATOR;
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
