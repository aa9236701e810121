// The mbox format (RFC 4155 and mbox(5)): messages one after another in a file, each opened
// by a `From <sender> <asctime date>` line and closed by an empty line, with body lines that
// would read as a From line quoted by a `>`. mboxrd quotes `>*From ` (so one `>` comes off
// every such line when read); mboxo quotes only `From ` (one `>` comes off `>From `).
// Readers of both kinds keep their state in `Status:` (R read, O old), `X-Status:` (A
// answered, F flagged, T deleted, D draft) and `X-Keywords:` fields, which are not part of
// the message: they are turned into flags here and taken out of the bytes stored.
import { fieldNameIs, forEachField, headerBounds } from '../mime/header-scan.js';

export type MboxVariant = 'mboxrd' | 'mboxo';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

// asctime(3): `Www Mmm dd hh:mm:ss yyyy`, read loosely as RFC 4155 §2 asks: the weekday may
// be missing, seconds too, a zone may stand before the year (`CET DST`, `+0100`) or after it,
// and a two-digit year of 70 or more is 19xx, else 20xx.
const ASCTIME =
  /^(?:[A-Za-z]{3},?\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:([A-Za-z]{1,5}(?:\s+DST)?|[+-]\d{4})\s+)?(\d{4}|\d{2})(?:\s+([+-]\d{4}))?(?:\s|$)/;

/** `+0130` -> 90 minutes east of UTC. */
function numericZone(z: string | undefined): number | null {
  if (!z || !/^[+-]\d{4}$/.test(z)) return null;
  const minutes = Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5));
  return z[0] === '-' ? -minutes : minutes;
}

/**
 * The date of a From line's text after the sender, as an instant; null when it is not one.
 * Without a numeric zone the time is taken as UTC (an mbox does not say which local time it
 * was written in).
 */
export function parseAsctime(text: string): Date | null {
  const m = ASCTIME.exec(text.trim());
  if (!m) return null;
  const month = MONTHS.indexOf(m[1]!.toLowerCase());
  if (month < 0) return null;
  const day = Number(m[2]);
  const hour = Number(m[3]);
  const minute = Number(m[4]);
  const second = Number(m[5] ?? 0);
  let year = Number(m[7]);
  if (m[7]!.length === 2) year += year >= 70 ? 1900 : 2000;
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const zone = numericZone(m[8]) ?? numericZone(m[6]) ?? 0;
  const t = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - zone * 60_000;
  const d = new Date(t);
  // Rejects the 31st of a 30-day month and the like (Date.UTC rolls them over).
  return new Date(t + zone * 60_000).getUTCDate() === day ? d : null;
}

export interface FromLine {
  /** The envelope sender as written (may be `-` or `MAILER-DAEMON`). */
  sender: string;
  date: Date;
}

/** A `From ` line (without its line break), or null when it is not a well-formed one. */
export function parseFromLine(line: string): FromLine | null {
  if (!line.startsWith('From ')) return null;
  const rest = line.slice(5).replace(/\r$/, '');
  // Usually one word; a bounce may have none (`From  Mon ...`: two spaces).
  const m = /^(\S*)\s+(.*)$/.exec(rest);
  if (!m) return null;
  const date = parseAsctime(m[2]!);
  if (date) return { sender: m[1]!, date };
  // No sender at all: the date right after `From `.
  const bare = parseAsctime(rest);
  return bare ? { sender: '', date: bare } : null;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The From line for a message (UTC asctime, as RFC 4155 §2 writes it; no line break). */
export function formatFromLine(sender: string, date: Date): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const month = MONTHS[date.getUTCMonth()]!;
  const mon = month[0]!.toUpperCase() + month.slice(1);
  const day = String(date.getUTCDate()).padStart(2, ' ');
  const time = `${p2(date.getUTCHours())}:${p2(date.getUTCMinutes())}:${p2(date.getUTCSeconds())}`;
  const who = sender.length > 0 && !/\s/.test(sender) ? sender : 'MAILER-DAEMON';
  return `From ${who} ${DAYS[date.getUTCDay()]} ${mon} ${day} ${time} ${date.getUTCFullYear()}`;
}

