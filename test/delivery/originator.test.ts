// The originator fields of a submitted message (From, Sender), read strictly: every spelling a
// reader's MUA takes as From counts, and any address the ownership check cannot evaluate is a
// refusal, never silently dropped.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMailboxList } from '../../src/delivery/mailbox-list.js';
import { MAX_ORIGINATOR_FIELD, readOriginator } from '../../src/delivery/originator.js';

/** A message with these header lines (CRLF added) and a short body. */
const msg = (...lines: string[]) => Buffer.from(`${lines.join('\r\n')}\r\n\r\nBody.\r\n`, 'utf8');

describe('readOriginator: accepted', () => {
  const table: Array<[string, string[], string[], string | null]> = [
    ['angle address', ['From: <sam@example.test>'], ['sam@example.test'], null],
    ['display name', ['From: Sam Q. Public <Sam@Example.TEST>'], ['sam@example.test'], null],
    ['quoted display name', ['From: "Sam, (Q)" <sam@example.test>'], ['sam@example.test'], null],
    ['comment as name', ['From: sam@example.test (Sam)'], ['sam@example.test'], null],
    [
      'encoded-word display name',
      ['From: =?utf-8?q?S=C3=A1m?= <sam@example.test>'],
      ['sam@example.test'],
      null,
    ],
    ['quoted plain local part', ['From: "sam"@example.test'], ['sam@example.test'], null],
    ['no space, capitals', ['FROM:sam@example.test'], ['sam@example.test'], null],
    ['folded', ['From: Sam', ' <sam@example.test>'], ['sam@example.test'], null],
    ['obsolete CFWS around dots', ['From: sam . q @ example . test'], ['sam.q@example.test'], null],
    [
      'group (RFC 6854)',
      ['From: Team: sam@example.test, <alias@example.test>;'],
      ['sam@example.test', 'alias@example.test'],
      null,
    ],
    [
      'two mailboxes and a Sender',
      ['From: a@example.test, b@example.test', 'Sender: <a@example.test>'],
      ['a@example.test', 'b@example.test'],
      'a@example.test',
    ],
    ['UTF-8 (RFC 6532)', ['From: Jösé <jösé@exämple.test>'], ['jösé@exämple.test'], null],
    ['Subject mentioning From:', ['Subject: From: x', 'From: a@b.test'], ['a@b.test'], null],
    [
      'X-From is another field',
      ['X-Original-From: x@y.test', 'From: a@b.test'],
      ['a@b.test'],
      null,
    ],
  ];
  for (const [name, lines, from, sender] of table) {
    test(name, () => {
      const r = readOriginator(msg(...lines, 'To: r@example.test'));
      assert.deepEqual(r, { ok: true, from, sender });
    });
  }
});

