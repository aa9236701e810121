import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDate } from '../../src/mime/date.js';
import { buildEnvelope, buildSearchFields } from '../../src/mime/envelope.js';
import { parseHeaders } from '../../src/mime/headers.js';
import { decodeEntities, htmlToText } from '../../src/mime/html.js';

describe('parseDate', () => {
  const cases: [string, string | null][] = [
    ['Tue, 4 Mar 2025 09:15:00 +0100', '2025-03-04T08:15:00.000Z'],
    ['4 Mar 2025 09:15 -0500', '2025-03-04T14:15:00.000Z'],
    ['Wed, 05 Mar 2025 18:00:00 GMT', '2025-03-05T18:00:00.000Z'],
    ['Wed, 05 Mar 2025 18:00:00 EST', '2025-03-05T23:00:00.000Z'],
    ['Wed, 05 Mar 2025 18:00:00 +0000 (UTC)', '2025-03-05T18:00:00.000Z'],
    ['1 Mar 25 08:00 GMT', '2025-03-01T08:00:00.000Z'],
    ['1 Mar 99 08:00 GMT', '1999-03-01T08:00:00.000Z'],
    ['Sun, 1 September 2024 10:00:00 +02:00', '2024-09-01T08:00:00.000Z'],
    ['Thu, 1 Jan 1970 00:00:00 +0000', '1970-01-01T00:00:00.000Z'],
    ['2024-05-06T07:08:09Z', '2024-05-06T07:08:09.000Z'],
    ['not a date', null],
    ['', null],
  ];
  for (const [input, want] of cases) {
    test(input || '(empty)', () => {
      const t = parseDate(input);
      assert.equal(t === null ? null : new Date(t).toISOString(), want);
    });
  }
  test('null in, null out', () => assert.equal(parseDate(null), null));
});

describe('buildEnvelope', () => {
  const h = (s: string) => parseHeaders(Buffer.from(s.replaceAll('\n', '\r\n')));
  test('sender and reply-to default to from', () => {
    const env = buildEnvelope(
      h('From: A <a@x>\nSender:\nSubject: =?utf-8?q?caf=C3=A9?=\nDate: x\n'),
    );
    const from = [{ name: 'A', mailbox: 'a', host: 'x' }];
    assert.deepEqual(env.from, from);
    assert.deepEqual(env.sender, from);
    assert.deepEqual(env.replyTo, from);
    assert.equal(env.subject, '=?utf-8?q?caf=C3=A9?=');
    assert.equal(env.subjectDecoded, 'café');
    assert.equal(env.date, 'x');
    assert.equal(env.to, null);
    assert.equal(env.messageId, null);
  });
  test('explicit sender and reply-to win', () => {
    const env = buildEnvelope(
      h('From: a@x\nSender: s@x\nReply-To: r@x\nIn-Reply-To: <p@x>\nMessage-ID: <m@x>\n'),
    );
    assert.deepEqual(env.sender, [{ name: null, mailbox: 's', host: 'x' }]);
    assert.deepEqual(env.replyTo, [{ name: null, mailbox: 'r', host: 'x' }]);
    assert.equal(env.inReplyTo, '<p@x>');
    assert.equal(env.messageId, '<m@x>');
  });
  test('no headers gives all NIL', () => {
    const env = buildEnvelope([]);
    assert.deepEqual(Object.values(env), Array(11).fill(null));
  });
});

describe('buildSearchFields', () => {
  test('decodes and collects', () => {
    const fields = parseHeaders(
      Buffer.from(
        'From: =?utf-8?q?J=C3=B6rg?= <j@x>\r\nTo: G:;, b@y\r\nTo: c@z\r\nSubject: =?utf-8?b?4oKs?=\r\n' +
          'Date: Thu, 1 Jan 1970 00:00:01 +0000\r\nReferences: <a@x>\r\n <b@x> junk <c@x>\r\n',
      ),
    );
    const s = buildSearchFields(fields);
    assert.equal(s.from, 'Jörg <j@x>');
    assert.equal(s.to, 'G:;, b@y, c@z');
    assert.equal(s.subject, '€');
    assert.equal(s.cc, '');
    assert.equal(s.date, 1000);
    assert.deepEqual(s.references, ['<a@x>', '<b@x>', '<c@x>']);
    assert.deepEqual(s.firstFrom, { name: 'Jörg', mailbox: 'j', host: 'x' });
    assert.deepEqual(s.firstTo, { name: null, mailbox: 'b', host: 'y' }, 'group markers skipped');
    assert.equal(s.firstCc, null);
    // The same from the ENVELOPE's lists (parseMessage's way): no second parse, same result.
    assert.deepEqual(buildSearchFields(fields, buildEnvelope(fields)), s);
  });

  test('first addresses from the ENVELOPE: a source route, a comment name, no Cc field', () => {
    const fields = parseHeaders(
      Buffer.from(
        'From: x@y (=?utf-8?q?Ren=C3=A9?=)\r\nTo: <@a,@b:u@d>, v@e\r\nCc: \r\nSender: s@t\r\n',
      ),
    );
    const s = buildSearchFields(fields, buildEnvelope(fields));
    assert.deepEqual(s, buildSearchFields(fields));
    assert.deepEqual(s.firstFrom, { name: 'René', mailbox: 'x', host: 'y' });
    assert.deepEqual(s.firstTo, { name: null, adl: '@a,@b', mailbox: 'u', host: 'd' });
    assert.equal(s.firstCc, null);
  });
});

describe('htmlToText', () => {
  const cases: [string, string][] = [
    ['<p>Hello&nbsp;<b>World</b></p>', 'Hello\u00a0World'.replace('\u00a0', ' ')],
    ['a<br>b', 'a\nb'],
    ['<style>p{}</style><script>x()</script>visible', 'visible'],
    ['<!-- hidden -->shown', 'shown'],
    ['&lt;tag&gt; &amp; &#233; &#x20AC; &bogus;', '<tag> & é € &bogus;'],
    ['a < b and c > d', 'a < b and c > d'],
    ['unclosed <script', 'unclosed'],
  ];
  for (const [input, want] of cases) test(input, () => assert.equal(htmlToText(input), want));
  test('entities outside the code point range are kept', () => {
    assert.equal(decodeEntities('&#xD800;&#9999999;'), '&#xD800;&#9999999;');
  });
});
