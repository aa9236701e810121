// What the full-text index holds of a text, and how a SEARCH needle is answered from it
// (fts-db.ts runs both on the index worker). IMAP SEARCH BODY / TEXT match a substring,
// case-insensitively (RFC 9051 §6.4.4), anywhere: inside a word, across words and the
// characters between them.
//
// A trigram index of the whole text made ~10,000 tokens of a 10 KB message, most of the
// worker's CPU (issue 19). The index now keeps, per message:
// - `word_grams` (trigram tokenizer): the message's distinct words of 3 characters or more,
//   each once, between spaces;
// - `word_ends` (ascii tokenizer, no positions): each of those words lower-cased, less its
//   first character and reversed (`endKeys`), so that "a longer word ends with X" is a
//   prefix query of X reversed;
// - `word_seq` (unicode61 tokenizer, positions kept): the text as a sequence of words and of
//   the separators between them (`indexText`): a lone space is a word boundary, any other
//   run of separators is one token per character, so that "meeting." and "the\r\nmeeting"
//   are told from "meeting" and "the meeting" by the index.
// A word is a run of anything but ASCII's non-alphanumerics (as in the PostgreSQL backend's
// `search-words.ts`); all of those are separators to unicode61 as well.
//
// A needle without a separator lies inside one word: the trigram phrase on the words is exact
// (its trigrams hold no space, so they sit in one word of the list, and every word of the
// text that can hold it is in the list). A needle with separators is words and runs: its
// first word ends a word of the text, the others are whole words, its last starts one, its
// runs are whole runs but for a first or last one (a run's end or start). The phrase of all
// of them is looked up in `word_seq` with the first word taken as a whole word; a needle
// starting inside a word is found through `word_ends` (a longer word that ends with the
// first) and the phrase of the rest. Candidates are checked against their stored text unless
// the phrase says it all: needle words of ASCII letters and digits only, no lone space at
// either end (the index keeps no token for a lone space), and a text of which every
// character is ASCII, a letter or a digit (`plain`: unicode61 then splits it exactly where this
// module does). Where SQLite's Unicode tables (6.1) and this process's disagree, a letter
// that unicode61 takes for a separator (U+19B0, a letter since Unicode 8) or folds to ASCII
// (U+212A KELVIN SIGN) would let a phrase of ASCII words be found across it or in it: those
// are asked of the linked SQLite at the worker's start and make a text not plain
// (fts-plain.ts).

import { endianness } from 'node:os';
import { searchFold } from '../search-fold.js';

