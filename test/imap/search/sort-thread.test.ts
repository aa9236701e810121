// SORT and THREAD (RFC 5256): base subject, criteria, both threading algorithms, responses;
// ESEARCH / SEARCH responses (RFC 4731, RFC 5182).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  esearchResponse,
  savedResult,
  searchResponse,
  usesModseq,
} from '../../../src/imap/search/esearch.js';
import { searchMessages } from '../../../src/imap/search/evaluate.js';
import {
  baseSubject,
  parseSortArgs,
  sortMessages,
  sortResponse,
} from '../../../src/imap/search/sort.js';
import {
  parseThreadArgs,
  type ThreadInput,
  threadMessages,
  threadOrderedSubject,
  threadReferences,
  threadResponse,
} from '../../../src/imap/search/thread.js';
import { argsFrom, ImapParseError, tryParse } from '../../../src/imap/wire/parser.js';
import { parseSearchArgs } from '../../../src/imap/wire/search-keys.js';
import { type Fixture, makeMailbox } from './helpers.js';

describe('baseSubject (RFC 5256 §2.1)', () => {
  const table: [string, string, boolean][] = [
    ['Hello', 'Hello', false],
    ['Re: Hello', 'Hello', true],
    ['RE: re: Fwd: fw: Hello', 'Hello', true],
    ['Re[2]: Hello', 'Hello', true],
    ['[list] Re: Hello', 'Hello', true],
    ['[list] Hello', 'Hello', false],
    ['[list]', '[list]', false],
    ['Hello (fwd)', 'Hello', true],
    ['Hello (FWD) (fwd)  ', 'Hello', true],
    ['[Fwd: Re: Hello]', 'Hello', true],
    ['Re: [fwd: [list] Hello (fwd)]', 'Hello', true],
    ['  Hello\t \tworld  ', 'Hello world', false],
    ['Reply to this', 'Reply to this', false],
    ['Re:', '', true],
    ['', '', false],
  ];
  for (const [subject, base, rf] of table) {
    test(JSON.stringify(subject), () =>
      assert.deepEqual(baseSubject(subject), { base, replyOrForward: rf }),
    );
  }
});

describe('argument parsers', () => {
  test('SORT criteria with REVERSE, charset, keys', () => {
    const r = parseSortArgs(argsFrom(' (REVERSE DATE subject) UTF-8 UNSEEN FROM x'));
    assert.deepEqual(r.criteria, [
      { key: 'DATE', reverse: true },
      { key: 'SUBJECT', reverse: false },
    ]);
    assert.equal(r.charset, 'UTF-8');
    assert.equal(r.key.key, 'and');
  });
  test('bad criteria and charsets', () => {
    const bad = (s: string) => tryParse(() => parseSortArgs(argsFrom(s)));
    assert.ok(bad(' () UTF-8 ALL') instanceof ImapParseError);
    assert.ok(bad(' (SPEED) UTF-8 ALL') instanceof ImapParseError);
    assert.ok(bad(' (DATE) ALL') instanceof ImapParseError);
    const cs = bad(' (DATE) KOI8-R ALL');
    assert.ok(
      cs instanceof ImapParseError && cs.status === 'NO' && cs.code?.startsWith('BADCHARSET'),
    );
  });
  test('THREAD algorithm, charset, keys', () => {
    const r = parseThreadArgs(argsFrom(' references US-ASCII ALL'));
    assert.equal(r.algorithm, 'REFERENCES');
    assert.ok(tryParse(() => parseThreadArgs(argsFrom(' X UTF-8 ALL'))) instanceof ImapParseError);
  });
});

const input = (
  uid: number,
  subject: string,
  date: number,
  messageId: string | null,
  references: string[] = [],
): ThreadInput => ({ uid, seq: uid, date, subject, messageId, references });

