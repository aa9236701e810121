// Issue 17: SEARCH BODY / TEXT over PostgreSQL narrows rows with a trigram index of each
// message's distinct words (src/store/postgres/search-words.ts) and matches the substring on
// the whole text (RFC 9051 §6.4.4). The words' patterns must hold for every text containing
// the needle, or a match would be missed; the migration's SQL rule must split words as the
// module does, or the rows stored before it would miss matches.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import {
  searchWords,
  searchWordsUtf8,
  wordPatterns,
} from '../../src/store/postgres/search-words.js';
import { newMessage, simpleIndex } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

/** SQL LIKE without escapes, as the patterns use it (only % and literal characters). */
function like(text: string, pattern: string): boolean {
  const parts = pattern.split('%');
  let at = 0;
  for (const [i, p] of parts.entries()) {
    if (i === 0) {
      if (!text.startsWith(p)) return false;
      at = p.length;
    } else if (i === parts.length - 1) {
      return text.length - p.length >= at && text.endsWith(p);
    } else {
      const found = text.indexOf(p, at);
      if (found < 0) return false;
      at = found + p.length;
    }
  }
  return at === text.length;
}

const TEXTS = [
  'the quarterly report, attached.\r\nthanks -- carol',
  'naïve café: größe über_alles (x=1; y_2) 2026-12-05 €100\tend',
  '...leading dots and trailing___',
  'mixed ünïcödé—dashes and emoji 😀ok, don’t stop',
  '',
  '!!!',
];

describe('search words (pure)', () => {
  test('words: distinct, between spaces; ASCII non-alphanumerics separate', () => {
    assert.equal(searchWords('a b a, b. c'), ' a b c ');
    assert.equal(searchWords(''), '  ');
    assert.equal(searchWords('x_y-z'), ' x y z ');
    assert.equal(searchWords('café’s 😀ok'), ' café’s 😀ok ');
  });

  test('words over UTF-8 bytes: the distinct words in first-seen order, as the rule over characters gives them', () => {
    // The rule over characters, written plainly: a word is a run of characters other than
    // ASCII's non-alphanumerics.
    const reference = (text: string) =>
      ` ${[...new Set(text.split(/[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+/).filter(Boolean))].join(' ')} `;
    let seed = 7;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const alphabet = [
      'a',
      'b',
      'é',
      'ß',
      'σ',
      'ς',
      '😀',
      '’',
      ' ',
      ',',
      '-',
      '_',
      '0',
      '\r\n',
      'ab',
    ];
    const random = Array.from({ length: 200 }, () =>
      Array.from(
        { length: Math.floor(rnd() * 60) },
        () => alphabet[Math.floor(rnd() * alphabet.length)],
      ).join(''),
    );
    // Long enough that the table grows past what is kept between calls, and back.
    const long = Array.from({ length: 20_000 }, (_, i) => `w${i % 7919}`).join(' ');
    for (const text of [...TEXTS, ...random, long, 'short again', 'é e é', '']) {
      const words = searchWordsUtf8(Buffer.from(text, 'utf8'));
      assert.equal(words.toString('utf8'), reference(text), JSON.stringify(text.slice(0, 60)));
      assert.equal(searchWords(text), reference(text));
    }
  });

  test('patterns: bounded where the needle has a separator, longest first, none below a trigram', () => {
    assert.deepEqual(wordPatterns('report'), ['%report%']);
    assert.deepEqual(wordPatterns('ly report, att'), ['% report %', '% att%', '%ly %']);
    assert.deepEqual(wordPatterns('ab'), []);
    assert.deepEqual(wordPatterns(' ab'), ['% ab%']);
    assert.deepEqual(wordPatterns('--'), []);
  });

  test('every substring of a text matches all its patterns on the text’s words', () => {
    for (const text of TEXTS) {
      const words = searchWords(text);
      for (let i = 0; i < text.length; i++) {
        for (let j = i + 1; j <= Math.min(text.length, i + 24); j++) {
          for (const p of wordPatterns(text.slice(i, j))) {
            assert.ok(like(words, p), `${JSON.stringify(text.slice(i, j))}: ${p} on ${words}`);
          }
        }
      }
    }
  });
});

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

