// Content-Type / Content-Disposition values with parameters (RFC 2045 §5.1, RFC 2183),
// RFC 2231 continuations and charsets, and RFC 2047 words inside quoted values.
import { decodeCharset, decodeUtf8OrLatin1 } from './charset.js';
import { stripComments } from './comments.js';
import { decodeEncodedWords } from './encoded-words.js';

export interface ParamValue {
  /** The main value, lower-cased and without comments: "text/plain", "attachment". */
  value: string;
  /** Parameters by lower-case name; the first occurrence wins. */
  params: Record<string, string>;
}

interface Segment {
  index: number;
  encoded: boolean;
  text: string;
}

function setParam(obj: Record<string, string>, key: string, value: string): void {
  if (Object.hasOwn(obj, key)) return;
  // defineProperty so that a name like "__proto__" is an ordinary own property.
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Skips whitespace and (nested) comments, RFC 5322 §3.2.2 CFWS. */
function skipCfws(s: string, i: number): number {
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') i++;
    else if (c === '(') {
      let depth = 0;
      for (; i < s.length; i++) {
        if (s[i] === '\\') i++;
        else if (s[i] === '(') depth++;
        else if (s[i] === ')' && --depth === 0) {
          i++;
          break;
        }
      }
    } else break;
  }
  return i;
}

/**
 * Removes a comment at the end of an unquoted value, with the whitespace before it: what
 * `v.replace(/\s+\([^()]*\)\s*$/, '')` does, without its quadratic backtracking over a long
 * run of whitespace that is not followed by a comment.
 */
function dropTrailingComment(v: string): string {
  const t = v.trimEnd();
  if (!t.endsWith(')')) return v;
  const open = t.lastIndexOf('(');
  // [^()]*: no ")" inside (and no "(" after the last one); \s+: whitespace right before.
  if (open <= 0 || t.indexOf(')', open) !== t.length - 1 || !/\s/.test(t[open - 1])) return v;
  return t.slice(0, open).trimEnd();
}

/** Reads a quoted string starting at the opening quote; unterminated runs to the end. */
function readQuoted(s: string, i: number): [string, number] {
  let out = '';
  for (i++; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) out += s[++i];
    else if (c === '"') return [out, i + 1];
    else out += c;
  }
  return [out, i];
}

function percentDecode(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) out.push(c);
    else for (const b of Buffer.from(text[i], 'utf8')) out.push(b);
  }
  return Buffer.from(out);
}

/** RFC 2231 §3-4: joins name*0, name*1*, ... and decodes charset'language'%XX text. */
function joinSegments(segments: Segment[]): string {
  segments.sort((a, b) => a.index - b.index);
  let charset: string | null = null;
  const parts: Buffer[] = [];
  segments.forEach((seg, n) => {
    let text = seg.text;
    if (seg.encoded && n === 0) {
      const q1 = text.indexOf("'");
      const q2 = q1 >= 0 ? text.indexOf("'", q1 + 1) : -1;
      if (q2 >= 0) {
        charset = text.slice(0, q1) || null;
        text = text.slice(q2 + 1);
      }
    }
    parts.push(seg.encoded ? percentDecode(text) : Buffer.from(text, 'utf8'));
  });
  const bytes = Buffer.concat(parts);
  return charset ? decodeCharset(bytes, charset) : decodeUtf8OrLatin1(bytes);
}

/**
 * Parses `value; name=token; name="quoted"` into a lower-cased main value and parameters.
 * Tolerates unquoted values with spaces, stray semicolons, missing values and unterminated
 * quotes. RFC 2047 words in parameter values are decoded (not RFC-conformant, but common
 * for filenames), except in "boundary", which must stay byte-exact. Never throws.
 */
export function parseParamValue(input: string): ParamValue {
  let i = skipCfws(input, 0);
  let end = input.indexOf(';', i);
  if (end < 0) end = input.length;
  const value = stripComments(input.slice(i, end)).trim().toLowerCase();
  const params: Record<string, string> = {};
  const segs = new Map<string, Segment[]>();
  i = end;
  // The next '=' at or after i, searched again only once i has passed it: "; a; a; a ...=x"
  // would otherwise scan to the far '=' once per parameter (quadratic).
  let nextEq = -1;
  while (i < input.length) {
    i = skipCfws(input, i + 1); // past ';'
    if (nextEq < i) {
      nextEq = input.indexOf('=', i);
      if (nextEq < 0) nextEq = input.length;
    }
    const eq = nextEq < input.length ? nextEq : -1;
    const semi = input.indexOf(';', i);
    if (eq < 0 || (semi >= 0 && semi < eq)) {
      // A name without a value: skip to the next parameter.
      i = semi < 0 ? input.length : semi;
      continue;
    }
    const name = input.slice(i, eq).trim().toLowerCase();
    i = skipCfws(input, eq + 1);
    let val: string;
    let quoted = false;
    if (input[i] === '"') {
      [val, i] = readQuoted(input, i);
      quoted = true;
      const next = input.indexOf(';', i);
      i = next < 0 ? input.length : next;
    } else {
      const next = input.indexOf(';', i);
      const stop = next < 0 ? input.length : next;
      // A trailing comment is dropped; parentheses inside a value ("a (1).pdf") are kept.
      val = dropTrailingComment(input.slice(i, stop)).trim();
      i = stop;
    }
    if (name === '') continue;
    const m = /^(.+?)\*(?:(\d{1,3})(\*)?|)$/.exec(name);
    if (m) {
      // RFC 2231: "name*" (one encoded segment) or "name*N" / "name*N*".
      const base = m[1];
      const index = m[2] === undefined ? 0 : Number(m[2]);
      const encoded = m[2] === undefined ? true : m[3] === '*';
      const list = segs.get(base) ?? [];
      if (!list.some((s) => s.index === index)) list.push({ index, encoded, text: val });
      segs.set(base, list);
      continue;
    }
    const decoded =
      name !== 'boundary' && (quoted || val.includes('=?')) ? decodeEncodedWords(val) : val;
    setParam(params, name, decoded);
  }
  // RFC 2231 values take precedence over a plain parameter of the same name.
  for (const [base, list] of segs) {
    delete params[base];
    setParam(params, base, joinSegments(list));
  }
  return { value, params };
}
