// Delivery status notifications: the message that tells a sender what became of their mail
// (RFC 3464), as a multipart/report (RFC 6522) of three parts: a text for people, a
// message/delivery-status for programs, and the original message or its header.
// Pure: bytes in, bytes out; the worker decides when to send one (shouldNotify) and queues it
// from the null sender (RFC 5321 §6.1, RFC 3461 §6).
import { randomBytes } from 'node:crypto';
import { newMessageId, rfc5322Date } from '../delivery/trace.js';
import { isAscii } from '../mime/charset.js';
import { forEachField, headerBounds } from '../mime/header-scan.js';
import type { RemoteReply, SendRecipient } from './types.js';

export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

export interface DsnRecipient {
  /** The recipient as we tried it (Final-Recipient). */
  address: string;
  /** RFC 3461 §4.2 ORCPT as `type;address`, xtext decoded (Original-Recipient). */
  orcpt?: string;
  action: DsnAction;
  /** RFC 3463 class.subject.detail, e.g. '5.1.1'. */
  status: string;
  /** The host that answered, as a name ('mx.example.org') or 'dns; mx.example.org'. */
  remoteMta?: string;
  /** `type; text`, e.g. 'smtp; 550 5.1.1 no such user' (see smtpDiagnostic). */
  diagnostic?: string;
  lastAttempt?: Date;
  /** For 'delayed': when the queue gives up. */
  willRetryUntil?: Date;
}

export interface DsnOptions {
  /** Our host name (Reporting-MTA, the From domain, the Message-ID domain). */
  reportingMta: string;
  /** The original envelope sender: the DSN's recipient. */
  to: string;
  /** Default `MAILER-DAEMON@<reportingMta>`. */
  from?: string;
  /** RFC 3461 §4.4 ENVID of the original, xtext decoded (Original-Envelope-Id). */
  envid?: string;
  /** RFC 3461 §4.3; when absent we choose (see DEFAULT_MAX_ORIGINAL_BYTES). */
  ret?: 'FULL' | 'HDRS';
  arrivalDate: Date;
  original: Buffer;
  recipients: DsnRecipient[];
  /** A whole original larger than this is returned as its header only. */
  maxOriginalBytes?: number;
  /** The DSN's Date (default now). */
  date?: Date;
}

/**
 * RFC 3461 §4.3 leaves the choice to the MTA when RET is absent, and an MTA may return less
 * than asked for: the whole original is returned (so the sender can resend it without
 * retyping) up to this size, its header only beyond. 1 MiB keeps a bounced 25 MB attachment
 * from landing twice in the sender's mailbox and keeps the DSN under any remote SIZE limit.
 */
export const DEFAULT_MAX_ORIGINAL_BYTES = 1024 * 1024;

/** RFC 5322 §2.1.1: no line longer than 998 octets. */
const MAX_LINE = 998;
/** Characters kept of one diagnostic, address or id: a remote's 2 MB reply stays out. */
const MAX_VALUE = 2000;
/** Recipients listed in one DSN (a message has at most a few thousand). */
const MAX_RECIPIENTS = 10_000;
/** Header fields are folded near this width (RFC 5322 §2.1.1 SHOULD 78). */
const FOLD_AT = 78;
/** A run of characters with no space is cut into pieces this long when folded. */
const MAX_WORD = 200;

const SUBJECTS: Record<'failed' | 'delayed' | 'success', string> = {
  failed: 'Undelivered Mail Returned to Sender',
  delayed: 'Delayed Mail (still being retried)',
  success: 'Successful Mail Delivery Report',
};

type Notify = SendRecipient['notify'];

/**
 * RFC 3461 §4.1: whether the sender asked for a DSN with this action. NEVER: none at all.
 * Without NOTIFY an MTA reports failures and may report delays: we report both (the delay
 * notice tells the sender their mail is not lost). Successes ('delivered', and 'relayed' /
 * 'expanded', RFC 3461 §5.2.2, §5.2.3) only when SUCCESS was asked for.
 */
export function shouldNotify(notify: Notify | undefined, action: DsnAction): boolean {
  if (notify === 'NEVER') return false;
  const want = action === 'failed' ? 'FAILURE' : action === 'delayed' ? 'DELAY' : 'SUCCESS';
  if (notify === undefined || notify.length === 0) return want !== 'SUCCESS';
  return notify.includes(want);
}