describe('search words (PostgreSQL)', () => {
  test('migration 8 gives stored rows the words the module would; SEARCH finds substrings', async () => {
    const url = await server.createDatabase();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      // A database as migration 7 left it, with messages whose text was folded at delivery.
      await c.query(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
      );
      for (const m of PG_MIGRATIONS.filter((x) => x.version < 8)) {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations VALUES ($1, 0)', [m.version]);
      }
      for (const [i, text] of TEXTS.entries()) {
        await c.query(
          `INSERT INTO messages (blob_hash, size, structure, envelope, s_from, s_to, s_cc, s_bcc,
             s_subject, s_message_id, e_from, e_to, e_cc, e_bcc, email_id, thread_id, body_text,
             text_truncated)
           VALUES ($1, 1, 'null', 'null', '', '', '', '', '', '', '', '', '', '', $1, 't', $2,
             false)`,
          [`old${i}`, text.toLowerCase()],
        );
      }
      // The texts below are given as the index's (not their messages' bytes): made at delivery.
      const store = await PostgresStore.open({
        connectionString: url,
        max: 2,
        fullTextIndex: 'on-delivery',
      });
      try {
        const r = await c.query<{ blob_hash: string; body_text: string; body_words: string }>(
          'SELECT blob_hash, body_text, body_words FROM messages ORDER BY id',
        );
        for (const row of r.rows) {
          const set = (s: string) => new Set(s.trim().split(' ').filter(Boolean));
          assert.deepEqual(set(row.body_words), set(searchWords(row.body_text)), row.body_text);
          assert.ok(row.body_words.startsWith(' ') && row.body_words.endsWith(' '));
        }
        // New deliveries: SEARCH BODY finds substrings across words and punctuation, and
        // nothing that is not there.
        await store.addDomain('example.test');
        const acct = await store.createAccount({ address: 'a@example.test', passwordHash: 'h' });
        const inbox = (await store.getMailbox(acct.id, 'INBOX'))!.id;
        for (const [i, text] of TEXTS.entries()) {
          await store.append({ raw: newMessage(`t${i}`).raw, index: simpleIndex(`t${i}`, text) }, [
            { mailboxId: inbox },
          ]);
        }
        const cases: Array<[string, number[]]> = [
          ['QUARTERLY REPORT, ATT', [1]],
          ['ly rep', [1]],
          ['port, attached.', [1]],
          ['über_all', [2]],
          ['Café: Grö', [2]],
          ['(x=1; y_2)', [2]],
          ['__', [3]],
          ['_', [2, 3]],
          ['dots and trail', [3]],
          ['don’t st', [4]],
          ['😀ok, don', [4]],
          ['!!', [6]],
          ['report attached', []],
          ['quarterly  report', []],
        ];
        for (const [needle, uids] of cases) {
          assert.deepEqual(await store.searchText(inbox, needle), uids, needle);
        }
        // The same texts as messages' bytes, on a node with full_text_index = "on-search":
        // the first search makes their text and words, by the same rule, and answers alike.
        const lazy = await PostgresStore.open({ connectionString: url, max: 2 });
        try {
          const box = (await lazy.createMailbox(acct.id, 'Lazy')).id;
          for (const [i, text] of TEXTS.entries()) {
            const raw = Buffer.from(
              `From: a@example.net\r\nSubject: lazy${i}\r\nMIME-Version: 1.0\r\n` +
                `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n` +
                `\r\n${text}`,
            );
            await lazy.append({ raw, index: simpleIndex(`lazy${i}`, '') }, [{ mailboxId: box }]);
          }
          for (const [needle, uids] of cases) {
            assert.deepEqual(await lazy.searchText(box, needle), uids, needle);
          }
          const made = await c.query<{ body_text: string; body_words: string }>(
            "SELECT body_text, body_words FROM messages WHERE s_subject LIKE 'lazy%' ORDER BY id",
          );
          assert.equal(made.rows.length, TEXTS.length);
          for (const row of made.rows) assert.equal(row.body_words, searchWords(row.body_text));
        } finally {
          await lazy.close();
        }
      } finally {
        await store.close();
      }
    } finally {
      await c.end();
      await server.dropDatabase(url);
    }
  });
});
