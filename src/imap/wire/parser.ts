/**
 * IMAP command parser over a ReceivedCommand (receiver.ts): RFC 9051 §9 formal syntax, with
 * what RFC 3501 adds. No I/O, no store.
 *
 *   const parsed = parseCommand(ev.command);
 *   if (parsed instanceof ImapParseError) -> `${parsed.tag ?? '*'} BAD ${parsed.message}`
 *   else dispatch on parsed.name ('FETCH', 'UID FETCH', ...) with parsed.tag and parsed.args
 *
 * `args` is an ArgCursor positioned right after the command name. Its readers consume one
 * syntax element each (`space()` between them, `end()` at the end) and THROW an ImapParseError
 * on bad syntax; run a command's argument parsing inside tryParse(() => ...), which turns that
 * into a returned value (never an exception past the handler). Errors carry the human text for
 * `BAD` (or `NO` with a response code, e.g. BADCHARSET), and parseCommand fills in the tag.
 */
import {
  type ImapDate,
  parseDateText,
  parseDateTimeText,
  parseZonedDateTimeText,
} from './dates.js';
import type { ReceivedCommand } from './receiver.js';
import { normalizeRange, type SeqNumber, type SeqRange, type SequenceSet } from './sequence.js';

export class ImapParseError extends Error {
  constructor(
    message: string,
    /** The command's tag, once known (parseCommand sets it). */
    public tag?: string,
    /** Response code for the answer, e.g. 'BADCHARSET', 'TOOBIG'. */
    public readonly code?: string,
    /** BAD for syntax errors; NO for valid syntax the server will not do (BADCHARSET). */
    public readonly status: 'BAD' | 'NO' = 'BAD',
  ) {
    // The text goes on the wire after `BAD`: client bytes echoed in it must not break the
    // response line (CR/LF) nor make it huge.
    super(message.replace(/[^\x20-\x7e]/g, '?').slice(0, 200));
    this.name = 'ImapParseError';
  }
}

/** Runs argument parsing, returning an ImapParseError instead of throwing it. */
export function tryParse<T>(fn: () => T): T | ImapParseError {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ImapParseError) return err;
    throw err; // a bug, not bad input
  }
}

export interface ParsedCommand {
  readonly tag: string;
  /** Upper-case; for UID commands the two words: 'UID FETCH', 'UID EXPUNGE', ... */
  readonly name: string;
  /** True for the UID forms (RFC 9051 §6.4.9). */
  readonly uid: boolean;
  readonly args: ArgCursor;
}

// RFC 9051 §9: ATOM-CHAR = any CHAR except atom-specials; ASTRING-CHAR adds resp-specials ("]").
const ATOM = new Uint8Array(256);
for (let b = 0x21; b < 0x7f; b++) ATOM[b] = 1;
for (const c of '(){%*"\\]') ATOM[c.charCodeAt(0)] = 0;
const ASTRING = ATOM.slice();
ASTRING[0x5d] = 1;
// list-char = ATOM-CHAR / list-wildcards / resp-specials.
const LIST_CHAR = ASTRING.slice();
LIST_CHAR[0x25] = 1;
LIST_CHAR[0x2a] = 1;
const WORD = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-')
  WORD[c.charCodeAt(0)] = 1;
const LITERAL_MARKER = /^(~?)\{(\d+)(\+?)\}$/;
const MAX_NUMBER = 4294967295; // RFC 9051 §9: number is a 32-bit unsigned integer

const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '\\Recent'];
const SYSTEM_FLAG_BY_UPPER = new Map(SYSTEM_FLAGS.map((f) => [f.toUpperCase(), f]));
const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface CursorMark {
  readonly seg: number;
  readonly pos: number;
}

export class ArgCursor {
  private seg = 0;
  private pos = 0;

  constructor(private readonly cmd: ReceivedCommand) {}

  fail(message: string): never {
    throw new ImapParseError(message);
  }

  save(): CursorMark {
    return { seg: this.seg, pos: this.pos };
  }

  restore(mark: CursorMark): void {
    this.seg = mark.seg;
    this.pos = mark.pos;
  }

  private get line(): Buffer {
    return this.cmd.lines[this.seg];
  }

  /** The next byte, or -1 at the end of the command. */
  peek(): number {
    return this.pos < this.line.length ? this.line[this.pos] : -1;
  }

  /**
   * The rest of the command from here as latin1 text when no literal follows (null when one
   * does); skipRest() then moves past it.
   */
  rest(): string | null {
    if (this.seg !== this.cmd.lines.length - 1) return null;
    return this.line.toString('latin1', this.pos);
  }

  /** Moves to the end of the command's last line (after rest()). */
  skipRest(): void {
    this.pos = this.line.length;
  }

  /** True when the whole command has been read. */
  atEnd(): boolean {
    return this.seg === this.cmd.lines.length - 1 && this.pos >= this.line.length;
  }

  /** Consumes `ch` if it is next. */
  maybe(ch: string): boolean {
    if (this.peek() !== ch.charCodeAt(0)) return false;
    this.pos++;
    return true;
  }

