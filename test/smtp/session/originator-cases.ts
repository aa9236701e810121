// The originator variants a submission server must refuse (issue 15 item 8), shared by the
// raw-socket session test and the real-client test in test/hostile/.

export const USER = 'sam@example.test';
export const PASS = 'pw-sam-secret';
export const TO = 'rita@example.test';

/** Header lines (the originator part), then To, Subject and a body. */
export function build(subject: string, originator: string[]): string {
  return `${originator.join('\r\n')}\r\nTo: <${TO}>\r\nSubject: ${subject}\r\n\r\nHello.\r\n`;
}

/** Each case: the originator lines and the reply expected at the end of the data. */
export const REFUSED: Array<[string, string[], RegExp]> = [
  ['second From', [`From: <${USER}>`, 'From: <ceo@example.test>'], /^554 5\.6\.0 .*2 From/],
  ['"From :" spelling', [`From: <${USER}>`, 'From : <ceo@example.test>'], /^554 5\.6\.0 /],
  [
    'Sender of someone else',
    [`From: <${USER}>`, 'Sender: <ceo@example.test>'],
    /^550 5\.7\.1 Sender address ceo@example\.test /,
  ],
  [
    'two Sender fields',
    [`From: <${USER}>`, `Sender: <${USER}>`, 'Sender: <ceo@example.test>'],
    /^554 5\.6\.0 .*2 Sender/,
  ],
  [
    'Sender with two mailboxes',
    [`From: <${USER}>`, `Sender: ${USER}, ceo@example.test`],
    /^554 5\.1\.7 /,
  ],
  ['a mailbox without a domain', [`From: <${USER}>, ceo`], /^554 5\.1\.7 .*without a domain/],
  [
    'a group with a foreign member',
    [`From: Team: ${USER}, ceo@example.test;`],
    /^550 5\.7\.1 From address ceo@example\.test /,
  ],
  [
    'an encoded-word address',
    [`From: <${USER}>, =?utf-8?b?Y2VvQGV4YW1wbGUudGVzdA==?=`],
    /^554 5\.1\.7 /,
  ],
  ['junk after the address', [`From: <${USER}> <ceo@example.test>`], /^554 5\.1\.7 /],
  ['folded junk', [`From: <${USER}>`, ' From: ceo@example.test'], /^554 5\.1\.7 /],
  ['an obsolete route', [`From: <@example.test:ceo@example.test>`], /^554 5\.1\.7 .*route/],
  [
    'a quoted local part hiding an address',
    [`From: "ceo@example.test"@example.test`],
    /^554 5\.1\.7 /,
  ],
  [
    'no From at all',
    ['Reply-To: <ceo@example.test>'],
    /^554 5\.6\.0 Message must have a From field/,
  ],
];