/** ASCII's non-alphanumerics: the characters that separate words (unicode61's too). */
const SEPARATORS = /[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+/g;
/** Separator characters are coded as the private-use characters from here (token chars). */
const RUN_BASE = 0xe000;
/** The text's own characters in that range, all made this one (not a separator token). */
const OWN_CODES = /[\ue000-\ue07f]/g;
const OWN_CODE = '\ue080';
/**
 * A character unicode61 may split a word at, or fold unlike ASCII: the text is checked. The
 * index passes fts-plain.ts's notPlainPattern instead: these and the letters and digits the
 * linked SQLite splits at or folds to ASCII.
 */
const NOT_PLAIN = /[^\x00-\x7f\p{L}\p{N}]/u;
const ASCII_WORD = /^[0-9A-Za-z]+$/;
const HAS_ASCII_WORD_CHAR = /[0-9A-Za-z]/;

/** What the index stores of a text: the texts of `word_grams`, `word_ends`, `word_seq`; `plain`. */
export interface IndexedText {
  /**
   * The distinct words of 3 characters or more (a shorter one holds no needle of 3, and ends
   * in none of 2 but itself), each once, between spaces.
   */
  words: string;
  /** Their keys in `word_ends` (endKeys), between spaces. */
  ends: string;
  /**
   * The text with separator runs other than a lone space as tokens. Given a SequenceBytes,
   * its UTF-8 bytes there (valid until that memory's next use): the same bytes the binding
   * would make of the string, which FTS5 reads from a BLOB as it reads a TEXT.
   */
  sequence: string | Buffer;
  /** Every character is ASCII, a letter or a digit: unicode61 splits where this module does. */
  plain: boolean;
}

/** 1 for ASCII's non-alphanumerics. */
const SEPARATOR = new Uint8Array(128).map((_, c) =>
  c < 0x30 || (c > 0x39 && c < 0x41) || (c > 0x5a && c < 0x61) || c > 0x7a ? 1 : 0,
);
const CODED = Array.from({ length: 128 }, (_, c) => String.fromCharCode(RUN_BASE + c));
/** A separator's token in the word sequence, with the space before it. */
const CODED_TOKEN = CODED.map((t) => ` ${t}`);

function isSeparator(c: number): boolean {
  return c < 128 && SEPARATOR[c] === 1;
}

/** Words of at most this many characters are compared a byte at a time (addAscii). */
const SHORT_WORD = 16;

/** A hash of an ASCII word's length and three of its bytes, `buf[at, at + n)`. */
function wordHash(buf: Buffer, at: number, n: number): number {
  const h =
    Math.imul(n, 0x9e3779b1) ^
    Math.imul(buf[at]!, 0x85ebca6b) ^
    Math.imul(buf[at + n - 1]!, 0xc2b2ae35) ^
    (buf[at + (n >> 1)]! << 7);
  return h ^ (h >>> 15);
}

/**
 * Scratch of DistinctWords.addAscii, reused from text to text (the index worker's thread
 * indexes one at a time): an open-addressed table of word numbers, a slot in use for the text
 * whose stamp it holds (no clearing between texts), and each word's place in the bytes.
 */
const asciiWords = {
  slots: new Int32Array(1 << 12),
  stamps: new Int32Array(1 << 12),
  starts: new Int32Array(1 << 11),
  lengths: new Int32Array(1 << 11),
  stamp: 0,
};

/**
 * A text's distinct words in the order they first appear. A word is looked up by a hash of
 * its length and three of its characters, a repeat compared with the word kept for the hash
 * (words with the same hash and other letters go through a Set). A Set of every word's slice
 * cost ~30 ns a word: half of this module's time on a 10 KB text of prose (issue 19). An
 * ASCII text's words are found again in its bytes instead (addAscii).
 */
class DistinctWords {
  readonly list: string[] = [];
  private readonly byHash = new Map<number, string>();
  private others: Set<string> | null = null;
  /** This text's stamp in asciiWords, once addAscii was called. */
  private stamp = 0;

  /**
   * add() for an ASCII text whose bytes lie in `buf` from `base` (SequenceBytes.ascii): a
   * repeated word is recognized from its bytes in place, without a string of its own; only a
   * new word is sliced. The slice, the Map and the string comparison of each word were over
   * half of the scan of a 10 KB text of prose, ~1,700 words (issue 19).
   */
  addAscii(text: string, buf: Buffer, base: number, start: number, end: number): void {
    const w = asciiWords;
    if (this.stamp === 0) {
      // A stamp no slot holds: every slot is free for this text.
      if (w.stamp === 0x7fffffff) {
        w.stamps.fill(0);
        w.stamp = 0;
      }
      this.stamp = ++w.stamp;
    }
    const n = end - start;
    const at = base + start;
    const mask = w.slots.length - 1;
    let slot = wordHash(buf, at, n) & mask;
    for (; w.stamps[slot] === this.stamp; slot = (slot + 1) & mask) {
      const k = w.slots[slot]!;
      if (w.lengths[k] !== n) continue;
      if (n > SHORT_WORD) {
        // Long words (smtp-source's lines of X): comparing strings is one memcmp.
        if (text.slice(start, end) === this.list[k]) return;
        continue;
      }
      const other = w.starts[k]!;
      let i = 0;
      while (i < n && buf[other + i] === buf[at + i]) i++;
      if (i === n) return;
    }
    const k = this.list.length;
    this.list.push(text.slice(start, end));
    if (k >= w.starts.length) {
      const starts = new Int32Array(w.starts.length * 2);
      starts.set(w.starts);
      w.starts = starts;
      const lengths = new Int32Array(w.lengths.length * 2);
      lengths.set(w.lengths);
      w.lengths = lengths;
    }
    w.starts[k] = at;
    w.lengths[k] = n;
    w.stamps[slot] = this.stamp;
    w.slots[slot] = k;
    // At most half full: a larger table, every word of this text placed again.
    if (2 * (k + 1) > w.slots.length) {
      const size = w.slots.length * 2;
      w.slots = new Int32Array(size);
      w.stamps = new Int32Array(size);
      for (let j = 0; j <= k; j++) {
        let s = wordHash(buf, w.starts[j]!, w.lengths[j]!) & (size - 1);
        while (w.stamps[s] === this.stamp) s = (s + 1) & (size - 1);
        w.stamps[s] = this.stamp;
        w.slots[s] = j;
      }
    }
  }

  add(text: string, start: number, end: number): void {
    const n = end - start;
    // Within a small integer, so the Map's key is never a boxed number.
    const hash =
      (Math.imul(n, 0x9e3779b1) ^
        (text.charCodeAt(start) << 16) ^
        (text.charCodeAt(end - 1) << 8) ^
        text.charCodeAt(start + (n >> 1))) &
      0x3fffffff;
    const known = this.byHash.get(hash);
    if (known === undefined) {
      const w = text.slice(start, end);
      this.byHash.set(hash, w);
      this.list.push(w);
      return;
    }
    // String equality compares the bytes at once; `text.startsWith(known, start)` went a
    // character at a time (~2.7 ns each): smtp-source's 10 KB text, 78-character lines of X,
    // spent 20 of its 47 us in it (issue 19).
    const w = text.slice(start, end);
    if (w === known) return;
    this.others ??= new Set();
    if (this.others.has(w)) return;
    this.others.add(w);
    this.list.push(w);
  }
}

/**
 * Reused memory for the word sequence as UTF-8 (see scanText): one per index worker. Bound
 * to FTS5 as a BLOB at once, so each text may overwrite the last one's.
 */
export class SequenceBytes {
  private buf = Buffer.allocUnsafeSlow(1 << 16);

  /** At least `n` bytes. */
  room(n: number): Buffer {
    if (this.buf.length < n) this.buf = Buffer.allocUnsafeSlow(Math.max(n, this.buf.length * 2));
    return this.buf;
  }

  /**
   * A text whose every character is ASCII (its UTF-8 as long as it): the memory with the
   * text's bytes at `asciiBase(text.length)`, past the room its sequence may take, copied in
   * at once. Null for any other text.
   */
  ascii(text: string): Buffer | null {
    const n = text.length;
    if (Buffer.byteLength(text, 'utf8') !== n) return null;
    const buf = this.room(asciiBase(n) + n);
    buf.write(text, asciiBase(n), n, 'latin1');
    return buf;
  }
}

/** Where SequenceBytes.ascii puts a text of `n` characters: past its sequence's 4n + 1 bytes. */
function asciiBase(n: number): number {
  return 4 * n + 1;
}

/**
 * scanText for an ASCII text, its bytes in `buf` (SequenceBytes.ascii): the same words and
 * bytes, but a word's bytes are not written one by one. They are the text's own, so each
 * stretch up to a separator run other than a lone space is copied at once (copyWithin) and
 * the pass over the characters only reads. The sequence so far never reaches the bytes not
 * yet read: it is at most 4i + 1 bytes for the first i characters, which lie from 4n + 1 on.
 */
function scanAscii(
  text: string,
  buf: Buffer,
  words: DistinctWords | null,
): { sequence: Buffer; ascii: boolean } {
  const n = text.length;
  const base = asciiBase(n);
  let j = 0;
  let i = 0;
  let copied = 0;
  while (i < n) {
    const start = i;
    while (i < n && SEPARATOR[buf[base + i]!] === 0) i++;
    if (i > start) words?.addAscii(text, buf, base, start, i);
    if (i >= n) break;
    const run = i;
    for (i++; i < n && SEPARATOR[buf[base + i]!] === 1; i++);
    if (i - run === 1 && buf[base + run] === 0x20) continue; // copied with the words
    buf.copyWithin(j, base + copied, base + run);
    j += run - copied;
    // CODED_TOKEN's " " and U+E000 + c in UTF-8 (c < 0x80): EE, 80 | c >> 6, 80 | c & 3F.
    for (let k = run; k < i; k++) {
      const c = buf[base + k]!;
      buf[j++] = 0x20;
      buf[j++] = 0xee;
      buf[j++] = 0x80 | (c >> 6);
      buf[j++] = 0x80 | (c & 0x3f);
    }
    buf[j++] = 0x20;
    copied = i;
  }
  buf.copyWithin(j, base + copied, base + n);
  j += n - copied;
  return { sequence: buf.subarray(0, j), ascii: true };
}

/**
 * One pass over the text (10 KB: 0.05-0.1 ms): its words into `words`, its word sequence out,
 * and whether it has a character outside ASCII.
 *
 * With `bytes`, the sequence is written there as UTF-8 as the pass goes (the text's own
 * characters in the coded range made OWN_CODE), and returned as a view of it: the bytes
 * better-sqlite3 would make of the string. Its coded separators are private-use characters,
 * so the string would be a two-byte one (twice the text's size, then converted to UTF-8
 * again by the binding, one character at a time): most of the index worker's allocation and
 * a tenth of its time for smtp-source's 10 KB texts (issue 19).
 */
function scanText(
  text: string,
  words: DistinctWords | null,
  bytes: SequenceBytes | null = null,
): { sequence: string | Buffer; ascii: boolean } {
  const ascii = bytes?.ascii(text);
  if (ascii) return scanAscii(text, ascii, words);
  const seq: string[] = [];
  const n = text.length;
  // Worst case: every character a separator, each " " and 3 bytes, and the run's " ".
  // (A code unit outside ASCII is at most 3 bytes, a surrogate pair 4.)
  const out = bytes === null ? null : bytes.room(4 * n + 1);
  let j = 0;
  let high = 0;
  let i = 0;
  let copied = 0;
  while (i < n) {
    const start = i;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (isSeparator(c)) break;
      high |= c;
      if (out !== null) {
        if (c < 0x80) out[j++] = c;
        else if (c < 0x800) {
          out[j++] = 0xc0 | (c >> 6);
          out[j++] = 0x80 | (c & 0x3f);
        } else {
          const d = c < 0xdc00 && c >= 0xd800 && i + 1 < n ? text.charCodeAt(i + 1) : 0;
          if (d >= 0xdc00 && d < 0xe000) {
            // A surrogate pair: its code point in four bytes.
            const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
            out[j++] = 0xf0 | (cp >> 18);
            out[j++] = 0x80 | ((cp >> 12) & 0x3f);
            out[j++] = 0x80 | ((cp >> 6) & 0x3f);
            out[j++] = 0x80 | (cp & 0x3f);
            i++;
          } else {
            // The text's own characters in the coded range are OWN_CODE (ownCodes); a lone
            // surrogate is written as its three bytes, as the binding writes it.
            const u = c >= 0xe000 && c < 0xe080 ? 0xe080 : c;
            out[j++] = 0xe0 | (u >> 12);
            out[j++] = 0x80 | ((u >> 6) & 0x3f);
            out[j++] = 0x80 | (u & 0x3f);
          }
        }
      }
    }
    if (i > start) words?.add(text, start, i);
    if (i >= n) break;
    const run = i;
    for (i++; i < n && isSeparator(text.charCodeAt(i)); i++);
    if (i - run === 1 && text.charCodeAt(run) === 0x20) {
      if (out !== null) out[j++] = 0x20;
      continue;
    }
    if (out !== null) {
      // CODED_TOKEN's " " and U+E000 + c in UTF-8 (c < 0x80): EE, 80 | c >> 6, 80 | c & 3F.
      for (let k = run; k < i; k++) {
        const c = text.charCodeAt(k);
        out[j++] = 0x20;
        out[j++] = 0xee;
        out[j++] = 0x80 | (c >> 6);
        out[j++] = 0x80 | (c & 0x3f);
      }
      out[j++] = 0x20;
    } else {
      seq.push(text.slice(copied, run));
      // codeRun, a piece per character.
      for (let k = run; k < i; k++) seq.push(CODED_TOKEN[text.charCodeAt(k)]!);
      seq.push(' ');
    }
    copied = i;
  }
  if (out !== null) return { sequence: out.subarray(0, j), ascii: high < 0x80 };
  seq.push(text.slice(copied));
  return { sequence: seq.join(''), ascii: high < 0x80 };
}

