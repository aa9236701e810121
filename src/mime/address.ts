// RFC 5322 §3.4 address lists, parsed tolerantly into the shape IMAP ENVELOPE needs
// (RFC 9051 §7.5.2): a group start is { mailbox: group name, host: null }, a group end is
// { mailbox: null, host: null }. Ordinary addresses always have a non-null host ("" when the
// address has no domain), so they can never be mistaken for group markers.
import { decodeEncodedWords } from './encoded-words.js';

export interface Address {
  name: string | null;
  /**
   * The obsolete source route of an angle address (RFC 5322 §4.4 obs-route), as IMAP's
   * addr-adl shows it (RFC 3501 §7.4.2): `<@a,@b:u@d>` has "@a,@b". Absent (not null) when
   * there is none, which is every address written since RFC 2822: stored envelopes stay as
   * small as they were.
   */
  adl?: string;
  mailbox: string | null;
  host: string | null;
}

export interface AddressOptions {
  /** Decode RFC 2047 words in display names (search). ENVELOPE keeps them raw. */
  decodeWords?: boolean;
}

type Tok =
  | { k: 'atom'; v: string }
  | { k: 'quoted'; v: string }
  | { k: 'comment'; v: string }
  | { k: 'literal'; v: string }
  | { k: 'special'; v: string };

const SPECIALS = '<>@,;:';

function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '"') {
      let v = '';
      for (i++; i < s.length && s[i] !== '"'; i++)
        v += s[i] === '\\' && i + 1 < s.length ? s[++i] : s[i];
      i++;
      toks.push({ k: 'quoted', v });
    } else if (c === '(') {
      let depth = 0;
      let v = '';
      for (; i < s.length; i++) {
        const d = s[i];
        if (d === '\\' && i + 1 < s.length) v += s[++i];
        else if (d === '(') {
          if (depth++ > 0) v += d;
        } else if (d === ')') {
          if (--depth === 0) break;
          v += d;
        } else v += d;
      }
      i++;
      toks.push({ k: 'comment', v: v.trim() });
    } else if (c === '[') {
      const close = s.indexOf(']', i);
      const end = close < 0 ? s.length : close + 1;
      toks.push({ k: 'literal', v: s.slice(i, end) });
      i = end;
    } else if (SPECIALS.includes(c)) {
      toks.push({ k: 'special', v: c });
      i++;
    } else {
      // Atoms keep dots: "John Q. Public" and unquoted dotted local parts are common.
      // A stray ')' or ']' is part of the atom; j > i always, so the loop advances.
      let j = i + 1;
      while (j < s.length && !' \t\r\n"([<>@,;:'.includes(s[j])) j++;
      toks.push({ k: 'atom', v: s.slice(i, j) });
      i = j;
    }
  }
  return toks;
}

function isSpecial(t: Tok | undefined, v: string): boolean {
  return t !== undefined && t.k === 'special' && t.v === v;
}

class Parser {
  pos = 0;
  out: Address[] = [];
  constructor(
    private toks: Tok[],
    private decode: boolean,
  ) {}

  private phrase(words: Tok[]): string | null {
    const text = words
      .filter((t) => t.k !== 'comment')
      .map((t) => t.v)
      .join(' ')
      .trim();
    if (text === '') return null;
    return this.decode ? decodeEncodedWords(text) : text;
  }

  list(): Address[] {
    while (this.pos < this.toks.length) this.entry(false);
    return this.out;
  }

  /** One address or group, up to and including its ',' (or ';' when inside a group). */
  private entry(inGroup: boolean): void {
    const start = this.pos;
    // Look ahead to decide between group, angle address, and bare addr-spec.
    let i = this.pos;
    let sawAt = false;
    for (; i < this.toks.length; i++) {
      const t = this.toks[i];
      if (isSpecial(t, ',') || (inGroup && isSpecial(t, ';'))) break;
      if (isSpecial(t, '@')) sawAt = true;
      if (!inGroup && !sawAt && isSpecial(t, ':')) {
        this.group(start, i);
        return;
      }
      if (isSpecial(t, '<')) {
        this.angle(start, i);
        return;
      }
    }
    this.bare(start, i);
  }

