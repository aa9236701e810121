import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ParseOptions } from '../../../src/smtp/wire/command.js';
import { errorOf, parse } from './command-helpers.js';

describe('MAIL FROM', () => {
  const addr = (local: string, domain: string, raw: string, extra: object = {}) => ({
    local,
    domain,
    raw,
    quoted: false,
    literal: false,
    sourceRoute: false,
    ...extra,
  });
  const table: [string, unknown][] = [
    [
      'MAIL FROM:<alice@example.com>',
      { kind: 'MAIL', from: addr('alice', 'example.com', 'alice@example.com'), params: {} },
    ],
    [
      'mail from:<Alice@Example.COM>',
      { kind: 'MAIL', from: addr('Alice', 'Example.COM', 'Alice@Example.COM'), params: {} },
    ],
    ['MAIL FROM:<>', { kind: 'MAIL', from: null, params: {} }],
    ['MAIL FROM: <>', { kind: 'MAIL', from: null, params: {} }],
    ['MAIL FROM: <a@b.c>', { kind: 'MAIL', from: addr('a', 'b.c', 'a@b.c'), params: {} }],
    // Lenient: no angle brackets (documented in address.ts).
    ['MAIL FROM:a@b.c', { kind: 'MAIL', from: addr('a', 'b.c', 'a@b.c'), params: {} }],
    [
      'MAIL FROM:a@b.c SIZE=10',
      { kind: 'MAIL', from: addr('a', 'b.c', 'a@b.c'), params: { size: 10 } },
    ],
    [
      'MAIL FROM:<first.last+tag@sub.example.org>',
      {
        kind: 'MAIL',
        from: addr('first.last+tag', 'sub.example.org', 'first.last+tag@sub.example.org'),
        params: {},
      },
    ],
    [
      "MAIL FROM:<!#$%&'*+-/=?^_`{|}~@x>",
      { kind: 'MAIL', from: addr("!#$%&'*+-/=?^_`{|}~", 'x', "!#$%&'*+-/=?^_`{|}~@x"), params: {} },
    ],
    [
      'MAIL FROM:<a@[192.0.2.1]>',
      {
        kind: 'MAIL',
        from: addr('a', '[192.0.2.1]', 'a@[192.0.2.1]', { literal: true }),
        params: {},
      },
    ],
    [
      'MAIL FROM:<a@[IPv6:2001:db8::1]>',
      {
        kind: 'MAIL',
        from: addr('a', '[IPv6:2001:db8::1]', 'a@[IPv6:2001:db8::1]', { literal: true }),
        params: {},
      },
    ],
    [
      'MAIL FROM:<a@[x-tag:stuff]>',
      {
        kind: 'MAIL',
        from: addr('a', '[x-tag:stuff]', 'a@[x-tag:stuff]', { literal: true }),
        params: {},
      },
    ],
    [
      'MAIL FROM:<"john doe"@example.com>',
      {
        kind: 'MAIL',
        from: addr('john doe', 'example.com', '"john doe"@example.com', { quoted: true }),
        params: {},
      },
    ],
    [
      'MAIL FROM:<"a\\"b\\\\c"@x>',
      { kind: 'MAIL', from: addr('a"b\\c', 'x', '"a\\"b\\\\c"@x', { quoted: true }), params: {} },
    ],
    [
      'MAIL FROM:<"a>b"@x>',
      { kind: 'MAIL', from: addr('a>b', 'x', '"a>b"@x', { quoted: true }), params: {} },
    ],
    [
      'MAIL FROM:<a@b> SIZE=1000 BODY=8BITMIME',
      { kind: 'MAIL', from: addr('a', 'b', 'a@b'), params: { size: 1000, body: '8BITMIME' } },
    ],
    [
      'MAIL FROM:<a@b> size=0 body=binarymime',
      { kind: 'MAIL', from: addr('a', 'b', 'a@b'), params: { size: 0, body: 'BINARYMIME' } },
    ],
    [
      'MAIL FROM:<a@b>  BODY=7BIT   RET=hdrs ',
      { kind: 'MAIL', from: addr('a', 'b', 'a@b'), params: { body: '7BIT', ret: 'HDRS' } },
    ],
    [
      'MAIL FROM:<a@b> RET=FULL ENVID=QQ314159',
      { kind: 'MAIL', from: addr('a', 'b', 'a@b'), params: { ret: 'FULL', envid: 'QQ314159' } },
    ],
    [
      'MAIL FROM:<a@b> ENVID=a+2Bb+3Dc',
      { kind: 'MAIL', from: addr('a', 'b', 'a@b'), params: { envid: 'a+b=c' } },
    ],
    [
      'MAIL FROM:<a@b> AUTH=<>',
      { kind: 'MAIL', from: addr('a', 'b', 'a@b'), params: { auth: '<>' } },
    ],
    [
      'MAIL FROM:<a@b> AUTH=e+2Bf@x',
      { kind: 'MAIL', from: addr('a', 'b', 'a@b'), params: { auth: 'e+f@x' } },
    ],
    [
      'MAIL FROM:<a@b> SIZE=99999999999999999999',
      { kind: 'MAIL', from: addr('a', 'b', 'a@b'), params: { size: 1e20 } },
    ],
  ];
  for (const [line, expected] of table) {
    test(JSON.stringify(line), () => assert.deepEqual(parse(line), expected));
  }

  const errors: [string, string, ParseOptions?][] = [
    ['MAIL', '501 5.5.4'],
    ['MAIL TO:<a@b>', '501 5.5.4'],
    ['MAIL FROM', '501 5.5.4'],
    ['MAIL FROM:', '501 5.1.7'],
    ['MAIL FROM:<a@b', '501 5.1.7'],
    ['MAIL FROM:<a@b>x', '501 5.1.7'],
    ['MAIL FROM:<a@b>SIZE=1', '501 5.1.7'],
    ['MAIL FROM:<a>', '501 5.1.7'],
    ['MAIL FROM:<@b>', '501 5.1.7'],
    ['MAIL FROM:<a@>', '501 5.1.7'],
    ['MAIL FROM:<.a@b>', '501 5.1.7'],
    ['MAIL FROM:<a.@b>', '501 5.1.7'],
    ['MAIL FROM:<a..b@c>', '501 5.1.7'],
    ['MAIL FROM:<a b@c>', '501 5.1.7'],
    ['MAIL FROM:<a@b..c>', '501 5.1.7'],
    ['MAIL FROM:<a@b.c.>', '501 5.1.7'],
    ['MAIL FROM:<a@-b.c>', '501 5.1.7'],
    ['MAIL FROM:<a@b-.c>', '501 5.1.7'],
    ['MAIL FROM:<a@b_c.d>', '501 5.1.7'],
    [`MAIL FROM:<a@${'x'.repeat(64)}.com>`, '501 5.1.7'],
    ['MAIL FROM:<a@[300.1.1.1]>', '501 5.1.7'],
    ['MAIL FROM:<a@[1.2.3]>', '501 5.1.7'],
    ['MAIL FROM:<a@[IPv6:2001:db8::g]>', '501 5.1.7'],
    ['MAIL FROM:<a@[IPv6:fe80::1%eth0]>', '501 5.1.7'],
    ['MAIL FROM:<a@[1.2.3.4>', '501 5.1.7'],
    ['MAIL FROM:<"unterminated@b>', '501 5.1.7'],
    ['MAIL FROM:<<a@b>>', '501 5.1.7'],
    ['MAIL FROM:<Postmaster>', '501 5.1.7'],
    // Parameters.
    ['MAIL FROM:<a@b> FOO=bar', '555 5.5.4'],
    ['MAIL FROM:<a@b> NOTIFY=NEVER', '555 5.5.4'],
    ['MAIL FROM:<a@b> SMTPUTF8', '555 5.5.4'],
    ['MAIL FROM:<a@b> SIZE=1 SIZE=2', '501 5.5.4'],
    ['MAIL FROM:<a@b> SIZE=1 size=2', '501 5.5.4'],
    ['MAIL FROM:<a@b> SIZE', '501 5.5.4'],
    ['MAIL FROM:<a@b> SIZE=', '501 5.5.4'],
    ['MAIL FROM:<a@b> SIZE=-1', '501 5.5.4'],
    ['MAIL FROM:<a@b> SIZE=1k', '501 5.5.4'],
    ['MAIL FROM:<a@b> SIZE=123456789012345678901', '501 5.5.4'],
    ['MAIL FROM:<a@b> BODY=QUOTED', '501 5.5.4'],
    ['MAIL FROM:<a@b> BODY', '501 5.5.4'],
    ['MAIL FROM:<a@b> RET=ALL', '501 5.5.4'],
    ['MAIL FROM:<a@b> ENVID=a+2', '501 5.5.4'],
    ['MAIL FROM:<a@b> ENVID=a+ZZ', '501 5.5.4'],
    ['MAIL FROM:<a@b> ENVID=a+0D+0AInjected:x', '501 5.5.4'],
    [`MAIL FROM:<a@b> ENVID=${'x'.repeat(101)}`, '501 5.5.4'],
    ['MAIL FROM:<a@b> ENVID', '501 5.5.4'],
    ['MAIL FROM:<a@b> AUTH=a+00b', '501 5.5.4'],
    ['MAIL FROM:<a@b> -SIZE=1', '501 5.5.4'],
    ['MAIL FROM:<a@b> SIZE=1=2', '501 5.5.4'],
    ['MAIL FROM:<a@b> =1', '501 5.5.4'],
    ['MAIL FROM:<a@b> SMTPUTF8=yes', '501 5.5.4', { smtputf8Allowed: true }],
  ];
  for (const [line, expected, opts] of errors) {
    test(`${JSON.stringify(line)} -> ${expected}`, () =>
      assert.equal(errorOf(line, opts), expected));
  }
});

