// PostgreSQL's text types cannot hold the NUL character (U+0000): a parameter with one is
// refused ('invalid byte sequence for encoding "UTF8": 0x00'), whole statement and all.
// A message's decoded text and header fields can hold one (a base64 text part, an encoded
// word "=?utf-8?q?=00?=", a raw NUL in DATA), and SQLite stores it as it is. So that such a
// message is delivered over PostgreSQL too, instead of refused at every retry, the text
// columns of its index get U+FFFD (REPLACEMENT CHARACTER) in its place: the same length, so
// a needle without NUL matches exactly where it did, and IMAP cannot send a NUL in a search
// key anyway (RFC 9051 §4.3: CHAR8 excludes %x00). The message's bytes are BYTEA and stay
// whole; FETCH of them is unchanged.
import type { MessageIndex } from '../types.js';

const NUL = '\u0000';
const REPLACEMENT = '\ufffd';

/** `s` with every NUL replaced (the same string when it has none). */
export function nulFree(s: string): string {
  return s.includes(NUL) ? s.replaceAll(NUL, REPLACEMENT) : s;
}

/** A value's strings with NUL replaced, deeply; the value itself when none had one. */
function nulFreeValue<T>(v: T): T {
  if (typeof v === 'string') return nulFree(v) as T;
  if (Array.isArray(v)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const e = nulFreeValue(v[i]);
      if (e === v[i]) continue;
      out ??= [...v];
      out[i] = e;
    }
    return (out ?? v) as T;
  }
  if (v !== null && typeof v === 'object') {
    let out: Record<string, unknown> | null = null;
    for (const [k, e] of Object.entries(v)) {
      const f = nulFreeValue(e);
      if (f === e) continue;
      out ??= { ...(v as Record<string, unknown>) };
      out[k] = f;
    }
    return (out ?? v) as T;
  }
  return v;
}

/**
 * The index with NUL replaced in what goes into text columns: the text, the search fields,
 * the envelope (its address texts are columns of their own). The part tree is stored as
 * JSON, which writes a NUL as an escape, and is kept as it is.
 */
export function nulFreeIndex(idx: MessageIndex): MessageIndex {
  const text = nulFree(idx.text);
  const search = nulFreeValue(idx.search);
  const envelope = nulFreeValue(idx.envelope);
  if (text === idx.text && search === idx.search && envelope === idx.envelope) return idx;
  return { ...idx, text, search, envelope };
}
