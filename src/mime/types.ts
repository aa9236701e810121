// The parser's output: plain JSON-serializable data (no Buffers, no undefined), stored once
// at delivery and read by IMAP FETCH / SEARCH / SORT without re-parsing the message.
import type { Address } from './address.js';

export interface Disposition {
  /** Lower-cased disposition type: "inline", "attachment", ... */
  type: string;
  params: Record<string, string>;
}

export interface PartNode {
  /** Byte offset of the part's first header line (for the root: 0). */
  headerStart: number;
  /** End of the header including its blank line; equals bodyStart. */
  headerEnd: number;
  bodyStart: number;
  /** For a part in a multipart: before the line break that precedes the next boundary. */
  bodyEnd: number;
  /** Lower-cased media type and subtype. */
  type: string;
  subtype: string;
  /** Content-Type parameters by lower-case name, RFC 2231 / RFC 2047 decoded. */
  params: Record<string, string>;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding, upper-cased; "7BIT" when absent. */
  encoding: string;
  /** Body octets: bodyEnd - bodyStart. */
  size: number;
  /** Body lines, for text/* and message/rfc822|global only (RFC 9051 body-fld-lines). */
  lines: number | null;
  md5: string | null;
  disposition: Disposition | null;
  language: string[] | null;
  location: string | null;
  /**
   * Parts of a multipart, in order. May be empty (no boundary, no delimiter found, or the
   * depth limit): RFC 9051 needs at least one, so the IMAP writer substitutes an empty
   * text/plain part, as other servers do.
   */
  children: PartNode[];
  /** The encapsulated message of a message/rfc822 or message/global part, else null. */
  message: EmbeddedMessage | null;
}

/** RFC 9051 §7.5.2 ENVELOPE, with strings as written in the header (IMAP sends them raw). */
export interface Envelope {
  date: string | null;
  subject: string | null;
  /** Subject with RFC 2047 words decoded, for display. */
  subjectDecoded: string | null;
  from: Address[] | null;
  sender: Address[] | null;
  replyTo: Address[] | null;
  to: Address[] | null;
  cc: Address[] | null;
  bcc: Address[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

export interface EmbeddedMessage {
  envelope: Envelope;
  /** The encapsulated message's own part tree; offsets are absolute into the outer raw. */
  root: PartNode;
}

/** Header-derived values for IMAP SEARCH (RFC 9051 §6.4.4) and SORT (RFC 5256). */
export interface SearchFields {
  /** Whole header values with RFC 2047 words decoded, "" when absent. */
  from: string;
  to: string;
  cc: string;
  bcc: string;
  subject: string;
  /** Date header as epoch milliseconds, null when missing or unparseable. */
  date: number | null;
  messageId: string | null;
  inReplyTo: string | null;
  /** Message-IDs from References, in order, with angle brackets. */
  references: string[];
  /** First address of From / To / Cc (names decoded) for SORT FROM / TO / CC / DISPLAYFROM. */
  firstFrom: Address | null;
  firstTo: Address | null;
  firstCc: Address | null;
}

export interface ParsedMessage {
  /** Total octets of the raw message. */
  size: number;
  root: PartNode;
  envelope: Envelope;
  search: SearchFields;
  /** Decoded text of the text/plain and text/html parts (HTML as text), capped. */
  text: string;
  /**
   * A text part's bytes were cut before its end (extractTextCut): `text` may be shorter than
   * the cap and still not the whole text (UTF-8 in quoted-printable, up to 9 bytes a character).
   */
  textCut: boolean;
}