describe('THREAD', () => {
  test('ORDEREDSUBJECT: first by date is the parent, the others its children', () => {
    const t = threadOrderedSubject([
      input(1, 'Hello', 100, null),
      input(2, 'Re: hello', 50, null),
      input(3, 'Other', 75, null),
      input(4, 'Fwd: Hello', 200, null),
      input(5, 'Other', 80, null),
      input(6, 'Single', 10, null),
    ]);
    assert.equal(threadResponse(t), 'THREAD (6)(2 (1)(4))(3 5)');
  });

  test('REFERENCES: chains, branches, dummies and missing parents', () => {
    const t = threadReferences([
      input(1, 'a', 1, '<1@x>'),
      input(2, 'Re: a', 2, '<2@x>', ['<1@x>']),
      input(3, 'Re: a', 3, '<3@x>', ['<1@x>', '<2@x>']),
      input(4, 'Re: a', 4, '<4@x>', ['<1@x>']),
      // Parent <gone@x> was never seen: 5 and 6 hang under a dummy that is pruned away.
      input(5, 'b', 5, '<5@x>', ['<gone@x>']),
      input(6, 'Re: b', 6, '<6@x>', ['<gone@x>']),
      input(7, 'c', 7, null),
    ]);
    // 1 -> (2 -> 3), 4; the dummy for <gone@x> keeps 5 and 6 as siblings at the top.
    assert.equal(threadResponse(t), 'THREAD (1 (2 3)(4))((5)(6))(7)');
  });

  test('REFERENCES: same base subject merges roots (a reply under the original)', () => {
    const t = threadReferences([
      input(1, 'Lunch', 1, '<1@x>'),
      input(2, 'Re: Lunch', 2, '<2@x>'), // no References: joined by subject
      input(3, 'Lunch', 3, '<3@x>'), // neither a reply: both go under a new dummy
    ]);
    assert.equal(threadResponse(t), 'THREAD ((1 2)(3))');
  });

  test('REFERENCES: loops and duplicate Message-IDs do not break the tree', () => {
    const t = threadReferences([
      input(1, 'x', 1, '<1@x>', ['<2@x>']),
      input(2, 'y', 2, '<2@x>', ['<1@x>']),
      input(3, 'z', 3, '<1@x>'),
    ]);
    const text = threadResponse(t);
    for (const n of ['1', '2', '3']) assert.equal(text.split(n).length, 2, text);
  });

  test('RFC 5256 §4 response shape', () => {
    const leaf = (uid: number) => ({ uid, children: [] });
    const tree = [
      leaf(2),
      {
        uid: 3,
        children: [
          {
            uid: 6,
            children: [
              { uid: 4, children: [leaf(23)] },
              { uid: 44, children: [{ uid: 7, children: [leaf(96)] }] },
            ],
          },
        ],
      },
    ];
    assert.equal(threadResponse(tree), 'THREAD (2)(3 6 (4 23)(44 7 96))');
    assert.equal(
      threadResponse(tree, (u) => u * 10),
      'THREAD (20)(30 60 (40 230)(440 70 960))',
    );
    assert.equal(threadResponse([]), 'THREAD');
  });
});