describe('source routes and relay-bypass shapes are parsed and flagged, not resolved', () => {
  test('<@relay:user@foreign> is flagged as a source route', () => {
    assert.deepEqual(parse('RCPT TO:<@relay.example:user@foreign.example>'), {
      kind: 'RCPT',
      to: {
        local: 'user',
        domain: 'foreign.example',
        raw: '@relay.example:user@foreign.example',
        quoted: false,
        literal: false,
        sourceRoute: true,
      },
      params: {},
    });
  });

  test('<@a,@b:user@c> with several hops', () => {
    const r = parse('MAIL FROM:<@a.example,@b.example:user@c.example>');
    assert.ok(r.kind === 'MAIL' && r.from !== null);
    if (r.kind !== 'MAIL' || r.from === null) return;
    assert.equal(r.from.sourceRoute, true);
    assert.equal(r.from.domain, 'c.example');
    assert.equal(r.from.raw, '@a.example,@b.example:user@c.example');
  });

  test('<user%foreign@local> keeps the % in the local part', () => {
    const r = parse('RCPT TO:<user%foreign.example@local.example>');
    assert.ok(r.kind === 'RCPT');
    if (r.kind !== 'RCPT') return;
    assert.equal(r.to.local, 'user%foreign.example');
    assert.equal(r.to.domain, 'local.example');
    assert.equal(r.to.sourceRoute, false);
  });

  test('<"user@foreign"@local> keeps the @ in the local part, flagged as quoted', () => {
    const r = parse('RCPT TO:<"user@foreign.example"@local.example>');
    assert.ok(r.kind === 'RCPT');
    if (r.kind !== 'RCPT') return;
    assert.equal(r.to.local, 'user@foreign.example');
    assert.equal(r.to.quoted, true);
    assert.equal(r.to.domain, 'local.example');
    assert.equal(r.to.raw, '"user@foreign.example"@local.example');
  });

  test('<"user%foreign"@local> and user!host', () => {
    const a = parse('RCPT TO:<"user%foreign"@local>');
    assert.ok(a.kind === 'RCPT' && a.to.local === 'user%foreign' && a.to.domain === 'local');
    const b = parse('RCPT TO:<foreign!user@local>');
    assert.ok(b.kind === 'RCPT' && b.to.local === 'foreign!user' && b.to.domain === 'local');
  });

  const malformedRoutes = [
    'RCPT TO:<@relay user@foreign>',
    'RCPT TO:<@:user@foreign>',
    'RCPT TO:<@a,b:user@foreign>',
    'RCPT TO:<@a,@b user@foreign>',
    'RCPT TO:<@a:>',
  ];
  for (const line of malformedRoutes) {
    test(`${JSON.stringify(line)} -> 501 5.1.3`, () => assert.equal(errorOf(line), '501 5.1.3'));
  }
});

