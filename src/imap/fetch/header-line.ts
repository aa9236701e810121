// FETCH of row items and header sections, a line per message written straight as text and the
// sections' bytes (issue 19: the login mix's FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS
// (FROM SUBJECT DATE)]), what a mail client asks of every message at each login). The same
// bytes as renderHeaderFetch's values through serializeLineParts, without the value tree per
// message (an object per name and value, the serializer's regular expressions per atom, and
// its scan of each section for a quoted string's characters).
import { dateTimeToString } from '../wire/serializer.js';
import {
  bodyLabel,
  type FetchItem,
  type FetchRenderOptions,
  flagsText,
  HEADER_TEXT,
  type RowMessage,
} from './render.js';
import {
  applyPartial,
  blockSectionBytes,
  type HeaderSectionText,
  messageSectionBytes,
} from './sections.js';

/** A row item's text (`UID 7`), from the row and the flags the session shows. */
type RowText = (m: RowMessage, flags: readonly string[]) => string;

/** A section's label (`BODY[HEADER.FIELDS (FROM)]`) and how its bytes are found. */
interface SectionPart {
  readonly label: string;
  readonly text: HeaderSectionText;
  readonly partial: Extract<FetchItem, { kind: 'body' }>['partial'];
  /** RFC822.HEADER: the whole header, under its own name. */
  readonly whole: boolean;
}

/**
 * A line `* n FETCH (...)\r\n` after its `* n FETCH (`: the items' text and each section's
 * bytes as one Buffer (text as latin1, as the serializer writes atoms: ASCII, or a keyword's
 * 8-bit characters as their bytes), which depends on the message alone and not on the session's
 * sequence number, so that it can be kept with the message (fetch/line-cache.ts). Null when a
 * section's bytes hold no line end (an empty selection, a header of one unterminated line):
 * the serializer may quote them, so the caller writes that line the general way.
 */
export type HeaderLine = (
  msg: RowMessage,
  flags: readonly string[],
  /** The message's bytes, or its header block when `block` (BlobStore.readHeaders). */
  bytes: Buffer,
  block: boolean,
) => Buffer | null;

const NOT_ASCII = /[^\x00-\x7f]/;

/**
 * The line writer for items headerItemsOnly accepts, made once per FETCH; the items in
 * renderHeaderFetch's order (RFC 9051 §7.5.2; UID first for UID FETCH, §6.4.9; MODSEQ last
 * once CONDSTORE is on, RFC 7162 §3.2.4). Null when a label is not ASCII (a header field name
 * in 8-bit), which the serializer writes as UTF-8 bytes.
 */
export function headerLineRenderer(
  items: readonly FetchItem[],
  opts: FetchRenderOptions,
): HeaderLine | null {
  const parts: Array<RowText | SectionPart> = [];
  const names = items.flatMap((it) => (it.kind === 'simple' ? [it.name] : []));
  const uid: RowText = (m) => `UID ${m.uid}`;
  const modseq: RowText = (m) => `MODSEQ (${m.modseq})`;
  if (opts.uidAlways && !names.includes('UID')) parts.push(uid);
  for (const it of items) {
    if (it.kind === 'body') {
      const label = bodyLabel(it);
      if (NOT_ASCII.test(label)) return null;
      parts.push({
        label,
        text: it.section.text as HeaderSectionText,
        partial: it.partial,
        whole: false,
      });
      continue;
    }
    if (it.kind !== 'simple') return null;
    const name = it.name;
    if (name === 'UID') parts.push(uid);
    else if (name === 'FLAGS') parts.push(flagsPart);
    else if (name === 'INTERNALDATE')
      parts.push((m) => `INTERNALDATE ${dateTimeToString(m.internalDate, m.internalZone)}`);
    else if (name === 'RFC822.SIZE') parts.push((m) => `RFC822.SIZE ${m.size}`);
    else if (name === 'MODSEQ') parts.push(modseq);
    else if (name === 'RFC822.HEADER')
      parts.push({
        label: 'RFC822.HEADER',
        text: HEADER_TEXT as HeaderSectionText,
        partial: null,
        whole: true,
      });
    else return null;
  }
  if (opts.condstore && !names.includes('MODSEQ')) parts.push(modseq);
  return (msg, flags, bytes, block) => {
    const out: Buffer[] = [];
    let size = 0;
    let text = '';
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) text += ' ';
      const p = parts[i]!;
      if (typeof p === 'function') {
        // Only keywords can be 8-bit (the labels were checked, numbers and dates are ASCII):
        // latin1 writes them as the serializer's atoms do, and ASCII as it is.
        text += p(msg, flags);
        continue;
      }
      const section = p.whole
        ? block
          ? bytes
          : messageSectionBytes(bytes, HEADER_TEXT)
        : block
          ? blockSectionBytes(bytes, p.text)
          : messageSectionBytes(bytes, p.text);
      const data = applyPartial(section, p.partial);
      // RFC 9051 §4.3: bytes with CR or LF can only be a literal; the serializer sends any
      // other as a quoted string when it can, so those go its way.
      if (data.indexOf(0x0a) < 0 && data.indexOf(0x0d) < 0) return null;
      text += `${p.label} {${data.length}}\r\n`;
      const head = Buffer.from(text, 'latin1');
      out.push(head, data);
      size += head.length + data.length;
      text = '';
    }
    const tail = Buffer.from(`${text})\r\n`, 'latin1');
    out.push(tail);
    size += tail.length;
    // A memory of its own, not a slice of Node's shared pool: the line may be kept.
    const line = Buffer.allocUnsafeSlow(size);
    let at = 0;
    for (const b of out) at += b.copy(line, at);
    return line;
  };
}

/** FLAGS (...): the keywords in it may be 8-bit, written as latin1 bytes as the serializer's atoms. */
const flagsPart: RowText = (_, f) => `FLAGS (${flagsText(f)})`;