/**
 * RFC 3464 §2.3.6 Diagnostic-Code for an SMTP reply: `smtp; 550 5.1.1 text`. The enhanced
 * code is added when the reply text does not start with it already.
 */
export function smtpDiagnostic(reply: RemoteReply): string {
  const text = reply.text.trim();
  const enhanced = reply.enhanced && !text.startsWith(reply.enhanced) ? `${reply.enhanced} ` : '';
  return `smtp; ${reply.code} ${enhanced}${text}`;
}

/**
 * Builds the DSN, CRLF line ends, no line over 998 octets. Null when none may be sent: the
 * original sender is the null reverse-path (RFC 5321 §6.1: MUST NOT, else bounces loop) or
 * not a usable address, or there is no recipient to report on. Never throws on its inputs:
 * fields are cleaned of control characters (no header injection) and bounded.
 *
 * The returned original: RET=HDRS, or an original over maxOriginalBytes, or one that could
 * not travel inside a message (a NUL, a line over 998 octets), gives its header block as
 * text/rfc822-headers (RFC 6522 §4); otherwise the whole message as message/rfc822, with
 * Content-Transfer-Encoding 8bit when it has 8-bit bytes (RFC 2046 §5.2.1 allows 7bit, 8bit
 * or binary there, and no encoding), as Postfix does. An original whose header has UTF-8
 * (an SMTPUTF8 message, RFC 6532) goes as message/global or message/global-headers
 * (RFC 6532 §3.7, RFC 6533 §6), and a report whose addresses are UTF-8 as
 * message/global-delivery-status with the utf-8 address type (RFC 6533 §3, §6). Such a DSN
 * needs 8BITMIME (and SMTPUTF8 for UTF-8 headers) to travel, which the sender had.
 */
