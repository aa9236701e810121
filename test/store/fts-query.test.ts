// The full-text index of words (fts-query.ts): how a needle is looked up, and that SEARCH
// still finds exactly the texts that contain it as a substring, case-insensitively (RFC 9051
// §6.4.4), inside a word, across words and punctuation, at a word's start, end or middle.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { notPlainPattern, unicode61Disagreements } from '../../src/store/sqlite/fts-plain.js';
import { indexText, planSearch, SequenceBytes } from '../../src/store/sqlite/fts-query.js';
import { searchMismatches, storeOfTexts } from '../helpers/search-oracle.js';

const words = (t: string) => {
  const { words, ends } = indexText(t);
  return { words, ends };
};
const sequenceText = (t: string) => indexText(t).sequence;
const plainText = (t: string) => indexText(t).plain;

describe('index words', () => {
  test('each distinct word of 3 characters or more once, and its end key', () => {
    assert.deepEqual(words('The cat, the CAT; the cat!\r\nx'), {
      words: ' The cat the CAT ',
      ends: 'ta eh ta eh ',
    });
    // Only ASCII's non-alphanumerics separate; a surrogate pair stays whole, also reversed.
    assert.deepEqual(words('café—bar 😀ab 😀x😀'), {
      words: ' café—bar 😀ab 😀x😀 ',
      ends: '😀x ba rab—éfa ',
    });
    // Same length and same first, middle and last characters: told apart all the same.
    assert.deepEqual(words('abcde axcde abcde, axcde\r\nayyde axcde'), {
      words: ' abcde axcde ayyde ',
      ends: 'edyy edcx edcb ',
    });
    // Long words repeated, and long ones of equal hash (length, first, middle, last).
    const x = 'X'.repeat(20);
    const lx = x.toLowerCase();
    assert.deepEqual(words(`1${x}\r\n${x}\r\n1${x}\r\n${x}\r\n1${x.slice(1)}Y${x}\r\n`), {
      words: ` 1${x} ${x} 1${x.slice(1)}Y${x} `,
      ends: `${lx}y${lx.slice(1)} ${lx.slice(1)} ${lx} `,
    });
    assert.deepEqual(words(`aX${x}b aY${x}b aX${x}b aY${x}b`), {
      words: ` aX${x}b aY${x}b `,
      ends: `b${lx}y b${lx}x `,
    });
    // Words under 3 characters hold no needle of 3 and end in no other of 2.
    assert.deepEqual(words('a ab abc'), { words: ' abc ', ends: 'cb ' });
    // Lower case as the check of a text (String.prototype.toLowerCase), final sigma as sigma;
    // U+0130 lower-cases to two characters: the second stays in the key.
    assert.deepEqual(words('ΟΔΟΣ \u0130xyz'), {
      words: ' ΟΔΟΣ \u0130xyz ',
      ends: 'zyx\u0307 σοδ ',
    });
    assert.deepEqual(words(''), { words: ' ', ends: '' });
    assert.deepEqual(words('...'), { words: ' ', ends: '' });
  });
});

