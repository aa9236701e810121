// SORT by FROM / TO / CC (RFC 5256 §3: the first address's addr-mailbox as the ENVELOPE
// lists it, group starts included) and by DISPLAYFROM / DISPLAYTO (RFC 5957 §3, §4), with
// i;ascii-casemap, REVERSE, secondary keys and ties in sequence order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { searchMessages } from '../../../src/imap/search/evaluate.js';
import { displayValue, parseSortArgs, sortMessages } from '../../../src/imap/search/sort.js';
import { argsFrom, ImapParseError, tryParse } from '../../../src/imap/wire/parser.js';
import { type Fixture, makeMailbox } from './helpers.js';

const msg = (headers: string, internal: number) => ({
  raw: `${headers}\nSubject: s\n\nbody`,
  internalDate: new Date(internal * 1000),
});

describe('SORT by address (RFC 5256 §3, RFC 5957)', () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeMailbox([
      // 1: a group first: the group name is the CC key.
      msg('From: "Zoe Q" <bob@b.example>\nTo: carol@c.example\nCc: user2: blah@domain1.org;', 1),
      // 2: a display name encoded per RFC 2047; the mailbox sorts before "bob".
      msg('From: =?utf-8?q?Andr=C3=A9?= <al@z.example>\nTo: "" <Zed@z.example>\nCc: a@a', 2),
      // 3: no name: the display value is the addr-spec; upper case folds.
      msg('From: BOB@a.example\nTo: Mallory <m@m.example>, x@y', 3),
      // 4: no From, no To, no Cc: all keys are "".
      msg('X-Nothing: 1', 4),
      // 5: same From mailbox as 1 and 3 (tie: sequence order), comment ignored.
      msg('From: bob (the builder) @q.example\nTo: undisclosed-recipients:;\nCc: User1@x', 5),
    ]);
  });
  after(async () => fx.cleanup());

  const sort = async (criteria: string) => {
    const ctx = await fx.ctx();
    const args = parseSortArgs(argsFrom(` (${criteria}) UTF-8 ALL`));
    return sortMessages(args.criteria, ctx, await searchMessages(args.key, ctx));
  };

  const table: [string, number[]][] = [
    // "", "al", "bob" (1), "BOB" (3), "bob" (5): the three bobs compare equal.
    ['FROM', [4, 2, 1, 3, 5]],
    ['REVERSE FROM', [1, 3, 5, 2, 4]],
    ['FROM REVERSE ARRIVAL', [4, 2, 5, 3, 1]],
    // "", "carol", "m", "undisclosed-recipients" (group start), "Zed".
    ['TO', [4, 1, 3, 5, 2]],
    // "", "a", "user1", "user2" (the group start of 1).
    ['CC', [3, 4, 2, 5, 1]],
    // "", "André", "BOB@a.example", "the builder" (the old convention: a comment after a
    // bare addr-spec is the ENVELOPE's name), "Zoe Q".
    ['DISPLAYFROM', [4, 2, 3, 5, 1]],
    ['REVERSE DISPLAYFROM', [1, 5, 3, 2, 4]],
    // "", "carol@c.example", "Mallory", "undisclosed-recipients", "zed@z.example" (empty name).
    ['DISPLAYTO', [4, 1, 3, 5, 2]],
    ['DISPLAYTO FROM', [4, 1, 3, 5, 2]],
  ];
  for (const [criteria, want] of table) {
    test(criteria, async () => assert.deepEqual(await sort(criteria), want));
  }

  test('DISPLAY value rules (RFC 5957 §3)', () => {
    const a = (name: string | null, mailbox: string | null, host: string | null) => ({
      name,
      mailbox,
      host,
    });
    assert.equal(displayValue([a('=?iso-8859-1?q?J=F6rg?=', 'j', 'x')]), 'Jörg');
    assert.equal(displayValue([a('', 'j', 'x.example')]), 'j@x.example');
    assert.equal(displayValue([a(null, 'j', 'x.example')]), 'j@x.example');
    assert.equal(displayValue([a(null, 'postmaster', '')]), 'postmaster');
    assert.equal(displayValue([a(null, 'group', null), a(null, 'm', 'h')]), 'group');
    assert.equal(displayValue([]), '');
    assert.equal(displayValue(null), '');
  });

  test('DISPLAYFROM / DISPLAYTO parse; DISPLAYCC does not exist', () => {
    const r = parseSortArgs(argsFrom(' (REVERSE DISPLAYFROM displayto) UTF-8 ALL'));
    assert.deepEqual(r.criteria, [
      { key: 'DISPLAYFROM', reverse: true },
      { key: 'DISPLAYTO', reverse: false },
    ]);
    assert.ok(
      tryParse(() => parseSortArgs(argsFrom(' (DISPLAYCC) UTF-8 ALL'))) instanceof ImapParseError,
    );
  });
});
