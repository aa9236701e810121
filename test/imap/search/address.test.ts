// SEARCH FROM / TO / CC / BCC match the ENVELOPE's addresses (RFC 3501 §6.4.4: "in the
// envelope structure's FROM field"), HEADER <field> matches the header's text, and
// HEADER <field> "" matches exactly the messages that have the field (issue 14 items 4, 5).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type SearchContext, searchMessages } from '../../../src/imap/search/evaluate.js';
import { argsFrom } from '../../../src/imap/wire/parser.js';
import { parseSearchArgs } from '../../../src/imap/wire/search-keys.js';
import { parseAddressList } from '../../../src/mime/address.js';
import { addressSearchText, envelopeAddressTexts } from '../../../src/mime/address-text.js';
import { type Fixture, makeMailbox } from './helpers.js';

// UIDs 1..9 in this order.
const MESSAGES = [
  'From: alice@example.org\nTo: bob@example.net\nCc: carol@example.com\nBcc: dave@example.com',
  'From: Alice Liddell <alice@example.org>\nTo: Bob Builder <bob@example.net>\n' +
    'Cc: Carol C <carol@example.com>\nBcc: Dave D <dave@example.com>',
  // Comments inside the address: the ENVELOPE has alice@example.org, not the comments.
  'From: <alice (a comment)@ (another) example.org>\nTo: <bob@example.net>\nSubject: x',
  // The old convention: the comment after a bare address is the ENVELOPE's name.
  'From: alice@example.org (Alice Liddell)\nTo: bob@example.net (Bob Builder)',
  // Two addresses; an encoded display name.
  'From: alice1@example.org, =?utf-8?q?J=C3=B6rg?= <alice2@example.org>\nCc: carol@example.com',
  // Groups: the group names are part of the ENVELOPE, the members too.
  'To: team: one@example.org, two@example.org;,\n  others: three@example.org;\nSubject:',
  // An empty group and an empty field.
  'To: undisclosed-recipients:;\nCc:\nX-Extra: hello there',
  // Nothing at all.
  'X-Extra:',
  // A source route: part of the ENVELOPE (addr-adl), so searchable.
  'From: <@relay.example:user@host.example>',
].map((h) => ({ raw: `${h}\n\nbody` }));

let fx: Fixture;
let plain: SearchContext;
let columns: SearchContext;
before(async () => {
  fx = await makeMailbox(MESSAGES);
  plain = await fx.ctx();
  // The session's path: one stored column per key instead of the details.
  const mailboxId = plain.mailboxId;
  columns = await fx.ctx({
    field: (name, uids) => fx.store.getSearchField(mailboxId, name, uids),
  });
});
after(async () => fx.cleanup());

const search = async (keys: string, ctx: SearchContext) =>
  searchMessages(parseSearchArgs(argsFrom(` ${keys}`)).key, ctx);