describe('the word sequence', () => {
  test('separator runs but a lone space become a token per character', () => {
    assert.equal(sequenceText('The meeting.\r\nBye'), 'The meeting \ue02e \ue00d \ue00a Bye');
    assert.equal(sequenceText('a  b ,c'), 'a \ue020 \ue020 b \ue020 \ue02c c');
    assert.equal(sequenceText(' x\ue001y '), ' x\ue080y ');
    assert.equal(sequenceText('\ue02e. z'), '\ue080 \ue02e \ue020 z');
    assert.equal(sequenceText('..'), ' \ue02e \ue02e ');
    assert.equal(sequenceText(''), '');
  });
  test("the sequence as UTF-8 bytes: the binding's bytes of the string, words and plain alike", () => {
    // What better-sqlite3 hands SQLite for the string (a lone surrogate as its three bytes,
    // where Buffer.from would write U+FFFD).
    const db = new Database(':memory:');
    const utf8 = db.prepare('SELECT CAST(? AS BLOB)').pluck();
    const bytes = new SequenceBytes();
    const same = (t: string) => {
      const s = indexText(t);
      const b = indexText(t, undefined, bytes);
      assert.ok(Buffer.isBuffer(b.sequence), JSON.stringify(t));
      assert.deepEqual(b.sequence, utf8.get(s.sequence), JSON.stringify(t));
      assert.deepEqual({ ...b, sequence: 0 }, { ...s, sequence: 0 }, JSON.stringify(t));
    };
    const cases = ['The meeting.\r\nBye', 'a  b ,c', '..', '', ' ', 'x', '\x00\x7f', 'é.', 'a.é b'];
    for (const t of [
      ...cases,
      ' x\ue001y ',
      '\ue02e. z',
      'a\ud800b',
      '\udc00.',
      'x\ud83d',
      '\ufffe\uffff',
    ]) {
      same(t);
    }
    // ASCII pieces: words, separator runs of every kind (SequenceBytes.ascii takes a text
    // made of these alone: its sequence made from its own bytes, copied a stretch at a time).
    const ascii = ['a', 'Zz9', ' ', '  ', '\r\n', '.', ',;', '\t', '\x00', '\x7f', '-- '];
    const texts = (piece: fc.Arbitrary<string>) =>
      fc.assert(
        fc.property(fc.array(piece, { maxLength: 40 }), (ps) => same(ps.join(''))),
        { numRuns: 3000 },
      );
    texts(fc.constantFrom(...ascii));
    // With letters outside ASCII of two and three bytes, the coded range's edges, surrogate
    // pairs and lone surrogates, NBSP, anywhere.
    texts(
      fc.constantFrom(
        ...ascii,
        'é',
        'ß',
        '\u07ff',
        '\u0800',
        '\ue000',
        '\ue001',
        '\ue07f',
        '\ue080',
        '\ud83d\ude00',
        '\ud83d',
        '\ude00',
        '\u00a0',
        'Straße',
        '\u212a',
        '\u19b0',
        '中文',
      ),
    );
    // Long texts: the memory grows (every character a separator: 4 bytes each and 1 more).
    same('.'.repeat(70_000));
    same(`${'.a'.repeat(40_000)}.`);
    same(`${'word, '.repeat(20_000)}end`);
    same('中'.repeat(30_000));
    // Thousands of distinct words, each seen again later: the ASCII scan's table of words
    // grows past its first size (4,096 slots, 2,048 words) with the words found again after.
    const many = Array.from({ length: 5000 }, (_, i) => `w${i}x${i % 7}`);
    same(`${many.join(' ')}\r\n${many.reverse().join('.')}`);
    db.close();
  });

  test('a plain text: ASCII, letters and digits only', () => {
    assert.equal(plainText('Grüße, Köln 42; ПРИВЕТ 東京 x²'), true);
    assert.equal(plainText('em—dash'), false);
    assert.equal(plainText('a\u00a0b'), false);
    assert.equal(plainText('cafe\u0301'), false);
    assert.equal(plainText('😀'), false);
  });
  test('not plain: the letters the linked SQLite splits at or folds to ASCII', () => {
    // Asked of SQLite: U+19B0 (New Tai Lue, a letter since Unicode 8) is a separator to
    // unicode61's 6.1 tables; U+212A KELVIN SIGN folds to "k".
    const bad = unicode61Disagreements();
    assert.ok(bad.includes(0x19b0) && bad.includes(0x212a), bad.join());
    assert.ok(!bad.includes(0xe9) && !bad.includes(0x4eac));
    const plain = (t: string) => indexText(t, notPlainPattern()).plain;
    assert.equal(plain('foo\u19b0bar'), false);
    assert.equal(plain('\u212aelvin'), false);
    assert.equal(plain('Grüße, Köln 42; ПРИВЕТ 東京 x²'), true);
    assert.equal(plain('em—dash'), false);
  });
});

