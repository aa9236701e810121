import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  continueSasl,
  type SaslState,
  type SaslStep,
  startSasl,
  supportedMechanisms,
} from '../../src/auth/sasl.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const USERNAME = b64('Username:');
const PASSWORD = b64('Password:');

/** Run a whole exchange: start, then feed each line while the server keeps challenging. */
function run(mech: string, initial: string | undefined, lines: string[]) {
  const challenges: string[] = [];
  let step: SaslStep = startSasl(mech, initial);
  for (const line of lines) {
    if (step.kind !== 'challenge') assert.fail(`no challenge left for line ${line}`);
    challenges.push(step.challenge);
    step = continueSasl(step.state, line);
  }
  return { step, challenges };
}

const done = (authzid: string, authcid: string, password: string): SaslStep => ({
  kind: 'done',
  credentials: { authzid, authcid, password },
});
const err = (reason: 'cancelled' | 'malformed' | 'unsupported'): SaslStep => ({
  kind: 'error',
  reason,
});

test('supportedMechanisms lists PLAIN and LOGIN, and is a copy', () => {
  const m = supportedMechanisms();
  assert.deepEqual(m, ['PLAIN', 'LOGIN']);
  m.pop();
  assert.deepEqual(supportedMechanisms(), ['PLAIN', 'LOGIN']);
});

test('unknown mechanisms are unsupported, names are case-insensitive', () => {
  assert.deepEqual(startSasl('CRAM-MD5'), err('unsupported'));
  assert.deepEqual(startSasl('', '='), err('unsupported'));
  assert.deepEqual(startSasl('plain', b64('\0a@b\0pw')), done('', 'a@b', 'pw'));
  assert.deepEqual(startSasl('Login').kind, 'challenge');
});

describe('PLAIN (RFC 4616)', () => {
  const table: Array<[string, string | undefined, string[], SaslStep, string[]]> = [
    ['initial response', b64('\0user@x.org\0secret'), [], done('', 'user@x.org', 'secret'), []],
    [
      'initial response with authzid',
      b64('admin@x.org\0user@x.org\0secret'),
      [],
      done('admin@x.org', 'user@x.org', 'secret'),
      [],
    ],
    ['no initial response: empty challenge', undefined, [b64('\0u\0p')], done('', 'u', 'p'), ['']],
    [
      'UTF-8 identities and password',
      b64('\0jürgen@bücher.de\0пароль🔑'),
      [],
      done('', 'jürgen@bücher.de', 'пароль🔑'),
      [],
    ],
    ['password may contain spaces', b64('\0u\0 a b '), [], done('', 'u', ' a b '), []],
    ['"=" is an empty initial response: malformed message', '=', [], err('malformed'), []],
    ['empty authcid', b64('\0\0secret'), [], err('malformed'), []],
    ['empty password', b64('\0u\0'), [], err('malformed'), []],
    ['one NUL only', b64('u\0secret'), [], err('malformed'), []],
    ['no NUL', b64('usersecret'), [], err('malformed'), []],
    ['extra NUL', b64('\0u\0pass\0word'), [], err('malformed'), []],
    [
      'invalid UTF-8',
      Buffer.from([0, 0x75, 0, 0xff, 0xfe]).toString('base64'),
      [],
      err('malformed'),
      [],
    ],
    ['bad base64 character', 'AHUAcA!=', [], err('malformed'), []],
    ['base64 with a space', 'AHUA cA==', [], err('malformed'), []],
    ['base64 missing padding', b64('\0u\0pw').replace(/=+$/, ''), [], err('malformed'), []],
    ['url-safe base64', 'AHUAc-8_', [], err('malformed'), []],
    ['"*" as initial response is not a cancel but malformed', '*', [], err('malformed'), []],
    ['cancel after the empty challenge', undefined, ['*'], err('cancelled'), ['']],
    ['empty line after the challenge', undefined, [''], err('malformed'), ['']],
    ['bad base64 after the challenge', undefined, ['%%%%'], err('malformed'), ['']],
    ['"=" after the challenge is not base64', undefined, ['='], err('malformed'), ['']],
    ['overlong response', b64(`\0u\0${'x'.repeat(4000)}`), [], err('malformed'), []],
  ];
  for (const [name, initial, lines, expected, challenges] of table) {
    test(name, () => {
      const r = run('PLAIN', initial, lines);
      assert.deepEqual(r.step, expected);
      assert.deepEqual(r.challenges, challenges);
    });
  }

  test('accepts each field up to 255 octets (RFC 4616 §2 MUST)', () => {
    const long = 'é'.repeat(127) + 'x'; // 255 octets
    const r = startSasl('PLAIN', b64(`${long}\0${long}\0${long}`));
    assert.deepEqual(r, done(long, long, long));
  });
});

