// Every SEARCH key (RFC 9051 §6.4.4, RFC 3501 NEW/OLD/RECENT, RFC 7162 MODSEQ, RFC 5182 $)
// against a real store holding real messages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type SearchContext, searchMessages } from '../../../src/imap/search/evaluate.js';
import { argsFrom } from '../../../src/imap/wire/parser.js';
import { parseSearchArgs } from '../../../src/imap/wire/search-keys.js';
import { type Fixture, makeMailbox } from './helpers.js';

const msg = (headers: string, body: string) => `${headers}\n\n${body}`;

// UIDs 1..5 in this order.
const MESSAGES = [
  {
    raw: msg(
      'From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: Quarterly report\n' +
        'Date: Mon, 3 Feb 2025 23:30:00 -0800\nX-Priority: 1\nMessage-ID: <a1@x>',
      'The numbers are in. Zürich office did well.',
    ),
    flags: ['\\Seen', '\\Flagged'],
    internalDate: new Date(Date.UTC(2025, 1, 4, 8, 0, 0)),
  },
  {
    raw: msg(
      'From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.de>\nTo: team@example.net\nCc: carol@example.com\n' +
        'Subject: =?UTF-8?Q?=C3=9Cbersicht?= Lunch\nDate: Tue, 4 Feb 2025 12:00:00 +0100',
      'Mittagessen um zwölf?',
    ),
    flags: ['\\Answered', '$Work'],
    internalDate: new Date(Date.UTC(2025, 1, 5, 8, 0, 0)),
  },
  {
    raw: msg(
      'From: carol@example.com\nTo: alice@example.org\nBcc: secret@example.org\n' +
        'Subject: Re: Quarterly report\nX-Priority: 5',
      'Thanks, looks fine.',
    ),
    flags: ['\\Deleted', '\\Draft'],
    internalDate: new Date(Date.UTC(2025, 1, 6, 8, 0, 0)),
  },
  {
    raw: msg(
      'From: dave@example.com\nSubject: big\nDate: Thu, 6 Feb 2025 10:00:00 +0000',
      'x'.repeat(5000),
    ),
    flags: [],
    internalDate: new Date(Date.UTC(2025, 1, 7, 8, 0, 0)),
  },
  {
    raw: msg('From: erin@example.net\nSubject: ΣΊΣΥΦΟΣ notes', 'Κείμενο ΑΒΓ here'),
    flags: ['\\Seen'],
    internalDate: new Date(Date.UTC(2025, 1, 7, 23, 59, 0)),
  },
];

let fx: Fixture;
let base: SearchContext;
before(async () => {
  fx = await makeMailbox(MESSAGES);
  base = await fx.ctx({ recent: new Set([4, 5]) });
});
after(async () => fx.cleanup());

async function search(keys: string, ctx: Partial<SearchContext> = {}): Promise<number[]> {
  const args = parseSearchArgs(argsFrom(` ${keys}`));
  return searchMessages(args.key, { ...base, ...ctx });
}