  private group(start: number, colon: number): void {
    this.out.push({
      name: null,
      mailbox: this.phrase(this.toks.slice(start, colon)) ?? '',
      host: null,
    });
    this.pos = colon + 1;
    while (this.pos < this.toks.length && !isSpecial(this.toks[this.pos], ';')) {
      this.entry(true);
    }
    this.pos++; // past ';' (or end)
    this.out.push({ name: null, mailbox: null, host: null });
    if (isSpecial(this.toks[this.pos], ',')) this.pos++;
  }

  private angle(start: number, lt: number): void {
    const name = this.phrase(this.toks.slice(start, lt));
    let gt = lt + 1;
    while (gt < this.toks.length && !isSpecial(this.toks[gt], '>')) gt++;
    let inner = this.toks.slice(lt + 1, gt).filter((t) => t.k !== 'comment');
    // RFC 5322 §4.4 obs-angle-addr: an obs-route "@a,@b:" may precede the addr-spec.
    const colon = inner.findIndex((t) => isSpecial(t, ':'));
    let adl: string | null = null;
    if (colon >= 0) {
      adl = route(inner.slice(0, colon));
      inner = inner.slice(colon + 1);
    }
    this.pos = gt + 1;
    // Anything after '>' up to the separator is junk; skip it.
    this.skipToSeparator();
    this.push(name, inner, adl);
  }

  private bare(start: number, end: number): void {
    const toks = this.toks.slice(start, end);
    this.pos = end;
    if (this.pos < this.toks.length && isSpecial(this.toks[this.pos], ',')) this.pos++;
    if (toks.length === 0) return;
    // "user@host (Real Name)": the old convention puts the name in a comment.
    const comments = toks.filter((t) => t.k === 'comment' && t.v !== '');
    const rest = toks.filter((t) => t.k !== 'comment');
    if (rest.length === 0) return;
    const name =
      comments.length > 0
        ? this.phrase([{ k: 'atom', v: comments.map((c) => c.v).join(' ') }])
        : null;
    if (!rest.some((t) => isSpecial(t, '@'))) {
      // No '@': either a phrase alone ("John Smith") or a local-only mailbox ("postmaster").
      const words = rest.filter((t) => t.k !== 'special');
      if (words.length === 1 && name === null) {
        this.out.push({ name: null, mailbox: words[0].v, host: '' });
      } else if (words.length > 0) {
        this.out.push({ name: this.phrase(words), mailbox: '', host: '' });
      }
      return;
    }
    this.push(name, rest);
  }

  private skipToSeparator(): void {
    while (this.pos < this.toks.length) {
      const t = this.toks[this.pos];
      if (isSpecial(t, ',')) {
        this.pos++;
        return;
      }
      if (isSpecial(t, ';')) return;
      this.pos++;
    }
  }

  private push(name: string | null, spec: Tok[], adl: string | null = null): void {
    const at = spec.findLastIndex((t) => isSpecial(t, '@'));
    const local = (at < 0 ? spec : spec.slice(0, at))
      .filter((t) => t.k !== 'special')
      .map((t) => t.v);
    const domain =
      at < 0
        ? []
        : spec
            .slice(at + 1)
            .filter((t) => t.k !== 'special')
            .map((t) => t.v);
    const a: Address = { name, mailbox: local.join(''), host: domain.join('') };
    if (adl !== null) a.adl = adl;
    this.out.push(a);
  }
}

/**
 * RFC 5322 §4.4 obs-domain-list = *(CFWS / ",") "@" domain *("," [CFWS] ["@" domain]): the
 * route's domains as "@a,@b" (empty list elements and white space dropped), or null when it
 * names none.
 */
function route(toks: Tok[]): string | null {
  const domains: string[] = [];
  let current: string | null = null;
  for (const t of toks) {
    if (t.k === 'special') {
      if (current) domains.push(current);
      current = t.v === '@' ? '' : null;
    } else if (current !== null) current += t.v;
  }
  if (current) domains.push(current);
  return domains.length === 0 ? null : domains.map((d) => `@${d}`).join(',');
}

/** Parses an address-list header value. Never throws; junk yields fewer or odd entries. */
export function parseAddressList(value: string, opts: AddressOptions = {}): Address[] {
  try {
    return new Parser(tokenize(value), opts.decodeWords === true).list();
  } catch {
    return [];
  }
}