  expect(ch: string, what = `"${ch}"`): void {
    if (!this.maybe(ch)) this.fail(`Expected ${what}`);
  }

  space(): void {
    this.expect(' ', 'a space');
  }

  end(): void {
    if (this.peek() === 0x20) this.fail('Unexpected extra space');
    if (!this.atEnd()) this.fail('Unexpected extra arguments');
  }

  private run(table: Uint8Array): Buffer {
    const start = this.pos;
    const line = this.line;
    while (this.pos < line.length && table[line[this.pos]]) this.pos++;
    return line.subarray(start, this.pos);
  }

  /** A run of letters, digits, '.' and '-', upper-cased ('' if none): keyword look-ahead. */
  word(): string {
    const start = this.pos;
    const line = this.line;
    while (this.pos < line.length && WORD[line[this.pos]]) this.pos++;
    return line.subarray(start, this.pos).toString('latin1').toUpperCase();
  }

  peekWord(): string {
    const mark = this.save();
    const w = this.word();
    this.restore(mark);
    return w;
  }

  /** 1*ASTRING-CHAR, possibly empty (tags, the atom form of astring). */
  astringAtom(): Buffer {
    return this.run(ASTRING);
  }

  atom(): string {
    const b = this.run(ATOM);
    if (b.length === 0) this.fail('Expected an atom');
    return b.toString('latin1');
  }

  /** RFC 9051 astring = 1*ASTRING-CHAR / string. */
  astring(): Buffer {
    if (this.peek() === 0x22 || this.atLiteral()) return this.string();
    const atom = this.astringAtom();
    if (atom.length === 0) this.fail('Expected a string');
    return atom;
  }

  /** At `{` or `~{` (a `~` alone is an atom char, as in `~/Mail`). */
  private atLiteral(): boolean {
    const b = this.peek();
    return b === 0x7b || (b === 0x7e && this.line[this.pos + 1] === 0x7b);
  }

  /** RFC 9051 list-mailbox = 1*list-char / string: a LIST pattern with `*` and `%`. */
  listMailbox(): Buffer {
    if (this.peek() === 0x22 || this.atLiteral()) return this.string();
    const atom = this.run(LIST_CHAR);
    if (atom.length === 0) this.fail('Expected a mailbox pattern');
    return atom;
  }

  /** RFC 9051 string = quoted / literal. Literal8 (`~{N}`) is refused: see literal(). */
  string(): Buffer {
    const b = this.peek();
    if (b === 0x22) return this.quoted();
    if (this.atLiteral()) {
      const lit = this.literal();
      if (lit.binary) this.fail('A literal8 is only allowed for message data');
      return lit.data;
    }
    return this.fail('Expected a quoted string or a literal');
  }

  /** nstring = string / NIL. */
  nstring(): Buffer | null {
    if (this.peekWord() === 'NIL' && this.peek() !== 0x22) {
      this.word();
      return null;
    }
    return this.string();
  }

  private quoted(): Buffer {
    const line = this.line;
    this.pos++; // the opening DQUOTE
    const out: number[] = [];
    for (;;) {
      if (this.pos >= line.length) this.fail('Unterminated quoted string');
      const b = line[this.pos++];
      if (b === 0x22) return Buffer.from(out);
      if (b === 0x5c) {
        // RFC 9051 §9 QUOTED-CHAR: only "\" quoted-specials is an escape.
        const next = line[this.pos++];
        if (next !== 0x22 && next !== 0x5c) this.fail('Bad escape in quoted string');
        out.push(next);
      } else if (b === 0x0d || b === 0x00) {
        this.fail('CR or NUL in quoted string');
      } else {
        out.push(b); // 8-bit bytes are UTF-8 in IMAP4rev2 (RFC 9051 §4.3); accepted as they are
      }
    }
  }

  /**
   * A literal `{N}` / `{N+}` or literal8 `~{N}` (RFC 9051 §4.3, RFC 3516), whose bytes the
   * receiver attached to the command. NUL bytes are accepted in both (be liberal).
   */
  literal(): { data: Buffer; binary: boolean } {
    const rest = this.line.subarray(this.pos).toString('latin1');
    const m = LITERAL_MARKER.exec(rest);
    if (!m || this.seg >= this.cmd.literals.length) this.fail('Expected a literal');
    const data = this.cmd.literals[this.seg];
    if (data.length !== Number(m[2])) this.fail('Literal size mismatch');
    this.seg++;
    this.pos = 0;
    return { data, binary: m[1] === '~' };
  }

  private digits(): string {
    const start = this.pos;
    const line = this.line;
    while (this.pos < line.length && line[this.pos] >= 0x30 && line[this.pos] <= 0x39) this.pos++;
    if (this.pos === start) this.fail('Expected a number');
    return line.subarray(start, this.pos).toString('latin1');
  }

  /** number: 32-bit unsigned. */
  number(): number {
    const d = this.digits();
    const n = Number(d);
    if (d.length > 10 || n > MAX_NUMBER) this.fail('Number out of range');
    return n;
  }

