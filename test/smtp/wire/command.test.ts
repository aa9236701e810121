import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseCommand } from '../../../src/smtp/wire/command.js';
import { errorOf, parse } from './command-helpers.js';

describe('simple commands', () => {
  const table: [string, unknown][] = [
    ['EHLO mx.example.com', { kind: 'EHLO', domain: 'mx.example.com' }],
    ['ehlo [192.0.2.1]', { kind: 'EHLO', domain: '[192.0.2.1]' }],
    ['EHLO my_host extra words', { kind: 'EHLO', domain: 'my_host' }],
    ['HELO client', { kind: 'HELO', domain: 'client' }],
    ['DATA', { kind: 'DATA' }],
    ['data', { kind: 'DATA' }],
    ['RSET', { kind: 'RSET' }],
    ['NOOP', { kind: 'NOOP' }],
    ['NOOP anything at all', { kind: 'NOOP' }],
    ['QUIT', { kind: 'QUIT' }],
    ['QUIT\r\n', { kind: 'QUIT' }],
    ['QUIT\n', { kind: 'QUIT' }],
    ['QUIT   ', { kind: 'QUIT' }],
    ['STARTTLS', { kind: 'STARTTLS' }],
    ['VRFY postmaster', { kind: 'VRFY', arg: 'postmaster' }],
    ['EXPN staff', { kind: 'EXPN', arg: 'staff' }],
    ['HELP', { kind: 'HELP', topic: null }],
    ['HELP MAIL', { kind: 'HELP', topic: 'MAIL' }],
    ['BDAT 1000', { kind: 'BDAT', size: 1000, last: false }],
    ['BDAT 0 LAST', { kind: 'BDAT', size: 0, last: true }],
    ['bdat 12 last', { kind: 'BDAT', size: 12, last: true }],
    ['AUTH PLAIN', { kind: 'AUTH', mechanism: 'PLAIN' }],
    ['auth login', { kind: 'AUTH', mechanism: 'LOGIN' }],
    [
      'AUTH PLAIN AGFsaWNlAHNlY3JldA==',
      { kind: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AGFsaWNlAHNlY3JldA==' },
    ],
    ['AUTH PLAIN =', { kind: 'AUTH', mechanism: 'PLAIN', initialResponse: '=' }],
    ['AUTH SCRAM-SHA-256', { kind: 'AUTH', mechanism: 'SCRAM-SHA-256' }],
  ];
  for (const [line, expected] of table) {
    test(JSON.stringify(line), () => assert.deepEqual(parse(line), expected));
  }
});

describe('errors of simple commands', () => {
  const table: [string, string][] = [
    ['', '500 5.5.1'],
    ['FOO', '500 5.5.1'],
    ['MAILFROM:<a@b>', '500 5.5.1'],
    [' QUIT', '500 5.5.1'],
    ['constructor', '500 5.5.1'],
    ['__proto__ x', '500 5.5.1'],
    ['TURN', '502 5.5.1'],
    ['ETRN example.com', '502 5.5.1'],
    ['EHLO', '501 5.5.4'],
    ['EHLO ', '501 5.5.4'],
    ['HELO', '501 5.5.4'],
    ['DATA now', '501 5.5.4'],
    ['QUIT please', '501 5.5.4'],
    ['STARTTLS x', '501 5.5.4'],
    ['VRFY', '501 5.5.4'],
    ['BDAT', '501 5.5.4'],
    ['BDAT -1', '501 5.5.4'],
    ['BDAT 10 FIRST', '501 5.5.4'],
    ['BDAT 1e3', '501 5.5.4'],
    ['BDAT 12345678901234567', '501 5.5.4'],
    ['AUTH', '501 5.5.4'],
    ['AUTH PLAIN a b', '501 5.5.4'],
    ['AUTH ABCDEFGHIJKLMNOPQRSTU', '501 5.5.4'],
    ['AUTH PLAIN abc', '501 5.5.2'],
    ['AUTH PLAIN ab!=', '501 5.5.2'],
    // Control bytes, DEL, bare CR/LF inside a line, invalid UTF-8: 500 5.5.2, never a crash.
    ['NOOP\u0000', '500 5.5.2'],
    ['MAIL FROM:<a@b>\rRCPT TO:<c@d>', '500 5.5.2'],
    ['RSET\nQUIT', '500 5.5.2'],
    ['NOOP \t', '500 5.5.2'],
    ['NOOP \u007f', '500 5.5.2'],
    ['EHLO héllo', '501 5.5.4'],
  ];
  for (const [line, expected] of table) {
    test(`${JSON.stringify(line)} -> ${expected}`, () => assert.equal(errorOf(line), expected));
  }

  test('invalid UTF-8 bytes -> 500 5.5.2', () => {
    const r = parseCommand(Buffer.from([0x4e, 0x4f, 0x4f, 0x50, 0x20, 0xff, 0xfe]));
    assert.equal(r.kind === 'error' && `${r.reply.code} ${r.reply.enhanced}`, '500 5.5.2');
  });

  test('UTF-8 EHLO domain only with SMTPUTF8', () => {
    assert.deepEqual(parse('EHLO héllo.example', { smtputf8Allowed: true }), {
      kind: 'EHLO',
      domain: 'héllo.example',
    });
  });
});

describe('properties', () => {
  test('parseCommand never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, utf8) => {
        const r = parseCommand(Buffer.from(bytes), { smtputf8Allowed: utf8 });
        assert.equal(typeof r.kind, 'string');
      }),
      { numRuns: 3000 },
    );
  });

  test('parseCommand never throws on command-shaped text', () => {
    const verb = fc.constantFrom(
      'MAIL FROM:',
      'RCPT TO:',
      'EHLO ',
      'AUTH ',
      'BDAT ',
      'mail from: ',
      'VRFY ',
    );
    const chars = fc.constantFrom(...'<>@."\\:,;=+[]ab0 -%!é'.split(''));
    const rest = fc.array(chars, { maxLength: 60 }).map((a) => a.join(''));
    fc.assert(
      fc.property(verb, rest, fc.boolean(), (v, r, utf8) => {
        const out = parseCommand(Buffer.from(v + r), { smtputf8Allowed: utf8 });
        if (out.kind === 'error') assert.ok(out.reply.code >= 500 && out.reply.code < 600);
      }),
      { numRuns: 5000 },
    );
  });

  test('a parsed address re-parses to the same address from its raw text', () => {
    const atom = fc.stringMatching(/^[a-z0-9!#$%&'*+\-/=?^_`{|}~]{1,8}$/);
    const local = fc.array(atom, { minLength: 1, maxLength: 3 }).map((a) => a.join('.'));
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?$/);
    const domain = fc.array(label, { minLength: 1, maxLength: 3 }).map((a) => a.join('.'));
    fc.assert(
      fc.property(local, domain, (l, d) => {
        const r = parse(`RCPT TO:<${l}@${d}>`);
        assert.ok(r.kind === 'RCPT', `${l}@${d}: ${JSON.stringify(r)}`);
        if (r.kind !== 'RCPT') return;
        assert.equal(r.to.local, l);
        assert.equal(r.to.domain, d);
        assert.equal(r.to.raw, `${l}@${d}`);
        assert.deepEqual(parse(`RCPT TO:<${r.to.raw}>`), r);
      }),
    );
  });
});