export function buildDsn(opts: DsnOptions): Buffer | null {
  const to = cleanAddress(opts.to);
  if (to === null || opts.recipients.length === 0) return null;
  // A host name or address literal; anything else would break the From and Message-ID.
  const host =
    String(opts.reportingMta)
      .replace(/[^A-Za-z0-9.\-_:[\]]/g, '')
      .slice(0, 255) || 'localhost';
  const from = opts.from === undefined ? `MAILER-DAEMON@${host}` : cleanAddress(opts.from);
  if (from === null) return null;
  const recipients = opts.recipients.slice(0, MAX_RECIPIENTS).map(normalize);
  const envid = opts.envid === undefined ? '' : clean(opts.envid, MAX_VALUE, false);
  const kind = recipients.some((r) => r.action === 'failed')
    ? 'failed'
    : recipients.some((r) => r.action === 'delayed')
      ? 'delayed'
      : 'success';

  const original = describeOriginal(opts.original, opts.ret, opts.maxOriginalBytes);
  const status = statusPart(host, envid, opts.arrivalDate, recipients);
  const text = humanText(host, recipients, original.note);
  const parts: Buffer[] = [text, status, original.part];

  let boundary = '';
  do boundary = `=_lbx_${randomBytes(12).toString('hex')}`;
  while (parts.some((p) => p.includes(boundary)));

  const date = opts.date ?? new Date();
  const head = [
    `From: Mail Delivery System <${from}>`,
    `To: <${to}>`,
    `Subject: ${SUBJECTS[kind]}`,
    `Date: ${rfc5322Date(date)}`,
    `Message-ID: ${newMessageId(host)}`,
    // RFC 3834 §5: generated automatically in response to a message; RFC 3834 §2 keeps
    // responders from answering it.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    // RFC 6522 §3: report-type names the second part's type.
    'Content-Type: multipart/report; report-type=delivery-status;',
    `\tboundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message: a delivery status notification.',
    '',
  ].join('\r\n');
  const out: Buffer[] = [Buffer.from(head, 'utf8')];
  for (const p of parts) out.push(Buffer.from(`\r\n--${boundary}\r\n`), p);
  out.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return Buffer.concat(out);
}

interface CleanRecipient {
  address: string;
  orcpt: string | null;
  action: DsnAction;
  status: string;
  remoteMta: string | null;
  diagnostic: string | null;
  lastAttempt: Date | null;
  willRetryUntil: Date | null;
}

const ACTIONS: readonly DsnAction[] = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'];
// RFC 3463 §2: class "." subject "." detail; class 2, 4 or 5; 1-3 digits each.
const STATUS = /^[245]\.\d{1,3}\.\d{1,3}$/;

function normalize(r: DsnRecipient): CleanRecipient {
  const action = ACTIONS.includes(r.action) ? r.action : 'failed';
  const fallback = action === 'failed' ? '5.0.0' : action === 'delayed' ? '4.0.0' : '2.0.0';
  const status = typeof r.status === 'string' && STATUS.test(r.status) ? r.status : fallback;
  const orcpt = r.orcpt ? clean(r.orcpt, MAX_VALUE, false) : '';
  let remote = r.remoteMta ? clean(r.remoteMta, 255, true) : '';
  // RFC 3464 §2.3.5: mta-name-type ";" mta-name; a bare host name is of type dns.
  if (remote !== '' && !remote.includes(';')) remote = `dns; ${remote}`;
  let diag = r.diagnostic ? clean(r.diagnostic, MAX_VALUE, true) : '';
  // RFC 3464 §2.3.6: diagnostic-type ";" text; "smtp" for an SMTP reply, X- for our own.
  if (diag !== '' && !/^[A-Za-z][A-Za-z0-9-]{0,30};/.test(diag)) diag = `X-Letterbox; ${diag}`;
  return {
    address: clean(String(r.address ?? ''), MAX_VALUE, false) || 'unknown',
    orcpt: orcpt === '' ? null : orcpt.includes(';') ? orcpt : `rfc822;${orcpt}`,
    action,
    status,
    remoteMta: remote === '' ? null : remote,
    diagnostic: diag === '' ? null : diag,
    lastAttempt: validDate(r.lastAttempt),
    willRetryUntil: action === 'delayed' ? validDate(r.willRetryUntil) : null,
  };
}

/** RFC 3464 §2.2 per-message fields, then §2.3 per-recipient fields, blank-line separated. */
function statusPart(
  host: string,
  envid: string,
  arrival: Date,
  recipients: CleanRecipient[],
): Buffer {
  const blocks: string[][] = [];
  const msg: string[] = [];
  // §2.2.1: the ENVID, so the sender's software can match the report to its message.
  if (envid !== '') msg.push(...fold('Original-Envelope-Id', envid));
  msg.push(...fold('Reporting-MTA', `dns; ${host}`));
  const arrived = validDate(arrival);
  if (arrived) msg.push(`Arrival-Date: ${rfc5322Date(arrived)}`);
  blocks.push(msg);
  for (const r of recipients) {
    const f: string[] = [];
    if (r.orcpt) f.push(...fold('Original-Recipient', r.orcpt));
    f.push(...fold('Final-Recipient', `${addressType(r.address)}; ${r.address}`));
    f.push(`Action: ${r.action}`, `Status: ${r.status}`);
    if (r.remoteMta) f.push(...fold('Remote-MTA', r.remoteMta));
    if (r.diagnostic) f.push(...fold('Diagnostic-Code', r.diagnostic));
    if (r.lastAttempt) f.push(`Last-Attempt-Date: ${rfc5322Date(r.lastAttempt)}`);
    if (r.willRetryUntil) f.push(`Will-Retry-Until: ${rfc5322Date(r.willRetryUntil)}`);
    blocks.push(f);
  }
  const body = `${blocks.map((b) => b.join('\r\n')).join('\r\n\r\n')}\r\n`;
  const global = !isAsciiString(body);
  const head = [
    'Content-Description: Delivery report',
    // RFC 6533 §6.1: UTF-8 addresses need the global type.
    `Content-Type: message/${global ? 'global-delivery-status' : 'delivery-status'}`,
  ];
  if (global) head.push('Content-Transfer-Encoding: 8bit');
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`, 'utf8');
}

/** RFC 3464 §2.3.2 rfc822 for an ASCII address, RFC 6533 §3 utf-8 for an internationalized one. */
function addressType(address: string): string {
  return isAsciiString(address) ? 'rfc822' : 'utf-8';
}

