// Text extraction for full-text search: text/plain and text/html parts, transfer- and
// charset-decoded, HTML reduced to text, including parts of forwarded messages.
import { decodeCharset } from './charset.js';
import { htmlToText } from './html.js';
import { decodeTransfer } from './transfer.js';
import type { PartNode } from './types.js';

/** Characters of text kept per message: enough for search, bounded for storage. */
export const TEXT_CAP = 1 << 20;
// Encoded bytes looked at per part: quoted-printable can take 3 bytes per character.
const ENCODED_CAP = TEXT_CAP * 4;

function partText(raw: Buffer, part: PartNode, cap: number, cut: { bytes: boolean }): string {
  // Quoted-printable can take 3 bytes per character, UTF-8 up to 4: enough bytes for `cap`
  // in most texts, not in all (UTF-8 in quoted-printable takes up to 9 bytes a character).
  const end = Math.min(part.bodyEnd, part.bodyStart + Math.min(ENCODED_CAP, cap * 4));
  if (end < part.bodyEnd) cut.bytes = true;
  const bytes = decodeTransfer(raw.subarray(part.bodyStart, end), part.encoding);
  const text = decodeCharset(bytes, part.params.charset ?? null);
  return part.subtype === 'html' ? htmlToText(text) : text;
}

/** The text of the message's text parts, at most `cap` characters (TEXT_CAP at most). */
export function extractText(raw: Buffer, root: PartNode, cap = TEXT_CAP): string {
  return extractTextCut(raw, root, cap).text;
}

/**
 * extractText, and whether a part's bytes were cut before its end (its text may then be
 * shorter than `cap` and still not the whole text: the full-text index marks it cut).
 */
export function extractTextCut(
  raw: Buffer,
  root: PartNode,
  cap = TEXT_CAP,
): { text: string; cut: boolean } {
  const cut = { bytes: false };
  cap = Math.min(cap, TEXT_CAP);
  const out: string[] = [];
  let total = 0;
  const stack: PartNode[] = [root];
  while (stack.length > 0 && total < cap) {
    const part = stack.pop()!;
    if (part.children.length > 0) {
      for (let i = part.children.length - 1; i >= 0; i--) stack.push(part.children[i]);
    } else if (part.message) {
      stack.push(part.message.root);
    } else if (part.type === 'text' && (part.subtype === 'plain' || part.subtype === 'html')) {
      const t = partText(raw, part, cap - total, cut);
      if (t !== '') {
        out.push(t);
        total += t.length + 1;
      }
    }
  }
  const text = out.join('\n');
  return { text: text.length > cap ? text.slice(0, cap) : text, cut: cut.bytes };
}
