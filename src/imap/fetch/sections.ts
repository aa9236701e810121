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
 *   messageSectionBytes(raw, text)   BODY[], BODY[HEADER], BODY[HEADER.FIELDS ...], BODY[TEXT]
 *                                     of the message itself: found by scanning its header,
 *                                     with no part offsets (what sectionBytes does for them).
 *
 * Never throws: offsets are clamped to the message, so a stale or damaged index still yields
 * a slice within it.
 */
import { forEachField, headerBounds } from '../../mime/header-scan.js';
import { findPart, sectionRange } from '../../mime/sections.js';
import { decodeTransfer } from '../../mime/transfer.js';
import type { PartNode } from '../../mime/types.js';
import type { FetchPartial, Section, SectionText } from '../wire/fetch-items.js';

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
  if (section.part.length === 0) return messageSectionBytes(raw, section.text);
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
 * A section of the message itself (part `[]`): BODY[], HEADER, HEADER.FIELDS[.NOT] and TEXT.
 * The header ends where headerBounds says, the scan the MIME parser stored the root part's
 * offsets from (mime/structure.ts), so this gives what sectionRange gives from the stored
 * structure without reading or parsing it: a FETCH of a few header fields of every message
 * (what a mail client asks first) reads only the message bytes (issue 19). MIME needs a part
 * number: empty.
 */
export function messageSectionBytes(raw: Buffer, text: Section['text']): Buffer {
  if (text === null) return raw;
  if (text.kind === 'MIME') return EMPTY;
  const { fieldsEnd, bodyStart } = headerBounds(raw);
  if (text.kind === 'TEXT') return raw.subarray(bodyStart);
  const block = raw.subarray(0, bodyStart);
  if (text.kind === 'HEADER' || block.length === 0) return block;
  return headerFields(block, text.fields, text.not, fieldsEnd);
}

/** The sections of the message itself that its header block holds whole. */
export type HeaderSectionText = Extract<SectionText, { kind: 'HEADER' | 'HEADER.FIELDS' }>;

/**
 * HEADER.FIELDS[.NOT] of a header block, the last one asked of it: a store that keeps header
 * blocks in memory (BlobStore.readHeaders) hands out the same Buffer for a message at every
 * FETCH while it keeps it, and a mail client asks the same fields of every message at each
 * login (issue 19). Held only as long as the block is (a WeakMap), in memory of its own, so
 * at most about the block's size again.
 */
const blockFields = new WeakMap<Buffer, { key: string; not: boolean; fields: Buffer }>();

/**
 * messageSectionBytes for HEADER and HEADER.FIELDS[.NOT] when `block` is the message's header
 * block as BlobStore.readHeaders gives it: the bytes up to and with the empty line that ends
 * the header, as headerBounds reads it (the whole message when it has none). The block ends
 * where the header does, so it is not scanned for that end again; the fields picked are kept
 * with the block (blockFields). A block is never changed: a stored message's bytes never are.
 */
export function blockSectionBytes(block: Buffer, text: HeaderSectionText): Buffer {
  if (text.kind === 'HEADER' || block.length === 0) return block;
  const { key } = namesOf(text.fields);
  const not = text.not;
  const kept = blockFields.get(block);
  if (kept !== undefined && kept.not === not && kept.key === key) return kept.fields;
  const picked = headerFields(block, text.fields, not, blockFieldsEnd(block));
  // Its own memory, not a slice of Node's shared pool (which it would hold whole).
  const fields = Buffer.allocUnsafeSlow(picked.length);
  picked.copy(fields);
  blockFields.set(block, { key, not, fields });
  return fields;
}

/**
 * Where the fields of a header block end: before its last line when that is the empty line
 * (the block ends with it: LF CR LF, LF LF, or the block is that line alone), else at its end
 * (a message with no empty line). headerBounds(block).fieldsEnd, without the scan.
 */
export function blockFieldsEnd(block: Buffer): number {
  const n = block.length;
  if (block[n - 1] !== 0x0a) return n;
  if (n === 1) return 0;
  if (block[n - 2] === 0x0a) return n - 1;
  if (block[n - 2] === 0x0d && (n === 2 || block[n - 3] === 0x0a)) return n - 2;
  return n;
}

/** headerFields' sets of an item's names, made once per FETCH item, not once per message. */
const nameSets = new WeakMap<
  readonly string[],
  { wanted: ReadonlySet<string>; lengths: ReadonlySet<number>; key: string }
>();

function namesOf(names: readonly string[]) {
  let sets = nameSets.get(names);
  if (sets === undefined) {
    const wanted = new Set(names.map((n) => n.toLowerCase()));
    // The names' lengths: a field whose name has none of these lengths is not asked for,
    // known without making its name a string (FETCH of a few fields of every message, issue
    // 19).
    const lengths = new Set([...wanted].map((n) => n.length));
    // The names the selection depends on, the same for the same request in any FETCH
    // (blockFields); JSON, as a quoted name may hold any separator.
    const key = JSON.stringify([...wanted].sort());
    sets = { wanted, lengths, key };
    nameSets.set(names, sets);
  }
  return sets;
}

/**
 * RFC 9051 §6.4.5: the subset of the header with (or, for .NOT, without) the named fields,
 * in the order they appear in the message, each byte for byte with its folding, followed by
 * the blank line that ends a header. Field names compare case-insensitively. The fields are
 * those parseHeaders (mime/headers.ts) finds, by the same rules, without decoding their
 * values: a line without a colon or starting with one, a continuation with no field before
 * it, and a name with white space inside are no fields.
 */
export function headerFields(
  block: Buffer,
  names: readonly string[],
  not: boolean,
  /** Where the block's fields end, when the caller has it from headerBounds already. */
  fieldsEnd = headerBounds(block).fieldsEnd,
): Buffer {
  const { wanted, lengths } = namesOf(names);
  const out: Buffer[] = [];
  let crlf = true;
  forEachField(block, 0, fieldsEnd, (start, colon, valueEnd) => {
    if (colon <= start || block[start] === 0x20 || block[start] === 0x09) return;
    // The name as trimEnd() leaves its latin1 text; one with white space inside is no field.
    let nameEnd = colon;
    while (nameEnd > start && isSpace(block[nameEnd - 1]!)) nameEnd--;
    for (let i = start; i < nameEnd; i++) if (isSpace(block[i]!)) return;
    let end = valueEnd;
    // Keep the field's own line break (CRLF, or LF in a damaged message).
    if (block[end] === 0x0d && block[end + 1] === 0x0a) end += 2;
    else if (block[end] === 0x0a) {
      end += 1;
      crlf = false;
    }
    if (!not && !lengths.has(nameEnd - start)) return;
    const name = block.toString('latin1', start, nameEnd);
    if (wanted.has(name.toLowerCase()) !== not) {
      out.push(block.subarray(start, end));
      if (end === valueEnd) out.push(CRLF);
    }
  });
  out.push(crlf ? CRLF : LF);
  return Buffer.concat(out);
}

/** What /\s/ matches among latin1 characters: \t \n \v \f \r, space and no-break space. */
const isSpace = (b: number): boolean => b === 0x20 || b === 0xa0 || (b >= 0x09 && b <= 0x0d);
const CRLF = Buffer.from('\r\n');
const LF = Buffer.from('\n');

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
