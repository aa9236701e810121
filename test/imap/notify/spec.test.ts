// NOTIFY arguments (RFC 5465 §8): table tests of the parser's values and errors, and a
// property: any bytes give a value or an ImapParseError, never another exception.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { EV, parseNotifyArgs } from '../../../src/imap/notify/spec.js';
import { argsFrom, ImapParseError, tryParse } from '../../../src/imap/wire/parser.js';
import { parseReturnOptions } from '../../../src/imap/wire/search-return.js';

const parse = (text: string) => tryParse(() => parseNotifyArgs(argsFrom(` ${text}`)));
const NEW_EXP = EV.MessageNew | EV.MessageExpunge;

describe('parseNotifyArgs', () => {
  const values: Array<[string, unknown]> = [
    ['NONE', { kind: 'none' }],
    [
      'SET (selected (MessageNew MessageExpunge))',
      {
        kind: 'set',
        status: false,
        groups: [{ filter: { kind: 'selected', delayed: false }, events: NEW_EXP, fetch: [] }],
        unsupported: [],
      },
    ],
    [
      'set status (SELECTED-DELAYED NONE) (Inboxes (messagenew MESSAGEEXPUNGE flagchange))',
      {
        kind: 'set',
        status: true,
        groups: [
          { filter: { kind: 'selected', delayed: true }, events: 0, fetch: [] },
          { filter: { kind: 'inboxes' }, events: NEW_EXP | EV.FlagChange, fetch: [] },
        ],
        unsupported: [],
      },
    ],
    [
      'SET (mailboxes (Drafts "Sent Items") (MailboxMetadataChange ServerMetadataChange))',
      {
        kind: 'set',
        status: false,
        groups: [
          {
            filter: { kind: 'mailboxes', names: ['Drafts', 'Sent Items'] },
            events: EV.MailboxMetadataChange | EV.ServerMetadataChange,
            fetch: [],
          },
        ],
        unsupported: [],
      },
    ],
    [
      'SET (subtree inbox (MailboxName))',
      {
        kind: 'set',
        status: false,
        groups: [
          { filter: { kind: 'subtree', names: ['INBOX'] }, events: EV.MailboxName, fetch: [] },
        ],
        unsupported: [],
      },
    ],
    [
      'SET (personal (MessageNew MessageExpunge AnnotationChange XOther XOther))',
      {
        kind: 'set',
        status: false,
        groups: [
          { filter: { kind: 'personal' }, events: NEW_EXP | EV.AnnotationChange, fetch: [] },
        ],
        unsupported: ['AnnotationChange', 'XOther'],
      },
    ],
  ];
  for (const [text, want] of values) {
    test(text, () => assert.deepEqual(parse(text), want));
  }

  test('MessageNew fetch attributes', () => {
    const r = parse(
      'SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From)]) MessageExpunge))',
    );
    assert.ok(!(r instanceof ImapParseError) && r.kind === 'set');
    assert.deepEqual(r.groups[0]?.fetch, [
      { kind: 'simple', name: 'UID' },
      {
        kind: 'body',
        peek: true,
        section: { part: [], text: { kind: 'HEADER.FIELDS', not: false, fields: ['From'] } },
        partial: null,
      },
    ]);
  });

  const errors: Array<[string, RegExp]> = [
    ['', /Expected SET or NONE/],
    ['SET', /a space/],
    ['SET STATUS', /a space/],
    ['SET ()', /filter/],
    ['SET (personal ())', /Empty list/],
    ['SET (personal)', /a space/],
    ['SET (selected (MessageNew MessageExpunge)) ', /Expected an event group/],
    ['SET (selected (MessageExpunge))', /together/],
    ['SET (personal (FlagChange))', /need MessageNew and MessageExpunge/],
    ['SET (personal (AnnotationChange MessageNew))', /together/],
    ['SET (selected (SubscriptionChange))', /Only message events/],
    ['SET (selected NONE) (selected-delayed NONE)', /Only one of selected/],
    ['SET (mailboxes (MessageNew MessageExpunge))', /a space/],
    ['SET (selected (MessageNew (ALL) MessageExpunge))', /./],
    ['NONE (selected NONE)', /extra/],
  ];
  for (const [text, want] of errors) {
    test(`BAD: ${JSON.stringify(text)}`, () => {
      const r = parse(text);
      assert.ok(r instanceof ImapParseError, `parsed: ${JSON.stringify(r)}`);
      assert.equal(r.status, 'BAD');
      assert.match(r.message, want);
    });
  }

  test('any bytes: a value or an ImapParseError', () => {
    const word = fc.constantFrom(
      'SET ',
      'NONE',
      'STATUS ',
      '(',
      ')',
      ' ',
      'selected',
      'personal ',
      'subtree ',
      'mailboxes ',
      'MessageNew ',
      'MessageExpunge',
      'FlagChange',
      '"x"',
      'INBOX',
      'UID',
      'BODY.PEEK[',
      ']',
      '{',
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 20 }), fc.string(), (words, tail) => {
        const r = tryParse(() => parseNotifyArgs(argsFrom(` ${words.join('')}${tail}`)));
        assert.ok(r instanceof ImapParseError || typeof r === 'object');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('RETURN (UPDATE (fetch-att)) (RFC 5465 §7)', () => {
  test('UPDATE with and without attributes', () => {
    assert.deepEqual(
      tryParse(() => parseReturnOptions(argsFrom('RETURN (UPDATE (UID FLAGS) COUNT)'))),
      {
        options: ['UPDATE', 'COUNT'],
        partial: null,
        updateFetch: [
          { kind: 'simple', name: 'UID' },
          { kind: 'simple', name: 'FLAGS' },
        ],
      },
    );
    assert.deepEqual(
      tryParse(() => parseReturnOptions(argsFrom('RETURN (COUNT UPDATE)'))),
      {
        options: ['COUNT', 'UPDATE'],
        partial: null,
      },
    );
    const bad = tryParse(() => parseReturnOptions(argsFrom('RETURN (UPDATE ())')));
    assert.ok(bad instanceof ImapParseError);
  });
});