describe('RCPT TO', () => {
  test('plain', () => {
    assert.deepEqual(parse('RCPT TO:<bob@example.com>'), {
      kind: 'RCPT',
      to: {
        local: 'bob',
        domain: 'example.com',
        raw: 'bob@example.com',
        quoted: false,
        literal: false,
        sourceRoute: false,
      },
      params: {},
    });
  });

  test('<Postmaster> without a domain (RFC 5321 §4.1.1.3), any case', () => {
    for (const word of ['Postmaster', 'postmaster', 'POSTMASTER']) {
      const r = parse(`RCPT TO:<${word}>`);
      assert.ok(r.kind === 'RCPT', word);
      if (r.kind !== 'RCPT') return;
      assert.equal(r.to.local, word);
      assert.equal(r.to.domain, '');
    }
  });

  test('<Postmaster@domain> is an ordinary address', () => {
    const r = parse('RCPT TO: <postmaster@example.com>');
    assert.ok(r.kind === 'RCPT' && r.to.local === 'postmaster' && r.to.domain === 'example.com');
  });

  const params: [string, unknown][] = [
    ['NOTIFY=NEVER', { notify: 'NEVER' }],
    ['NOTIFY=never', { notify: 'NEVER' }],
    ['NOTIFY=SUCCESS', { notify: ['SUCCESS'] }],
    ['NOTIFY=SUCCESS,FAILURE,DELAY', { notify: ['SUCCESS', 'FAILURE', 'DELAY'] }],
    ['NOTIFY=delay,failure', { notify: ['DELAY', 'FAILURE'] }],
    ['ORCPT=rfc822;bob@example.com', { orcpt: { type: 'rfc822', addr: 'bob@example.com' } }],
    ['ORCPT=rfc822;b+2Bob@example.com', { orcpt: { type: 'rfc822', addr: 'b+ob@example.com' } }],
    [
      'ORCPT=RFC822;a+20b@x NOTIFY=FAILURE',
      { orcpt: { type: 'RFC822', addr: 'a b@x' }, notify: ['FAILURE'] },
    ],
  ];
  for (const [p, expected] of params) {
    test(p, () => {
      const r = parse(`RCPT TO:<a@b> ${p}`);
      assert.ok(r.kind === 'RCPT', JSON.stringify(r));
      if (r.kind === 'RCPT') assert.deepEqual(r.params, expected);
    });
  }

  const errors: [string, string][] = [
    ['RCPT', '501 5.5.4'],
    ['RCPT FROM:<a@b>', '501 5.5.4'],
    ['RCPT TO:', '501 5.1.3'],
    ['RCPT TO:<>', '501 5.1.3'],
    ['RCPT TO:<a>', '501 5.1.3'],
    ['RCPT TO:<Postmaster', '501 5.1.3'],
    ['RCPT TO:<a@b> NOTIFY=NEVER,SUCCESS', '501 5.5.4'],
    ['RCPT TO:<a@b> NOTIFY=SUCCESS,NEVER', '501 5.5.4'],
    ['RCPT TO:<a@b> NOTIFY=SUCCESS,SUCCESS', '501 5.5.4'],
    ['RCPT TO:<a@b> NOTIFY=', '501 5.5.4'],
    ['RCPT TO:<a@b> NOTIFY=SUCCESS,', '501 5.5.4'],
    ['RCPT TO:<a@b> NOTIFY=ALWAYS', '501 5.5.4'],
    ['RCPT TO:<a@b> NOTIFY', '501 5.5.4'],
    ['RCPT TO:<a@b> ORCPT=bob@example.com', '501 5.5.4'],
    ['RCPT TO:<a@b> ORCPT=;bob@example.com', '501 5.5.4'],
    ['RCPT TO:<a@b> ORCPT=rfc822;', '501 5.5.4'],
    ['RCPT TO:<a@b> ORCPT=rfc822;a+0Db', '501 5.5.4'],
    ['RCPT TO:<a@b> ORCPT=rfc822;a+4', '501 5.5.4'],
    [`RCPT TO:<a@b> ORCPT=rfc822;${'x'.repeat(500)}`, '501 5.5.4'],
    ['RCPT TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER', '501 5.5.4'],
    ['RCPT TO:<a@b> SIZE=10', '555 5.5.4'],
    ['RCPT TO:<a@b> BODY=8BITMIME', '555 5.5.4'],
    ['RCPT TO:<a@b> XFOO', '555 5.5.4'],
  ];
  for (const [line, expected] of errors) {
    test(`${JSON.stringify(line)} -> ${expected}`, () => assert.equal(errorOf(line), expected));
  }
});