describe('LOGIN (draft-murchison-sasl-login)', () => {
  const table: Array<[string, string | undefined, string[], SaslStep, string[]]> = [
    [
      'two challenges',
      undefined,
      [b64('user@x.org'), b64('secret')],
      done('', 'user@x.org', 'secret'),
      [USERNAME, PASSWORD],
    ],
    [
      'user name as initial response',
      b64('user@x.org'),
      [b64('secret')],
      done('', 'user@x.org', 'secret'),
      [PASSWORD],
    ],
    [
      'UTF-8 password',
      undefined,
      [b64('u'), b64('mañana✓')],
      done('', 'u', 'mañana✓'),
      [USERNAME, PASSWORD],
    ],
    ['"=" initial response is an empty user name', '=', [], err('malformed'), []],
    ['cancel at the user name', undefined, ['*'], err('cancelled'), [USERNAME]],
    ['cancel at the password', undefined, [b64('u'), '*'], err('cancelled'), [USERNAME, PASSWORD]],
    ['empty user name line', undefined, [''], err('malformed'), [USERNAME]],
    ['empty password line', undefined, [b64('u'), ''], err('malformed'), [USERNAME, PASSWORD]],
    ['NUL in user name', undefined, [b64('u\0v')], err('malformed'), [USERNAME]],
    ['NUL in password', undefined, [b64('u'), b64('p\0q')], err('malformed'), [USERNAME, PASSWORD]],
    ['bad base64 user name', undefined, ['dXNlcg=!'], err('malformed'), [USERNAME]],
    [
      'bad base64 password',
      undefined,
      [b64('u'), 'c2VjcmV0\r'],
      err('malformed'),
      [USERNAME, PASSWORD],
    ],
    ['bad base64 initial response', 'dXNlcg', [], err('malformed'), []],
  ];
  for (const [name, initial, lines, expected, challenges] of table) {
    test(name, () => {
      const r = run('LOGIN', initial, lines);
      assert.deepEqual(r.step, expected);
      assert.deepEqual(r.challenges, challenges);
    });
  }

  test('the challenges decode to the prompts clients expect', () => {
    const s = startSasl('LOGIN');
    assert.equal(s.kind, 'challenge');
    if (s.kind !== 'challenge') return;
    assert.equal(Buffer.from(s.challenge, 'base64').toString(), 'Username:');
  });

  test('states are immutable values: one state can be continued twice', () => {
    const s = startSasl('LOGIN', b64('u'));
    if (s.kind !== 'challenge') assert.fail('expected a challenge');
    assert.deepEqual(continueSasl(s.state, b64('one')), done('', 'u', 'one'));
    assert.deepEqual(continueSasl(s.state, b64('two')), done('', 'u', 'two'));
  });
});

describe('properties', () => {
  const states: SaslState[] = [
    { mech: 'PLAIN', stage: 'message' },
    { mech: 'LOGIN', stage: 'username' },
    { mech: 'LOGIN', stage: 'password', username: 'u' },
  ];
  const anyString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.base64String());

  test('startSasl and continueSasl never throw and always return a known step', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom('PLAIN', 'LOGIN', 'plain'), fc.string()),
        fc.option(anyString, { nil: undefined }),
        fc.constantFrom(...states),
        anyString,
        (mech, initial, state, line) => {
          for (const step of [startSasl(mech, initial), continueSasl(state, line)]) {
            assert.ok(['challenge', 'done', 'error'].includes(step.kind));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('PLAIN round-trips any NUL-free non-empty fields', () => {
    const field = fc.string({ unit: 'grapheme', minLength: 1 }).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(fc.option(field, { nil: '' }), field, field, (authzid, authcid, password) => {
        const step = startSasl('PLAIN', b64(`${authzid}\0${authcid}\0${password}`));
        assert.deepEqual(step, done(authzid, authcid, password));
      }),
    );
  });
});