  /** nz-number = digit-nz *DIGIT. */
  nzNumber(): number {
    if (this.peek() === 0x30) this.fail('Expected a non-zero number');
    return this.number();
  }

  /**
   * RFC 7162 mod-sequence-value (63-bit). Values past 2^53 are clamped to MAX_SAFE_INTEGER:
   * the store never hands out such modseqs, so every comparison keeps its outcome.
   */
  number64(): number {
    const d = this.digits();
    if (d.length > 19 || BigInt(d) > 0x7fffffffffffffffn) this.fail('Number out of range');
    return Math.min(Number(d), Number.MAX_SAFE_INTEGER);
  }

  private seqNumber(): SeqNumber {
    if (this.maybe('*')) return '*';
    return this.nzNumber();
  }

  /** RFC 9051 sequence-set, or `$` (RFC 5182 seq-last-command). */
  sequenceSet(): SequenceSet {
    if (this.maybe('$')) return { kind: 'saved' };
    const ranges: SeqRange[] = [];
    do {
      const a = this.seqNumber();
      ranges.push(this.maybe(':') ? normalizeRange(a, this.seqNumber()) : [a, a]);
    } while (this.maybe(','));
    return { kind: 'ranges', ranges };
  }

  /** "(" [item *(SP item)] ")" with at least minItems items. */
  list<T>(readItem: (c: ArgCursor) => T, minItems = 0): T[] {
    this.expect('(', 'a parenthesized list');
    const items: T[] = [];
    if (!this.maybe(')')) {
      do items.push(readItem(this));
      while (this.maybe(' '));
      this.expect(')', '")" closing the list');
    }
    if (items.length < minItems) this.fail('Empty list not allowed here');
    return items;
  }

  /** flag = "\" atom / atom; system flags are returned in their canonical case. */
  flag(): string {
    const system = this.maybe('\\');
    const name = this.atom();
    if (!system) return name;
    return SYSTEM_FLAG_BY_UPPER.get(`\\${name.toUpperCase()}`) ?? `\\${name}`;
  }

  /** flag-list = "(" [flag *(SP flag)] ")". */
  flagList(): string[] {
    return this.list((c) => c.flag());
  }

  /** RFC 9051 date-time, always DQUOTEd: "17-Jul-1996 02:44:25 -0700". */
  dateTime(): Date {
    if (this.peek() !== 0x22) this.fail('Expected a quoted date-time');
    const d = parseDateTimeText(this.quoted().toString('latin1'));
    if (!d) this.fail('Bad date-time');
    return d;
  }

  /** dateTime() with the zone it was written in (minutes east of UTC). */
  zonedDateTime(): { date: Date; zone: number } {
    if (this.peek() !== 0x22) this.fail('Expected a quoted date-time');
    const d = parseZonedDateTimeText(this.quoted().toString('latin1'));
    if (!d) this.fail('Bad date-time');
    return d;
  }

  /** RFC 9051 date = date-text / DQUOTE date-text DQUOTE, e.g. 1-Feb-1994. */
  date(): ImapDate {
    const text = this.peek() === 0x22 ? this.quoted() : this.run(ATOM);
    const d = parseDateText(text.toString('latin1'));
    if (!d) this.fail('Bad date');
    return d;
  }

  /**
   * A mailbox name as sent (astring decoded as UTF-8). RFC 9051 §5.1: INBOX is
   * case-insensitive, so any case of it becomes 'INBOX'. Modified UTF-7 (utf7.ts) is not
   * decoded here: that depends on whether the session enabled UTF8=ACCEPT.
   */
  mailbox(): string {
    return mailboxName(this, this.astring());
  }
}

/** Decodes and normalizes a mailbox name read from c (shared with LIST patterns). */
export function mailboxName(c: ArgCursor, bytes: Buffer): string {
  let name: string;
  try {
    name = utf8.decode(bytes);
  } catch {
    return c.fail('Mailbox name is not valid UTF-8');
  }
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/** A cursor over one line without literals (for tests and for sub-parsing). */
export function argsFrom(text: string | Buffer): ArgCursor {
  const line = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  return new ArgCursor({ lines: [line], literals: [] });
}

/** Splits tag and command name off a received command. */
export function parseCommand(cmd: ReceivedCommand): ParsedCommand | ImapParseError {
  const c = new ArgCursor(cmd);
  let tag: string | undefined;
  const result = tryParse((): ParsedCommand => {
    // RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">.
    const t = c.astringAtom().toString('latin1');
    if (t.length === 0 || t.includes('+')) c.fail('Bad tag');
    tag = t;
    c.space();
    const word = c.atom().toUpperCase();
    if (!/^[A-Z][A-Z0-9-]*$/.test(word)) c.fail('Bad command name');
    if (word !== 'UID') return { tag: t, name: word, uid: false, args: c };
    c.space();
    const sub = c.atom().toUpperCase();
    return { tag: t, name: `UID ${sub}`, uid: true, args: c };
  });
  if (result instanceof ImapParseError) result.tag = tag;
  return result;
}
