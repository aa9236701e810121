// Valid SMTP command lines (RFC 5321 §4.1 and the extensions Letterbox offers) and message
// data, as fast-check arbitraries: the base the mutator damages.
import fc from 'fast-check';

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
export const domain = fc.oneof(
  { weight: 5, arbitrary: fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.')) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '[192.0.2.1]',
      '[IPv6:2001:db8::1]',
      '[IPv6:fe80::1%eth0]',
      '[x-tag:abc]',
      '[300.1.1.1]',
      'bücher.example',
      'localhost',
    ),
  },
);

const localPart = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.stringMatching(/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,12}(\.[A-Za-z0-9_-]{1,8})?$/),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('"a b"', '"a\\"b"', '"user@foreign"', 'Postmaster', 'jörg', '""'),
  },
);

export const mailbox = fc.tuple(localPart, domain).map(([l, d]) => `${l}@${d}`);

const path = fc.oneof(
  { weight: 6, arbitrary: mailbox.map((m) => `<${m}>`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '<>',
      '<postmaster>',
      '<Postmaster>',
      '<@a.example,@b.example:u@c.example>',
    ),
  },
  { weight: 1, arbitrary: mailbox },
);

const xtext = fc
  .string({ unit: 'binary-ascii', maxLength: 12 })
  .map((s) =>
    [...Buffer.from(s)]
      .map((b) =>
        b > 32 && b < 127 && b !== 0x2b && b !== 0x3d
          ? String.fromCharCode(b)
          : `+${b.toString(16).toUpperCase().padStart(2, '0')}`,
      )
      .join(''),
  );

const mailParam = fc.oneof(
  fc.integer({ min: 0, max: 1e9 }).map((n) => `SIZE=${n}`),
  fc.constantFrom(
    'BODY=8BITMIME',
    'BODY=7BIT',
    'BODY=BINARYMIME',
    'SMTPUTF8',
    'RET=FULL',
    'RET=HDRS',
    'AUTH=<>',
    'SIZE=99999999999999999999',
  ),
  xtext.map((x) => `ENVID=${x}`),
  xtext.map((x) => `AUTH=${x}`),
);
const rcptParam = fc.oneof(
  fc.constantFrom(
    'NOTIFY=NEVER',
    'NOTIFY=SUCCESS,FAILURE',
    'NOTIFY=DELAY',
    'NOTIFY=SUCCESS,SUCCESS',
  ),
  xtext.map((x) => `ORCPT=rfc822;${x}`),
);

const base64 = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a).toString('base64'));

export const smtpCommand: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom('EHLO', 'HELO', 'ehlo'), domain).map(([v, d]) => `${v} ${d}`),
  fc
    .tuple(
      path,
      fc.array(mailParam, { maxLength: 3 }),
      fc.constantFrom('MAIL FROM:', 'mail from: ', 'MAIL FROM:  '),
    )
    .map(([p, ps, v]) => [`${v}${p}`, ...ps].join(' ')),
  fc
    .tuple(path, fc.array(rcptParam, { maxLength: 2 }), fc.constantFrom('RCPT TO:', 'rcpt to: '))
    .map(([p, ps, v]) => [`${v}${p}`, ...ps].join(' ')),
  fc
    .tuple(fc.integer({ min: 0, max: 100000 }), fc.boolean())
    .map(([n, last]) => `BDAT ${n}${last ? ' LAST' : ''}`),
  fc
    .tuple(
      fc.constantFrom('PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'),
      fc.option(fc.oneof(base64, fc.constant('='))),
    )
    .map(([m, ir]) => `AUTH ${m}${ir === null ? '' : ` ${ir}`}`),
  fc.constantFrom(
    'DATA',
    'RSET',
    'NOOP',
    'NOOP hello',
    'QUIT',
    'STARTTLS',
    'HELP',
    'HELP MAIL',
    'VRFY user',
    'EXPN list',
    'TURN',
    'BDAT 0 LAST',
  ),
);

/** A client's command stream: lines with CRLF (sometimes a bare LF). */
export const smtpStream: fc.Arbitrary<Buffer> = fc
  .array(fc.tuple(smtpCommand, fc.constantFrom('\r\n', '\r\n', '\r\n', '\n')), {
    minLength: 1,
    maxLength: 6,
  })
  .map((cs) => Buffer.from(cs.map(([c, e]) => c + e).join(''), 'utf8'));

export const SMTP_WORDS: readonly string[] = [
  'MAIL FROM:',
  'RCPT TO:',
  'EHLO ',
  'BDAT ',
  'AUTH ',
  ' LAST',
  'SIZE=',
  'BODY=',
  'ENVID=',
  'NOTIFY=',
  'ORCPT=rfc822;',
  'SMTPUTF8',
  '<',
  '>',
  '@',
  '[IPv6:',
  '+2B',
  'postmaster',
];

/** Message data as a client sends it after DATA: CRLF lines, dots, the terminator. */
export const dataStream: fc.Arbitrary<Buffer> = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '.',
        '..',
        '...x',
        '.\r',
        'Subject: x',
        '',
        ' ',
        '\r',
        '\n',
        'line\rbare',
        'a\nb',
      ),
      fc.string({ unit: 'binary-ascii', maxLength: 30 }),
    ),
    { maxLength: 12 },
  )
  .chain((lines) =>
    fc
      .constantFrom('\r\n.\r\n', '\r\n.\r\nMAIL FROM:<a@b>\r\n', '\n.\n', '\r\n.\n', '')
      .map((end) => Buffer.from(lines.join('\r\n') + end, 'latin1')),
  );

export const DATA_WORDS: readonly string[] = [
  '\r\n.\r\n',
  '\r\n.',
  '.\r\n',
  '\r\n..',
  '\n.\n',
  '\r.\r',
  '.',
];
