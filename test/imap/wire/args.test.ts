import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parseListArgs,
  parseLsubArgs,
  parseStatusArgs,
  parseStoreArgs,
} from '../../../src/imap/wire/args.js';
import { type ArgCursor, ImapParseError, tryParse } from '../../../src/imap/wire/parser.js';
import { argsOf } from './helpers.js';

const run = <T>(line: string, fn: (c: ArgCursor) => T) =>
  tryParse(() => fn(argsOf(Buffer.from(`${line}\r\n`, 'latin1'))));

describe('parseStoreArgs', () => {
  const table: [string, object][] = [
    [
      'a STORE 2:4 +FLAGS (\\Deleted)',
      {
        set: { kind: 'ranges', ranges: [[2, 4]] },
        unchangedSince: null,
        op: 'add',
        silent: false,
        flags: ['\\Deleted'],
      },
    ],
    [
      'a STORE 1 -flags.silent \\seen $Junk',
      {
        set: { kind: 'ranges', ranges: [[1, 1]] },
        unchangedSince: null,
        op: 'remove',
        silent: true,
        flags: ['\\Seen', '$Junk'],
      },
    ],
    [
      'a UID STORE * FLAGS ()',
      {
        set: { kind: 'ranges', ranges: [['*', '*']] },
        unchangedSince: null,
        op: 'set',
        silent: false,
        flags: [],
      },
    ],
    [
      'a STORE 1:* (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)',
      {
        set: { kind: 'ranges', ranges: [[1, '*']] },
        unchangedSince: 320162338,
        op: 'add',
        silent: true,
        flags: ['\\Deleted'],
      },
    ],
  ];
  for (const [input, want] of table) {
    test(input, () => assert.deepEqual(run(input, parseStoreArgs), want));
  }
  for (const input of [
    'a STORE 1 FLAGS',
    'a STORE 1 +FLAGS',
    'a STORE 1 *FLAGS (\\Seen)',
    'a STORE 1 FLAGS.LOUD (\\Seen)',
    'a STORE 1 (FOO 1) FLAGS (\\Seen)',
    'a STORE 1 (UNCHANGEDSINCE x) FLAGS (\\Seen)',
    'a STORE FLAGS (\\Seen)',
    'a STORE 1 FLAGS (\\Seen) x',
  ]) {
    test(`BAD ${input}`, () => assert.ok(run(input, parseStoreArgs) instanceof ImapParseError));
  }
});

describe('parseStatusArgs', () => {
  test('items', () => {
    assert.deepEqual(
      run(
        'a STATUS inbox (MESSAGES uidnext UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)',
        parseStatusArgs,
      ),
      {
        mailbox: 'INBOX',
        items: ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'HIGHESTMODSEQ'],
      },
    );
  });
  for (const input of [
    'a STATUS INBOX ()',
    'a STATUS INBOX (FOO)',
    'a STATUS INBOX',
    'a STATUS (MESSAGES)',
  ]) {
    test(`BAD ${input}`, () => assert.ok(run(input, parseStatusArgs) instanceof ImapParseError));
  }
});

describe('parseListArgs', () => {
  const base = {
    selectOptions: [],
    returnOptions: [],
    statusItems: null,
    extended: false,
  };
  const table: [string, object][] = [
    ['a LIST "" *', { ...base, reference: '', patterns: ['*'] }],
    ['a LIST "" %', { ...base, reference: '', patterns: ['%'] }],
    ['a LIST ~/Mail/ %/x*', { ...base, reference: '~/Mail/', patterns: ['%/x*'] }],
    ['a LIST "" inbox', { ...base, reference: '', patterns: ['INBOX'] }],
    ['a LIST "" "Sent Items"', { ...base, reference: '', patterns: ['Sent Items'] }],
    [
      'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" Drafts/%)',
      {
        ...base,
        reference: '',
        patterns: ['INBOX', 'Drafts/%'],
        selectOptions: ['SUBSCRIBED', 'RECURSIVEMATCH'],
        extended: true,
      },
    ],
    [
      'a LIST "" * RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))',
      {
        ...base,
        reference: '',
        patterns: ['*'],
        returnOptions: ['CHILDREN', 'SPECIAL-USE', 'STATUS'],
        statusItems: ['MESSAGES', 'UNSEEN'],
        extended: true,
      },
    ],
    ['a LIST () "" % RETURN ()', { ...base, reference: '', patterns: ['%'], extended: true }],
  ];
  for (const [input, want] of table) {
    test(input, () => assert.deepEqual(run(input, parseListArgs), want));
  }
  for (const input of [
    'a LIST "" ',
    'a LIST ""',
    'a LIST (RECURSIVEMATCH) "" *',
    'a LIST (FOO) "" *',
    'a LIST "" * RETURN (FOO)',
    'a LIST "" * RETURNS ()',
    'a LIST "" ()',
    'a LIST "" a(b',
  ]) {
    test(`BAD ${input}`, () => assert.ok(run(input, parseListArgs) instanceof ImapParseError));
  }
  test('LSUB', () => {
    assert.deepEqual(run('a LSUB "#news." comp.mail.*', parseLsubArgs), {
      reference: '#news.',
      pattern: 'comp.mail.*',
    });
  });
});
