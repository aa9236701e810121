// RFC 5321 §4.1.2 Path / Mailbox grammar, as used by MAIL FROM and RCPT TO. Pure: the result
// says what was sent; policy (relay checks, refusing source routes) is the session's job, so
// nothing that could matter to it is thrown away here.
import { isIPv6 } from 'node:net';

export interface Address {
  /**
   * The local part with a quoted-string unquoted (quotes removed, quoted-pairs resolved), so
   * `"user@foreign"@local` gives `user@foreign`: the `@` stays visible to the relay check.
   * Case is kept: RFC 5321 §2.4 says local parts may be case-sensitive.
   */
  local: string;
  /** Domain as sent, or the address literal with its brackets (`[192.0.2.1]`). `''` only for
   * the bare `<Postmaster>` recipient (RFC 5321 §4.1.1.3). */
  domain: string;
  /** Exactly what was between the angle brackets, source route included, for logs. */
  raw: string;
  /** The local part was a quoted-string (RFC 5321 §4.1.2 Quoted-string). */
  quoted: boolean;
  /** The domain is an address literal (RFC 5321 §4.1.3). */
  literal: boolean;
  /**
   * A source route `<@a,@b:user@c>` was given. RFC 5321 §4.1.1.3 and Appendix C: servers
   * SHOULD ignore it; it is flagged so that policy can refuse it instead.
   */
  sourceRoute: boolean;
}

export type PathResult =
  | { ok: true; address: Address | null; end: number; nonAscii: boolean }
  | { ok: false };

export interface PathOptions {
  /** `<>` is allowed (the null reverse-path of MAIL FROM, RFC 5321 §4.5.5). */
  allowNull: boolean;
  /** `<Postmaster>` without a domain is allowed (RCPT TO, RFC 5321 §4.1.1.3). */
  allowPostmaster: boolean;
}

// RFC 5322 §3.2.3 atext; RFC 6531 §3.3 adds UTF8-non-ascii (checked by the caller via nonAscii).
// By UTF-16 code unit: an ASCII one from the table, any other allowed. A table lookup per
// character instead of a regexp call on a one-character string (MAIL and RCPT of every
// message).
const ATEXT_ASCII = alnumAnd("!#$%&'*+-/=?^_`{|}~");
const LABEL_ASCII = alnumAnd('-');
const NON_ASCII = /[^\x00-\x7f]/;

/** 1 for ASCII letters and digits and each of `more`. */
function alnumAnd(more: string): Uint8Array {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) t[c] = 1;
  }
  for (let i = 0; i < more.length; i++) t[more.charCodeAt(i)] = 1;
  return t;
}

/** atext or UTF-8 (RFC 6531): the code unit at `i` of `s`, which must be within it. */
export function isAtext(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x80 || ATEXT_ASCII[c] === 1;
}

/** A letter, digit, hyphen or U-label character (RFC 5321 §4.1.2 Ldh-str, RFC 6531). */
export function isLabelChar(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x80 || LABEL_ASCII[c] === 1;
}

/**
 * Parses a Path starting at `pos`. With angle brackets this is the RFC grammar; without them
 * (`MAIL FROM:a@b`, which some scripts send) the Mailbox alone is accepted leniently and ends
 * at the next space. `end` is the index just after the path.
 */
export function parsePath(s: string, pos: number, opts: PathOptions): PathResult {
  if (s[pos] !== '<') {
    const mb = parseMailbox(s, pos);
    if (mb === null || (mb.end < s.length && s[mb.end] !== ' ')) return { ok: false };
    const raw = s.slice(pos, mb.end);
    return ok(withRaw(mb.value, raw, false), mb.end);
  }
  let i = pos + 1;
  if (s[i] === '>')
    return opts.allowNull
      ? { ok: true, address: null, end: i + 1, nonAscii: false }
      : { ok: false };

  // RFC 5321 §4.1.2: A-d-l = At-domain *( "," At-domain ), followed by ":".
  let sourceRoute = false;
  if (s[i] === '@') {
    sourceRoute = true;
    for (;;) {
      const d = parseDomain(s, i + 1);
      if (d === null) return { ok: false };
      i = d.end;
      if (s[i] === ',' && s[i + 1] === '@') {
        i += 1;
        continue;
      }
      if (s[i] !== ':') return { ok: false };
      i += 1;
      break;
    }
  }

  if (opts.allowPostmaster && !sourceRoute) {
    const word = s.slice(i, i + 10);
    if (word.toLowerCase() === 'postmaster' && s[i + 10] === '>') {
      const address = {
        local: word,
        domain: '',
        raw: word,
        quoted: false,
        literal: false,
        sourceRoute,
      };
      return ok(address, i + 11);
    }
  }

  const mb = parseMailbox(s, i);
  if (mb === null || s[mb.end] !== '>') return { ok: false };
  return ok(withRaw(mb.value, s.slice(pos + 1, mb.end), sourceRoute), mb.end + 1);
}

