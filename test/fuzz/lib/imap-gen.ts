// Valid IMAP command lines (RFC 9051 §9 and the extensions Letterbox speaks) as fast-check
// arbitraries: tags, atoms, quoted strings, literals, sequence sets, search keys, fetch
// items, flags, dates. They are the base the mutator damages.
import fc from 'fast-check';
import { encodeMailboxName } from '../../../src/imap/wire/utf7.js';
import { bytesOf } from './mutate.js';

type Piece = string | Buffer;
const join = (parts: Piece[][]): Piece[] => parts.flat();

export const tag = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'A1', 'x.1', '0', 'tag-99', 'a]') },
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9.]{1,10}$/) },
  { weight: 1, arbitrary: fc.constantFrom('*', '+', 'a+b', '(', '"a"') },
);

const atomChars = fc.stringMatching(/^[A-Za-z0-9!#$&'+,\-./:;<=>?@^_`|~]{1,12}$/);

/** Any string as the body of a DQUOTEd string, escaped. */
const quoted = fc
  .string({ unit: 'grapheme-ascii', maxLength: 20 })
  .map((s) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`);

/** A literal: `{N}` / `{N+}` / `~{N}`, CRLF and the bytes. */
function literal(data: fc.Arbitrary<Buffer>): fc.Arbitrary<Piece[]> {
  return fc
    .tuple(fc.constantFrom('', '+'), fc.boolean(), data)
    .map(([plus, eight, d]) => [`${eight ? '~' : ''}{${d.length}${plus}}\r\n`, d]);
}

const smallBytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));

export const astring: fc.Arbitrary<Piece[]> = fc.oneof(
  atomChars.map((a) => [a]),
  quoted.map((q) => [q]),
  literal(smallBytes),
);

export const mailbox: fc.Arbitrary<Piece[]> = fc.oneof(
  fc
    .constantFrom('INBOX', 'inbox', 'Sent', 'a/b/c', '""', '"~/Mail"', 'Entw&APw-rfe')
    .map((m) => [m]),
  fc.string({ maxLength: 12 }).map((s) => [`"${encodeMailboxName(s).replace(/[\\"]/g, '\\$&')}"`]),
  astring,
);

const listPattern: fc.Arbitrary<Piece[]> = fc.oneof(
  fc.stringMatching(/^[A-Za-z*%/.]{1,12}$/).map((p) => [p]),
  mailbox,
);

const number = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 2000 }).map(String) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('0', '4294967295', '4294967296', '18446744073709551615'),
  },
);

const seqNumber = fc.oneof(
  { weight: 4, arbitrary: number },
  { weight: 1, arbitrary: fc.constant('*') },
);

export const sequenceSet = fc.oneof(
  { weight: 1, arbitrary: fc.constant('$') },
  {
    weight: 6,
    arbitrary: fc
      .array(
        fc.oneof(
          seqNumber,
          fc.tuple(seqNumber, seqNumber).map(([a, b]) => `${a}:${b}`),
        ),
        { minLength: 1, maxLength: 6 },
      )
      .map((r) => r.join(',')),
  },
);

const flag = fc.oneof(
  fc.constantFrom('\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '\\Recent', '$Junk'),
  atomChars.filter((a) => !/[\]]/.test(a)),
);
const flagList = fc.array(flag, { maxLength: 4 }).map((f) => `(${f.join(' ')})`);

const month = fc.constantFrom('Jan', 'Feb', 'mar', 'APR', 'Jun', 'Dec', 'Foo');
const date = fc
  .tuple(fc.integer({ min: 0, max: 32 }), month, fc.integer({ min: 0, max: 9999 }), fc.boolean())
  .map(([d, m, y, q]) => {
    const t = `${d}-${m}-${String(y).padStart(4, '0')}`;
    return q ? `"${t}"` : t;
  });
const dateTime = fc
  .tuple(
    fc.integer({ min: 0, max: 32 }),
    month,
    fc.integer({ min: 1900, max: 2100 }),
    fc.integer({ min: 0, max: 25 }),
    fc.constantFrom('+0000', '-0700', '+1260', '+9999'),
  )
  .map(
    ([d, m, y, h, z]) =>
      `"${String(d).padStart(2, ' ')}-${m}-${y} ${String(h).padStart(2, '0')}:00:59 ${z}"`,
  );