/** Whether a body line is quoted when written (mboxrd: `>*From `). */
export function needsQuote(line: Buffer): boolean {
  let i = 0;
  while (line[i] === 0x3e) i++;
  return line.subarray(i, i + 5).toString('latin1') === 'From ';
}

/** Whether a read line loses one `>` (mboxrd: `>+From `; mboxo: `>From ` only). */
export function isQuoted(line: Buffer, variant: MboxVariant): boolean {
  if (line[0] !== 0x3e) return false;
  if (variant === 'mboxo') return line.subarray(1, 6).toString('latin1') === 'From ';
  return needsQuote(line.subarray(1));
}

export interface MboxMessage {
  /** The message's bytes with CRLF line ends, From line and quoting gone. */
  raw: Buffer;
  from: FromLine;
  /** 1-based line of the From line in the file. */
  line: number;
  /** Over the size limit: raw is empty, only `size` is known. */
  tooBig: boolean;
  size: number;
}

/** Something in the file that is not a message (e.g. text before the first From line). */
export interface MboxJunk {
  line: number;
  reason: string;
}

const CRLF = Buffer.from('\r\n');

/**
 * Splits an mbox read in chunks (a file of any size in bounded memory: one message at a
 * time). A From line begins a message only at the file's start or after an empty line, and
 * only when it parses (RFC 4155 §2: sender and date); any other `From ` line is body text
 * that a writer forgot to quote. Lines end in LF or CRLF, mixed as they come; every line of
 * a message is stored with CRLF (RFC 5322 §2.1).
 */
export class MboxSplitter {
  private carry: Buffer = Buffer.alloc(0);
  private lineNo = 0;
  private prevBlank = true;
  private current: { from: FromLine; line: number; parts: Buffer[]; size: number } | null = null;
  /** Empty lines held back: the last one before a From line is the separator, not the body. */
  private pendingBlank = 0;
  private junkStart = 0;

  constructor(
    private readonly variant: MboxVariant,
    private readonly maxSize: number,
    private readonly emit: (m: MboxMessage) => void,
    private readonly junk: (j: MboxJunk) => void,
  ) {}

  push(chunk: Buffer): void {
    let data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, pos);
      if (nl < 0) break;
      const end = nl > pos && data[nl - 1] === 0x0d ? nl - 1 : nl;
      this.line(data.subarray(pos, end));
      pos = nl + 1;
    }
    // Copied, so that the chunk the rest was cut from can be freed.
    data = data.subarray(pos);
    this.carry = Buffer.from(data);
  }

  end(): void {
    if (this.carry.length > 0) this.line(this.carry);
    this.carry = Buffer.alloc(0);
    this.finish();
    if (this.junkStart > 0) {
      this.junk({ line: this.junkStart, reason: 'text before the first From line' });
      this.junkStart = 0;
    }
  }

  private line(text: Buffer): void {
    this.lineNo++;
    const blank = text.length === 0;
    if (this.prevBlank && text[0] === 0x46 && text.subarray(0, 5).toString('latin1') === 'From ') {
      const from = parseFromLine(text.toString('latin1'));
      if (from) {
        this.finish();
        this.current = { from, line: this.lineNo, parts: [], size: 0 };
        this.prevBlank = false;
        return;
      }
    }
    this.prevBlank = blank;
    const m = this.current;
    if (!m) {
      if (!blank && this.junkStart === 0) this.junkStart = this.lineNo;
      return;
    }
    if (blank) {
      this.pendingBlank++;
      return;
    }
    while (this.pendingBlank > 0) {
      this.add(m, Buffer.alloc(0));
      this.pendingBlank--;
    }
    this.add(m, isQuoted(text, this.variant) ? text.subarray(1) : text);
  }

  private add(m: { parts: Buffer[]; size: number }, text: Buffer): void {
    m.size += text.length + 2;
    if (m.size > this.maxSize) {
      m.parts = [];
      return;
    }
    // Copied: `text` is a view of the read chunk.
    m.parts.push(Buffer.from(text), CRLF);
  }

  private finish(): void {
    const m = this.current;
    this.current = null;
    // One empty line before the next From line (or at the end) is the separator. More
    // than one: the others were the message's.
    if (m && this.pendingBlank > 1) {
      for (let i = 1; i < this.pendingBlank; i++) this.add(m, Buffer.alloc(0));
    }
    this.pendingBlank = 0;
    if (this.junkStart > 0) {
      this.junk({ line: this.junkStart, reason: 'text before the first From line' });
      this.junkStart = 0;
    }
    if (!m) return;
    const tooBig = m.size > this.maxSize;
    this.emit({
      raw: tooBig ? Buffer.alloc(0) : Buffer.concat(m.parts),
      from: m.from,
      line: m.line,
      tooBig,
      size: m.size,
    });
  }
}

