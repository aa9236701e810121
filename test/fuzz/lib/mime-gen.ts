// MIME inputs: the corpus in test/fixtures/mime, and generated messages (RFC 5322 headers
// with addresses, encoded words, parameters and dates; RFC 2046 multiparts nested, message/rfc822
// parts, transfer encodings), as the base the mutator damages.
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';

const dir = new URL('../../fixtures/mime/', import.meta.url);
export const FIXTURES: readonly Buffer[] = readdirSync(dir)
  .filter((f) => f.endsWith('.eml'))
  .sort()
  .map((f) => readFileSync(new URL(f, dir)));

const word = fc.stringMatching(/^[A-Za-z0-9]{1,8}$/);
const charset = fc.constantFrom(
  'utf-8',
  'UTF-8',
  'iso-8859-1',
  'windows-1252',
  'cp1251',
  'koi8-r',
  'iso-2022-jp',
  'shift_jis',
  'gb18030',
  'utf-7',
  'replacement',
  'utf-16le',
  'x-unknown',
  'us-ascii*en',
  '',
);

const encodedWord = fc
  .tuple(charset, fc.constantFrom('B', 'Q', 'b', 'q'), fc.uint8Array({ maxLength: 16 }))
  .map(([cs, enc, bytes]) => {
    const b = Buffer.from(bytes);
    const text =
      enc.toUpperCase() === 'B'
        ? b.toString('base64')
        : [...b]
            .map((x) =>
              x > 32 && x < 127 && x !== 0x3d && x !== 0x3f && x !== 0x5f
                ? String.fromCharCode(x)
                : `=${x.toString(16).padStart(2, '0').toUpperCase()}`,
            )
            .join('');
    return `=?${cs}?${enc}?${text}?=`;
  });

const phrase = fc
  .array(fc.oneof(word, encodedWord, fc.constantFrom('"Quoted, Name"', '(comment)', 'Q.')), {
    minLength: 1,
    maxLength: 3,
  })
  .map((w) => w.join(' '));

const addrSpec = fc
  .tuple(word, fc.constantFrom('example.org', 'x.test', '[192.0.2.1]', 'localhost'))
  .map(([l, d]) => `${l}@${d}`);
const address = fc.oneof(
  addrSpec,
  fc.tuple(phrase, addrSpec).map(([p, a]) => `${p} <${a}>`),
  fc.tuple(addrSpec, phrase).map(([a, p]) => `${a} (${p})`),
  fc.tuple(word, fc.array(addrSpec, { maxLength: 2 })).map(([g, as]) => `${g}: ${as.join(', ')};`),
  fc.constantFrom('<@route.example:u@x.test>', 'undisclosed-recipients:;', 'postmaster'),
);
export const addressList = fc
  .array(address, { minLength: 1, maxLength: 3 })
  .map((a) => a.join(', '));

export const dateValue = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
  fc.constantFrom(
    'Tue, 4 Mar 2025 09:15:00 +0100',
    '4 Mar 25 09:15 EST',
    'Mon, 31 Feb 2025 25:61:61 -9999',
    '(comment) 1 Jan 2000 00:00:00 GMT',
    'garbage',
  ),
);

