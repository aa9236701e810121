// A strict RFC 5322 §3.4 parser for the originator fields a submission server must check
// (From, Sender). Unlike mime/address.ts, which reads whatever arrives for display, this one
// refuses anything it cannot read unambiguously: the ownership check must see exactly the
// addresses a reader's MUA will show. Linear in the input, no regex on client text, never
// throws.
//
// Accepted: mailbox and group (RFC 6854) syntax, comments and folding anywhere CFWS may
// appear, quoted strings, the obsolete phrase and local-part forms (RFC 5322 §4.1, §4.4:
// `John Q. Public`, `john . doe @ example . com`), UTF-8 (RFC 6532). Refused: a mailbox
// without a domain, an obsolete route (`<@a:b@c>`), an encoded-word inside an addr-spec
// (RFC 2047 §5 forbids it; a reader that decodes it would see another address), control
// characters, unbalanced quotes, comments, brackets.

export interface HeaderMailbox {
  /** The local part as the reader sees it (quotes removed), and the domain. */
  local: string;
  domain: string;
  /** The local part was a quoted-string, or the domain a domain-literal. */
  quoted: boolean;
  literal: boolean;
  /** Inside a group (RFC 6854). */
  inGroup: boolean;
}

export type MailboxListResult =
  | { ok: true; mailboxes: HeaderMailbox[]; groups: number }
  | { ok: false; error: string };

type Tok =
  | { k: 'atom'; v: string }
  | { k: 'quoted'; v: string }
  | { k: 'literal'; v: string }
  | { k: 'special'; v: string };

/** RFC 5322 §3.2.3 atext, with RFC 6532 UTF8-non-ascii. */
function isAtext(c: number): boolean {
  if (c >= 0x80) return true;
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  return "!#$%&'*+-/=?^_`{|}~".includes(String.fromCharCode(c));
}

/** Printable or UTF-8: what may stand in a quoted string, comment or domain literal. */
function isText(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f);
}

class LexError extends Error {}

function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09) {
      i++;
    } else if (c === 0x28 /* ( */) {
      // RFC 5322 §3.2.2: comments nest; quoted-pair escapes.
      let depth = 0;
      for (;;) {
        if (i >= n) throw new LexError('unterminated comment');
        const d = s.charCodeAt(i);
        if (d === 0x5c /* \ */) {
          if (i + 1 >= n || !isText(s.charCodeAt(i + 1))) throw new LexError('bad quoted-pair');
          i += 2;
          continue;
        }
        if (!isText(d)) throw new LexError('control character in a comment');
        i++;
        if (d === 0x28) depth++;
        else if (d === 0x29 && --depth === 0) break;
      }
    } else if (c === 0x22 /* " */) {
      let v = '';
      i++;
      for (;;) {
        if (i >= n) throw new LexError('unterminated quoted string');
        const d = s.charCodeAt(i);
        if (d === 0x22) break;
        if (d === 0x5c) {
          if (i + 1 >= n || !isText(s.charCodeAt(i + 1))) throw new LexError('bad quoted-pair');
          v += s[i + 1];
          i += 2;
          continue;
        }
        if (!isText(d)) throw new LexError('control character in a quoted string');
        v += s[i];
        i++;
      }
      i++;
      toks.push({ k: 'quoted', v });
    } else if (c === 0x5b /* [ */) {
      let j = i + 1;
      while (j < n && s.charCodeAt(j) !== 0x5d) {
        const d = s.charCodeAt(j);
        if (d === 0x5b || d === 0x5c || !isText(d)) throw new LexError('bad domain literal');
        j++;
      }
      if (j >= n) throw new LexError('unterminated domain literal');
      toks.push({ k: 'literal', v: s.slice(i, j + 1) });
      i = j + 1;
    } else if ('<>:;@,.'.includes(s[i]!)) {
      toks.push({ k: 'special', v: s[i]! });
      i++;
    } else if (isAtext(c)) {
      let j = i + 1;
      while (j < n && isAtext(s.charCodeAt(j))) j++;
      toks.push({ k: 'atom', v: s.slice(i, j) });
      i = j;
    } else {
      throw new LexError(`unexpected character ${JSON.stringify(s[i])}`);
    }
  }
  return toks;
}

/** RFC 2047 §5: "An 'encoded-word' MUST NOT appear in any portion of an 'addr-spec'." */
function hasEncodedWord(s: string): boolean {
  const at = s.indexOf('=?');
  return at >= 0 && s.indexOf('?=', at + 2) >= 0;
}

class Parser {
  private pos = 0;
  readonly mailboxes: HeaderMailbox[] = [];
  groups = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok | undefined {
    return this.toks[this.pos];
  }