describe('search plans', () => {
  const cases: Array<[string, ReturnType<typeof planSearch>]> = [
    ['ab', { kind: 'short' }],
    ['é!', { kind: 'short' }],
    ['abc', { kind: 'word', match: '"abc"' }],
    ['Zeppelin', { kind: 'word', match: '"Zeppelin"' }],
    ['—“x”', { kind: 'word', match: '"—“x”"' }],
    [
      'the meeting',
      {
        kind: 'phrase',
        seq: { match: '"the meeting" *', text: 'the meeting', surelyTokens: true },
        exact: true,
        tail: {
          ends: { match: '"eht" *', key: 'eht' },
          seq: { match: '"meeting" *', text: 'meeting', surelyTokens: true },
        },
      },
    ],
    [
      // A separator is a token of its own (a private-use character), but a lone space.
      'meeting.',
      {
        kind: 'phrase',
        seq: { match: '"meeting \ue02e"', text: 'meeting \ue02e', surelyTokens: true },
        exact: true,
        tail: {
          ends: { match: '"gniteem" *', key: 'gniteem' },
          seq: { match: '"\ue02e"', text: '\ue02e', surelyTokens: true },
        },
      },
    ],
    [
      // A lone space at an end may be part of a longer run: left out, and checked.
      ' find below.\r\n',
      {
        kind: 'phrase',
        seq: {
          match: '"find below \ue02e \ue00d \ue00a"',
          text: 'find below \ue02e \ue00d \ue00a',
          surelyTokens: true,
        },
        exact: false,
        tail: null,
      },
    ],
    [
      'x,  y',
      {
        kind: 'phrase',
        seq: {
          match: '"x \ue02c \ue020 \ue020 y" *',
          text: 'x \ue02c \ue020 \ue020 y',
          surelyTokens: true,
        },
        exact: true,
        tail: {
          ends: null,
          seq: {
            match: '"\ue02c \ue020 \ue020 y" *',
            text: '\ue02c \ue020 \ue020 y',
            surelyTokens: true,
          },
        },
      },
    ],
    [
      '...',
      {
        kind: 'phrase',
        seq: { match: '"\ue02e \ue02e \ue02e"', text: '\ue02e \ue02e \ue02e', surelyTokens: true },
        exact: true,
        tail: null,
      },
    ],
    [
      'café crème',
      {
        kind: 'phrase',
        seq: { match: '"café crème" *', text: 'café crème', surelyTokens: true },
        exact: false,
        tail: {
          ends: { match: '"éfac" *', key: 'éfac' },
          seq: { match: '"crème" *', text: 'crème', surelyTokens: true },
        },
      },
    ],
    [
      '—— ——',
      {
        kind: 'phrase',
        seq: { match: '"—— ——" *', text: '—— ——', surelyTokens: false },
        exact: false,
        tail: {
          ends: { match: '"——" *', key: '——' },
          seq: { match: '"——" *', text: '——', surelyTokens: false },
        },
      },
    ],
    [
      // The text's own characters in the coded range are one other character, in both.
      '\ue02e\ue02e x',
      {
        kind: 'phrase',
        seq: { match: '"\ue080\ue080 x" *', text: '\ue080\ue080 x', surelyTokens: true },
        exact: false,
        tail: {
          ends: { match: '"\ue02e\ue02e" *', key: '\ue02e\ue02e' },
          seq: { match: '"x" *', text: 'x', surelyTokens: true },
        },
      },
    ],
  ];
  for (const [needle, plan] of cases) {
    test(JSON.stringify(needle), () => assert.deepEqual(planSearch(needle), plan));
  }
});