/**
 * The Address of a parsed mailbox. Written out: V8 copies `{ ...parts, raw, sourceRoute }`
 * (a spread, then keys the source lacks) on a slow path, about 1.4 us each (Node 20).
 */
function withRaw(parts: MailboxParts, raw: string, sourceRoute: boolean): Address {
  return {
    local: parts.local,
    quoted: parts.quoted,
    domain: parts.domain,
    literal: parts.literal,
    raw,
    sourceRoute,
  };
}

function ok(address: Address, end: number): PathResult {
  return { ok: true, address, end, nonAscii: NON_ASCII.test(address.raw) };
}

type MailboxParts = Pick<Address, 'local' | 'domain' | 'quoted' | 'literal'>;

/** RFC 5321 §4.1.2: Mailbox = Local-part "@" ( Domain / address-literal ). */
export function parseMailbox(s: string, pos: number): { value: MailboxParts; end: number } | null {
  const lp = parseLocalPart(s, pos);
  if (lp === null || s[lp.end] !== '@') return null;
  const d = parseDomain(s, lp.end + 1);
  if (d === null) return null;
  return {
    value: { local: lp.local, quoted: lp.quoted, domain: d.domain, literal: d.literal },
    end: d.end,
  };
}

// RFC 5321 §4.1.2: Local-part = Dot-string / Quoted-string.
function parseLocalPart(
  s: string,
  pos: number,
): { local: string; quoted: boolean; end: number } | null {
  let i = pos;
  if (s[i] === '"') {
    let local = '';
    i += 1;
    for (;;) {
      const ch = s[i];
      if (ch === undefined) return null;
      if (ch === '"') break;
      if (ch === '\\') {
        // quoted-pairSMTP = %d92 %d32-126 (RFC 6531 adds UTF-8).
        const next = s[i + 1];
        if (next === undefined || !isQuotable(next)) return null;
        local += next;
        i += 2;
        continue;
      }
      // qtextSMTP = %d32-33 / %d35-91 / %d93-126: printable but not `"` or `\`.
      if (!isQuotable(ch)) return null;
      local += ch;
      i += 1;
    }
    return { local, quoted: true, end: i + 1 };
  }
  // Dot-string = Atom *("." Atom): no leading, trailing or doubled dot.
  for (;;) {
    const start = i;
    while (i < s.length && isAtext(s, i)) i += 1;
    if (i === start) return null;
    if (s[i] !== '.') break;
    i += 1;
  }
  return { local: s.slice(pos, i), quoted: false, end: i };
}

function isQuotable(ch: string): boolean {
  const c = ch.charCodeAt(0);
  return (c >= 32 && c <= 126) || c >= 0x80;
}

/** RFC 5321 §4.1.2 Domain (with RFC 6531 U-labels) or §4.1.3 address-literal. */
export function parseDomain(
  s: string,
  pos: number,
): { domain: string; literal: boolean; end: number } | null {
  if (s[pos] === '[') {
    const close = s.indexOf(']', pos);
    if (close < 0 || !isAddressLiteral(s.slice(pos + 1, close))) return null;
    return { domain: s.slice(pos, close + 1), literal: true, end: close + 1 };
  }
  let i = pos;
  for (;;) {
    const start = i;
    while (i < s.length && isLabelChar(s, i)) i += 1;
    // sub-domain = Let-dig [Ldh-str]: not empty, no hyphen at either end; DNS: 63 octets.
    if (i === start || s.charCodeAt(start) === HYPHEN || s.charCodeAt(i - 1) === HYPHEN) {
      return null;
    }
    // A code unit is at most 3 octets in UTF-8: 21 of them fit in 63 whatever they are.
    if (i - start > 21 && Buffer.byteLength(s.slice(start, i)) > 63) return null;
    if (s[i] !== '.') break;
    i += 1;
  }
  const domain = s.slice(pos, i);
  // RFC 5321 §4.5.3.1.2: a domain name is at most 255 octets (85 code units always fit).
  if (domain.length > 85 && Buffer.byteLength(domain) > 255) return null;
  return { domain, literal: false, end: i };
}

const HYPHEN = 0x2d;

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
// General-address-literal = Standardized-tag ":" 1*dcontent; dcontent = %d33-90 / %d94-126.
const GENERAL = /^[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+$/;

function isAddressLiteral(content: string): boolean {
  const v4 = IPV4.exec(content);
  if (v4 !== null) return v4.slice(1).every((n) => Number(n) <= 255);
  if (/^ipv6:/i.test(content)) {
    const addr = content.slice(5);
    // node accepts zone ids (`fe80::1%eth0`), which the RFC grammar does not.
    return !addr.includes('%') && isIPv6(addr);
  }
  return GENERAL.test(content);
}