describe('SMTPUTF8 (RFC 6531)', () => {
  const on = { smtputf8Allowed: true };

  test('UTF-8 sender without the SMTPUTF8 parameter -> 553 5.6.7', () => {
    assert.equal(errorOf('MAIL FROM:<jösé@exämple.com>', on), '553 5.6.7');
  });

  test('UTF-8 sender when the server does not offer SMTPUTF8 -> 553 5.6.7', () => {
    assert.equal(errorOf('MAIL FROM:<jösé@exämple.com>'), '553 5.6.7');
  });

  test('SMTPUTF8 parameter when not offered -> 555', () => {
    assert.equal(errorOf('MAIL FROM:<jose@example.com> SMTPUTF8'), '555 5.5.4');
  });

  test('UTF-8 sender with SMTPUTF8 on the same command', () => {
    const r = parse('MAIL FROM:<jösé@exämple.com> SMTPUTF8', on);
    assert.ok(r.kind === 'MAIL' && r.from !== null);
    if (r.kind !== 'MAIL' || r.from === null) return;
    assert.equal(r.from.local, 'jösé');
    assert.equal(r.from.domain, 'exämple.com');
    assert.deepEqual(r.params, { smtputf8: true });
  });

  test('UTF-8 quoted local part', () => {
    const r = parse('MAIL FROM:<"ü ü"@x> SMTPUTF8', on);
    assert.ok(r.kind === 'MAIL' && r.from?.local === 'ü ü');
  });

  test('UTF-8 recipient only in an SMTPUTF8 transaction', () => {
    assert.equal(errorOf('RCPT TO:<用户@例子.广告>'), '553 5.6.7');
    const r = parse('RCPT TO:<用户@例子.广告>', on);
    assert.ok(r.kind === 'RCPT' && r.to.local === '用户' && r.to.domain === '例子.广告');
  });

  test('ASCII addresses are unaffected', () => {
    const r = parse('MAIL FROM:<a@b> SMTPUTF8', on);
    assert.ok(r.kind === 'MAIL' && r.params.smtputf8 === true);
  });
});