describe('SORT and THREAD over a store', () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeMailbox([
      {
        raw: 'From: zed@example.com\nTo: b@x\nSubject: Re: beta\nDate: Tue, 4 Feb 2025 10:00:00 +0000\nMessage-ID: <2@x>\nReferences: <1@x>\n\nbb',
        internalDate: new Date(3000),
      },
      {
        raw: 'From: Amy <amy@example.com>\nTo: c@x\nSubject: beta\nDate: Mon, 3 Feb 2025 10:00:00 +0000\nMessage-ID: <1@x>\n\nb',
        internalDate: new Date(2000),
      },
      {
        raw: 'From: mike@example.com\nSubject: [list] Alpha\n\n' + 'x'.repeat(100),
        internalDate: new Date(1000),
      },
    ]);
  });
  after(async () => fx.cleanup());

  const sort = async (criteria: string) => {
    const ctx = await fx.ctx();
    const args = parseSortArgs(argsFrom(` (${criteria}) UTF-8 ALL`));
    return sortMessages(args.criteria, ctx, await searchMessages(args.key, ctx));
  };

  test('criteria', async () => {
    assert.deepEqual(await sort('ARRIVAL'), [3, 2, 1]);
    assert.deepEqual(await sort('REVERSE ARRIVAL'), [1, 2, 3]);
    assert.deepEqual(await sort('SIZE'), [2, 1, 3]);
    assert.deepEqual(await sort('FROM'), [2, 3, 1]);
    assert.deepEqual(await sort('TO'), [3, 1, 2]); // no To sorts as ""
    // No Date: the internal date (epoch + 1s) sorts first.
    assert.deepEqual(await sort('DATE'), [3, 2, 1]);
    assert.deepEqual(await sort('SUBJECT'), [3, 1, 2]); // alpha, beta (1), beta (2)
    assert.deepEqual(await sort('SUBJECT REVERSE DATE'), [3, 1, 2]);
    assert.deepEqual(await sort('REVERSE SUBJECT'), [1, 2, 3]); // ties keep sequence order
    assert.equal(sortResponse([3, 1]), 'SORT 3 1');
    assert.equal(sortResponse([]), 'SORT');
  });

  test('THREAD=REFERENCES reads References from the blob', async () => {
    const ctx = await fx.ctx();
    const t = await threadMessages('REFERENCES', ctx, [1, 2, 3]);
    assert.equal(threadResponse(t), 'THREAD (3)(2 1)');
    const o = await threadMessages('ORDEREDSUBJECT', ctx, [1, 2, 3]);
    assert.equal(threadResponse(o), 'THREAD (3)(2 1)');
  });
});

describe('SEARCH and ESEARCH responses', () => {
  test('classic SEARCH, with MODSEQ', () => {
    assert.equal(searchResponse([2, 5, 9]), 'SEARCH 2 5 9');
    assert.equal(searchResponse([]), 'SEARCH');
    assert.equal(searchResponse([4], 917), 'SEARCH 4 (MODSEQ 917)');
    assert.equal(searchResponse([], 917), 'SEARCH');
  });

  test('ESEARCH options, compression, no matches, SAVE alone', () => {
    const nums = [1, 2, 3, 5, 7, 8];
    assert.equal(
      esearchResponse({
        tag: 'A1',
        uid: true,
        options: ['MIN', 'MAX', 'COUNT', 'ALL'],
        numbers: nums,
      }),
      'ESEARCH (TAG "A1") UID MIN 1 MAX 8 ALL 1:3,5,7:8 COUNT 6',
    );
    assert.equal(
      esearchResponse({ tag: 'a', uid: false, options: [], numbers: nums }),
      'ESEARCH (TAG "a") ALL 1:3,5,7:8',
    );
    assert.equal(
      esearchResponse({ tag: 'a', uid: false, options: ['MIN', 'COUNT', 'ALL'], numbers: [] }),
      'ESEARCH (TAG "a") COUNT 0',
    );
    assert.equal(
      esearchResponse({ tag: 'a', uid: false, options: ['COUNT'], numbers: [4], modseq: 12 }),
      'ESEARCH (TAG "a") COUNT 1 MODSEQ 12',
    );
    assert.equal(esearchResponse({ tag: 'a', uid: false, options: ['SAVE'], numbers: [1] }), null);
  });

  test('SAVE keeps MIN/MAX only when neither ALL nor COUNT was asked (RFC 5182)', () => {
    assert.deepEqual(savedResult(['SAVE', 'MIN'], [3, 4, 9]), [3]);
    assert.deepEqual(savedResult(['SAVE', 'MIN', 'MAX'], [3, 4, 9]), [3, 9]);
    assert.deepEqual(savedResult(['SAVE', 'MIN', 'MAX'], [4]), [4]);
    assert.deepEqual(savedResult(['SAVE', 'MIN', 'COUNT'], [3, 4, 9]), [3, 4, 9]);
    assert.deepEqual(savedResult(['SAVE'], []), []);
  });

  test('usesModseq', () => {
    const key = (s: string) => parseSearchArgs(argsFrom(` ${s}`)).key;
    assert.equal(usesModseq(key('SEEN OR 1 NOT MODSEQ 5')), true);
    assert.equal(usesModseq(key('SEEN')), false);
  });
});