/**
 * `notPlain` matches a character that makes a text not plain; never an ASCII one (NOT_PLAIN,
 * fts-plain.ts's notPlainPattern), so an ASCII text is plain without the test.
 */
export function indexText(
  text: string,
  notPlain: RegExp = NOT_PLAIN,
  bytes: SequenceBytes | null = null,
): IndexedText {
  const seen = new DistinctWords();
  const scanned = scanText(text, seen, bytes);
  // The text's own characters in the coded range (rare) become OWN_CODE first (the bytes
  // have them so already).
  const sequence =
    bytes !== null || scanned.ascii || text.search(OWN_CODES) === -1
      ? scanned.sequence
      : scanText(ownCodes(text), null).sequence;
  const list: string[] = [''];
  for (const w of seen.list) if (w.length >= 3) list.push(w); // else under 3 code points
  list.push('');
  const words = list.join(' ');
  return {
    words,
    ends: endKeys(words),
    sequence,
    plain: scanned.ascii || !notPlain.test(text),
  };
}

/** A Uint16Array's bytes are the machine's order; utf16le wants them little-endian. */
const BIG_ENDIAN = endianness() === 'BE';
/** Scratch memory of reversedWords (the index worker's thread calls it one text at a time). */
let reverseUnits = new Uint16Array(1 << 12);

