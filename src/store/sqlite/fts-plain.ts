// Which texts are `plain` (fts-query.ts): those in which the linked SQLite's unicode61
// tokenizer splits and folds every word as this module does, so that a phrase of ASCII words
// found in `word_seq` is a match without reading the text (RFC 9051 §6.4.4: no false hits).
// unicode61 classifies code points by the Unicode tables compiled into SQLite (6.1), Node's
// regexps by newer ones (15): a letter to this process may be a separator to unicode61
// (U+19B0-U+19C9, New Tai Lue vowel signs, letters since Unicode 8), so that "foo<it>bar"
// would be found by the phrase "foo bar"; and unicode61 folds a few letters to ASCII
// (U+212A KELVIN SIGN -> "k", U+017F LONG S -> "s"). Rather than a list written by hand, the
// tokenizer itself is asked, once per process: every non-ASCII letter and digit (by this
// process's \p{L} / \p{N}) is tokenized, and those it splits at or folds to ASCII make a
// text not plain. Code points that are no letter or digit here make a text not plain anyway.
import Database from 'better-sqlite3';

/** Code points per probe row: a row that is one whole token answers for all of them. */
const ROW = 512;

/** This process's non-ASCII letters and digits, as runs of consecutive code points. */
function letterRuns(): string[] {
  // Every code point as UTF-16 (lone surrogates as spaces); a pair is one little-endian
  // 32-bit write.
  const buf = new ArrayBuffer((0x10000 + 0x100000 * 2) * 2);
  const bmp = new Uint16Array(buf, 0, 0x10000);
  for (let c = 0; c < 0x10000; c++) bmp[c] = c >= 0xd800 && c <= 0xdfff ? 0x20 : c;
  const pairs = new Uint32Array(buf, 0x10000 * 2);
  for (let v = 0; v < 0x100000; v++)
    pairs[v] = (0xd800 + (v >> 10)) | ((0xdc00 + (v & 0x3ff)) << 16);
  const all = new TextDecoder('utf-16le').decode(buf);
  // The runs of other characters (V8 finds those several times faster); letters and digits
  // are what lies between them.
  const runs: string[] = [];
  const others = /[^\p{L}\p{N}]+/gu;
  others.lastIndex = 0x80;
  let at = 0x80;
  for (const m of all.matchAll(others)) {
    if (m.index > at) runs.push(all.slice(at, m.index));
    at = m.index + m[0].length;
  }
  if (at < all.length) runs.push(all.slice(at));
  return runs;
}

/**
 * The non-ASCII letters and digits that unicode61 (`remove_diacritics 0`, as `word_seq`)
 * takes for separators or folds to ASCII, sorted.
 */
export function unicode61Disagreements(): number[] {
  const rows: string[] = [];
  for (const run of letterRuns()) {
    // Slices of ROW code points (a pair is not cut: a run is in one plane).
    const step = run.charCodeAt(0) >= 0xd800 ? ROW * 2 : ROW;
    for (let i = 0; i < run.length; i += step) rows.push(run.slice(i, i + step));
  }
  const db = new Database(':memory:');
  try {
    db.exec(`CREATE VIRTUAL TABLE probe USING fts5(t, tokenize = 'unicode61 remove_diacritics 0');
      CREATE VIRTUAL TABLE probe_terms USING fts5vocab(probe, instance);`);
    const insert = db.prepare('INSERT INTO probe (rowid, t) VALUES (?, ?)');
    const terms = db.prepare('SELECT doc, term FROM probe_terms ORDER BY doc, offset');
    /** Each text's tokens, in order. */
    const tokensOf = (texts: string[]): string[][] => {
      db.exec('DELETE FROM probe');
      db.transaction(() => {
        for (const [i, t] of texts.entries()) insert.run(i, t);
      })();
      const out: string[][] = texts.map(() => []);
      for (const r of terms.all() as { doc: number; term: string }[]) out[r.doc]!.push(r.term);
      return out;
    };
    const bad: number[] = [];
    /** Code points of the rows unicode61 split: asked one by one. */
    const unsure: number[] = [];
    const ascii = /[\x00-\x7f]/;
    tokensOf(rows).forEach((tokens, i) => {
      const row = rows[i]!;
      // unicode61 folds a code point to one code point (of the same UTF-16 length here).
      if (tokens.length !== 1 || tokens[0]!.length !== row.length) {
        for (const c of row) unsure.push(c.codePointAt(0)!);
      } else if (ascii.test(tokens[0]!)) {
        const folded = [...tokens[0]!];
        [...row].forEach((c, k) => {
          if (folded[k]!.charCodeAt(0) < 0x80) bad.push(c.codePointAt(0)!);
        });
      }
    });
    // Each after an ASCII letter: one token of two code points, the second not ASCII.
    tokensOf(unsure.map((c) => `q${String.fromCodePoint(c)}`)).forEach((tokens, i) => {
      const folded = tokens.length === 1 ? [...tokens[0]!] : [];
      if (folded.length !== 2 || folded[1]!.charCodeAt(0) < 0x80) bad.push(unsure[i]!);
    });
    return bad.sort((a, b) => a - b);
  } finally {
    db.close();
  }
}

let notPlain: RegExp | null = null;

/**
 * A character that makes a text not plain: outside ASCII and no letter or digit (a
 * separator to this module that unicode61 may take for a word character), or one of
 * unicode61Disagreements. Probed at the first call (one index worker: ~60 ms CPU), then kept.
 */
export function notPlainPattern(): RegExp {
  if (notPlain !== null) return notPlain;
  const hex = (c: number) => `\\u{${c.toString(16)}}`;
  const ranges: string[] = [];
  const bad = unicode61Disagreements();
  for (let i = 0; i < bad.length; ) {
    let j = i;
    while (j + 1 < bad.length && bad[j + 1] === bad[j]! + 1) j++;
    ranges.push(i === j ? hex(bad[i]!) : `${hex(bad[i]!)}-${hex(bad[j]!)}`);
    i = j + 1;
  }
  // One class (set subtraction, the `v` flag): one scan per text, as before.
  const agreed = ranges.length === 0 ? '[\\p{L}\\p{N}]' : `[[\\p{L}\\p{N}]--[${ranges.join('')}]]`;
  notPlain = new RegExp(`[^\\x00-\\x7f${agreed}]`, 'v');
  return notPlain;
}
