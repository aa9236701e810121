// IMAP URLs (RFC 5092) as CATENATE resolves them (RFC 4469 §3): table of URL and selected
// mailbox in, message reference or refusal out; never throws on random input.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseImapUrl } from '../../src/imap/imap-url.js';

describe('parseImapUrl', () => {
  test('relative URLs resolve against the base (RFC 4469 §3, RFC 3986 §5.2)', () => {
    const cases: Array<[string, string | null, object]> = [
      [
        '/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER',
        null,
        {
          mailbox: 'Drafts',
          uidValidity: 385759045,
          uid: 20,
          section: { part: [], text: { kind: 'HEADER' } },
          partial: null,
        },
      ],
      [
        '/INBOX/;UID=5',
        null,
        { mailbox: 'INBOX', uidValidity: null, uid: 5, section: null, partial: null },
      ],
      [
        '/inbox/;UID=5',
        null,
        { mailbox: 'INBOX', uidValidity: null, uid: 5, section: null, partial: null },
      ],
      [
        '/a/b%20c/;UID=7/;SECTION=1.2.MIME/;PARTIAL=10.20',
        null,
        {
          mailbox: 'a/b c',
          uidValidity: null,
          uid: 7,
          section: { part: [1, 2], text: { kind: 'MIME' } },
          partial: { offset: 10, length: 20 },
        },
      ],
      [
        ';UID=3/;SECTION=TEXT',
        'Sent',
        {
          mailbox: 'Sent',
          uidValidity: null,
          uid: 3,
          section: { part: [], text: { kind: 'TEXT' } },
          partial: null,
        },
      ],
      [
        ';UID=3',
        'a/b',
        { mailbox: 'a/b', uidValidity: null, uid: 3, section: null, partial: null },
      ],
      // A sibling of the selected mailbox (the last path segment is replaced).
      [
        'Other/;UID=3',
        'a/b',
        { mailbox: 'a/Other', uidValidity: null, uid: 3, section: null, partial: null },
      ],
      [
        'Other/;UID=3',
        null,
        { mailbox: 'Other', uidValidity: null, uid: 3, section: null, partial: null },
      ],
      [
        '/Gr%C3%BC%C3%9Fe/;UID=1/;SECTION=HEADER.FIELDS%20(SUBJECT%20FROM)',
        null,
        {
          mailbox: 'Grüße',
          uidValidity: null,
          uid: 1,
          section: {
            part: [],
            text: { kind: 'HEADER.FIELDS', not: false, fields: ['SUBJECT', 'FROM'] },
          },
          partial: null,
        },
      ],
      [
        '/X/;UID=1/;PARTIAL=5',
        null,
        {
          mailbox: 'X',
          uidValidity: null,
          uid: 1,
          section: null,
          partial: { offset: 5, length: Number.MAX_SAFE_INTEGER },
        },
      ],
    ];
    for (const [url, selected, want] of cases)
      assert.deepEqual(parseImapUrl(url, selected), want, url);
  });

  test('refusals carry a reason', () => {
    const cases: Array<[string, string | null, RegExp]> = [
      ['imap://joe@example.com/INBOX/;UID=1', null, /relative/],
      ['//example.com/INBOX/;UID=1', null, /relative/],
      ['/INBOX?SUBJECT%20x', null, /message list/],
      ['/INBOX/;UID=1;URLAUTH=anonymous:internal:00', null, /URLAUTH/],
      ['/INBOX/;UID=1;EXPIRE=2030-01-01T00:00:00Z', null, /URLAUTH/],
      [';UID=1', null, /No mailbox is selected/],
      ['/INBOX', null, /no message/],
      ['/;UID=1', null, /no mailbox/],
      ['/INBOX/;UID=0', null, /syntax/],
      ['/INBOX/;UID=1/;SECTION=1.BOGUS', null, /Bad section/],
      ['/INBOX/;UID=1/;SECTION=', null, /syntax/],
      ['/IN%ZZ/;UID=1', null, /%-encoding/],
      ['/IN%FF/;UID=1', null, /UTF-8/],
      ['/INBOX/;UID=99999999999', null, /syntax|range/],
      ['', null, /Empty/],
    ];
    for (const [url, selected, why] of cases) {
      const r = parseImapUrl(url, selected);
      assert.equal(typeof r, 'string', url);
      assert.match(r as string, why, url);
    }
  });

  test('never throws', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }),
        fc.option(fc.string({ maxLength: 10 })),
        (u, sel) => {
          parseImapUrl(u, sel);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
