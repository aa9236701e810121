import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  needsRehash,
  parseHash,
  TEST_SCRYPT_PARAMS,
  verifyPassword,
} from '../../src/auth/password.js';

const P = TEST_SCRYPT_PARAMS;

describe('hashPassword / verifyPassword', () => {
  test('round trip, and the encoding describes its parameters', async () => {
    const h = await hashPassword('correct horse', P);
    assert.match(h, /^\$scrypt\$ln=4,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    assert.equal(await verifyPassword('correct horse', h), true);
  });

  test('wrong password, and near misses, do not verify', async () => {
    const h = await hashPassword('correct horse', P);
    for (const wrong of [
      'correct hors',
      'correct horse ',
      'Correct horse',
      '',
      'correct horse\0',
    ]) {
      assert.equal(await verifyPassword(wrong, h), false, JSON.stringify(wrong));
    }
  });

  test('NUL is refused: HMAC zero-padding would make "pw" and "pw\\0" hash alike', async () => {
    await assert.rejects(hashPassword('pw\0', P), RangeError);
    const h = await hashPassword('pw', P);
    assert.equal(await verifyPassword('pw\0', h), false);
    assert.equal(await verifyPassword('pw\0\0', h), false);
  });

  test('salts are random: the same password hashes differently', async () => {
    const [a, b] = await Promise.all([hashPassword('same', P), hashPassword('same', P)]);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('same', a), true);
    assert.equal(await verifyPassword('same', b), true);
  });

  test('unicode passwords are compared as their exact UTF-8 bytes (no normalization)', async () => {
    const nfc = 'caf\u00e9 \u{1F511} пароль';
    const nfd = 'cafe\u0301 \u{1F511} пароль';
    const h = await hashPassword(nfc, P);
    assert.equal(await verifyPassword(nfc, h), true);
    assert.equal(await verifyPassword(nfd, h), false);
  });

  test('parameters are read from the string, so other parameters still verify', async () => {
    const h = await hashPassword('pw', { ln: 5, r: 4, p: 2 });
    assert.match(h, /^\$scrypt\$ln=5,r=4,p=2\$/);
    assert.equal(await verifyPassword('pw', h), true);
  });

  test('default parameters hash and verify (the production path, with maxmem for N=2^15)', async () => {
    const h = await hashPassword('production', DEFAULT_SCRYPT_PARAMS);
    assert.match(h, /^\$scrypt\$ln=15,r=8,p=1\$/);
    assert.equal(await verifyPassword('production', h), true);
    assert.equal(await verifyPassword('Production', h), false);
  });

  test('hashPassword refuses out-of-range parameters', async () => {
    await assert.rejects(hashPassword('x', { ln: 0, r: 8, p: 1 }), RangeError);
    await assert.rejects(hashPassword('x', { ln: 40, r: 8, p: 1 }), RangeError);
    await assert.rejects(hashPassword('x', { ln: 4, r: 1.5, p: 1 }), RangeError);
  });
});

describe('malformed encodings never verify and never throw', async () => {
  const good = await hashPassword('pw', P);
  const [, , params, salt, hash] = good.split('$');
  const cases: Array<[string, string]> = [
    ['empty', ''],
    ['garbage', 'not a hash'],
    ['bcrypt', '$2b$10$abcdefghijklmnopqrstuuJ8zYWxX0p3c5m2YkTvdL0Jd1c2s7G6'],
    ['wrong algorithm', `$argon2id$${params}$${salt}$${hash}`],
    ['missing hash', `$scrypt$${params}$${salt}`],
    ['extra field', `${good}$x`],
    ['no leading $', good.slice(1)],
    ['missing param', `$scrypt$ln=4,r=8$${salt}$${hash}`],
    ['duplicate param', `$scrypt$ln=4,ln=4,r=8$${salt}$${hash}`],
    ['unknown param', `$scrypt$ln=4,r=8,q=1$${salt}$${hash}`],
    ['non-decimal', `$scrypt$ln=0x4,r=8,p=1$${salt}$${hash}`],
    ['negative', `$scrypt$ln=-4,r=8,p=1$${salt}$${hash}`],
    ['huge N (would allocate GiBs)', `$scrypt$ln=30,r=8,p=1$${salt}$${hash}`],
    ['huge r', `$scrypt$ln=4,r=999,p=1$${salt}$${hash}`],
    ['p=0', `$scrypt$ln=4,r=8,p=0$${salt}$${hash}`],
    ['bad base64 salt', `$scrypt$${params}$${salt.replace(/^./, '!')}$${hash}`],
    ['unpadded hash', `$scrypt$${params}$${salt}$${hash.replace(/=+$/, '')}`],
    ['short hash', `$scrypt$${params}$${salt}$AAAA`],
    ['empty salt', `$scrypt$${params}$$${hash}`],
    ['very long', `${good}${'A'.repeat(10_000)}`],
  ];
  for (const [name, encoded] of cases) {
    test(name, async () => {
      assert.equal(parseHash(encoded), null);
      assert.equal(await verifyPassword('pw', encoded), false);
      assert.equal(needsRehash(encoded), true);
    });
  }

  test('non-string inputs from untyped callers', async () => {
    assert.equal(await verifyPassword('pw', undefined as unknown as string), false);
    assert.equal(await verifyPassword(undefined as unknown as string, good), false);
  });

  test('a tampered hash byte does not verify', async () => {
    const bytes = Buffer.from(hash, 'base64');
    bytes[0] ^= 1;
    const tampered = `$scrypt$${params}$${salt}$${bytes.toString('base64')}`;
    assert.notEqual(parseHash(tampered), null);
    assert.equal(await verifyPassword('pw', tampered), false);
  });
});

describe('needsRehash', () => {
  test('false for current parameters, true when they differ', async () => {
    const h = await hashPassword('pw', P);
    assert.equal(needsRehash(h, P), false);
    assert.equal(needsRehash(h, { ...P, ln: P.ln + 1 }), true);
    assert.equal(needsRehash(h, { ...P, r: 16 }), true);
    assert.equal(needsRehash(h), true, 'test parameters are weaker than the defaults');
  });
});
