// Header surgery at delivery, on bytes: find the header block, drop fields, prepend fields.
import { stripComments } from '../mime/comments.js';

/** Offset where the body starts (after the blank line), or raw.length if there is none. */
export function headerEnd(raw: Buffer): number {
  if (raw.subarray(0, 2).equals(Buffer.from('\r\n'))) return 2;
  const i = raw.indexOf('\r\n\r\n');
  return i < 0 ? raw.length : i + 4;
}

interface FieldSpan {
  name: string;
  start: number;
  end: number;
}

/** The fields of the header block with their byte spans (folded lines included). */
export function fieldSpans(raw: Buffer): FieldSpan[] {
  const end = headerEnd(raw);
  const spans: FieldSpan[] = [];
  let pos = 0;
  while (pos < end) {
    let nl = raw.indexOf('\n', pos);
    if (nl < 0 || nl >= end) nl = end - 1;
    const line = raw.subarray(pos, nl + 1);
    const first = line[0];
    if ((first === 0x20 || first === 0x09) && spans.length > 0) {
      spans[spans.length - 1]!.end = nl + 1;
    } else {
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.subarray(0, colon).toString('latin1').trim().toLowerCase() : '';
      spans.push({ name, start: pos, end: nl + 1 });
    }
    pos = nl + 1;
  }
  return spans;
}

/**
 * RFC 8601 §5: an MTA must remove Authentication-Results fields that claim to come from its
 * own authserv-id, else a sender could forge our verdict.
 */
export function stripForgedAuthResults(raw: Buffer, hostname: string): Buffer {
  const host = hostname.toLowerCase();
  const drop = fieldSpans(raw).filter((f) => {
    if (f.name !== 'authentication-results') return false;
    const field = raw
      .subarray(f.start, f.end)
      .toString('latin1')
      .replace(/^[^:]*:/, '');
    // Comments stripped in linear time (the regex /\([^)]*\)/g is quadratic on "((((...").
    const value = stripComments(field, ' ').trim().toLowerCase();
    const authservId = value.split(/[\s;]/)[0];
    return authservId === host;
  });
  if (drop.length === 0) return raw;
  const parts: Buffer[] = [];
  let pos = 0;
  for (const f of drop) {
    parts.push(raw.subarray(pos, f.start));
    pos = f.end;
  }
  parts.push(raw.subarray(pos));
  return Buffer.concat(parts);
}

export function hasField(raw: Buffer, name: string): boolean {
  const n = name.toLowerCase();
  return fieldSpans(raw).some((f) => f.name === n);
}
