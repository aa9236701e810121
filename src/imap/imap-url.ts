/**
 * IMAP URLs (RFC 5092) as CATENATE uses them (RFC 4469 §3): only relative URLs naming a
 * message or message part of the logged-in account are meaningful. They are resolved against
 * the base `imap://user@server/` (authenticated state) or `imap://user@server/<selected>`
 * (selected state) by RFC 3986 §5.2 reference resolution, which for these paths means:
 *
 *   "/Drafts;UIDVALIDITY=385759045/;UID=20/;SECTION=1.MIME"   absolute path
 *   ";UID=20/;SECTION=HEADER"                                  in the selected mailbox
 *   "Drafts/;UID=20"                                           next to the selected mailbox
 *
 *   parseImapUrl(url, selectedMailbox) -> ImapMessageUrl | string (why it is refused)
 *
 * A URL with a scheme or an authority (`imap://...`, `//host/...`), URLAUTH parts (RFC 4467:
 * ;EXPIRE=, ;URLAUTH=), a message list (`?search`) or no UID is refused: the caller answers
 * `NO [BADURL url]`. Mailbox names are %-encoded UTF-8 (RFC 5092 §3.3); the caller also tries
 * modified UTF-7 for a name with `&`, as RFC 2192 clients wrote them.
 */

import { type FetchPartial, parseSection, type Section } from './wire/fetch-items.js';
import { argsFrom, ImapParseError, tryParse } from './wire/parser.js';

export interface ImapMessageUrl {
  /** The decoded mailbox name (UTF-8), before normalization. */
  mailbox: string;
  uidValidity: number | null;
  uid: number;
  /** The whole message when null. */
  section: Section | null;
  partial: FetchPartial | null;
}

const MAX_NUMBER = 4294967295;

// RFC 5092 §11: imessagepart after the mailbox: [uidvalidity] iuid [isection] [ipartial].
const TAIL =
  /^(?:;UIDVALIDITY=([1-9][0-9]{0,9}))?\/;UID=([1-9][0-9]{0,9})(?:\/;SECTION=(.+?))?(?:\/;PARTIAL=([0-9]{1,10})(?:\.([1-9][0-9]{0,9}))?)?$/i;

/** %XX decoding (RFC 3986 §2.1) to bytes; null on a malformed escape. */
function percentDecode(s: string): Buffer | null {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (ch > 0x7e || ch <= 0x20) {
      return null; // RFC 5092 bchar: only printable US-ASCII appears unescaped
    } else {
      out.push(ch);
    }
  }
  return Buffer.from(out);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** %-encodes a mailbox name as the path of a base URL (for relative resolution). */
function encodePath(name: string): string {
  return encodeURIComponent(name).replace(/%2F/g, '/');
}

export function parseImapUrl(url: string, selected: string | null): ImapMessageUrl | string {
  if (url.length === 0) return 'Empty URL';
  // RFC 3986 §3.1 / §4.2: a scheme or an authority makes it absolute or network-path:
  // RFC 4469 §3 only defines URLs of the current session (relative ones).
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(url) || url.startsWith('//'))
    return 'Only relative IMAP URLs of this account are supported';
  if (url.includes('?')) return 'A message list is not a message';
  if (/;(EXPIRE|URLAUTH)=/i.test(url)) return 'URLAUTH is not supported';
  let path: string;
  if (url.startsWith('/')) path = url;
  else {
    // RFC 3986 §5.2.3: merge with the base path "/<selected>" (or "/" with none selected).
    const base = selected === null ? '/' : `/${encodePath(selected)}`;
    if (url.startsWith(';')) {
      // ";UID=..." names a message of the base mailbox itself (RFC 4469 §3: the base URL is
      // the selected mailbox), not a sibling.
      if (selected === null) return 'No mailbox is selected to resolve the URL against';
      path = `${base}/${url}`;
    } else {
      path = base.slice(0, base.lastIndexOf('/') + 1) + url;
    }
  }
  const semi = path.indexOf(';');
  if (semi < 0) return 'The URL names no message (UID missing)';
  let encMailbox = path.slice(1, semi);
  let tail = path.slice(semi);
  // "/INBOX/;UID=5": the slash before ";UID" belongs to iuid, not to the name.
  if (encMailbox.endsWith('/')) {
    encMailbox = encMailbox.slice(0, -1);
    tail = `/${tail}`;
  }
  if (encMailbox.length === 0) return 'The URL names no mailbox';
  const m = TAIL.exec(tail);
  if (!m) return 'Bad IMAP URL syntax';
  const nameBytes = percentDecode(encMailbox);
  if (!nameBytes) return 'Bad %-encoding in the mailbox name';
  let mailbox: string;
  try {
    mailbox = utf8.decode(nameBytes);
  } catch {
    return 'Mailbox name is not UTF-8';
  }
  const uidValidity = m[1] === undefined ? null : Number(m[1]);
  const uid = Number(m[2]);
  if (uid > MAX_NUMBER || (uidValidity !== null && uidValidity > MAX_NUMBER))
    return 'Number out of range';
  let section: Section | null = null;
  if (m[3] !== undefined) {
    const text = percentDecode(m[3]);
    if (!text) return 'Bad %-encoding in the section';
    // The section as FETCH BODY[...] takes it (RFC 5092 §11 enc-section = section-text).
    const parsed = tryParse(() => {
      const c = argsFrom(Buffer.concat([Buffer.from('['), text, Buffer.from(']')]));
      const s = parseSection(c);
      c.end();
      return s;
    });
    if (parsed instanceof ImapParseError) return `Bad section: ${parsed.message}`;
    section = parsed;
  }
  let partial: FetchPartial | null = null;
  if (m[4] !== undefined) {
    const offset = Number(m[4]);
    const length = m[5] === undefined ? Number.MAX_SAFE_INTEGER : Number(m[5]);
    partial = { offset, length };
  }
  return {
    mailbox: mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : mailbox,
    uidValidity,
    uid,
    section,
    partial,
  };
}