export const paramValue = fc
  .tuple(
    fc.constantFrom(
      'text/plain',
      'multipart/mixed',
      'application/octet-stream',
      'attachment',
      'inline',
      'text/html',
      '(c) text/plain',
    ),
    fc.array(
      fc.oneof(
        fc.tuple(word, word).map(([k, v]) => `${k}=${v}`),
        fc.tuple(word, word).map(([k, v]) => `${k}="${v} x"`),
        fc
          .tuple(charset, word)
          .map(([c, v]) => `filename*=${c}''${encodeURIComponent(v)}%E2%82%AC`),
        fc.tuple(fc.nat(3), word).map(([n, v]) => `title*${n}*=${v}`),
        encodedWord.map((e) => `name="${e}"`),
        fc.constantFrom('boundary="b 1"', 'charset=utf-8', '__proto__=x', 'a*0=1; a*1=2'),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([v, ps]) => [v, ...ps].join('; '));

const headerLine = fc.oneof(
  fc
    .tuple(fc.constantFrom('From', 'To', 'Cc', 'Bcc', 'Reply-To', 'Sender'), addressList)
    .map(([n, v]) => `${n}: ${v}`),
  fc.tuple(fc.constantFrom('Subject', 'Comments'), phrase).map(([n, v]) => `${n}: ${v}`),
  dateValue.map((d) => `Date: ${d}`),
  fc.constantFrom(
    'Message-ID: <a@b>',
    'In-Reply-To: <x@y>',
    'References: <a@b> <c@d>',
    'X-Folded: a\r\n  b\r\n\tc',
    'No colon here',
    ': empty name',
    'Content-Language: en (English), de',
  ),
);

const cte = fc.constantFrom(
  '7bit',
  '8bit',
  'binary',
  'base64',
  'quoted-printable',
  'x-uuencode',
  'BASE64 (comment)',
);

const leafBody = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }).map((s) => Buffer.from(s).toString('latin1')),
  fc.uint8Array({ maxLength: 45 }).map((b) => Buffer.from(b).toString('base64')),
  fc.constantFrom(
    'caf=C3=A9 =\r\nsoft',
    '<p>Hi &amp; <b>bye</b><script>x</script>',
    '=ZZ=\r\n= \r\n',
  ),
);

/** A part: headers, blank line, body; multipart and message/rfc822 parts nest. */
const part: fc.Arbitrary<string> = fc.letrec<{ part: string }>((tie) => ({
  part: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(
        fc.array(headerLine, { maxLength: 3 }),
        fc.constantFrom('text/plain', 'text/html', 'image/png', 'application/pdf'),
        charset,
        cte,
        leafBody,
      )
      .map(([hs, t, cs, enc, body]) =>
        [
          ...hs,
          `Content-Type: ${t}; charset="${cs}"`,
          `Content-Transfer-Encoding: ${enc}`,
          '',
          body,
        ].join('\r\n'),
      ),
    fc
      .tuple(
        fc.constantFrom('mixed', 'alternative', 'digest', 'related'),
        word,
        fc.array(tie('part'), { maxLength: 3 }),
        fc.boolean(),
      )
      .map(([sub, b, parts, close]) =>
        [
          `Content-Type: multipart/${sub}; boundary="${b}"`,
          '',
          'preamble',
          ...parts.map((p) => `--${b}\r\n${p}`),
          close ? `--${b}--\r\nepilogue` : '',
        ].join('\r\n'),
      ),
    tie('part').map((p) => ['Content-Type: message/rfc822', '', p].join('\r\n')),
  ),
})).part;

export const message: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...FIXTURES) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.array(headerLine, { maxLength: 6 }), part, fc.constantFrom('\r\n', '\n'))
      .map(([hs, p, eol]) =>
        Buffer.from([...hs, 'MIME-Version: 1.0', p].join('\r\n').replace(/\r\n/g, eol), 'latin1'),
      ),
  },
);

export const MIME_WORDS: readonly string[] = [
  '\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n',
  '\r\n--b\r\n',
  '\r\n--b--\r\n',
  'Content-Type: message/rfc822\r\n\r\n',
  'Content-Transfer-Encoding: base64\r\n',
  'Content-Transfer-Encoding: quoted-printable\r\n',
  'From: ',
  'Subject: ',
  '=?utf-8?B?',
  '=?iso-2022-jp?q?',
  '(',
  ')',
  '"',
  '<',
  '>',
  ';',
  'filename*0*=',
  "utf-8''",
  '%E2',
  '=\r\n',
  '<p',
  '<script>',
  '&#x1F600;',
  '\r\n\r\n',
  '\n\n',
];
