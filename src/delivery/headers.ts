// Header surgery at delivery, on bytes: drop fields, add fields. The header is read by the one
// scanner (mime/header-scan.ts), CRLF only: the longest header any reader may take, so a
// forged field cannot hide from these checks behind a bare LF.

import { stripComments } from '../mime/comments.js';
import { fieldNameIs, forEachField, hasHeaderField, headerBounds } from '../mime/header-scan.js';

/**
 * RFC 8601 §5: an MTA must remove Authentication-Results fields that claim to come from its
 * own authserv-id, else a sender could forge our verdict.
 */
export function stripForgedAuthResults(raw: Buffer, hostname: string): Buffer {
  const host = hostname.toLowerCase();
  const drop: Array<[number, number]> = [];
  const { fieldsEnd } = headerBounds(raw, 0, raw.length, true);
  forEachField(raw, 0, fieldsEnd, (start, colon, _valueEnd, end) => {
    if (!fieldNameIs(raw, start, colon, 'authentication-results')) return;
    const field = raw.toString('latin1', colon + 1, end);
    // Comments stripped in linear time (the regex /\([^)]*\)/g is quadratic on "((((...").
    const value = stripComments(field, ' ').trim().toLowerCase();
    const authservId = value.split(/[\s;]/)[0];
    if (authservId === host) drop.push([start, end]);
  });
  if (drop.length === 0) return raw;
  const parts: Buffer[] = [];
  let pos = 0;
  for (const [start, end] of drop) {
    parts.push(raw.subarray(pos, start));
    pos = end;
  }
  parts.push(raw.subarray(pos));
  return Buffer.concat(parts);
}

export function hasField(raw: Buffer, name: string): boolean {
  return hasHeaderField(raw, name.toLowerCase());
}

/**
 * `fields` (CRLF-terminated) added at the end of the header block, where a reader expects
 * them after the trace fields. A header whose last line has no line break gets one first.
 */
export function appendFields(raw: Buffer, fields: string): Buffer {
  if (fields === '') return raw;
  const { fieldsEnd } = headerBounds(raw, 0, raw.length, true);
  const open = fieldsEnd > 0 && raw[fieldsEnd - 1] !== 0x0a;
  return Buffer.concat([
    raw.subarray(0, fieldsEnd),
    Buffer.from(open ? `\r\n${fields}` : fields),
    raw.subarray(fieldsEnd),
  ]);
}
