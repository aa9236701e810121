// 8BITMIME downgrade (RFC 6152 §3): a message with 8-bit octets, for a server that does not
// offer 8BITMIME, is either converted to 7 bit or returned as undeliverable. Conversion walks
// the MIME structure (mime/ parser, offsets into the raw bytes) and re-encodes each leaf part
// whose body has 8-bit octets: text as quoted-printable, anything else as base64 (RFC 2045
// §6). Headers cannot be converted (an 8-bit header needs SMTPUTF8, RFC 6532), nor can 8-bit
// bytes outside any part (preamble, epilogue, a part past the parser's limits): then the caller
// gets the reason and bounces.
//
// The worker converts before it DKIM-signs (the signature must cover the bytes sent); the SMTP
// client converts too when handed an 8-bit message for such a server, as a last resort.
import { isAscii } from 'node:buffer';
import { parseHeaders } from '../mime/headers.js';
import { parseStructure } from '../mime/structure.js';
import { decodeTransfer } from '../mime/transfer.js';
import type { PartNode } from '../mime/types.js';

/** Any octet above 0x7F in raw[start, end) (a native scan: every outbound message takes it). */
export function has8bit(raw: Buffer, start = 0, end = raw.length): boolean {
  if (end <= start) return false;
  return !isAscii(start === 0 && end === raw.length ? raw : raw.subarray(start, end));
}

/** Where the header fields of the message end (the blank line), or the whole buffer. */
export function headerEnd(raw: Buffer): number {
  if (raw[0] === 0x0a || (raw[0] === 0x0d && raw[1] === 0x0a)) return 0;
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf + 1 <= lf)) return crlf + 2;
  return lf >= 0 ? lf + 1 : raw.length;
}

/** The top-level header has 8-bit octets: only SMTPUTF8 carries it (RFC 6532 §3.2). */
export function header8bit(raw: Buffer): boolean {
  return has8bit(raw, 0, headerEnd(raw));
}

export type DowngradeResult =
  /** `changed` false: the message had no 8-bit octet and is returned as it was. */
  { ok: true; message: Buffer; changed: boolean } | { ok: false; reason: string };

interface Splice {
  start: number;
  end: number;
  bytes: Buffer;
}

/** Converts an 8-bit message to 7 bit, or says why it cannot. Never throws. */
export function downgrade8bit(raw: Buffer): DowngradeResult {
  if (!has8bit(raw)) return { ok: true, message: raw, changed: false };
  // The structure only: the envelope's address parsing is not needed here.
  const splices: Splice[] = [];
  const reason = walk(raw, parseStructure(raw), splices);
  if (reason !== null) return { ok: false, reason };
  splices.sort((a, b) => a.start - b.start);
  const out: Buffer[] = [];
  let pos = 0;
  for (const s of splices) {
    out.push(raw.subarray(pos, s.start), s.bytes);
    pos = s.end;
  }
  out.push(raw.subarray(pos));
  const message = Buffer.concat(out);
  if (has8bit(message)) {
    return { ok: false, reason: '8-bit octets outside any MIME part cannot be converted' };
  }
  return { ok: true, message, changed: true };
}

/** Collects the splices for a part and its descendants; a reason when it cannot convert. */
function walk(raw: Buffer, part: PartNode, splices: Splice[]): string | null {
  if (has8bit(raw, part.headerStart, part.headerEnd)) {
    return '8-bit octets in a header field; the message needs SMTPUTF8 (RFC 6532)';
  }
  const container = part.children.length > 0 || part.message !== null;
  if (container) {
    for (const child of part.children) {
      const r = walk(raw, child, splices);
      if (r !== null) return r;
    }
    if (part.message !== null) {
      const r = walk(raw, part.message.root, splices);
      if (r !== null) return r;
    }
    // RFC 2045 §6.4: a multipart or message entity is 7bit, 8bit or binary as its contents
    // are; once they are 7 bit, say so.
    if (
      (part.encoding === '8BIT' || part.encoding === 'BINARY') &&
      has8bit(raw, part.bodyStart, part.bodyEnd)
    ) {
      splices.push(headerSplice(raw, part, '7bit'));
    }
    return null;
  }
  if (!has8bit(raw, part.bodyStart, part.bodyEnd)) return null;
  if (part.type === 'multipart' || part.type === 'message') {
    // RFC 2045 §6.4 forbids encoding these; a multipart left unparsed (depth or part limit,
    // no boundary) cannot be converted inside.
    return `8-bit octets in a ${part.type}/${part.subtype} part that cannot be converted`;
  }
  const decoded = decodeTransfer(raw.subarray(part.bodyStart, part.bodyEnd), part.encoding);
  const text = part.type === 'text';
  const body = text ? encodeQuotedPrintable(decoded) : encodeBase64(decoded);
  splices.push(headerSplice(raw, part, text ? 'quoted-printable' : 'base64'));
  splices.push({ start: part.bodyStart, end: part.bodyEnd, bytes: body });
  return null;
}