/**
 * The words of `s` (separated by spaces) each reversed, a code point at a time (a surrogate
 * pair stays whole), in the reverse order; with `dropFirst`, each less its first code point.
 * One pass from the end into reused memory: a string built a character at a time cost a
 * 10 KB text several microseconds more.
 */
function reversedWords(s: string, dropFirst: boolean): string {
  const n = s.length;
  if (reverseUnits.length < n) reverseUnits = new Uint16Array(Math.max(n, reverseUnits.length * 2));
  const out = reverseUnits;
  let j = 0;
  /** Where the word being written starts in `out`, and its last code point's units. */
  let start = 0;
  let last = 0;
  for (let i = n - 1; i >= -1; i--) {
    const c = i < 0 ? 0x20 : s.charCodeAt(i);
    if (c === 0x20) {
      if (j > start) {
        if (dropFirst) j -= last;
        if (i >= 0) out[j++] = 0x20;
        start = j;
      }
      continue;
    }
    const h = c >= 0xdc00 && c < 0xe000 && i > 0 ? s.charCodeAt(i - 1) : 0;
    if (h >= 0xd800 && h < 0xdc00) {
      out[j++] = h;
      out[j++] = c;
      last = 2;
      i--;
    } else {
      out[j++] = c;
      last = 1;
    }
  }
  const bytes = Buffer.from(out.buffer, 0, 2 * j);
  return (BIG_ENDIAN ? bytes.swap16() : bytes).toString('utf16le');
}

