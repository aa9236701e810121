// Trigram signatures of texts not kept past an on-search mark (src/store/sqlite/
// fts-signatures.ts): a text holding a needle is always a candidate (no false negative),
// whatever its length, and most texts that do not hold it are not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { searchFold } from '../../src/store/search-fold.js';
import { signatureBytes, TrigramSignatures } from '../../src/store/sqlite/fts-signatures.js';

function candidatesOf(sigs: TrigramSignatures, needle: string, after = 0): number[] {
  const found: number[] = [];
  sigs.candidates(searchFold(needle), after, (uid) => found.push(uid));
  return found;
}

test('every text holding a needle is a candidate (random texts and their substrings)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: 'grapheme', maxLength: 300 }), { minLength: 1, maxLength: 40 }),
      fc.nat(),
      fc.nat(),
      (texts, from, len) => {
        const sigs = new TrigramSignatures();
        for (const [i, t] of texts.entries()) sigs.add(i + 1, searchFold(t));
        const folded = texts.map((t) => searchFold(t));
        const source = folded[from % folded.length]!;
        const start = source.length === 0 ? 0 : from % source.length;
        const needle = source.slice(start, start + 1 + (len % 12));
        const found = new Set(candidatesOf(sigs, needle));
        folded.forEach((t, i) => {
          if (t.includes(needle)) assert.ok(found.has(i + 1), JSON.stringify({ t, needle }));
        });
      },
    ),
    { seed: 20261207, numRuns: 300 },
  );
});

test('texts without the needle are mostly not candidates; no trigram, every one is', () => {
  const sigs = new TrigramSignatures();
  for (let uid = 1; uid <= 3000; uid++) {
    const word = uid % 100 === 0 ? 'zeppelinquartz' : 'quarterly';
    sigs.add(uid, searchFold(`Report ${uid} for the ${word} review, see the notes attached.`));
  }
  const hits = candidatesOf(sigs, 'ZeppelinQuartz');
  assert.ok(hits.length >= 30 && hits.length < 40, `${hits.length}`);
  for (let uid = 100; uid <= 3000; uid += 100) assert.ok(hits.includes(uid));
  // Ascending, past `after` only.
  assert.deepEqual(
    candidatesOf(sigs, 'zeppelinquartz', 2500),
    hits.filter((u) => u > 2500),
  );
  assert.deepEqual(
    hits,
    [...hits].sort((a, b) => a - b),
  );
  assert.equal(candidatesOf(sigs, 'ze').length, 3000);
  assert.equal(candidatesOf(sigs, '').length, 3000);
});

test('chunks wholly indexed are dropped, their bytes given back', () => {
  const sigs = new TrigramSignatures();
  for (let uid = 1; uid <= 2500; uid++) sigs.add(uid, `text number ${uid}`);
  sigs.seal();
  const all = sigs.bytes;
  assert.equal(all, 2500 * signatureBytes('text number 1000'.length));
  assert.equal(sigs.dropUpTo(1000), 0); // the first chunk ends at 1024
  const freed = sigs.dropUpTo(2048);
  assert.equal(freed, 2048 * signatureBytes(16));
  assert.equal(sigs.bytes, all - freed);
  assert.equal(sigs.size, 452);
  // Those left only (a false hit or two among them may come along).
  const left = candidatesOf(sigs, 'number 2049');
  assert.ok(left.includes(2049) && left.every((u) => u > 2048) && left.length < 10);
  // A text too long for a signature has none (it is read at every search instead).
  assert.equal(signatureBytes(1 << 20), 0);
  assert.equal(signatureBytes(2), 8);
});
