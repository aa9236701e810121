// SMTP replies as values (RFC 5321 §4.2), with the enhanced status code of RFC 3463 / RFC 2034.
// Handlers return an SmtpReply; only formatReply turns it into bytes. A reply never throws on
// text that came from the client: unsafe characters are replaced, over-long lines are cut.

const ENHANCED_RE = /^([245])\.(\d{1,3})\.(\d{1,3})$/;

// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including the code and CRLF.
const MAX_REPLY_LINE = 512;

export class SmtpReply {
  readonly code: number;
  /** RFC 3463 `class.subject.detail`, or null (greeting, EHLO, 334 and 354 carry none). */
  readonly enhanced: string | null;
  readonly lines: readonly string[];

  /**
   * Throws only on programming errors (a code outside 200..599, an enhanced code that is
   * malformed or whose class disagrees with the reply code); never because of the text.
   */
  constructor(code: number, enhanced: string | null, lines: readonly string[] | string) {
    if (!Number.isInteger(code) || code < 200 || code > 599) {
      throw new RangeError(`SMTP reply code out of range: ${code}`);
    }
    // RFC 3463 §3.1: the class digit agrees with the reply: 2 success, 4 transient, 5 permanent.
    if (
      enhanced !== null &&
      (!ENHANCED_RE.test(enhanced) || enhanced.charCodeAt(0) - 0x30 !== Math.floor(code / 100))
    ) {
      throw new RangeError(`enhanced status ${enhanced} does not fit reply ${code}`);
    }
    this.code = code;
    this.enhanced = enhanced;
    const room = MAX_REPLY_LINE - 4 - (enhanced === null ? 0 : enhanced.length + 1) - 2;
    // One reply line (most replies) is not copied into a list first.
    const list =
      typeof lines === 'string' ? [sanitize(lines, room)] : lines.map((l) => sanitize(l, room));
    if (list.length === 0) list.push('');
    this.lines = Object.freeze(list);
    Object.freeze(this);
  }

  /** 2xx and 3xx: the command was accepted (3xx: send more). */
  get positive(): boolean {
    return this.code < 400;
  }

  /** 4xx: try again later (RFC 5321 §4.2.1). */
  get transient(): boolean {
    return this.code >= 400 && this.code < 500;
  }

  /** 5xx: do not repeat the same command (RFC 5321 §4.2.1). */
  get permanent(): boolean {
    return this.code >= 500;
  }

  /** The reply as text without the final CRLF, for logs and test messages. */
  toString(): string {
    return formatReply(this).toString('latin1').trimEnd();
  }
}

// RFC 5321 §4.2: textstring = 1*(%d09 / %d32-126). Anything else (CR, LF, other controls, and
// non-ASCII that a client without SMTPUTF8 may not expect) becomes '?', so that echoing a
// client argument can neither break the reply framing nor inject a second reply.
const UNSAFE = /[^\t\x20-\x7e]/;
const UNSAFE_ALL = /[^\t\x20-\x7e]/g;

function sanitize(line: string, room: number): string {
  // A test first: a line with nothing to replace (nearly all) is not scanned and copied again.
  let out = UNSAFE.test(line) ? line.replace(UNSAFE_ALL, '?') : line;
  if (out.length > room) out = out.slice(0, Math.max(0, room - 3)) + '...';
  return out;
}

/**
 * RFC 5321 §4.2.1: every line but the last is `code-text`, the last `code SP text`, each
 * ended by CRLF. RFC 2034 §4: with ENHANCEDSTATUSCODES the same enhanced code begins the text
 * of every line. A last line with no text is the bare code (RFC 5321 §4.2: `Reply-code
 * [ SP textstring ]`), except a SASL challenge: RFC 4954 §8 `continue-req = "334" SP [base64]
 * CRLF` keeps the space before an empty challenge, and clients (s-nail) wait for it.
 */
export function formatReply(reply: SmtpReply): Buffer {
  return preformatted.get(reply) ?? format(reply);
}

/**
 * Replies whose text never changes (MAIL's 250, RCPT's 250, DATA's 354, QUIT's 221: one each
 * per message or connection), made and formatted once per process: their wire bytes are
 * shared, never written to (a socket write only reads them).
 */
const preformatted = new WeakMap<SmtpReply, Buffer>();

/** `() => reply` for a fixed reply, formatted once (see preformatted). */
export function fixedReply(
  code: number,
  enhanced: string | null,
  lines: readonly string[] | string,
): () => SmtpReply {
  const reply = new SmtpReply(code, enhanced, lines);
  preformatted.set(reply, format(reply));
  return () => reply;
}

function format(reply: SmtpReply): Buffer {
  const prefix = reply.enhanced === null ? '' : reply.enhanced;
  const n = reply.lines.length;
  let out = '';
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    const text = reply.lines[i];
    const body = (prefix === '' ? text : text === '' ? prefix : `${prefix} ${text}`).trimEnd();
    const sep = !last ? '-' : body !== '' || reply.code === 334 ? ' ' : '';
    out += `${reply.code}${sep}${body}\r\n`;
  }
  return Buffer.from(out, 'latin1');
}
