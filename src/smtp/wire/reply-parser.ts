// The SMTP client's side of replies (RFC 5321 §4.2): bytes from a remote server in, SmtpReply
// values out. The server's side (reply.ts) formats them; both share SmtpReply. Remote input is
// bounded: a line longer than maxLine or a reply of more than maxLines lines is an error as
// soon as it is seen, never buffered to its end (a remote that sends a 2 MB line is cut off
// after maxLine bytes). No regex runs on remote input; no I/O here.
import type { RemoteReply } from '../../queue/types.js';
import { SmtpReply } from './reply.js';

const LF = 0x0a;
const CR = 0x0d;

export interface ReplyLimits {
  /**
   * Longest reply line accepted, CRLF included. RFC 5321 §4.5.3.1.5 says 512 octets, and
   * §4.5.3.1 asks implementations to be liberal: real servers send longer lines now and then.
   */
  maxLine: number;
  /** Most lines in one reply (an EHLO reply has a line per extension). */
  maxLines: number;
}

export const DEFAULT_REPLY_LIMITS: ReplyLimits = { maxLine: 4096, maxLines: 100 };

/** The remote's bytes are not a reply: the connection cannot go on. */
export class ReplySyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplySyntaxError';
  }
}

interface Line {
  code: number;
  last: boolean;
  text: string;
}

/**
 * RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                             Reply-code [ SP textstring ] CRLF
 * A bare code ("250") is accepted (§4.2: the text is optional). A bare LF ends a line too
 * (§4.5.3.1: be liberal in what you accept); the line's text is everything up to it.
 */
function parseLine(bytes: Buffer): Line {
  if (bytes.length < 3) throw new ReplySyntaxError('reply line shorter than a code');
  let code = 0;
  for (let i = 0; i < 3; i++) {
    const d = bytes[i] - 0x30;
    if (d < 0 || d > 9) throw new ReplySyntaxError('reply line does not start with a code');
    code = code * 10 + d;
  }
  // §4.2: the first digit is 2..5 (1yz is unused in SMTP).
  if (code < 200 || code > 599) throw new ReplySyntaxError(`reply code ${code} out of range`);
  const sep = bytes.length > 3 ? bytes[3] : 0x20;
  if (sep !== 0x20 && sep !== 0x2d) throw new ReplySyntaxError('bad separator after reply code');
  return { code, last: sep === 0x20, text: bytes.toString('utf8', 4) };
}

/** `d.ddd.ddd` at the start of `text`, followed by a space or the end: its length, else 0. */
function enhancedLength(text: string, klass: string): number {
  // RFC 3463 §2: class "." subject "." detail; subject and detail 1..3 digits.
  if (text[0] !== klass || text[1] !== '.') return 0;
  let i = 2;
  for (let part = 0; part < 2; part++) {
    const start = i;
    while (i < text.length && i - start < 4 && text[i] >= '0' && text[i] <= '9') i++;
    if (i === start || i - start > 3) return 0;
    if (part === 0) {
      if (text[i] !== '.') return 0;
      i++;
    }
  }
  return i === text.length || text[i] === ' ' ? i : 0;
}

/**
 * Builds the SmtpReply of a complete reply. RFC 2034 §4: with ENHANCEDSTATUSCODES each line's
 * text starts with the enhanced code; it is taken from the first line when its class agrees
 * with the reply code (RFC 3463 §3.1), and stripped from every line that repeats it.
 */
function toReply(lines: Line[]): SmtpReply {
  const code = lines[0].code;
  const n = enhancedLength(lines[0].text, String(code)[0]);
  const enhanced = n > 0 ? lines[0].text.slice(0, n) : null;
  const texts = lines.map((l) =>
    enhanced !== null && l.text.startsWith(enhanced) && enhancedLength(l.text, enhanced[0]) === n
      ? l.text.slice(n + 1)
      : l.text,
  );
  return new SmtpReply(code, enhanced, texts);
}

/**
 * Incremental reply parser: push socket chunks, take complete replies with shift(). Throws
 * ReplySyntaxError from push() on a malformed or over-long line; after that it keeps failing.
 */
export class ReplyParser {
  private readonly limits: ReplyLimits;
  /** The incomplete line's bytes so far (never more than maxLine). */
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** Lines of the reply being read (all with "-" so far). */
  private lines: Line[] = [];
  private readonly replies: SmtpReply[] = [];
  private broken: ReplySyntaxError | null = null;

  constructor(limits: Partial<ReplyLimits> = {}) {
    this.limits = { ...DEFAULT_REPLY_LIMITS, ...limits };
  }

  /** Complete replies waiting to be taken. */
  get pending(): number {
    return this.replies.length;
  }

  /** Bytes were received that do not make a complete reply yet. */
  get midReply(): boolean {
    return this.partialLength > 0 || this.lines.length > 0;
  }

  shift(): SmtpReply | undefined {
    return this.replies.shift();
  }

  /** The most recent complete reply, left in place. */
  peekLast(): SmtpReply | undefined {
    return this.replies[this.replies.length - 1];
  }

  push(chunk: Buffer): void {
    if (this.broken) throw this.broken;
    try {
      this.consume(chunk);
    } catch (err) {
      this.broken = err instanceof ReplySyntaxError ? err : new ReplySyntaxError(String(err));
      this.partial = [];
      this.lines = [];
      throw this.broken;
    }
  }

  private consume(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      const end = lf < 0 ? chunk.length : lf + 1;
      if (this.partialLength + (end - pos) > this.limits.maxLine) {
        throw new ReplySyntaxError(`reply line longer than ${this.limits.maxLine} octets`);
      }
      this.partial.push(chunk.subarray(pos, end));
      this.partialLength += end - pos;
      pos = end;
      if (lf < 0) break;
      const whole = this.partial.length === 1 ? this.partial[0] : Buffer.concat(this.partial);
      this.partial = [];
      this.partialLength = 0;
      let stop = whole.length - 1;
      if (stop > 0 && whole[stop - 1] === CR) stop--;
      this.line(parseLine(whole.subarray(0, stop)));
    }
    // Keep no view into a socket chunk beyond this call for long: copy the partial line.
    if (this.partial.length > 0) {
      const copy = Buffer.concat(this.partial);
      this.partial = [copy];
    }
  }

  private line(l: Line): void {
    // RFC 5321 §4.2.1: every line of a multiline reply carries the same code.
    if (this.lines.length > 0 && l.code !== this.lines[0].code) {
      throw new ReplySyntaxError(`reply code changed from ${this.lines[0].code} to ${l.code}`);
    }
    this.lines.push(l);
    if (this.lines.length > this.limits.maxLines) {
      throw new ReplySyntaxError(`reply longer than ${this.limits.maxLines} lines`);
    }
    if (l.last) {
      this.replies.push(toReply(this.lines));
      this.lines = [];
    }
  }
}

/** The contract's view of a reply: code, enhanced code, the lines joined by a space. */
export function toRemoteReply(reply: SmtpReply): RemoteReply {
  return { code: reply.code, enhanced: reply.enhanced, text: reply.lines.join(' ').trim() };
}

/** `250 2.0.0 text` for logs and diagnostics (one line). */
export function describeReply(reply: RemoteReply): string {
  const head = reply.enhanced === null ? `${reply.code}` : `${reply.code} ${reply.enhanced}`;
  return reply.text === '' ? head : `${head} ${reply.text}`;
}
