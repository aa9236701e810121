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
 * The distinct words of a folded text, each once, between spaces: ' w1 w2 ... '. Every
 * delivery makes them (about a thousand words in 10 KB of text), so the text is walked once
 * without runs' objects.
 */
export function searchWords(folded: string): string {
  const words = new Set<string>();
  const n = folded.length;
  let i = 0;
  while (i < n) {
    if (!isWordChar(folded.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && isWordChar(folded.charCodeAt(i))) i++;
    words.add(folded.slice(start, i));
  }
  return ` ${[...words].join(' ')} `;
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
