// ENVELOPE and BODY / BODYSTRUCTURE for the MIME corpus, compared with hand-checked strings
// (RFC 9051 §7.5.2 and the §9 grammar).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { bodyStructureValue } from '../../../src/imap/fetch/bodystructure.js';
import { envelopeValue } from '../../../src/imap/fetch/envelope.js';
import { serialize } from '../../../src/imap/wire/serializer.js';
import { parseMessage } from '../../../src/mime/index.js';
import type { PartNode } from '../../../src/mime/types.js';

const load = (name: string) =>
  readFileSync(new URL(`../../fixtures/mime/${name}`, import.meta.url));
const env = (raw: Buffer, utf8 = false) =>
  serialize(envelopeValue(parseMessage(raw).envelope, { utf8 }), { utf8 }).toString('utf8');
const bs = (raw: Buffer, extended: boolean, utf8 = false) =>
  serialize(bodyStructureValue(parseMessage(raw).root, extended, { utf8 }), { utf8 }).toString(
    'utf8',
  );

const CAROL = '((NIL NIL "carol" "example.com"))';
const ERIN = '(("Erin" NIL "erin" "example.net"))';

describe('ENVELOPE', () => {
  test('forward-rfc822: date, subject, from copied to sender and reply-to, NIL fields', () => {
    assert.equal(
      env(load('forward-rfc822.eml')),
      `("Thu, 6 Mar 2025 12:00:00 -0500" "Fwd: Lunch?" ${CAROL} ${CAROL} ${CAROL} ` +
        '((NIL NIL "dave" "example.com")) NIL NIL NIL NIL)',
    );
  });

  test('encoded words stay raw; names are strings', () => {
    const j = '(("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de"))';
    assert.equal(
      env(load('attachment-rfc2231.eml')),
      `("Wed, 05 Mar 2025 18:00:00 +0000" "=?UTF-8?B?UmVjaG51bmcg4oKsIDEwMA==?=" ${j} ${j} ${j} ` +
        '((NIL NIL "team" "example.com")) NIL NIL NIL NIL)',
    );
  });

  test('8-bit subject: a literal for IMAP4rev1, quoted once UTF-8 is enabled', () => {
    const raw = load('8bit.eml');
    assert.match(env(raw), /^\(NIL \{7\}\r\nGrüezi \(\(/);
    assert.match(env(raw, true), /^\(NIL "Grüezi" \(\(/);
  });

  test('group syntax, Sender and Reply-To of their own, In-Reply-To, quoting', () => {
    const raw = Buffer.from(
      'Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n' +
        'From: "Fred \\"The\\" Foo" <foo@example.com>\r\n' +
        'Sender: bar@example.com\r\nReply-To: list@example.com\r\n' +
        'To: team: a@example.com, b@example.com;, c@example.com\r\n' +
        'Cc: undisclosed-recipients:;\r\n' +
        'In-Reply-To: <x@y>\r\nMessage-ID: <m@y>\r\n\r\nbody\r\n',
    );
    assert.equal(
      env(raw),
      '("Mon, 7 Feb 1994 21:52:25 -0800" NIL ' +
        '(("Fred \\"The\\" Foo" NIL "foo" "example.com")) ' +
        '((NIL NIL "bar" "example.com")) ((NIL NIL "list" "example.com")) ' +
        '((NIL NIL "team" NIL)(NIL NIL "a" "example.com")(NIL NIL "b" "example.com")' +
        '(NIL NIL NIL NIL)(NIL NIL "c" "example.com")) ' +
        '((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL "<x@y>" "<m@y>")',
    );
  });

  test("a stored envelope's copies of from, and lists that differ from it in one field", () => {
    // A stored envelope comes back with sender and reply-to as copies of from, not the same
    // array: they are written from from's bytes. One that differs in any field is its own.
    const from = [
      { name: 'Ann', mailbox: 'ann', host: 'example.com' },
      { name: null, mailbox: 'bob', host: 'example.com' },
    ];
    const base = parseMessage(load('forward-rfc822.eml')).envelope;
    const text = (sender: unknown, replyTo: unknown) =>
      serialize(
        envelopeValue(JSON.parse(JSON.stringify({ ...base, from, sender, replyTo, to: null }))),
      ).toString('utf8');
    const ann = '("Ann" NIL "ann" "example.com")';
    const bob = (host: string) => `(NIL NIL "bob" "${host}")`;
    const FROM = `(${ann}${bob('example.com')})`;
    assert.match(text(from, from), new RegExp(`^\\(.* ${esc(`${FROM} ${FROM} ${FROM} NIL`)}`));
    assert.match(text(null, null), new RegExp(esc(`${FROM} ${FROM} ${FROM} NIL`)));
    const other = [from[0], { ...from[1], host: 'example.org' }];
    assert.match(
      text(other, [from[0]]),
      new RegExp(esc(`${FROM} (${ann}${bob('example.org')}) (${ann}) NIL`)),
    );
    const named = [{ ...from[0], name: 'Anna' }, from[1]];
    assert.match(text(from, named), new RegExp(esc(`${FROM} ${FROM} (("Anna"`)));
    // 8-bit names: a literal without UTF-8, quoted with it, in every copy.
    const utf = [{ name: 'Jörg', mailbox: 'j', host: 'example.de' }];
    const withUtf = (utf8: boolean) =>
      serialize(
        envelopeValue(
          JSON.parse(JSON.stringify({ ...base, from: utf, sender: utf, replyTo: null })),
          { utf8 },
        ),
        { utf8 },
      ).toString('utf8');
    assert.equal(withUtf(false).split('{5}\r\nJörg').length, 4);
    assert.equal(withUtf(true).split('"Jörg"').length, 4);
  });
});

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('BODY and BODYSTRUCTURE', () => {
  test('single text part: lines, default charset kept as written', () => {
    const raw = load('latin1-qp.eml');
    assert.equal(
      bs(raw, false),
      '("TEXT" "PLAIN" ("CHARSET" "ISO-8859-1") NIL NIL "QUOTED-PRINTABLE" 90 2)',
    );
    assert.equal(
      bs(raw, true),
      '("TEXT" "PLAIN" ("CHARSET" "ISO-8859-1") NIL NIL "QUOTED-PRINTABLE" 90 2 NIL NIL NIL NIL)',
    );
  });

  test('empty body: size 0, lines 0, US-ASCII default', () => {
    assert.equal(
      bs(load('empty-body.eml'), false),
      '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0)',
    );
  });

  test('message/rfc822: envelope, inner body and lines; bodies not space-separated', () => {
    const inner =
      '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 24 1)' +
      '("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 31 1) "ALTERNATIVE")';
    const innerEnv = `(NIL "Lunch?" ${ERIN} ${ERIN} ${ERIN} ${CAROL} NIL NIL NIL "<lunch@example.net>")`;
    assert.equal(
      bs(load('forward-rfc822.eml'), false),
      '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 10 1)' +
        `("MESSAGE" "RFC822" NIL NIL "forwarded message" "7BIT" 336 ${innerEnv} ${inner} 15) "MIXED")`,
    );
    assert.equal(
      bs(load('forward-rfc822.eml'), true),
      '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 10 1 NIL NIL NIL NIL)' +
        `("MESSAGE" "RFC822" NIL NIL "forwarded message" "7BIT" 336 ${innerEnv} ` +
        '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 24 1 NIL NIL NIL NIL)' +
        '("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 31 1 NIL NIL NIL NIL) "ALTERNATIVE" ' +
        '("BOUNDARY" "inner") NIL NIL NIL) 15 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)',
    );
  });

  test('three levels of multipart, Content-ID, disposition with parameters', () => {
    assert.equal(
      bs(load('nested-3-deep.eml'), true),
      '((("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 13 1 NIL NIL NIL NIL)' +
        '(("TEXT" "HTML" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 19 1 NIL NIL NIL NIL)' +
        '("IMAGE" "GIF" NIL "<pixel>" NIL "BASE64" 20 NIL NIL NIL NIL) "RELATED" ("BOUNDARY" "L3") ' +
        'NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "L2") NIL NIL NIL)' +
        '("APPLICATION" "OCTET-STREAM" NIL NIL NIL "BASE64" 16 NIL ("ATTACHMENT" ("FILENAME" "data.bin")) ' +
        'NIL NIL) "MIXED" ("BOUNDARY" "L1") NIL NIL NIL)',
    );
  });

  test('digest: message/rfc822 children with their own envelopes', () => {
    const first =
      '("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 42 (NIL "first" ((NIL NIL "a" "example.org")) ' +
      '((NIL NIL "a" "example.org")) ((NIL NIL "a" "example.org")) NIL NIL NIL NIL NIL) ' +
      '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 3 1) 4)';
    assert.ok(bs(load('digest.eml'), false).startsWith(`(${first}("MESSAGE" "RFC822"`));
    assert.ok(bs(load('digest.eml'), false).endsWith(' 4) "DIGEST")'));
  });

  test('RFC 2231 parameters, languages; UTF-8 clients get the decoded value', () => {
    const raw = load('attachment-rfc2231.eml');
    const pdf = `"utf-8''Rechnung%20%E2%82%AC.pdf"`;
    assert.ok(
      bs(raw, true).includes(
        `("APPLICATION" "PDF" ("NAME*" ${pdf}) NIL NIL "BASE64" 76 NIL ("ATTACHMENT" ("FILENAME*" ${pdf})) ("de" "en") NIL)`,
      ),
    );
    assert.ok(bs(raw, true, true).includes('("NAME" "Rechnung €.pdf")'));
  });

  test('multipart without parts gets one empty text/plain part', () => {
    const raw = Buffer.from(
      'Content-Type: multipart/mixed; boundary=zz\r\n\r\nno delimiter anywhere\r\n',
    );
    const root = parseMessage(raw).root;
    assert.equal(root.children.length, 0);
    assert.equal(
      bs(raw, false),
      '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) "MIXED")',
    );
  });

  test('message/rfc822 with no parsed inner message still follows body-type-msg', () => {
    const root: PartNode = {
      ...parseMessage(Buffer.from('Content-Type: message/rfc822\r\n\r\nx\r\n')).root,
      message: null,
      lines: 1,
    };
    assert.equal(
      serialize(bodyStructureValue(root, false)).toString(),
      '("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 3 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ' +
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) 1)',
    );
  });
});