/** RFC 9051 §6.4.4 search keys, nested. */
export const searchKeys: fc.Arbitrary<Piece[]> = fc.letrec<{ key: Piece[] }>((tie) => ({
  key: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .constantFrom(
        'ALL',
        'ANSWERED',
        'DELETED',
        'DRAFT',
        'FLAGGED',
        'NEW',
        'OLD',
        'RECENT',
        'SEEN',
        'UNANSWERED',
        'UNDELETED',
        'UNSEEN',
        'SAVEDATESUPPORTED',
      )
      .map((k) => [k]),
    sequenceSet.map((s) => [s]),
    sequenceSet.map((s) => [`UID ${s}`]),
    fc
      .tuple(
        fc.constantFrom(
          'BEFORE',
          'ON',
          'SINCE',
          'SENTBEFORE',
          'SENTON',
          'SENTSINCE',
          'SAVEDBEFORE',
          'SAVEDON',
          'SAVEDSINCE',
        ),
        date,
      )
      .map(([k, d]) => [`${k} ${d}`]),
    fc
      .tuple(fc.constantFrom('BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO'), astring)
      .map(([k, v]) => join([[`${k} `], v])),
    fc.tuple(astring, astring).map(([f, v]) => join([['HEADER '], f, [' '], v])),
    fc.tuple(fc.constantFrom('KEYWORD', 'UNKEYWORD'), flag).map(([k, f]) => [`${k} ${f}`]),
    fc.tuple(fc.constantFrom('LARGER', 'SMALLER'), number).map(([k, n]) => [`${k} ${n}`]),
    fc.tuple(fc.constantFrom('OLDER', 'YOUNGER'), number).map(([k, n]) => [`${k} ${n}`]),
    fc.tuple(fc.constantFrom('EMAILID', 'THREADID'), astring).map(([k, v]) => join([[`${k} `], v])),
    fc
      .tuple(fc.option(fc.constantFrom('"/flags/\\\\Seen" all', '"/flags/$x" priv')), number)
      .map(([e, n]) => [`MODSEQ ${e ? `${e} ` : ''}${n}`]),
    tie('key').map((k) => join([['NOT '], k])),
    fc.tuple(tie('key'), tie('key')).map(([a, b]) => join([['OR '], a, [' '], b])),
    fc
      .array(tie('key'), { minLength: 1, maxLength: 3 })
      .map((ks) => join([['('], ...ks.flatMap((k, i) => (i === 0 ? [k] : [[' '], k])), [')']])),
  ),
})).key;

const section = fc.oneof(
  fc.constantFrom('', 'HEADER', 'TEXT', '1', '1.2', '2.MIME', '1.HEADER', '3.TEXT', '0', '1..2'),
  fc
    .tuple(
      fc.constantFrom('', '1.', '2.3.'),
      fc.constantFrom('HEADER.FIELDS', 'HEADER.FIELDS.NOT'),
      fc.array(fc.constantFrom('From', 'To', 'SUBJECT', '"X-A"', 'Date'), {
        minLength: 1,
        maxLength: 3,
      }),
    )
    .map(([p, k, f]) => `${p}${k} (${f.join(' ')})`),
);
const partial = fc.option(
  fc.tuple(number, number).map(([a, b]) => `<${a}.${b}>`),
  { freq: 3 },
);
const fetchAtt = fc.oneof(
  fc.constantFrom(
    'FLAGS',
    'INTERNALDATE',
    'RFC822.SIZE',
    'ENVELOPE',
    'BODY',
    'BODYSTRUCTURE',
    'UID',
    'MODSEQ',
    'RFC822',
    'RFC822.HEADER',
    'RFC822.TEXT',
    'EMAILID',
    'THREADID',
    'SAVEDATE',
    'PREVIEW',
    'PREVIEW (LAZY)',
    'PREVIEW ()',
  ),
  fc
    .tuple(fc.constantFrom('BODY', 'BODY.PEEK'), section, partial)
    .map(([n, s, p]) => `${n}[${s}]${p ?? ''}`),
  fc
    .tuple(
      fc.constantFrom('BINARY', 'BINARY.PEEK', 'BINARY.SIZE'),
      fc.constantFrom('', '1', '1.2'),
      partial,
    )
    .map(([n, s, p]) => `${n}[${s}]${p ?? ''}`),
);
const fetchItems = fc.oneof(
  fc.constantFrom('ALL', 'FAST', 'FULL'),
  fetchAtt,
  fc.array(fetchAtt, { minLength: 1, maxLength: 5 }).map((a) => `(${a.join(' ')})`),
);