/**
 * The part's header block with every Content-Transfer-Encoding field replaced by one naming
 * `encoding`, placed where the first one was (or at the end of the fields).
 */
function headerSplice(raw: Buffer, part: PartNode, encoding: string): Splice {
  const block = raw.subarray(part.headerStart, part.headerEnd);
  const line = Buffer.from(`Content-Transfer-Encoding: ${encoding}\r\n`, 'latin1');
  const pieces: Buffer[] = [];
  let pos = 0;
  let placed = false;
  for (const f of parseHeaders(block)) {
    if (f.lname !== 'content-transfer-encoding') continue;
    const start = f.raw.byteOffset - block.byteOffset;
    let end = start + f.raw.length;
    if (block[end] === 0x0d && block[end + 1] === 0x0a) end += 2;
    else if (block[end] === 0x0a) end += 1;
    pieces.push(block.subarray(pos, start));
    if (!placed) pieces.push(line);
    placed = true;
    pos = end;
  }
  if (!placed) {
    // Before the blank line that ends the block ("\r\n" or "\n"; the whole block for an
    // empty header). A block without one (no body) gets the field after a line break.
    if (block[block.length - 1] !== 0x0a) {
      pieces.push(block, Buffer.from('\r\n'), line);
      return { start: part.headerStart, end: part.headerEnd, bytes: Buffer.concat(pieces) };
    }
    const cut = block.length - (block.length >= 2 && block[block.length - 2] === 0x0d ? 2 : 1);
    pieces.push(block.subarray(0, cut), line);
    pos = cut;
  }
  pieces.push(block.subarray(pos));
  return { start: part.headerStart, end: part.headerEnd, bytes: Buffer.concat(pieces) };
}

const HEX = '0123456789ABCDEF';
/** RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters. */
const QP_LINE = 76;

/**
 * Quoted-printable (RFC 2045 §6.7). CRLF is a hard line break; a lone CR or LF is encoded so
 * that the decoded bytes are exactly the input. Octets other than printable ASCII and '='
 * are =XX; a space or tab before a line break is encoded (rule 3); lines are broken with a
 * soft "=" to stay within 76 characters. A line starting with "." or "From " is left alone:
 * the SMTP client dot-stuffs, and "From " only matters to mbox.
 */
export function encodeQuotedPrintable(data: Buffer): Buffer {
  const out: string[] = [];
  let line = '';
  const push = (tok: string) => {
    // Leave room for the soft break "=".
    if (line.length + tok.length > QP_LINE - 1) {
      out.push(line, '=\r\n');
      line = '';
    }
    line += tok;
  };
  const n = data.length;
  for (let i = 0; i < n; i++) {
    const c = data[i];
    if (c === 0x0d && data[i + 1] === 0x0a) {
      out.push(line, '\r\n');
      line = '';
      i++;
      continue;
    }
    const beforeBreak = i + 1 === n || (data[i + 1] === 0x0d && data[i + 2] === 0x0a);
    if ((c === 0x20 || c === 0x09) && !beforeBreak) push(String.fromCharCode(c));
    else if (c >= 0x21 && c <= 0x7e && c !== 0x3d) push(String.fromCharCode(c));
    else push(`=${HEX[c >> 4]}${HEX[c & 15]}`);
  }
  out.push(line);
  return Buffer.from(out.join(''), 'latin1');
}

/** Base64 in lines of 76 characters, each ended by CRLF (RFC 2045 §6.8). */
export function encodeBase64(data: Buffer): Buffer {
  const b64 = data.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += QP_LINE) lines.push(b64.slice(i, i + QP_LINE));
  return Buffer.from(lines.length === 0 ? '' : `${lines.join('\r\n')}\r\n`, 'latin1');
}