/**
 * `word_ends`' keys of the words (`IndexedText.words`): each folded, less its first code
 * point, reversed. A needle's first word X is a longer word's end exactly when X folded and
 * reversed is a prefix of a key (searchFold works a character at a time but for sigma, which it
 * makes one; a character whose lower case is two, like U+0130's, keeps the second in the
 * key). The ascii tokenizer takes every character but ASCII's non-alphanumerics, which no
 * word holds, for a token character: one token per word.
 */
function endKeys(words: string): string {
  return reversedWords(searchFold(words), true);
}

function codeRun(run: string): string {
  let out = '';
  for (let i = 0; i < run.length; i++) out += ` ${CODED[run.charCodeAt(i)]}`;
  return `${out} `;
}

function ownCodes(s: string): string {
  return s.search(OWN_CODES) === -1 ? s : s.replace(OWN_CODES, OWN_CODE);
}

export interface SeqPhrase {
  /** The MATCH expression. */
  match: string;
  /** Its text: if unicode61 makes no token of it, the phrase matches nothing. */
  text: string;
  /** A token for sure (an ASCII letter or digit, or a coded separator). */
  surelyTokens: boolean;
}

/** The texts with a word that ends with a needle's first word and is longer (`word_ends`). */
export interface EndsQuery {
  /** The MATCH expression: a prefix query of the key. */
  match: string;
  /** The key: the first word folded and reversed. */
  key: string;
}