const statusItems = fc
  .array(
    fc.constantFrom(
      'MESSAGES',
      'UIDNEXT',
      'UIDVALIDITY',
      'UNSEEN',
      'DELETED',
      'SIZE',
      'RECENT',
      'HIGHESTMODSEQ',
      'APPENDLIMIT',
      'MAILBOXID',
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((a) => `(${a.join(' ')})`);

const base64ish = fc.oneof(
  fc.constantFrom('=', '*', 'AGFsaWNlAHNlY3JldA==', 'dXNlcg=='),
  fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a).toString('base64')),
);

const message = fc.constantFrom(
  'From: a@b\r\nSubject: x\r\n\r\nbody\r\n',
  'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n',
  '',
);

/** The arguments (after the command name) of each command Letterbox knows. */
const commandArgs: fc.Arbitrary<Piece[]> = fc.oneof(
  fc
    .constantFrom(
      'CAPABILITY',
      'NOOP',
      'LOGOUT',
      'STARTTLS',
      'NAMESPACE',
      'IDLE',
      'CHECK',
      'CLOSE',
      'UNSELECT',
      'EXPUNGE',
      'COMPRESS DEFLATE',
      'ID NIL',
      'ENABLE CONDSTORE QRESYNC UTF8=ACCEPT IMAP4rev2',
    )
    .map((c) => [c]),
  fc
    .tuple(fc.constantFrom('PLAIN', 'LOGIN', 'CRAM-MD5'), fc.option(base64ish))
    .map(([m, ir]) => [`AUTHENTICATE ${m}${ir === null ? '' : ` ${ir}`}`]),
  fc.tuple(astring, astring).map(([u, p]) => join([['LOGIN '], u, [' '], p])),
  fc
    .array(fc.tuple(astring, fc.oneof(astring, fc.constant(['NIL'] as Piece[]))), { maxLength: 3 })
    .map((pairs) =>
      join([['ID ('], ...pairs.flatMap(([k, v], i) => [i ? [' '] : [], k, [' '], v]), [')']]),
    ),
  fc
    .tuple(
      fc.constantFrom('SELECT', 'EXAMINE'),
      mailbox,
      fc.constantFrom(
        '',
        ' (CONDSTORE)',
        ' (QRESYNC (67890007 20050715194045000 41,43:211,214:541))',
        ' (QRESYNC (1 0 1:* (1:5 1:5)))',
        ' (QRESYNC (0 1))',
      ),
    )
    .map(([c, m, p]) => join([[`${c} `], m, [p]])),
  fc
    .tuple(fc.constantFrom('CREATE', 'DELETE', 'SUBSCRIBE', 'UNSUBSCRIBE', 'GETQUOTAROOT'), mailbox)
    .map(([c, m]) => join([[`${c} `], m])),
  mailbox.map((m) => join([['CREATE '], m, [' (USE (\\Drafts \\Sent))']])),
  fc.tuple(mailbox, mailbox).map(([a, b]) => join([['RENAME '], a, [' '], b])),
  fc
    .tuple(
      fc.constantFrom('', '(SUBSCRIBED) ', '(RECURSIVEMATCH SUBSCRIBED) ', '(REMOTE) '),
      mailbox,
      fc.oneof(
        listPattern,
        fc
          .array(listPattern, { minLength: 1, maxLength: 3 })
          .map((ps) => join([['('], ...ps.flatMap((p, i) => [i ? [' '] : [], p]), [')']])),
      ),
      fc.constantFrom('', ' RETURN (CHILDREN)', ' RETURN (STATUS (MESSAGES UNSEEN))', ' RETURN ()'),
    )
    .map(([sel, ref, pat, ret]) => join([[`LIST ${sel}`], ref, [' '], pat, [ret]])),
  fc.tuple(mailbox, listPattern).map(([r, p]) => join([['LSUB '], r, [' '], p])),
  fc.tuple(mailbox, statusItems).map(([m, i]) => join([['STATUS '], m, [` ${i}`]])),
  fc
    .tuple(
      mailbox,
      fc.array(fc.tuple(fc.option(flagList), fc.option(dateTime), fc.boolean(), message), {
        minLength: 1,
        maxLength: 2,
      }),
    )
    .map(([m, msgs]) =>
      join([
        ['APPEND '],
        m,
        ...msgs.map(([f, d, utf8, body]) => {
          const b = Buffer.from(body);
          const lit = utf8 ? [`UTF8 (~{${b.length}}\r\n`, b, ')'] : [`{${b.length}+}\r\n`, b];
          return [' ', f ? `${f} ` : '', d ? `${d} ` : '', ...lit];
        }),
      ]),
    ),
  fc
    .tuple(
      fc.constantFrom('', 'UID '),
      fc.constantFrom(
        '',
        'RETURN (MIN MAX COUNT) ',
        'RETURN () ',
        'RETURN (SAVE) ',
        // RFC 5267 / RFC 9394: live results and pages, good and bad.
        'RETURN (UPDATE) ',
        'RETURN (UPDATE COUNT CONTEXT) ',
        'RETURN (PARTIAL 1:5) ',
        'RETURN (PARTIAL -1:-3 SAVE MIN) ',
        'RETURN (PARTIAL 0:1) ',
        'RETURN (PARTIAL 1:2 ALL) ',
      ),
      fc.constantFrom('', 'CHARSET UTF-8 ', 'CHARSET US-ASCII ', 'CHARSET KOI8-R '),
      searchKeys,
    )
    .map(([u, r, c, k]) => join([[`${u}SEARCH ${r}${c}`], k])),
  fc
    .tuple(
      fc.constantFrom('', 'UID '),
      sequenceSet,
      fetchItems,
      fc.constantFrom(
        '',
        ' (CHANGEDSINCE 12345)',
        ' (CHANGEDSINCE 1 VANISHED)',
        ' (VANISHED)',
        ' (PARTIAL -1:-10)',
        ' (PARTIAL 1:3 CHANGEDSINCE 1)',
      ),
    )
    .map(([u, s, i, m]) => [`${u}FETCH ${s} ${i}${m}`]),
  fc
    .tuple(
      fc.constantFrom('', 'UID '),
      sequenceSet,
      fc.constantFrom('', '(UNCHANGEDSINCE 320162338) '),
      fc.constantFrom('FLAGS', '+FLAGS', '-FLAGS', 'FLAGS.SILENT', '+FLAGS.SILENT'),
      fc.oneof(flagList, flag),
    )
    .map(([u, s, m, op, f]) => [`${u}STORE ${s} ${m}${op} ${f}`]),
  fc
    .tuple(fc.constantFrom('COPY', 'MOVE', 'UID COPY', 'UID MOVE'), sequenceSet, mailbox)
    .map(([c, s, m]) => join([[`${c} ${s} `], m])),
  sequenceSet.map((s) => [`UID EXPUNGE ${s}`]),
  fc
    .constantFrom('CANCELUPDATE "a1"', 'CANCELUPDATE', 'CANCELUPDATE a1', 'CANCELUPDATE "x" "y"')
    .map((c) => [c]),
  fc
    .tuple(
      fc.constantFrom(
        'SORT',
        'UID SORT',
        'SORT RETURN (UPDATE MIN)',
        'UID SORT RETURN (PARTIAL -1:-2)',
        'SORT RETURN ()',
      ),
      fc.constantFrom('(DATE)', '(REVERSE SUBJECT FROM)', '(ARRIVAL SIZE)', '()'),
      fc.constantFrom('UTF-8', 'US-ASCII', 'X'),
      searchKeys,
    )
    .map(([c, k, cs, s]) => join([[`${c} ${k} ${cs} `], s])),
  fc
    .tuple(
      fc.constantFrom('THREAD', 'UID THREAD'),
      fc.constantFrom('REFERENCES', 'ORDEREDSUBJECT', 'X'),
      searchKeys,
    )
    .map(([c, a, s]) => join([[`${c} ${a} UTF-8 `], s])),
  // CATENATE (RFC 4469), REPLACE (RFC 8508), METADATA (RFC 5464).
  fc
    .tuple(
      mailbox,
      fc.array(
        fc.oneof(
          message.map((m) => [`TEXT {${Buffer.byteLength(m)}+}\r\n`, m]),
          fc
            .constantFrom(
              '"/INBOX;UIDVALIDITY=1/;UID=1/;SECTION=1.MIME"',
              '";UID=1/;PARTIAL=0.10"',
              '"/INBOX/;UID=*"',
              '"imap://u@h/INBOX/;UID=1"',
              'x%',
            )
            .map((u) => [`URL ${u}`]),
        ),
        { maxLength: 3 },
      ),
    )
    .map(([m, parts]) =>
      join([
        ['APPEND '],
        m,
        [' CATENATE ('],
        ...parts.flatMap((p, i) => [i ? [' '] : [], p]),
        [')'],
      ]),
    ),
  fc
    .tuple(fc.constantFrom('REPLACE 1 ', 'UID REPLACE * ', 'REPLACE 0 '), mailbox, message)
    .map(([c, m, body]) => join([[c], m, [` {${Buffer.byteLength(body)}+}\r\n`, body]])),
  fc
    .tuple(
      fc.constantFrom('', '(MAXSIZE 10) ', '(DEPTH infinity MAXSIZE 1) ', '(DEPTH 2) '),
      fc.oneof(fc.constant<Piece[]>(['""']), mailbox),
      fc.constantFrom('/shared/comment', '(/private/a /shared/vendor/v/x)', '/x', '"/shared/%"'),
    )
    .map(([o, m, e]) => join([[`GETMETADATA ${o}`], m, [` ${e}`]])),
  fc
    .tuple(
      mailbox,
      fc.constantFrom('(/shared/comment NIL)', '(/private/c "v" /shared/d ~{1+}\r\n\x00)', '()'),
    )
    .map(([m, e]) => join([['SETMETADATA '], m, [` ${e}`]])),
  // NOTIFY (RFC 5465): filters, events, fetch attributes, and broken compositions.
  fc
    .tuple(
      fc.constantFrom('SET ', 'SET STATUS ', 'set status ', 'NONE', 'SET', 'X '),
      fc.array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom<Piece[]>(
              ['selected'],
              ['SELECTED-DELAYED'],
              ['inboxes'],
              ['personal'],
              ['subscribed'],
              ['bogus'],
            ),
            fc
              .tuple(fc.constantFrom('subtree ', 'mailboxes '), mailbox)
              .map(([f, m]) => join([[f], m])),
            fc
              .tuple(fc.constantFrom('subtree (', 'mailboxes ('), mailbox, mailbox)
              .map(([f, m, n]) => join([[f], m, [' '], n, [')']])),
          ),
          fc.constantFrom(
            'NONE',
            '()',
            '(MessageNew MessageExpunge)',
            '(MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)] FLAGS) MessageExpunge FlagChange)',
            '(MessageNew (ALL) MessageExpunge)',
            '(MessageNew)',
            '(FlagChange)',
            '(MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange)',
            '(AnnotationChange MessageNew MessageExpunge)',
            '(XEvent)',
          ),
        ),
        { maxLength: 3 },
      ),
    )
    .map(([verb, groups]) =>
      join([
        [`NOTIFY ${verb}`],
        ...groups.map(([f, e], i) => join([[i ? ' (' : '('], f, [` ${e})`]])),
      ]),
    ),
  astring.map((r) => join([['GETQUOTA '], r])),
  astring.map((r) => join([['SETQUOTA '], r, [' (STORAGE 512)']])),
);

