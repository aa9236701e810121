import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Address, parseAddressList } from '../../src/mime/address.js';

const a = (name: string | null, mailbox: string | null, host: string | null): Address => ({
  name,
  mailbox,
  host,
});
const END = a(null, null, null);

describe('parseAddressList', () => {
  const cases: [string, string, Address[]][] = [
    ['bare', 'user@example.com', [a(null, 'user', 'example.com')]],
    ['angle with name', 'John Doe <john@example.com>', [a('John Doe', 'john', 'example.com')]],
    [
      'quoted name with comma',
      '"Doe, John" <john@x.org>, b@y',
      [a('Doe, John', 'john', 'x.org'), a(null, 'b', 'y')],
    ],
    ['quoted name escapes', '"a \\"b\\"" <c@d>', [a('a "b"', 'c', 'd')]],
    ['unquoted dots in name', 'John Q. Public <jqp@x.org>', [a('John Q. Public', 'jqp', 'x.org')]],
    ['comment as name', 'john@x.org (John Doe)', [a('John Doe', 'john', 'x.org')]],
    ['comment ignored in angle form', 'John <john(c)@x.org>', [a('John', 'john', 'x.org')]],
    ['angle only', '<x@y>', [a(null, 'x', 'y')]],
    ['empty angle', 'Name <>', [a('Name', '', '')]],
    [
      'source route kept as adl (RFC 5322 §4.4 obs-route)',
      '<@relay1,@relay2:user@host>',
      [{ ...a(null, 'user', 'host'), adl: '@relay1,@relay2' }],
    ],
    [
      'obs-route with blanks, empty elements, comments and a domain literal',
      'Joe <, @a.example (relay) ,,@[192.0.2.1] : joe@x.org>',
      [{ ...a('Joe', 'joe', 'x.org'), adl: '@a.example,@[192.0.2.1]' }],
    ],
    ['one-hop route', '<@route:user@domain>', [{ ...a(null, 'user', 'domain'), adl: '@route' }]],
    ['colon without a route', '<junk:user@domain>', [a(null, 'user', 'domain')]],
    [
      'route in a group',
      'G: <@r:u@d>, v@e;',
      [a(null, 'G', null), { ...a(null, 'u', 'd'), adl: '@r' }, a(null, 'v', 'e'), END],
    ],
    ['quoted local part', '"john doe"@example.com', [a(null, 'john doe', 'example.com')]],
    ['domain literal', 'x@[127.0.0.1]', [a(null, 'x', '[127.0.0.1]')]],
    ['no domain', 'postmaster', [a(null, 'postmaster', '')]],
    ['phrase only', 'John Smith', [a('John Smith', '', '')]],
    ['trailing commas and blanks', ' , a@b ,, ', [a(null, 'a', 'b')]],
    ['empty', '', []],
    ['junk after >', 'A <a@b> junk, c@d', [a('A', 'a', 'b'), a(null, 'c', 'd')]],
    ['missing >', 'A <a@b', [a('A', 'a', 'b')]],
    [
      'encoded word kept raw',
      '=?utf-8?q?J=C3=B6rg?= <j@x>',
      [a('=?utf-8?q?J=C3=B6rg?=', 'j', 'x')],
    ],
    ['empty group', 'undisclosed-recipients:;', [a(null, 'undisclosed-recipients', null), END]],
    [
      'group with members then address',
      'Team: a@b, "C" <c@d>; e@f',
      [a(null, 'Team', null), a(null, 'a', 'b'), a('C', 'c', 'd'), END, a(null, 'e', 'f')],
    ],
    ['unterminated group', 'G: a@b', [a(null, 'G', null), a(null, 'a', 'b'), END]],
    ['group then comma', 'G:;, x@y', [a(null, 'G', null), END, a(null, 'x', 'y')]],
  ];
  for (const [name, input, want] of cases) {
    test(name, () => assert.deepEqual(parseAddressList(input), want));
  }

  test('decodeWords decodes display names', () => {
    assert.deepEqual(
      parseAddressList('=?utf-8?q?J=C3=B6rg?= =?utf-8?q?_M?= <j@x>', { decodeWords: true }),
      [a('Jörg M', 'j', 'x')],
    );
    assert.deepEqual(parseAddressList('"=?utf-8?b?4oKs?=" <e@x>', { decodeWords: true }), [
      a('€', 'e', 'x'),
    ]);
  });

  test('ordinary addresses never look like group markers', () => {
    for (const v of ['a', 'a b', '<>', '"x"', 'a@', '@b', '(c)', 'x <y>']) {
      for (const addr of parseAddressList(v)) assert.notEqual(addr.host, null, v);
    }
  });
});

test('stray closing parenthesis and bracket terminate', () => {
  assert.deepEqual(parseAddressList(') a@b'), [{ name: null, mailbox: ')a', host: 'b' }]);
  assert.deepEqual(parseAddressList('x]@y)'), [{ name: null, mailbox: 'x]', host: 'y)' }]);
});