  private isSpecial(v: string, t = this.peek()): boolean {
    return t !== undefined && t.k === 'special' && t.v === v;
  }

  private fail(msg: string): never {
    throw new LexError(msg);
  }

  /** address-list: empty elements (`a, , b`) are tolerated as RFC 5322 §4.4 obs-list. */
  list(): void {
    while (this.pos < this.toks.length) {
      if (this.isSpecial(',')) {
        this.pos++;
        continue;
      }
      this.address(false);
      if (this.pos < this.toks.length) {
        if (!this.isSpecial(',')) this.fail('expected "," between addresses');
        this.pos++;
      }
    }
  }

  /** A mailbox, or a group when not already inside one. */
  private address(inGroup: boolean): void {
    // A phrase (display name or group name), or the local part of a bare addr-spec.
    const start = this.pos;
    const words: Tok[] = [];
    let dots = false;
    for (;;) {
      const t = this.peek();
      if (t === undefined) break;
      if (t.k === 'atom' || t.k === 'quoted') words.push(t);
      else if (this.isSpecial('.', t)) dots = true;
      else break;
      this.pos++;
    }
    const next = this.peek();
    if (this.isSpecial('<', next)) {
      this.pos++;
      this.addrSpecUntil('>', inGroup);
      return;
    }
    if (this.isSpecial(':', next)) {
      if (inGroup) this.fail('a group inside a group');
      if (words.length === 0) this.fail('a group without a name');
      this.groups++;
      this.pos++;
      while (!this.isSpecial(';')) {
        if (this.peek() === undefined) this.fail('group without ";"');
        if (this.isSpecial(',')) {
          this.pos++;
          continue;
        }
        this.address(true);
        if (!this.isSpecial(',') && !this.isSpecial(';')) this.fail('expected "," or ";"');
      }
      this.pos++;
      return;
    }
    if (this.isSpecial('@', next)) {
      this.pos = start;
      this.addrSpecUntil(null, inGroup);
      return;
    }
    if (words.length === 0 && !dots) this.fail('expected an address');
    this.fail('a mailbox without a domain');
  }

  /** addr-spec (RFC 5322 §3.4.1), then `close` when given (the `>` of an angle-addr). */
  private addrSpecUntil(close: string | null, inGroup: boolean): void {
    if (this.isSpecial('@')) this.fail('obsolete route in an address');
    const local = this.dotted('local part');
    if (!this.isSpecial('@')) this.fail('expected "@" and a domain');
    this.pos++;
    let domain: string;
    let literal = false;
    const t = this.peek();
    if (t !== undefined && t.k === 'literal') {
      domain = t.v;
      literal = true;
      this.pos++;
    } else {
      const d = this.dotted('domain');
      if (d.quoted) this.fail('quoted domain');
      domain = d.text;
    }
    if (close !== null) {
      if (!this.isSpecial(close)) this.fail(`expected "${close}"`);
      this.pos++;
    }
    if (hasEncodedWord(local.text) || hasEncodedWord(domain))
      this.fail('encoded-word inside an address');
    this.mailboxes.push({ local: local.text, domain, quoted: local.quoted, literal, inGroup });
  }

  /** word *("." word): a local part or domain, with RFC 5322 §4.4 CFWS around the dots. */
  private dotted(what: string): { text: string; quoted: boolean } {
    let text = '';
    let quoted = false;
    for (;;) {
      const t = this.peek();
      if (t === undefined || (t.k !== 'atom' && t.k !== 'quoted')) this.fail(`bad ${what}`);
      if (t.k === 'quoted') quoted = true;
      text += t.v;
      this.pos++;
      if (!this.isSpecial('.')) return { text, quoted };
      text += '.';
      this.pos++;
    }
  }
}

/**
 * Parses a From or Sender field body (after the colon; folding CRLFs included). Any CR or LF
 * that is not part of a fold makes the field unreadable.
 */
export function parseMailboxList(body: string): MailboxListResult {
  // RFC 5322 §2.2.3: unfolding removes each CRLF that is followed by WSP.
  let s = body.replace(/\r\n(?=[ \t])/g, '');
  if (s.endsWith('\r\n')) s = s.slice(0, -2);
  if (s.includes('\r') || s.includes('\n')) return { ok: false, error: 'bare CR or LF' };
  try {
    const p = new Parser(tokenize(s));
    p.list();
    return { ok: true, mailboxes: p.mailboxes, groups: p.groups };
  } catch (err) {
    if (err instanceof LexError) return { ok: false, error: err.message };
    throw err;
  }
}
