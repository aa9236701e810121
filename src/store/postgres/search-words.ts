// What the trigram index of SEARCH BODY / TEXT covers over PostgreSQL (issue 17). pg_trgm
// makes the trigrams of a text word by word and keeps each once, so the index of a message's
// distinct words, each once, holds exactly the trigrams of its whole text, at a fraction of
// the cost: extracting trigrams from every word of a 10 KB text was most of what a delivery
// cost PostgreSQL (docs/design-notes.md). The whole folded text stays in body_text, which
// answers the substring match itself (RFC 9051 §6.4.4); the words only narrow the rows.
//
// A word is a run of characters other than ASCII's non-alphanumerics (so every non-ASCII
// character is part of a word): a rule SQL applies as well as this module does (the
// migration that made the words of the messages already stored, WORD_SEPARATORS_SQL). If a
// text contains the needle, each word-run of the needle lies inside one word of the text:
// as a whole word where separators surround it in the needle, as a word's start or end where
// one side has one, anywhere in a word otherwise. wordPatterns says that in LIKE patterns over
// the words, each a necessary condition, so the index can answer them without missing a row.

/** Separators, for PostgreSQL's regular expressions (the migration of the stored rows). */
export const WORD_SEPARATORS_SQL = '[\\x01-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7f]+';

/** Patterns beyond this many add little: the longest are kept. */
const MAX_PATTERNS = 8;

function isWordChar(c: number): boolean {
  return (
    c >= 0x80 || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
  );
}

interface Run {
  word: string;
  /** A separator comes right before it / after it (in the needle). */
  left: boolean;
  right: boolean;
}

function runs(s: string): Run[] {
  const out: Run[] = [];
  let i = 0;
  while (i < s.length) {
    if (!isWordChar(s.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    while (i < s.length && isWordChar(s.charCodeAt(i))) i++;
    out.push({ word: s.slice(start, i), left: start > 0, right: i < s.length });
  }
  return out;
}

/**
 * The distinct words of a folded text, each once, between spaces: ' w1 w2 ... ', in the order
 * they first occur (searchWordsUtf8, over the text's UTF-8).
 */
export function searchWords(folded: string): string {
  return searchWordsUtf8(Buffer.from(folded, 'utf8')).toString('utf8');
}

/**
 * A word's bytes in UTF-8: ASCII's characters are single bytes below 0x80 and every other
 * character's bytes are 0x80 or above, so this is isWordChar's rule over the encoded text.
 */
function isWordByte(c: number): boolean {
  return (
    c >= 0x80 || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
  );
}

/** The seen-words table of the last call is kept for the next up to this many slots. */
const KEPT_SLOTS = 1 << 15;

/**
 * An open-addressing table of the words seen in one call, reused across calls: a slot is in
 * use when its stamp is the call's, so it is never cleared.
 */
class WordTable {
  stamp: Int32Array;
  start: Int32Array;
  length: Int32Array;
  /** Stamps start at 0: calls count from 1. */
  call = 1;
  constructor(readonly slots: number) {
    this.stamp = new Int32Array(slots);
    this.start = new Int32Array(slots);
    this.length = new Int32Array(slots);
  }
}

let kept = new WordTable(1024);

function tableFor(bytes: number): WordTable {
  // A word takes a byte and a separator: at most half the bytes are words, so a table of as
  // many slots as bytes is at most half full.
  let slots = 1024;
  while (slots < bytes) slots *= 2;
  if (slots > KEPT_SLOTS) return new WordTable(slots);
  if (kept.slots < slots) kept = new WordTable(slots);
  if (kept.call === 0x7fffffff) {
    kept.stamp.fill(0);
    kept.call = 0;
  }
  kept.call++;
  return kept;
}

/**
 * searchWords over the UTF-8 bytes of a folded text, as UTF-8: what goes to PostgreSQL is
 * bytes, so every delivery's text is encoded once and its words (about a thousand in 10 KB,
 * most of them repeated) are found and copied as bytes, with no string made for each.
 */
export function searchWordsUtf8(text: Uint8Array): Buffer {
  const n = text.length;
  const table = tableFor(n);
  const { stamp, start: starts, length: lengths, call } = table;
  const mask = table.slots - 1;
  /** Each distinct word's start and length, in the order of first occurrence. */
  const firsts: number[] = [];
  let total = 2;
  let i = 0;
  while (i < n) {
    let c = text[i]!;
    if (!isWordByte(c)) {
      i++;
      continue;
    }
    const start = i;
    let h = 0;
    do {
      h = (Math.imul(h, 31) + c) | 0;
      if (++i === n) break;
      c = text[i]!;
    } while (isWordByte(c));
    const length = i - start;
    let slot = (h ^ (h >>> 15)) & mask;
    for (;;) {
      if (stamp[slot] !== call) {
        stamp[slot] = call;
        starts[slot] = start;
        lengths[slot] = length;
        firsts.push(start, length);
        total += length + 1;
        break;
      }
      if (lengths[slot] === length && sameBytes(text, starts[slot]!, start, length)) break;
      slot = (slot + 1) & mask;
    }
  }
  const out = Buffer.allocUnsafe(firsts.length === 0 ? 2 : total - 1);
  out[0] = 0x20;
  let at = 1;
  for (let k = 0; k < firsts.length; k += 2) {
    const from = firsts[k]!;
    const length = firsts[k + 1]!;
    for (let j = 0; j < length; j++) out[at + j] = text[from + j]!;
    at += length;
    out[at++] = 0x20;
  }
  if (firsts.length === 0) out[1] = 0x20;
  return out;
}

function sameBytes(s: Uint8Array, a: number, b: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (s[a + k] !== s[b + k]) return false;
  return true;
}

/**
 * LIKE patterns over searchWords' text that every message containing the folded needle
 * matches (none when the needle has no word-run the index could use).
 */
export function wordPatterns(foldedNeedle: string): string[] {
  return (
    runs(foldedNeedle)
      // An unbounded run shorter than a trigram gives pg_trgm nothing to look up.
      .filter((r) => r.word.length >= 3 || r.left || r.right)
      .sort((a, b) => b.word.length - a.word.length)
      .slice(0, MAX_PATTERNS)
      .map((r) => `%${r.left ? ' ' : ''}${r.word}${r.right ? ' ' : ''}%`)
  );
}