for (const mode of ['on-delivery', 'on-search'] as const)
  describe(`SEARCH over the word indexes finds every substring (${mode})`, () => {
    const texts = [
      'Please find below the Quarterly report.\r\nRegards, Bob\r\n',
      'Please, find: below -- the quarterly_report\r\nbathe the meeting\r\n',
      'Grüße aus Köln: café CRÈME brûlée; ПРИВЕТ мир\r\n',
      'em—dash “quoted” 😀emoji 東京タワー 123-456\r\n',
      'Re: re: RE: x y z xyz x-y-z x  y\r\n',
      'the the theme there other\r\nmeetingroom meeting\r\n',
      // Separators unicode61 sees and ASCII does not: the phrase narrows, the text decides.
      'one\u00a0two em—dash Meeting. meeting.. MEETING -—- --\r\n',
      // A letter since Unicode 8 that unicode61 (6.1) splits at, and the kelvin sign it folds.
      'foo\u19b0bar \u212aelvin kelvin-\r\n',
      'foo bar\r\n',
      // Lower case by a word's context (final sigma), and to ASCII: a needle's first word as the
      // end of a longer word (word_ends' keys) in such words.
      'ΟΔΟΣ.ΟΔΟΣ σοφός, \u212aelvin\u212a—q ΟΣ-\r\n',
    ];
    // The texts' substrings of a few lengths at every position (line breaks too), some in
    // other cases, plus needles found nowhere.
    const needles = new Set<string>(['zzz', 'find  below', 'bob regards', 'мир!', 'x y  z']);
    for (const t of texts) {
      const chars = [...t];
      for (let i = 0; i < chars.length; i++) {
        for (const n of [3, 5, 8, 13]) {
          const s = chars.slice(i, i + n).join('');
          if (i + n > chars.length) continue;
          needles.add(s);
          needles.add(i % 2 === 0 ? s.toUpperCase() : s.toLowerCase());
        }
      }
    }

    const opened = storeOfTexts('lb-fts-words-', texts, mode);

    test(`${needles.size} needles: the same UIDs as a substring test of each text`, async () => {
      assert.deepEqual(await searchMismatches(opened(), texts, needles), []);
    });

    test("a word that ends in the needle's first piece, and symbols only", async () => {
      const { store, inbox } = opened();
      // "bathe the": "the" as a whole word and as the tail of "bathe".
      assert.deepEqual(await store.searchText(inbox, 'the meeting'), [2]);
      assert.deepEqual(await store.searchText(inbox, 'athe the meet'), [2]);
      assert.deepEqual(await store.searchText(inbox, 'he the'), [2, 6]);
      assert.deepEqual(await store.searchText(inbox, '— “'), []);
      assert.deepEqual(await store.searchText(inbox, 'h “quo'), [4]);
      assert.deepEqual(await store.searchText(inbox, '” 😀'), [4]);
      assert.deepEqual(await store.searchText(inbox, 'one two'), []);
      assert.deepEqual(await store.searchText(inbox, 'em dash'), []);
      assert.deepEqual(await store.searchText(inbox, '---'), []);
      assert.deepEqual(await store.searchText(inbox, 'm—dash meeting'), [7]);
      assert.deepEqual(await store.searchText(inbox, 'meeting.'), [7]);
      assert.deepEqual(await store.searchText(inbox, 'meeting.\r\n'), []);
      assert.deepEqual(await store.searchText(inbox, 'meeting\r\n'), [2, 6]);
      // Separators only: one run of the text ("-—-" is two runs and a word unicode61 drops).
      assert.deepEqual(await store.searchText(inbox, ' -- '), [2]);
      assert.deepEqual(await store.searchText(inbox, '...'), []);
      assert.deepEqual(await store.searchText(inbox, '. m'), [7]);
      // Not "foo bar" across the letter unicode61 takes for a separator (RFC 9051 §6.4.4).
      assert.deepEqual(await store.searchText(inbox, 'foo bar'), [9]);
      // The kelvin sign lower-cases to "k" here as well: a match, from the text read.
      assert.deepEqual(await store.searchText(inbox, 'kelvin kelvin'), [8]);
    });
  });
