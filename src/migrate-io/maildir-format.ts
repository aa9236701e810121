// The Maildir format as Dovecot and other Maildir++ programs write it: the flags in a file
// name's info part, Dovecot's `dovecot-keywords` (letters a..z for keywords) and
// `dovecot-uidlist` (UIDVALIDITY and UID of each file), and Maildir++ folder names. Parsing
// and writing only; the files are read and written in maildir-import.ts / export.ts.
//
// Maildir (cr.yp.to/proto/maildir.html): a file in cur/ is `<unique>:2,<flags>`, the flags
// ASCII-sorted letters: P passed, R replied, S seen, T trashed, D draft, F flagged. Dovecot
// adds the lower-case letters a..z, each a keyword named in `dovecot-keywords` (`0 $Junk`
// is `a`), and ends the flags at a comma (what follows is not flags).
import { decodeMailboxName, encodeMailboxName } from '../imap/wire/utf7.js';

/**
 * Maildir letter <-> IMAP flag (RFC 9051 §2.3.2). T (trashed) is \Deleted: marked for
 * removal, not yet expunged. P (passed: resent, forwarded or bounced) has no system flag; it
 * is the `$Forwarded` keyword of the IANA registry (RFC 5788), as mutt and Thunderbird use it.
 */
export const MAILDIR_FLAGS: ReadonlyArray<readonly [string, string]> = [
  ['D', '\\Draft'],
  ['F', '\\Flagged'],
  ['P', '$Forwarded'],
  ['R', '\\Answered'],
  ['S', '\\Seen'],
  ['T', '\\Deleted'],
];
const BY_LETTER = new Map(MAILDIR_FLAGS);
const BY_FLAG = new Map(MAILDIR_FLAGS.map(([l, f]) => [f.toLowerCase(), l]));

export interface MaildirName {
  /** The name without its info part: what dovecot-uidlist records and matches on. */
  base: string;
  /** Flags and keywords, in the letters' order. */
  flags: string[];
  /** The name has a `:2,` info part (files in new/ usually do not). */
  hasInfo: boolean;
  /** Keyword letters that dovecot-keywords does not name (the keyword is lost). */
  unknownLetters: string[];
}

/**
 * Reads the flags of a Maildir file name. `keywords` is dovecot-keywords (index -> name).
 * Another info version than 2 (`:1,...`) carries no flags we know. Unknown upper-case
 * letters are ignored, as the Maildir spec asks of readers.
 */
export function parseMaildirName(name: string, keywords: readonly string[] = []): MaildirName {
  const colon = name.lastIndexOf(':');
  if (colon < 0) return { base: name, flags: [], hasInfo: false, unknownLetters: [] };
  const base = name.slice(0, colon);
  const info = name.slice(colon + 1);
  if (!info.startsWith('2,')) return { base, flags: [], hasInfo: false, unknownLetters: [] };
  const flags: string[] = [];
  const unknownLetters: string[] = [];
  const seen = new Set<string>();
  for (const ch of info.slice(2)) {
    if (ch === ',') break;
    if (seen.has(ch)) continue;
    seen.add(ch);
    const system = BY_LETTER.get(ch);
    if (system) flags.push(system);
    else if (ch >= 'a' && ch <= 'z') {
      const kw = keywords[ch.charCodeAt(0) - 97];
      if (kw) flags.push(kw);
      else unknownLetters.push(ch);
    }
  }
  return { base, flags, hasInfo: true, unknownLetters };
}

/**
 * The info part for these flags: `:2,` and the letters in ASCII order (the Maildir spec
 * asks for it). `keywordLetter` gives a keyword's letter (or null: it cannot be written);
 * `$Forwarded` is P.
 */
export function maildirInfo(
  flags: readonly string[],
  keywordLetter: (keyword: string) => string | null,
): string {
  const letters = new Set<string>();
  for (const f of flags) {
    const l = BY_FLAG.get(f.toLowerCase()) ?? (f.startsWith('\\') ? null : keywordLetter(f));
    if (l) letters.add(l);
  }
  return `:2,${[...letters].sort().join('')}`;
}

/** `dovecot-keywords`: lines `<index> <keyword>`; index 0 is letter a, up to 25 (z). */
export function parseDovecotKeywords(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\S+)\s*$/.exec(line);
    if (!m) continue;
    const i = Number(m[1]);
    if (i < 26) out[i] = m[2]!;
  }
  return out;
}

export function formatDovecotKeywords(keywords: readonly string[]): string {
  return keywords.map((k, i) => `${i} ${k}\n`).join('');
}

export interface UidlistHeader {
  uidValidity: number;
  /** The UID the next new message would get. */
  uidNext: number;
}

export interface Uidlist extends UidlistHeader {
  /** File base name (no info part) -> UID. */
  uids: Map<string, number>;
}

