// SEARCH BODY / TEXT against a plain substring test (RFC 9051 §6.4.4: a message matches when
// the string is a substring of its text, case-insensitively), on texts and needles generated
// at random from pieces that stress the word indexes (fts-query.ts): words of every length and
// case, letters outside ASCII (final sigma, sharp s, the kelvin sign, CJK, emoji), the
// separators ASCII and unicode61 disagree on, runs of them. The needles are the texts' own
// substrings at random places and lengths (1 to 24 code points, in another case half the
// time) and pieces joined at random: short needles (LIKE's path), one word (trigrams), across
// words (the word sequence and word ends). A fixed seed by default; FUZZ_SEED=<n> explores
// another.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { FtsDb } from '../../src/store/sqlite/fts-db.js';
import { newMessage } from '../helpers/messages.js';
import { searchMismatches, storeOfTexts } from '../helpers/search-oracle.js';
import { openAliceStore } from '../helpers/store.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const TEXTS = 60;
const NEEDLES_PER_TEXT = 14;

const PIECES = [
  // Words: short, long, mixed case, digits, repeated stems (a word's end is another's start).
  'a',
  'to',
  'the',
  'The',
  'THE',
  'bathe',
  'theme',
  'meeting',
  'Meetings',
  'report42',
  '42',
  'x9y',
  'ab',
  'abab',
  'ababab',
  // Outside ASCII: letters unicode61 folds or splits unlike this process, case changes that
  // change a string's length or depend on context (U+0130 lower-cases to "i" and a combining
  // dot, which SQLite's tokenizers do not: the index expands it; its decomposed forms).
  'café',
  'CRÈME',
  'Straße',
  'ẞ',
  'ΟΔΟΣ',
  'σοφός',
  '\u212aelvin',
  '\u0130stanbul',
  'i\u0307z',
  'I\u0307ZMIR',
  'İ',
  'foo\u19b0bar',
  '東京',
  '中文字',
  '😀',
  '\ue001',
  // Separators: ASCII's, and characters only unicode61 (or nothing) takes for one.
  ' ',
  ' ',
  ' ',
  '  ',
  '\r\n',
  '.',
  '..',
  ',',
  ', ',
  '-',
  '--',
  '—',
  '_',
  "'",
  '"',
  '\t',
  '\u00a0',
  '“',
  ':',
];

const piece = fc.constantFrom(...PIECES);
const textArb = fc.array(piece, { minLength: 1, maxLength: 50 }).map((ps) => ps.join(''));

/** Needles for `text`: its substrings (whole code points) at random, in another case half the time. */
function needlesOf(text: string, rnd: () => number): string[] {
  const chars = [...text];
  const out: string[] = [];
  for (let k = 0; k < NEEDLES_PER_TEXT; k++) {
    const len = 1 + Math.floor(rnd() * 24);
    const at = Math.floor(rnd() * Math.max(1, chars.length - len + 1));
    let n = chars.slice(at, at + len).join('');
    const r = rnd();
    if (r < 0.25) n = n.toUpperCase();
    else if (r < 0.5) n = n.toLowerCase();
    if (n.length > 0) out.push(n);
  }
  return out;
}

/** A small deterministic generator for the needles' places (mulberry32), from `seed`. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

for (const mode of ['on-delivery', 'on-search'] as const)
  describe(`SEARCH over the full-text index (${mode}): the same UIDs as a substring test`, () => {
    const texts = fc.sample(textArb, { seed: SEED, numRuns: TEXTS });
    const rnd = mulberry32(SEED);
    const needles = new Set<string>();
    for (const t of texts) for (const n of needlesOf(t, rnd)) needles.add(n);
    for (const joined of fc.sample(fc.array(piece, { minLength: 1, maxLength: 4 }), {
      seed: SEED + 1,
      numRuns: 200,
    })) {
      needles.add(joined.join(''));
    }

    const opened = storeOfTexts('lb-fts-oracle-', texts, mode);

    test(`seed ${SEED}: ${TEXTS} texts, every needle`, async () => {
      const wrong = await searchMismatches(opened(), texts, needles);
      assert.deepEqual(wrong, [], `FUZZ_SEED=${SEED}; texts: ${JSON.stringify(texts)}`);
    });
  });

// on-search's search of a mailbox far behind its mark (FtsDb.search's `readPast`): every
// message past the mark read from its bytes and tested, none indexed; then, the first half
// indexed, the index up to the mark and the rest read.
describe('SEARCH reading past the mark (on-search): the same UIDs as a substring test', () => {
  const texts = fc.sample(textArb, { seed: SEED, numRuns: TEXTS });
  const rnd = mulberry32(SEED ^ 0x5bd1e995);
  const needles = new Set<string>();
  for (const t of texts) for (const n of needlesOf(t, rnd)) needles.add(n);
  let dir = '';
  let inbox = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-fts-read-past-'));
    const opened = await openAliceStore(dir, { fullTextIndex: 'on-search' });
    inbox = opened.inbox;
    try {
      for (const [i, t] of texts.entries()) {
        // Half of them first, searched (indexed) below before the rest is stored.
        if (i === TEXTS / 2) await opened.store.searchText(inbox, 'first half');
        await opened.store.append(newMessage(`m${i}`, t), [{ mailboxId: inbox }]);
      }
    } finally {
      await opened.store.close();
    }
  });
  after(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });
  const readingPast = (fts: FtsDb) =>
    ({
      inbox,
      store: { searchText: async (m: number, n: string) => fts.search(m, n, true) },
    }) as unknown as Parameters<typeof searchMismatches>[0];

  test(`seed ${SEED}: the first half indexed, the rest read`, async () => {
    const fts = new FtsDb({
      ftsFile: join(dir, 'fts.db'),
      mailFile: join(dir, 'letterbox.db'),
      blobRoot: join(dir, 'blobs'),
      fullTextIndex: 'on-search',
    });
    try {
      assert.equal(fts.behind(inbox, TEXTS), TEXTS / 2);
      const wrong = await searchMismatches(readingPast(fts), texts, needles);
      assert.deepEqual(wrong, [], `FUZZ_SEED=${SEED}`);
      assert.equal(fts.textsIndexed, 0);
    } finally {
      fts.close();
    }
  });

  test(`seed ${SEED}: no room to keep a text, their signatures narrowing the reads`, async () => {
    const fts = new FtsDb({
      ftsFile: join(dir, 'fts.db'),
      mailFile: join(dir, 'letterbox.db'),
      blobRoot: join(dir, 'blobs'),
      fullTextIndex: 'on-search',
      // Every text past the mark signed (fts-signatures.ts), none kept: the first needle's
      // search signs them, every later one reads only what its signatures let through.
      keptChars: 0,
    });
    try {
      const wrong = await searchMismatches(readingPast(fts), texts, needles);
      assert.deepEqual(wrong, [], `FUZZ_SEED=${SEED}`);
      assert.equal(fts.keptText, 0);
      assert.ok(fts.signedText > 0);
    } finally {
      fts.close();
    }
  });
});
