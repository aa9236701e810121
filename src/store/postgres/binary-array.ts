// A text[] parameter in PostgreSQL's binary format, so that the server reads each element as
// it is instead of parsing an array literal (issue 17). The driver sends a JS array as the
// text `{"...","..."}`, every quote and backslash escaped, and PostgreSQL's `array_in` walks
// it again character by character: for an append group's folded texts and words (about 20 KB
// a 10 KB message) that was 9% of PostgreSQL's CPU per delivery (perf of the backends under
// bench/scale/append-cost.ts). The driver sends a Buffer parameter in binary, which a
// parameter typed `$n::text[]` reads with `array_recv`: each element's bytes are copied, and
// checked as UTF-8 (converted to the database's encoding, as a text parameter is).
//
// The format is array_send's (PostgreSQL's src/backend/utils/adt/arrayfuncs.c): the number
// of dimensions, whether any element is null, the element type's OID, then per dimension
// its length and lower bound; then per element its length in bytes (-1 for null) and its
// bytes. Strings are written as UTF-8 by Buffer (a lone surrogate as U+FFFD), as the
// driver writes a text parameter.

/** pg_type's OID of `text`. */
const TEXT_OID = 25;

/**
 * `values` as a binary text[] parameter (a one-dimensional array from index 1). An element
 * given as bytes is UTF-8 already (search-words.ts searchWordsUtf8) and is copied as it is.
 */
export function textArray(values: ReadonlyArray<string | Uint8Array | null>): Buffer {
  const n = values.length;
  if (n === 0) {
    // No dimensions: the empty array.
    const empty = Buffer.alloc(12);
    empty.writeInt32BE(TEXT_OID, 8);
    return empty;
  }
  const lengths = new Int32Array(n);
  let size = 20;
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      lengths[i] = -1;
      nulls = 1;
      size += 4;
    } else {
      const len = typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length;
      lengths[i] = len;
      size += 4 + len;
    }
  }
  const out = Buffer.allocUnsafe(size);
  out.writeInt32BE(1, 0);
  out.writeInt32BE(nulls, 4);
  out.writeInt32BE(TEXT_OID, 8);
  out.writeInt32BE(n, 12);
  out.writeInt32BE(1, 16);
  let at = 20;
  for (let i = 0; i < n; i++) {
    const len = lengths[i]!;
    out.writeInt32BE(len, at);
    at += 4;
    if (len <= 0) continue;
    const v = values[i]!;
    if (typeof v === 'string') at += out.write(v, at, len, 'utf8');
    else {
      out.set(v, at);
      at += len;
    }
  }
  return out;
}
