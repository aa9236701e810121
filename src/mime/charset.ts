// Charset conversion for MIME text: header encoded words, RFC 2231 parameters and text bodies.
// Node 20 ships full ICU, so TextDecoder knows every WHATWG encoding label
// (iso-8859-*, windows-125x, koi8-r, shift_jis, euc-jp, iso-2022-jp, gbk, gb18030, big5, euc-kr).
// Decoding never throws: an unknown charset is read as latin1, which maps every byte to a char.
import { isUtf8, isAscii as nativeIsAscii } from 'node:buffer';
import { TextDecoder } from 'node:util';

const decoders = new Map<string, TextDecoder | null>();

// Labels seen in real mail that WHATWG does not list under that spelling.
const ALIASES: Record<string, string> = {
  utf8: 'utf-8',
  'cp-1250': 'windows-1250',
  'cp-1251': 'windows-1251',
  'cp-1252': 'windows-1252',
  ks_c_5601: 'euc-kr',
  'x-euc-jp': 'euc-jp',
  'x-sjis': 'shift_jis',
  'shift-jis': 'shift_jis',
  'iso-8859-8-i': 'iso-8859-8',
};

function decoderFor(charset: string): TextDecoder | null {
  let label = charset.trim().toLowerCase();
  // RFC 2231 §5: a charset may carry a language suffix, "utf-8*en".
  const star = label.indexOf('*');
  if (star >= 0) label = label.slice(0, star);
  const cp = /^cp(125\d)$/.exec(label);
  if (cp) label = `windows-${cp[1]}`;
  label = ALIASES[label] ?? label;
  const cached = decoders.get(label);
  if (cached !== undefined) return cached;
  let dec: TextDecoder | null = null;
  try {
    dec = new TextDecoder(label);
  } catch {
    dec = null; // unknown or unsupported (e.g. "replacement", "utf-7"): caller falls back
  }
  // Bound the cache: labels come from untrusted mail.
  if (decoders.size < 200) decoders.set(label, dec);
  return dec;
}

/** True when every byte is 7-bit, so any ASCII-compatible decoding gives the same string. */
export function isAscii(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  if (end - start >= 64) return nativeIsAscii(bytes.subarray(start, end));
  for (let i = start; i < end; i++) if (bytes[i]! > 0x7f) return false;
  return true;
}

/**
 * UTF-8 when the bytes are valid UTF-8, otherwise latin1 (each byte one char). Validity is
 * checked first (isUtf8), not by a fatal TextDecoder: its exception per invalid value cost
 * ~4 us, 50 ms for a header of 13,000 short 8-bit fields. A leading BOM is dropped, as the
 * WHATWG decoder does.
 */
export function decodeUtf8OrLatin1(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (isAscii(buf)) return buf.toString('latin1');
  if (!isUtf8(buf)) return buf.toString('latin1');
  const s = buf.toString('utf8');
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/**
 * Decodes bytes in the named charset. A missing charset or a us-ascii one is read as
 * UTF-8 with a latin1 fallback: mail labelled us-ascii (or not labelled) that carries 8-bit
 * bytes is in practice UTF-8 or latin1. Unknown charsets are read as latin1. Never throws.
 */
export function decodeCharset(bytes: Uint8Array, charset: string | null | undefined): string {
  const cs = (charset ?? '').trim().toLowerCase();
  if (cs === '' || cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8') {
    return decodeUtf8OrLatin1(bytes);
  }
  const dec = decoderFor(cs);
  // WHATWG maps iso-8859-1 and us-ascii labels to windows-1252 too; Node 20's decoder for it
  // is plain latin1, so 0x80-0x9f (curly quotes, euro sign) are mapped here.
  if (dec?.encoding === 'windows-1252') return decodeWindows1252(bytes);
  if (dec === null)
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  try {
    return dec.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  }
}

// windows-1252 code points for bytes 0x80-0x9f; the five undefined bytes map to themselves.
const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152,
  0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122,
  0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

function decodeWindows1252(bytes: Uint8Array): string {
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  return latin1.replace(/[\x80-\x9f]/g, (c) =>
    String.fromCharCode(CP1252_HIGH[c.charCodeAt(0) - 0x80]),
  );
}