/** One whole command: tag SP command CRLF, literals included. */
export const command: fc.Arbitrary<Buffer> = fc
  .tuple(tag, commandArgs)
  .map(([t, args]) => bytesOf([`${t} `, ...args, '\r\n']));

/** A client's stream: a few commands, with the IDLE/AUTHENTICATE continuation lines. */
export const commandStream: fc.Arbitrary<Buffer> = fc
  .array(
    fc.oneof(
      { weight: 5, arbitrary: command },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          Buffer.from('DONE\r\n'),
          Buffer.from('*\r\n'),
          Buffer.from('dXNlcg==\r\n'),
        ),
      },
    ),
    { minLength: 1, maxLength: 5 },
  )
  .map((cs) => Buffer.concat(cs));

/** Words for the token soup. */
export const IMAP_WORDS: readonly string[] = [
  'a ',
  'UID ',
  'FETCH ',
  'SEARCH ',
  'STORE ',
  'SELECT ',
  'LIST ',
  'APPEND ',
  'CATENATE (',
  'URL ',
  'REPLACE ',
  'GETMETADATA ',
  'SETMETADATA ',
  'NOTIFY SET ',
  'MessageNew ',
  'LOGIN ',
  'AUTHENTICATE ',
  'STATUS ',
  'SORT ',
  'THREAD ',
  'ENABLE ',
  'ID ',
  'BODY[',
  'BODY.PEEK[',
  'BINARY[',
  'HEADER.FIELDS (',
  'NOT ',
  'OR ',
  'CHARSET ',
  'RETURN (',
  'UPDATE',
  'PARTIAL ',
  'CANCELUPDATE ',
  'MODSEQ ',
  'CHANGEDSINCE ',
  'QRESYNC (',
  '\\Seen',
  '"',
  '1:*',
  '$',
  'INBOX',
  'NIL',
];