describe('SEARCH address keys and HEADER', () => {
  const table: [string, number[]][] = [
    // whole addresses
    ['FROM alice@example.org', [1, 2, 3, 4]],
    ['TO bob@example.net', [1, 2, 3, 4]],
    ['CC carol@example.com', [1, 2, 5]],
    ['BCC dave@example.com', [1, 2]],
    // display names, from a phrase or from the old comment convention
    ['FROM liddell', [2, 4]],
    ['TO "bob builder"', [2, 4]],
    ['CC "carol c"', [2]],
    ['BCC "DAVE D"', [2]],
    ['FROM "jörg"', [5]],
    // comments inside an address are not the address
    ['FROM comment', []],
    ['FROM another', []],
    ['HEADER FROM comment', [3]],
    ['HEADER From "a comment"', [3]],
    // substrings
    ['FROM lice@exa', [1, 2, 3, 4]],
    ['FROM ice', [1, 2, 3, 4, 5]],
    ['TO example.net', [1, 2, 3, 4]],
    // each of several addresses
    ['FROM alice1', [5]],
    ['FROM alice2@example.org', [5]],
    // groups: names and members
    ['TO team', [6]],
    ['TO others', [6]],
    ['TO two@example.org', [6]],
    ['TO three', [6]],
    ['TO four', []],
    ['TO undisclosed-recipients', [7]],
    // an empty string: the field is not NIL in the envelope
    ['FROM ""', [1, 2, 3, 4, 5, 9]],
    ['TO ""', [1, 2, 3, 4, 6, 7]],
    ['CC ""', [1, 2, 5]],
    ['NOT BCC ""', [3, 4, 5, 6, 7, 8, 9]],
    // HEADER <field> "": the field exists, whatever its value (even empty)
    ['HEADER FROM ""', [1, 2, 3, 4, 5, 9]],
    ['HEADER Cc ""', [1, 2, 5, 7]],
    ['NOT HEADER CC ""', [3, 4, 6, 8, 9]],
    ['HEADER SUBJECT ""', [3, 6]],
    ['NOT HEADER SUBJECT ""', [1, 2, 4, 5, 7, 8, 9]],
    ['HEADER X-Extra ""', [7, 8]],
    ['NOT HEADER x-extra ""', [1, 2, 3, 4, 5, 6, 9]],
    ['HEADER x-extra "hello th"', [7]],
    // HEADER FROM with a value reads the header's text (decoded)
    ['HEADER FROM "alice@example.org (alice"', [4]],
    ['HEADER FROM "jörg"', [5]],
    ['SUBJECT x', [3]],
    ['FROM user@host.example', [9]],
    ['FROM relay.example', [9]],
    ['FROM "@relay.example:user@"', [9]],
  ];
  for (const [keys, want] of table) {
    test(keys, async () => {
      assert.deepEqual(await search(keys, plain), want, 'from the details');
      assert.deepEqual(await search(keys, columns), want, 'from the stored columns');
    });
  }
});

test('HEADER <stored field> "" reads the header block only where the index has no value', async () => {
  const read: string[] = [];
  const store = new Proxy(columns.store, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (prop !== 'readMessage') return v;
      return (hash: string, size?: number) => {
        read.push(hash);
        return (v as typeof target.readMessage).call(target, hash, size);
      };
    },
  });
  assert.deepEqual(await search('HEADER FROM ""', { ...columns, store }), [1, 2, 3, 4, 5, 9]);
  // The three messages without a From value (6, 7, 8) are read; the six others are not.
  assert.equal(read.length, 3);
});

describe('addressSearchText', () => {
  const table: [string, string][] = [
    ['<user-from (comment)@ (comment) domain.org>', 'user-from@domain.org'],
    ['"Smith, John" <js@y.example>, b@c', 'Smith, John <js@y.example>, b@c'],
    ['=?iso-8859-1?q?J=F6rg?= <j@x>', 'Jörg <j@x>'],
    ['g: a@b, c@d;, e@f', 'g: a@b, c@d;, e@f'],
    ['undisclosed-recipients:;', 'undisclosed-recipients:;'],
    ['postmaster', 'postmaster'],
    ['John Smith', 'John Smith'],
    [
      'Old <@relay.example,@r2.example:u@h.example>',
      'Old <@relay.example,@r2.example:u@h.example>',
    ],
  ];
  for (const [header, want] of table) {
    test(header, () => assert.equal(addressSearchText(parseAddressList(header)), want));
  }
  test('a stored envelope of any shape never throws', () => {
    const none = { from: '', to: '', cc: '', bcc: '' };
    assert.deepEqual(envelopeAddressTexts(null), none);
    assert.deepEqual(envelopeAddressTexts('x'), none);
    assert.deepEqual(envelopeAddressTexts({ from: 'x', to: [1, null, { name: 5 }] }), none);
    assert.deepEqual(envelopeAddressTexts({ cc: [{ mailbox: 'a', host: 'b' }] }), {
      ...none,
      cc: 'a@b',
    });
  });
});