describe('readOriginator: refused', () => {
  const table: Array<[string, string[], 'field-count' | 'address', RegExp]> = [
    ['no From', ['Subject: x'], 'field-count', /must have a From/],
    ['two From', ['From: a@b.test', 'From: c@d.test'], 'field-count', /2 From fields/],
    // RFC 5322 §4.5.3 obs-optional: WSP before the colon, as readers accept it.
    ['"From :" spelling', ['From: a@b.test', 'From : c@d.test'], 'field-count', /2 From/],
    ['tab before the colon', ['From: a@b.test', 'From\t: c@d.test'], 'field-count', /2 From/],
    ['lower case', ['From: a@b.test', 'from: c@d.test'], 'field-count', /2 From/],
    ['a NUL in the name', ['From: a@b.test', 'Fr\0om: c@d.test'], 'field-count', /2 From/],
    ['space before the name', [' From: c@d.test', 'From: a@b.test'], 'field-count', /2 From/],
    [
      'two Sender',
      ['From: a@b.test', 'Sender: a@b.test', 'SENDER : c@d.test'],
      'field-count',
      /2 Sender/,
    ],
    ['no domain in the list', ['From: a@b.test, evil'], 'address', /without a domain/],
    ['only a name', ['From: evil'], 'address', /without a domain/],
    ['no domain in angles', ['From: Evil <evil>'], 'address', /"@"/],
    ['empty angles', ['From: <>'], 'address', /bad local part/],
    [
      'encoded-word that decodes to an address',
      ['From: =?utf-8?b?ZXZpbEBvdGhlci50ZXN0?='],
      'address',
      /without a domain/,
    ],
    ['encoded-word local part', ['From: =?utf-8?q?evil?=@b.test'], 'address', /encoded-word/],
    ['encoded-word domain', ['From: a@=?utf-8?q?b?=.test'], 'address', /encoded-word/],
    ['obsolete route', ['From: <@b.test:a@b.test>'], 'address', /route/],
    ['domain literal', ['From: a@[127.0.0.1]'], 'address', /Cannot check/],
    ['quoted local part with @', ['From: "evil@d.test"@b.test'], 'address', /Cannot check/],
    ['quoted local part with space', ['From: "a b"@b.test'], 'address', /Cannot check/],
    ['missing comma', ['From: a@b.test evil@d.test'], 'address', /","/],
    ['address then angle', ['From: a@b.test <evil@d.test>'], 'address', /","/],
    ['unterminated angle', ['From: <a@b.test'], 'address', /">"/],
    ['unterminated quote', ['From: "Sam <a@b.test>'], 'address', /unterminated quoted/],
    ['unterminated comment', ['From: (Sam <a@b.test>'], 'address', /unterminated comment/],
    ['empty group', ['From: Undisclosed:;'], 'address', /names no mailbox/],
    ['empty field', ['From:'], 'address', /names no mailbox/],
    ['nested group', ['From: G: H: a@b.test;;'], 'address', /group inside a group/],
    ['bare CR', ['From: a@b.test\rFrom: evil@d.test'], 'address', /bare CR/],
    ['control character', ['From: a@b.test\u0001'], 'address', /unexpected character/],
    [
      'Sender with two mailboxes',
      ['From: a@b.test', 'Sender: a@b.test, c@d.test'],
      'address',
      /one mailbox/,
    ],
    ['Sender as a group', ['From: a@b.test', 'Sender: G: a@b.test;'], 'address', /one mailbox/],
    ['Sender without a domain', ['From: a@b.test', 'Sender: evil'], 'address', /Sender field/],
    [
      'an over-long From',
      [`From: ${'a@b.test, '.repeat(MAX_ORIGINATOR_FIELD / 10)}a@b.test`],
      'address',
      /longer than/,
    ],
  ];
  for (const [name, lines, problem, text] of table) {
    test(name, () => {
      const r = readOriginator(msg(...lines, 'To: r@example.test'));
      assert.equal(r.ok, false, JSON.stringify(r));
      if (r.ok) return;
      assert.equal(r.problem, problem);
      assert.match(r.text, text);
    });
  }

  test('a From in the body is not a field', () => {
    const raw = Buffer.from('From: a@b.test\r\n\r\nFrom: c@d.test\r\n');
    assert.deepEqual(readOriginator(raw), { ok: true, from: ['a@b.test'], sender: null });
  });
});

describe('parseMailboxList', () => {
  test('never throws on random bytes and stays linear', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const alphabet = 'ab@.,;:<>()"\\[] \t\r\n=?\u00e9\u0000';
    for (let i = 0; i < 2000; i++) {
      let s = '';
      const n = rnd() % 60;
      for (let j = 0; j < n; j++) s += alphabet[rnd() % alphabet.length];
      const r = parseMailboxList(s);
      assert.equal(typeof r.ok, 'boolean');
    }
    // Deep comment nesting and long quoted runs: one pass each.
    assert.equal(parseMailboxList(`${'('.repeat(50_000)}${')'.repeat(50_000)} a@b.test`).ok, true);
    assert.equal(parseMailboxList(`"${'x'.repeat(100_000)}" <a@b.test>`).ok, true);
  });
});
