/**
 * FETCH section data (RFC 9051 §6.4.5; RFC 3516 BINARY) as byte ranges of the stored message,
 * located with the part offsets recorded at delivery: the structure is never re-parsed. Only
 * HEADER.FIELDS parses one header block, to pick its fields.
 *
 *   sectionBytes(raw, root, section)  BODY[section]: a slice of `raw` (HEADER.FIELDS builds a
 *                                     new buffer from the chosen lines). A section that does
 *                                     not exist gives an empty buffer.
 *   applyPartial(buf, partial)        `<offset.length>`: the bytes from offset, at most length;
 *                                     empty when offset is at or past the end.
 *   binaryBytes(raw, root, part)      BINARY[part]: the part's body with its
 *                                     Content-Transfer-Encoding undone, or a SectionError
 *                                     (UNKNOWN-CTE) to answer `NO [UNKNOWN-CTE]` (RFC 3516 §4.1).
 *   binarySize(raw, root, part)       BINARY.SIZE[part]: the decoded length, or a SectionError.
 *
 * Never throws: offsets are clamped to the message, so a stale or damaged index still yields
 * a slice within it.
 */
import { parseHeaders } from '../../mime/headers.js';
import { findPart, sectionRange } from '../../mime/sections.js';
import { decodeTransfer } from '../../mime/transfer.js';
import type { PartNode } from '../../mime/types.js';
import type { FetchPartial, Section } from '../wire/fetch-items.js';

/** A section that exists but cannot be delivered: turn into `NO [code] text`. */
export class SectionError {
  constructor(
    readonly code: 'UNKNOWN-CTE',
    readonly text: string,
  ) {}
}

const EMPTY = Buffer.alloc(0);

function slice(raw: Buffer, range: [number, number] | null): Buffer {
  if (range === null) return EMPTY;
  const start = Math.max(0, Math.min(range[0], raw.length));
  const end = Math.max(start, Math.min(range[1], raw.length));
  return raw.subarray(start, end);
}

export function sectionBytes(raw: Buffer, root: PartNode, section: Section): Buffer {
  const msg = { root, size: raw.length };
  const text = section.text;
  if (text === null) return slice(raw, sectionRange(msg, section.part, null));
  if (text.kind !== 'HEADER.FIELDS') return slice(raw, sectionRange(msg, section.part, text.kind));
  // RFC 9051 §6.4.5: HEADER.FIELDS applies to the header of the message or of a
  // message/rfc822 part, like HEADER.
  const block = slice(raw, sectionRange(msg, section.part, 'HEADER'));
  if (block.length === 0) return EMPTY;
  return headerFields(block, text.fields, text.not);
}

/**
 * RFC 9051 §6.4.5: the subset of the header with (or, for .NOT, without) the named fields,
 * in the order they appear in the message, each byte for byte with its folding, followed by
 * the blank line that ends a header. Field names compare case-insensitively.
 */
export function headerFields(block: Buffer, names: readonly string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const out: Buffer[] = [];
  let crlf = true;
  for (const f of parseHeaders(block)) {
    const start = f.raw.byteOffset - block.byteOffset;
    let end = start + f.raw.length;
    // Keep the field's own line break (CRLF, or LF in a damaged message).
    if (block[end] === 0x0d && block[end + 1] === 0x0a) end += 2;
    else if (block[end] === 0x0a) {
      end += 1;
      crlf = false;
    }
    if (wanted.has(f.lname) !== not) {
      out.push(block.subarray(start, end));
      if (end === start + f.raw.length) out.push(Buffer.from('\r\n'));
    }
  }
  out.push(Buffer.from(crlf ? '\r\n' : '\n'));
  return Buffer.concat(out);
}

export function applyPartial(buf: Buffer, partial: FetchPartial | null): Buffer {
  if (partial === null) return buf;
  if (partial.offset >= buf.length) return EMPTY;
  return buf.subarray(partial.offset, Math.min(buf.length, partial.offset + partial.length));
}

const IDENTITY = new Set(['7BIT', '8BIT', 'BINARY', '']);
const DECODED = new Set(['BASE64', 'QUOTED-PRINTABLE']);

/**
 * RFC 3516 §4.1 / RFC 9051 §6.4.5 BINARY: the section's body with its transfer encoding
 * removed. `[]` is the whole message as stored (its top-level encoding, if any, applies only
 * to its body and cannot be undone for the whole). A multipart or message part is composite:
 * RFC 2045 §6.4 allows it only 7bit/8bit/binary, so its body is returned as is. A part that
 * does not exist gives an empty buffer, as BODY[] does.
 */
export function binaryBytes(
  raw: Buffer,
  root: PartNode,
  part: readonly number[],
): Buffer | SectionError {
  if (part.length === 0) return raw;
  const node = findPart({ root }, part);
  if (node === null) return EMPTY;
  const body = slice(raw, [node.bodyStart, node.bodyEnd]);
  if (node.type === 'multipart' || node.message !== null) return body;
  const enc = node.encoding.trim().toUpperCase();
  if (IDENTITY.has(enc)) return body;
  if (DECODED.has(enc)) return decodeTransfer(body, enc);
  return new SectionError(
    'UNKNOWN-CTE',
    `Unknown Content-Transfer-Encoding ${enc.slice(0, 40).replace(/[^\x21-\x7e]/g, '?')}`,
  );
}

export function binarySize(
  raw: Buffer,
  root: PartNode,
  part: readonly number[],
): number | SectionError {
  const data = binaryBytes(raw, root, part);
  return data instanceof SectionError ? data : data.length;
}