function humanText(host: string, recipients: CleanRecipient[], note: string): Buffer {
  const lines: string[] = [`This is the mail system at ${host}.`, ''];
  const failed = recipients.filter((r) => r.action === 'failed');
  const delayed = recipients.filter((r) => r.action === 'delayed');
  const done = recipients.filter((r) => r.action !== 'failed' && r.action !== 'delayed');
  if (failed.length > 0) {
    lines.push(
      ...wrap(
        'Your message could not be delivered to the recipients below. This is final: it will ' +
          'not be tried again. The reasons are given under each address.',
      ),
      '',
    );
    for (const r of failed) lines.push(...describe(r, 'delivery failed'));
  }
  if (delayed.length > 0) {
    lines.push(
      ...wrap(
        'Your message has not yet been delivered to the recipients below. The mail system ' +
          'keeps trying; you do not need to send it again. If it still cannot be delivered ' +
          'when the attempts end, you will get another message.',
      ),
      '',
    );
    for (const r of delayed) {
      const until = r.willRetryUntil ? `, trying until ${rfc5322Date(r.willRetryUntil)}` : '';
      lines.push(...describe(r, `not delivered yet${until}`));
    }
  }
  if (done.length > 0) {
    lines.push(...wrap('Your message was delivered as follows, as you asked to be told.'), '');
    for (const r of done) {
      const what =
        r.action === 'delivered'
          ? 'delivered'
          : r.action === 'relayed'
            ? 'relayed to a system that sends no further reports'
            : 'delivered to a list or alias, which sends no further reports';
      lines.push(...describe(r, what));
    }
  }
  lines.push(...wrap(note));
  const body = `${lines.join('\r\n')}\r\n`;
  const ascii = isAsciiString(body);
  const head = [
    'Content-Description: Notification',
    `Content-Type: text/plain; charset=${ascii ? 'us-ascii' : 'utf-8'}`,
  ];
  if (!ascii) head.push('Content-Transfer-Encoding: 8bit');
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`, 'utf8');
}

function describe(r: CleanRecipient, what: string): string[] {
  const out = wrap(`<${r.address}>: ${what}`);
  if (r.diagnostic) {
    const text = r.diagnostic.slice(r.diagnostic.indexOf(';') + 1).trim();
    out.push(...wrap(text, '    '));
  }
  if (r.remoteMta) {
    out.push(
      ...wrap(`(reported by ${r.remoteMta.slice(r.remoteMta.indexOf(';') + 1).trim()})`, '    '),
    );
  }
  out.push('');
  return out;
}

interface OriginalPart {
  part: Buffer;
  /** A sentence for the text part saying what is attached. */
  note: string;
}

function describeOriginal(
  original: Buffer,
  ret: 'FULL' | 'HDRS' | undefined,
  maxBytes = DEFAULT_MAX_ORIGINAL_BYTES,
): OriginalPart {
  let why = '';
  if (ret === 'HDRS') why = 'as the sender asked (RET=HDRS)';
  else if (original.length > maxBytes) why = `because the message is larger than ${maxBytes} bytes`;
  if (why === '') {
    // The DSN has CRLF line ends only (bare CR or LF is how SMTP smuggling starts): an
    // original with others, which the SMTP server never queues (smtp.bare_lf), is normalized.
    const whole = toCrlf(original);
    if (whole.includes(0) || hasLongLine(whole)) {
      why = 'because the message has lines a mail message may not carry';
    } else {
      const { fieldsEnd, bodyStart } = headerBounds(whole);
      const utf8Header = !isAscii(whole, 0, fieldsEnd);
      const head = [
        'Content-Description: Original message',
        `Content-Type: message/${utf8Header ? 'global' : 'rfc822'}`,
      ];
      if (utf8Header || !isAscii(whole, bodyStart)) head.push('Content-Transfer-Encoding: 8bit');
      return {
        part: Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), whole]),
        note: 'The original message is attached.',
      };
    }
  }
  // The header block only, field by field, at most maxBytes of it: the fields that fit, in
  // order; a field with a line over 998 octets is left out. Only so much of a huge header
  // block is read as could be kept.
  const { fieldsEnd } = headerBounds(original);
  const readTo = Math.min(fieldsEnd, maxBytes + 64 * 1024);
  const kept: Buffer[] = [];
  let size = 0;
  let dropped = readTo < fieldsEnd;
  let utf8Header = false;
  forEachField(original, 0, readTo, (start, colon, valueEnd, end) => {
    if (colon < 0) return false; // a line without a colon is no field (RFC 5322 §2.2)
    // A field that reaches the cut may go on past it.
    if (readTo < fieldsEnd && end >= readTo) return true;
    const raw = toCrlf(original.subarray(start, valueEnd));
    if (size + raw.length + 2 > maxBytes) {
      dropped = true;
      return true;
    }
    if (hasLongLine(raw)) {
      dropped = true;
      return false;
    }
    if (!utf8Header && !isAscii(raw)) utf8Header = true;
    kept.push(raw, Buffer.from('\r\n'));
    size += raw.length + 2;
    return false;
  });
  const head = [
    'Content-Description: Original message header',
    `Content-Type: ${utf8Header ? 'message/global-headers' : 'text/rfc822-headers'}`,
  ];
  if (utf8Header) head.push('Content-Transfer-Encoding: 8bit');
  const part = Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), ...kept]);
  const some = dropped ? ' (some of its fields were left out for their size)' : '';
  return { part, note: `The original message's header${some} is attached, ${why}.` };
}

