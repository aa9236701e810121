// RFC 2047 encoded-word decoding: =?charset?B|Q?text?=
import { decodeCharset } from './charset.js';

// RFC 2047 §2: charset and encoded-text contain no whitespace and no '?'.
// Matched anywhere (not only between whitespace) because many mailers glue words to text.
const WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function qDecode(text: string): Buffer {
  // RFC 2047 §4.2: "_" is a space, "=XX" a byte; a malformed "=" stays literal.
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5f) out.push(0x20);
    else if (c === 0x3d && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(c & 0xff);
  }
  return Buffer.from(out);
}

function bDecode(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  return Buffer.from(text, 'base64');
}

interface Word {
  start: number;
  end: number;
  charset: string;
  bytes: Buffer;
}

/**
 * Decodes every RFC 2047 encoded word in a header value. Whitespace between two adjacent
 * encoded words is dropped (RFC 2047 §6.2). Adjacent words in the same charset are decoded
 * together, because mailers often split one multi-byte character across two words.
 * Words that do not decode (bad base64) are left as they are. Never throws.
 */
export function decodeEncodedWords(value: string): string {
  if (!value.includes('=?')) return value;
  const words: Word[] = [];
  for (const m of value.matchAll(WORD)) {
    const enc = m[2].toLowerCase();
    const bytes = enc === 'b' ? bDecode(m[3]) : qDecode(m[3]);
    if (bytes === null) continue;
    const start = m.index ?? 0;
    words.push({ start, end: start + m[0].length, charset: m[1], bytes });
  }
  if (words.length === 0) return value;
  let out = '';
  let pos = 0;
  let i = 0;
  while (i < words.length) {
    const w = words[i];
    out += value.slice(pos, w.start);
    const group = [w.bytes];
    let end = w.end;
    let j = i + 1;
    // Join following words separated only by linear whitespace.
    while (j < words.length && /^[ \t\r\n]*$/.test(value.slice(end, words[j].start))) {
      if (words[j].charset.toLowerCase() !== w.charset.toLowerCase()) break;
      group.push(words[j].bytes);
      end = words[j].end;
      j++;
    }
    // Stateful encodings (ISO-2022-*) reset at the end of each word, and WHATWG decoders
    // reject one escape sequence right after another, so those words decode one by one.
    out += /^iso-2022/i.test(w.charset)
      ? group.map((g) => decodeCharset(g, w.charset)).join('')
      : decodeCharset(Buffer.concat(group), w.charset);
    pos = end;
    // A following word in another charset still drops the whitespace between them.
    if (j < words.length && /^[ \t\r\n]*$/.test(value.slice(end, words[j].start))) {
      pos = words[j].start;
    }
    i = j;
  }
  return out + value.slice(pos);
}