/** Fields that hold a mail reader's state in an mbox, not the message's (Dovecot, UW, pine). */
const STATE_FIELDS = ['status', 'x-status', 'x-keywords', 'x-uid', 'x-imapbase', 'x-imap'];

export interface MboxState {
  flags: string[];
  /** Dovecot's and UW's first message that only holds the folder's state (`X-IMAP:`). */
  folderData: boolean;
  /** The message without the state fields. */
  raw: Buffer;
}

/**
 * Flags from the state fields (`Status: RO`, `X-Status: AFTD`, `X-Keywords: a, b`), and the
 * message without those fields. O (old: seen by a reader, not \Recent) has no flag to keep.
 */
export function mboxState(raw: Buffer): MboxState {
  const { fieldsEnd } = headerBounds(raw);
  const flags: string[] = [];
  const cut: Array<[number, number]> = [];
  let folderData = false;
  forEachField(raw, 0, fieldsEnd, (start, colon, valueEnd, end) => {
    const name = STATE_FIELDS.find((n) => fieldNameIs(raw, start, colon, n));
    if (!name) return;
    cut.push([start, end]);
    const value = raw
      .subarray(colon + 1, valueEnd)
      .toString('utf8')
      .replace(/\r?\n/g, '');
    if (name === 'status') {
      if (value.includes('R')) flags.push('\\Seen');
    } else if (name === 'x-status') {
      if (value.includes('A')) flags.push('\\Answered');
      if (value.includes('F')) flags.push('\\Flagged');
      if (value.includes('T')) flags.push('\\Deleted');
      if (value.includes('D')) flags.push('\\Draft');
    } else if (name === 'x-keywords') {
      for (const k of value.split(/[\s,]+/)) {
        // A keyword is an IMAP atom (RFC 9051 §9 flag-keyword); anything else is dropped.
        if (k.length > 0 && !/[\\(){%*"\]\p{Cc}\s]/u.test(k)) flags.push(k);
      }
    } else if (name === 'x-imap') folderData = true;
  });
  if (cut.length === 0) return { flags, folderData, raw };
  const parts: Buffer[] = [];
  let pos = 0;
  for (const [s, e] of cut) {
    parts.push(raw.subarray(pos, s));
    pos = e;
  }
  parts.push(raw.subarray(pos));
  return { flags, folderData, raw: Buffer.concat(parts) };
}

/**
 * The state fields for a message's flags, as a writer puts them at the end of the header:
 * `Status: RO` (O: every message exported is old), `X-Status:` and `X-Keywords:` when
 * there is something to say.
 */
export function formatMboxState(flags: readonly string[]): string {
  const has = (f: string) => flags.some((x) => x.toLowerCase() === f);
  let s = `Status: ${has('\\seen') ? 'R' : ''}O\n`;
  const x = [
    has('\\answered') ? 'A' : '',
    has('\\flagged') ? 'F' : '',
    has('\\deleted') ? 'T' : '',
    has('\\draft') ? 'D' : '',
  ].join('');
  if (x) s += `X-Status: ${x}\n`;
  const keywords = flags.filter((f) => !f.startsWith('\\'));
  if (keywords.length > 0) s += `X-Keywords: ${keywords.join(' ')}\n`;
  return s;
}