describe('searchMessages', () => {
  const table: [string, number[]][] = [
    ['ALL', [1, 2, 3, 4, 5]],
    // flags
    ['SEEN', [1, 5]],
    ['UNSEEN', [2, 3, 4]],
    ['ANSWERED', [2]],
    ['UNANSWERED', [1, 3, 4, 5]],
    ['DELETED', [3]],
    ['UNDELETED', [1, 2, 4, 5]],
    ['DRAFT', [3]],
    ['UNDRAFT', [1, 2, 4, 5]],
    ['FLAGGED', [1]],
    ['UNFLAGGED', [2, 3, 4, 5]],
    ['KEYWORD $Work', [2]],
    ['KEYWORD $work', [2]],
    ['UNKEYWORD $Work', [1, 3, 4, 5]],
    ['RECENT', [4, 5]],
    ['NEW', [4]],
    ['OLD', [1, 2, 3]],
    // sizes
    ['LARGER 4000', [4]],
    ['SMALLER 4000', [1, 2, 3, 5]],
    // INTERNALDATE by calendar day (UTC)
    ['BEFORE 5-Feb-2025', [1]],
    ['ON 7-Feb-2025', [4, 5]],
    ['SINCE 6-Feb-2025', [3, 4, 5]],
    // Date header: the day as written, whatever its zone; no Date header never matches.
    ['SENTON 3-Feb-2025', [1]],
    ['SENTBEFORE 4-Feb-2025', [1]],
    ['SENTSINCE 4-Feb-2025', [2, 4]],
    ['NOT SENTSINCE 1-Jan-1970', [3, 5]],
    // header keys: decoded, case-insensitive, substring
    ['FROM alice', [1]],
    ['FROM "jörg"', [2]],
    ['FROM "JÖRG"', [2]],
    ['TO example.net', [1, 2]],
    ['CC carol', [2]],
    ['BCC secret', [3]],
    ['SUBJECT quarterly', [1, 3]],
    ['SUBJECT "übersicht"', [2]],
    ['SUBJECT "σίσυφος"', [5]],
    // A sigma that lower-cases final alone ("σίς") and not inside the word ("σίσυφος").
    ['SUBJECT "ΣΊΣ"', [5]],
    ['TEXT "ΣΊΣ"', [5]],
    ['HEADER X-Priority 1', [1]],
    ['HEADER x-priority ""', [1, 3]],
    ['HEADER Message-ID "<a1@x>"', [1]],
    ['HEADER subject "ÜBERSICHT"', [2]],
    // body and text
    ['BODY numbers', [1]],
    ['BODY "ZÜRICH"', [1]],
    ['BODY "ζ"', []],
    ['BODY "κε"', [5]],
    ['BODY "ΑΒΓ"', [5]],
    ['TEXT quarterly', [1, 3]],
    ['TEXT "zwölf"', [2]],
    ['TEXT dave@', [4]],
    ['TEXT x-priority', [1, 3]],
    // sets
    ['1:2', [1, 2]],
    ['2,4:*', [2, 4, 5]],
    ['*', [5]],
    ['UID 3:*', [3, 4, 5]],
    ['UID 9:*', [5]],
    ['UID 7', []],
    // logic
    ['NOT SEEN', [2, 3, 4]],
    ['OR SEEN DELETED', [1, 3, 5]],
    ['OR (FROM alice) (BODY fine)', [1, 3]],
    ['SEEN FROM erin', [5]],
    ['(UNSEEN LARGER 100) NOT DELETED', [2, 4]],
    ['NOT (OR 1 UID 5)', [2, 3, 4]],
    ['MODSEQ 1', [1, 2, 3, 4, 5]],
  ];
  for (const [keys, want] of table) {
    test(keys, async () => assert.deepEqual(await search(keys), want));
  }

  // RFC 5032 WITHIN, counted back from 8 Feb 2025 00:00 UTC; 5 arrived 60 s before that.
  const within: [string, number[]][] = [
    ['YOUNGER 60', [5]],
    ['YOUNGER 59', []],
    ['OLDER 60', [1, 2, 3, 4]],
    ['OLDER 59', [1, 2, 3, 4, 5]],
    ['NOT OLDER 60', [5]],
    ['YOUNGER 86400', [4, 5]],
    ['OLDER 259200', [1]],
    ['OR OLDER 345600 YOUNGER 60', [5]],
    ['YOUNGER 86400 UNSEEN', [4]],
  ];
  for (const [keys, want] of within) {
    test(keys, async () =>
      assert.deepEqual(await search(keys, { now: Date.UTC(2025, 1, 8) }), want),
    );
  }

  test('sequence numbers are those of the view, UIDs those of the store', async () => {
    const view = base.messages.slice(2).map((m, i) => ({ ...m, seq: i + 1 }));
    const ctx = { messages: view, maxSeq: view.length };
    assert.deepEqual(await search('1', ctx), [3]);
    assert.deepEqual(await search('UID 1:3', ctx), [3]);
  });

  test('$ is the saved result, empty when nothing was saved', async () => {
    assert.deepEqual(await search('$'), []);
    assert.deepEqual(await search('$', { saved: [2, 4] }), [2, 4]);
    assert.deepEqual(await search('UID $ SEEN', { saved: [1, 2] }), [1]);
  });

  test('MODSEQ keeps messages whose modseq is at least the value', async () => {
    const top = Math.max(...base.messages.map((m) => m.modseq));
    const atTop = base.messages.filter((m) => m.modseq === top).map((m) => m.uid);
    assert.deepEqual(await search(`MODSEQ ${top}`), atTop);
    assert.deepEqual(await search(`MODSEQ "/flags/\\\\seen" all ${top + 1}`), []);
  });

  test('cheap keys first: the index is loaded only for the survivors, the blob never', async () => {
    const asked: number[][] = [];
    let reads = 0;
    const ctx: Partial<SearchContext> = {
      details: async (uids) => {
        asked.push(uids);
        return base.details(uids);
      },
      store: new Proxy(base.store, {
        get(target, prop, recv) {
          if (prop === 'readMessage') reads++;
          return Reflect.get(target, prop, recv);
        },
      }),
    };
    assert.deepEqual(await search('FROM example SEEN', ctx), [1, 5]);
    assert.deepEqual(asked, [[1, 5]]);
    assert.equal(reads, 0);
    asked.length = 0;
    assert.deepEqual(await search('SEEN UNSEEN HEADER X-Priority 1', ctx), []);
    assert.deepEqual(asked, []);
    assert.equal(reads, 0);
  });
});