export type SearchPlan =
  /** Under 3 characters: no trigram, LIKE over the stored texts (ASCII case-insensitive). */
  | { kind: 'short' }
  /** Nothing to look up (a one-character first word and nothing after): every text. */
  | { kind: 'scan' }
  /** Inside one word: the index answers exactly. */
  | { kind: 'word'; match: string }
  /**
   * Across words: `seq` finds the texts where the first word is a whole word (exactly, in a
   * plain text, when `exact`); `tail`, for a needle that starts with a word, those where it
   * is a longer word's end (`ends`, `seq`: what narrows them; at least one is set). Texts
   * not answered exactly are checked for the needle.
   */
  | {
      kind: 'phrase';
      seq: SeqPhrase;
      exact: boolean;
      tail: { ends: EndsQuery | null; seq: SeqPhrase | null } | null;
    };

function quote(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function seqPhrase(tokens: string[], prefix: boolean, surelyTokens: boolean): SeqPhrase {
  const text = tokens.join(' ');
  return { match: `${quote(text)}${prefix ? ' *' : ''}`, text, surelyTokens };
}

export function planSearch(needle: string): SearchPlan {
  if (codePoints(needle) < 3) return { kind: 'short' };
  // The needle as words and runs, in order.
  const parts: Array<{ run: boolean; s: string }> = [];
  let at = 0;
  for (const m of needle.matchAll(SEPARATORS)) {
    if (m.index > at) parts.push({ run: false, s: needle.slice(at, m.index) });
    parts.push({ run: true, s: m[0] });
    at = m.index + m[0].length;
  }
  if (at < needle.length) parts.push({ run: false, s: needle.slice(at) });
  if (parts.length === 1 && !parts[0]!.run) {
    // Inside one word: the trigram phrase over `word_grams`' one column, the words.
    return { kind: 'word', match: quote(needle) };
  }
  if (parts.length === 1) {
    // Separators only, 3 or more: inside one run of the text, never a lone space.
    return {
      kind: 'phrase',
      seq: seqPhrase([codeRun(needle).trim()], false, true),
      exact: true,
      tail: null,
    };
  }
  let exact = true;
  // Tokens of each part; sure: the part surely makes one.
  const tokens = parts.map((p, i) => {
    if (!p.run) {
      if (!ASCII_WORD.test(p.s)) exact = false;
      return { t: ownCodes(p.s), sure: HAS_ASCII_WORD_CHAR.test(p.s) };
    }
    // A lone space between words is the boundary itself; at either end of the needle it
    // may be the start or end of a longer run, which has tokens: left out, and checked.
    if (p.s === ' ') {
      if (i === 0 || i === parts.length - 1) exact = false;
      return { t: '', sure: false };
    }
    return { t: codeRun(p.s).trim(), sure: true };
  });
  const phraseOf = (from: number): SeqPhrase | null => {
    const rest = tokens.slice(from).filter((t) => t.t !== '');
    if (rest.length === 0) return null;
    return seqPhrase(
      rest.map((t) => t.t),
      !parts[parts.length - 1]!.run,
      rest.some((t) => t.sure),
    );
  };
  const seq = phraseOf(0)!;
  if (parts[0]!.run) return { kind: 'phrase', seq, exact, tail: null };
  const first = parts[0]!.s;
  // A one-character first word would be a prefix query of every key that starts with it.
  const key = reversedWords(searchFold(first), false);
  const ends = codePoints(first) >= 2 ? { match: `${quote(key)} *`, key } : null;
  const tailSeq = phraseOf(1);
  if (ends === null && tailSeq === null) return { kind: 'scan' };
  return { kind: 'phrase', seq, exact, tail: { ends, seq: tailSeq } };
}
