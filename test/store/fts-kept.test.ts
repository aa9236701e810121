// The texts a search read past a mailbox's mark, kept for its next searches and its catch-up
// (src/store/sqlite/fts-kept.ts): their folded copies are joined, many to a string, and a
// search looks for its needle in those strings; each hit must be inside one text still kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { searchFold } from '../../src/store/search-fold.js';
import { MailboxKept } from '../../src/store/sqlite/fts-kept.js';

function keptOf(texts: [number, string][]): MailboxKept {
  const kept = new MailboxKept(1, null);
  for (const [uid, text] of texts) kept.add(uid, `hash${uid}`, text, searchFold(text));
  kept.seal();
  return kept;
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

test('a hit is inside one text: none across two texts, one per text however many', () => {
  const kept = keptOf([
    [1, 'Alpha end'],
    [2, 'start bravo bravo'],
    [3, 'Charlie'],
  ]);
  assert.deepEqual(sorted(kept.matches('bravo')), [2]);
  assert.deepEqual(sorted(kept.matches('alpha end')), [1]);
  // The separator between texts is NUL: a needle holding one is not found across two texts.
  assert.deepEqual(kept.matches('end\0start'), []);
  assert.deepEqual(kept.matches('o\0charlie'), []);
  assert.deepEqual(sorted(kept.matches('a')), [1, 2, 3]);
  assert.deepEqual(sorted(kept.matches('')), [1, 2, 3]);
  assert.equal(kept.get(2)?.text, 'start bravo bravo');
  assert.equal(kept.get(2)?.hash, 'hash2');
});

test('over several joined strings: every hit, and none of a text no longer kept', () => {
  const n = 2500; // more than two strings' worth of texts
  const texts: [number, string][] = [];
  for (let uid = 1; uid <= n; uid++) {
    texts.push([uid, uid % 7 === 0 ? `Text ${uid} has the NEEDLE twice: needle` : `text ${uid}`]);
  }
  const kept = keptOf(texts);
  const want = texts.filter(([uid]) => uid % 7 === 0).map(([uid]) => uid);
  assert.deepEqual(sorted(kept.matches('needle')), want);
  assert.equal(kept.size, n);
  // Indexed meanwhile (the catch-up): its text stays in its joined string, and is no hit.
  let freed = 0;
  for (let uid = 1; uid <= 1100; uid++) freed += kept.remove(uid);
  assert.equal(
    freed,
    texts.slice(0, 1100).reduce((a, [, t]) => a + t.length, 0),
  );
  assert.equal(kept.remove(1), 0);
  assert.deepEqual(
    sorted(kept.matches('needle')),
    want.filter((uid) => uid > 1100),
  );
  assert.equal(kept.size, n - 1100);
  assert.equal(
    kept.chars(),
    texts.slice(1100).reduce((a, [, t]) => a + t.length, 0),
  );
});

test('texts added later join their own string; the newest text of a UID is the one kept', () => {
  const kept = keptOf([
    [1, 'one old'],
    [2, 'two'],
  ]);
  kept.add(3, 'hash3', 'three NEW', searchFold('three NEW'));
  // Not found before it is sealed (the search that read it tested it itself).
  assert.deepEqual(kept.matches('new'), []);
  kept.add(1, 'hash1b', 'one new', searchFold('one new'));
  kept.seal();
  assert.deepEqual(sorted(kept.matches('new')), [1, 3]);
  assert.deepEqual(kept.matches('old'), []);
  assert.equal(kept.get(1)?.hash, 'hash1b');
  assert.equal(kept.size, 3);
});