const isUid = (n: number) => Number.isInteger(n) && n >= 1 && n <= 0xffffffff;

/**
 * `dovecot-uidlist`'s header: version 3 (Dovecot 1.1 and later) `3 V<uidvalidity>
 * N<nextuid> ...` (fields in any order), version 1 (Courier's courierimapuiddb too) `1
 * <uidvalidity> <nextuid>`. Null when it is not one of these.
 */
export function parseUidlistHeader(text: string): (UidlistHeader & { version: string }) | null {
  const end = text.indexOf('\n');
  const head = (end < 0 ? text : text.slice(0, end)).trim().split(/\s+/);
  let uidValidity = 0;
  let uidNext = 0;
  const version = head[0] ?? '';
  if (version === '3' || version === '2') {
    for (const f of head.slice(1)) {
      if (f[0] === 'V') uidValidity = Number(f.slice(1));
      else if (f[0] === 'N') uidNext = Number(f.slice(1));
    }
  } else if (version === '1') {
    uidValidity = Number(head[1]);
    uidNext = Number(head[2]);
  } else return null;
  if (!isUid(uidValidity) || !isUid(uidNext)) return null;
  return { version, uidValidity, uidNext };
}

/**
 * `dovecot-uidlist` (header as above), then per message `<uid> [<field>...] :<file name>`
 * (version 3) or `<uid> <file name>` (version 1). The name is the last known one: its info
 * part may be stale, so only the base counts. Null when the header is not one of these; bad
 * lines are skipped.
 */
export function parseUidlist(text: string): Uidlist | null {
  const header = parseUidlistHeader(text);
  if (!header) return null;
  const { version, uidValidity, uidNext } = header;
  const lines = text.split('\n');
  const uids = new Map<string, number>();
  for (const line of lines.slice(1)) {
    let uid: number;
    let name: string;
    if (version === '1') {
      const m = /^(\d+) (\S+)$/.exec(line.trimEnd());
      if (!m) continue;
      uid = Number(m[1]);
      name = m[2]!;
    } else {
      const m = /^(\d+) (?:[^:]*?\s)?:(.+)$/.exec(line.trimEnd());
      if (!m) continue;
      uid = Number(m[1]);
      name = m[2]!;
    }
    if (!isUid(uid)) continue;
    const colon = name.lastIndexOf(':');
    uids.set(colon < 0 ? name : name.slice(0, colon), uid);
  }
  return { uidValidity, uidNext, uids };
}

export function formatUidlist(
  uidValidity: number,
  uidNext: number,
  files: ReadonlyArray<{ uid: number; name: string }>,
): string {
  return `3 V${uidValidity} N${uidNext}\n${files.map((f) => `${f.uid} :${f.name}\n`).join('')}`;
}

/** Maildir++'s hierarchy separator: `.a.b` is the folder b inside a. */
export const MAILDIRPP_SEPARATOR = '.';

/**
 * The mailbox name of a Maildir++ folder directory (`.Sent`, `.a.b`), with `/` as the
 * store's separator, or null when the directory is not a folder (no leading dot, `.`/`..`).
 * An empty level stays (`a//b`), for the store's name check to refuse and the import to
 * report. Names on disk are modified UTF-7 (RFC 3501 §5.1.3), as Dovecot writes them; a
 * name that is not valid mUTF-7 is taken as UTF-8.
 */
export function maildirppFolderName(dir: string): string | null {
  if (!dir.startsWith('.') || dir === '.' || dir === '..') return null;
  const levels = dir.slice(1).split(MAILDIRPP_SEPARATOR);
  return levels.map((l) => decodeMailboxName(l) ?? l).join('/');
}

/** The Maildir++ directory of a mailbox (INBOX is the root itself: ''). */
export function maildirppDir(name: string): string {
  if (name === 'INBOX') return '';
  return `.${name
    .split('/')
    .map((l) => encodeMailboxName(l))
    .join(MAILDIRPP_SEPARATOR)}`;
}

/**
 * Dovecot's `subscriptions` file: version 2 (`V<TAB>2`, an empty line, then one name per
 * line with TAB between levels, each level modified UTF-7), or the older plain list of names
 * (levels split at `/` or, without one, at Maildir++'s `.`). Names with `/` as separator.
 */
export function parseSubscriptions(text: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const decode = (levels: string[]) => levels.map((l) => decodeMailboxName(l) ?? l).join('/');
  if (/^V\t\d+$/.test(lines[0] ?? '')) {
    return lines
      .slice(1)
      .filter((l) => l.length > 0)
      .map((l) => decode(l.split('\t')));
  }
  return lines
    .filter((l) => l.length > 0)
    .map((l) => decode(l.split(l.includes('/') ? '/' : MAILDIRPP_SEPARATOR)));
}
