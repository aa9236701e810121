/**
 * RFC 8970 PREVIEW text, worked out from the stored structure and bytes.
 *
 *   previewText(raw, root) -> at most PREVIEW_MAX characters of plain text, '' when none
 *
 * §4: the preview is plain text in UTF-8, no longer than 256 characters (200 are advised), with
 * markup removed and no transfer encoding. It is taken from the first text part a reader would
 * see: text/plain or text/html (tags stripped, entities decoded), in a multipart/alternative
 * the plain one; attachments and enclosed messages are skipped; parts that give no text are
 * passed over. Transfer encoding and charset are undone; quoted lines (`>`) and HTML
 * blockquotes are left out unless there is nothing else; runs of whitespace (line breaks
 * included) become one space; control characters go. Only the head of a part is decoded:
 * the preview needs its first characters, never the whole of a large body.
 */
import { decodeCharset } from '../../mime/charset.js';
import { htmlToText } from '../../mime/html.js';
import { decodeTransfer } from '../../mime/transfer.js';
import type { PartNode } from '../../mime/types.js';

/** RFC 8970 §4: "SHOULD limit ... to 200 preview characters", MUST NOT pass 256. */
export const PREVIEW_MAX = 200;
/** Encoded octets of a part decoded for its preview (HTML carries styles and markup first). */
const PLAIN_BYTES = 16 * 1024;
const HTML_BYTES = 128 * 1024;
/** Candidate parts tried before giving up (each may be empty). */
const MAX_CANDIDATES = 8;

function isTextBody(p: PartNode): boolean {
  return (
    p.type === 'text' &&
    (p.subtype === 'plain' || p.subtype === 'html') &&
    p.disposition?.type !== 'attachment'
  );
}

/** Text parts in the order a reader meets them; in an alternative, plain before the rest. */
function candidates(node: PartNode, out: PartNode[]): void {
  if (out.length >= MAX_CANDIDATES) return;
  if (node.children.length > 0) {
    let kids = node.children;
    if (node.subtype === 'alternative') {
      kids = [
        ...kids.filter((k) => isTextBody(k) && k.subtype === 'plain'),
        ...kids.filter((k) => !(isTextBody(k) && k.subtype === 'plain')),
      ];
    }
    for (const k of kids) candidates(k, out);
    return;
  }
  if (node.message === null && isTextBody(node)) out.push(node);
}

/** Drops an incomplete UTF-8 sequence cut off at the end of `b`. */
function trimPartialUtf8(b: Buffer): Buffer {
  let i = b.length - 1;
  let back = 0;
  while (i >= 0 && back < 3 && (b[i]! & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < 0) return b;
  const lead = b[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return need > back + 1 ? b.subarray(0, i) : b;
}

const UTF8_LABELS = new Set(['', 'us-ascii', 'ascii', 'utf-8', 'utf8']);

/**
 * Quoted lines (`>` at the start, RFC 3676 §4.5) are what the message answers, not what it
 * says: left out, as Dovecot does, unless the text is nothing but quotes.
 */
export function withoutQuotes(text: string): string {
  const lines = text.split(/\r?\n/);
  const own = lines.filter((l) => l.charCodeAt(0) !== 0x3e);
  if (own.some((l) => l.trim() !== '')) return own.join('\n');
  return lines.map((l) => l.replace(/^>[> ]*/, '')).join('\n');
}

/** HTML without its <blockquote> elements (nested ones too): the quoted part of a reply. */
export function withoutBlockquotes(html: string): string {
  const tag = /<(\/?)blockquote\b[^<>]*>/gi;
  let out = '';
  let depth = 0;
  let from = 0;
  for (let m = tag.exec(html); m !== null; m = tag.exec(html)) {
    if (m[1] === '') {
      if (depth === 0) out += html.slice(from, m.index);
      depth++;
    } else if (depth > 0) {
      depth--;
      if (depth === 0) from = m.index + m[0].length;
    }
  }
  return depth === 0 ? out + html.slice(from) : out;
}

function partText(raw: Buffer, part: PartNode): string {
  const cap = part.subtype === 'html' ? HTML_BYTES : PLAIN_BYTES;
  const end = Math.min(part.bodyEnd, part.bodyStart + cap, raw.length);
  let bytes = decodeTransfer(raw.subarray(part.bodyStart, end), part.encoding);
  const charset = part.params.charset ?? null;
  // A cut in the middle of a character would make the whole text fail UTF-8 validation.
  if (end < part.bodyEnd && UTF8_LABELS.has((charset ?? '').trim().toLowerCase())) {
    bytes = trimPartialUtf8(bytes);
  }
  const text = decodeCharset(bytes, charset);
  if (part.subtype !== 'html') return withoutQuotes(text);
  const own = htmlToText(withoutBlockquotes(text));
  return own.trim() !== '' ? own : htmlToText(text);
}

/** Whitespace runs to one space, control characters out, at most PREVIEW_MAX code points. */
export function normalizePreview(text: string): string {
  const flat = text
    .replace(/[\x00-\x08\x0e-\x1f\x7f-\x9f\u200b\ufeff]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  let out = '';
  let n = 0;
  for (const ch of flat) {
    if (n === PREVIEW_MAX) break;
    out += ch;
    n++;
  }
  return out.trimEnd();
}

export function previewText(raw: Buffer, root: PartNode): string {
  const parts: PartNode[] = [];
  candidates(root, parts);
  for (const p of parts) {
    const text = normalizePreview(partText(raw, p));
    if (text !== '') return text;
  }
  return '';
}