/** Each bare CR and bare LF as CRLF; the same Buffer when there is none. */
function toCrlf(buf: Buffer): Buffer {
  let bare = false;
  for (let i = buf.indexOf(0x0a); i >= 0 && !bare; i = buf.indexOf(0x0a, i + 1)) {
    if (i === 0 || buf[i - 1] !== 0x0d) bare = true;
  }
  for (let i = buf.indexOf(0x0d); i >= 0 && !bare; i = buf.indexOf(0x0d, i + 1)) {
    if (buf[i + 1] !== 0x0a) bare = true;
  }
  if (!bare) return buf;
  const out = Buffer.allocUnsafe(buf.length * 2);
  let n = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b === 0x0d) {
      out[n++] = 0x0d;
      out[n++] = 0x0a;
      if (buf[i + 1] === 0x0a) i++;
    } else if (b === 0x0a) {
      out[n++] = 0x0d;
      out[n++] = 0x0a;
    } else out[n++] = b;
  }
  return out.subarray(0, n);
}

/** Some line longer than 998 octets (without its line break). */
function hasLongLine(buf: Buffer): boolean {
  let pos = 0;
  while (pos < buf.length) {
    let nl = buf.indexOf(0x0a, pos);
    if (nl < 0) nl = buf.length;
    const end = nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl;
    if (end - pos > MAX_LINE) return true;
    pos = nl + 1;
  }
  return false;
}

/**
 * A header field folded at spaces near 78 columns (RFC 5322 §2.2.3); a run without spaces
 * is cut into MAX_WORD pieces, so no line comes near 998 octets.
 */
function fold(name: string, value: string): string[] {
  const out: string[] = [];
  let line = `${name}:`;
  let empty = true;
  for (const word of value.split(' ')) {
    if (word === '') continue;
    for (const piece of pieces(word)) {
      if (!empty && line.length + 1 + piece.length > FOLD_AT) {
        out.push(line);
        line = '';
      }
      line += ` ${piece}`;
      empty = false;
    }
  }
  out.push(line);
  return out;
}

/** Text lines for the human part: wrapped at spaces, long runs cut, every line indented. */
function wrap(text: string, indent = ''): string[] {
  const out: string[] = [];
  let line = indent;
  for (const word of text.split(' ')) {
    if (word === '') continue;
    for (const piece of pieces(word)) {
      if (line.length > indent.length && line.length + 1 + piece.length > FOLD_AT) {
        out.push(line);
        line = indent;
      }
      line += line.length > indent.length ? ` ${piece}` : piece;
    }
  }
  if (line.length > indent.length) out.push(line);
  return out;
}

/** A word cut into pieces of at most MAX_WORD characters, never inside a surrogate pair. */
function pieces(word: string): string[] {
  if (word.length <= MAX_WORD) return [word];
  const out: string[] = [];
  let cur = '';
  for (const ch of word) {
    if (cur.length + ch.length > MAX_WORD) {
      out.push(cur);
      cur = '';
    }
    cur += ch;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/**
 * One line of text from untrusted words: control characters (CR, LF: header injection)
 * become spaces, runs of spaces one, at most `max` characters; with `ascii`, anything
 * outside printable ASCII becomes '?' (a remote's reply, a host name).
 */
function clean(s: string, max: number, ascii: boolean): string {
  let t = String(s).slice(0, max * 2);
  t = t.replace(/[\x00-\x1f\x7f]/g, ' ');
  if (ascii) t = t.replace(/[^\x20-\x7e]/g, '?');
  return t.replace(/ {2,}/g, ' ').trim().slice(0, max);
}

/** An address fit for To/From: no spaces, controls or brackets; '' (null sender) is null. */
function cleanAddress(s: string): string | null {
  if (typeof s !== 'string' || s === '' || s.length > MAX_VALUE) return null;
  if (/[\x00-\x20\x7f<>]/.test(s)) return null;
  return s;
}

function validDate(d: Date | undefined): Date | null {
  return d instanceof Date && Number.isFinite(d.getTime()) ? d : null;
}

function isAsciiString(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}
