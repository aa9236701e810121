import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { MAX_CRYPT_ROUNDS, parseForeignHash, verifyForeign } from '../../src/auth/foreign-hash.js';
import { isUsableStoredHash, verifyStoredHash } from '../../src/auth/stored-hash.js';

const PASSWORD = 'Tr0ub4dor&3-süß';

/** A hash made by Dovecot's own tool (dovecot-core, in .ci/run), as an admin would export it. */
function doveadm(scheme: string, password = PASSWORD): string {
  return execFileSync('doveadm', ['pw', '-s', scheme, '-p', password], { encoding: 'utf8' }).trim();
}

async function verify(stored: string, password: string): Promise<boolean> {
  const p = parseForeignHash(stored);
  assert.ok(p.ok, `${stored}: ${p.ok ? '' : p.reason}`);
  return verifyForeign(password, p.hash);
}

describe('foreign password hashes', () => {
  for (const scheme of [
    'SHA512-CRYPT',
    'SHA256-CRYPT',
    'BLF-CRYPT',
    'ARGON2ID',
    'ARGON2I',
    'SSHA512',
    'PLAIN',
    'CRYPT',
  ]) {
    test(`{${scheme}} from doveadm pw: the right password matches, others do not`, async () => {
      const stored = doveadm(scheme);
      assert.ok(stored.startsWith(`{${scheme}}`), stored);
      assert.equal(await verify(stored, PASSWORD), true);
      assert.equal(await verify(stored, `${PASSWORD}x`), false);
      assert.equal(await verify(stored, PASSWORD.slice(0, -1)), false);
      assert.equal(await verify(stored, ''), false);
      assert.equal(await verifyStoredHash(PASSWORD, stored), true, 'through stored-hash.ts');
      assert.equal(isUsableStoredHash(stored), true);
    });
  }

  test('SHA-crypt from openssl passwd, with explicit rounds', async () => {
    const h = execFileSync('openssl', ['passwd', '-6', '-salt', 'saltsalt', 'pw'], {
      encoding: 'utf8',
    }).trim();
    assert.equal(await verify(`{SHA512-CRYPT}${h}`, 'pw'), true);
    const r = execFileSync('openssl', ['passwd', '-5', '-salt', 'rounds=12000$abc', 'pw'], {
      encoding: 'utf8',
    }).trim();
    assert.match(r, /^\$5\$rounds=12000\$/);
    assert.equal(await verify(`{SHA256-CRYPT}${r}`, 'pw'), true);
    assert.equal(await verify(`{SHA256-CRYPT}${r}`, 'pw2'), false);
  });

  test('known vectors (Drepper SHA-crypt spec, RFC-less SSHA512, encodings)', async () => {
    // From the SHA-crypt specification's test vectors.
    assert.equal(
      await verify(
        '{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
        'Hello world!',
      ),
      true,
    );
    assert.equal(
      await verify(
        '{SHA256-CRYPT}$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA',
        'Hello world!',
      ),
      true,
    );
    // {SSHA512}: base64 of SHA-512(password || salt) || salt; .HEX the same in hex.
    const { createHash } = await import('node:crypto');
    const salt = Buffer.from('0123456789abcdef');
    const raw = Buffer.concat([createHash('sha512').update('pw').update(salt).digest(), salt]);
    assert.equal(await verify(`{SSHA512}${raw.toString('base64')}`, 'pw'), true);
    assert.equal(await verify(`{ssha512.hex}${raw.toString('hex')}`, 'pw'), true);
    assert.equal(await verify(`{SSHA512.b64}${raw.toString('base64')}`, 'pX'), false);
    assert.equal(await verify(`{PLAIN.B64}${Buffer.from('süß').toString('base64')}`, 'süß'), true);
    assert.equal(await verify('{plain}pw', 'pw'), true, 'scheme names are case-insensitive');
    assert.equal(await verify('{PLAIN}pw', 'PW'), false);
  });

  test('a password with NUL never matches', async () => {
    assert.equal(await verify('{PLAIN}pw', 'pw\0'), false);
    assert.equal(await verify(doveadm('SSHA512', 'pw'), 'pw\0'), false);
  });

  const refused: Array<[string, string, RegExp]> = [
    ['unknown scheme', '{NTLM}abcdef', /unknown scheme \{NTLM\}/],
    ['MD5-CRYPT', '{MD5-CRYPT}$1$F6He4UyC$RF2xIYlvm6oHBf8morB8r0', /MD5-CRYPT.*cannot be verified/],
    ['DES crypt', '{CRYPT}abJnggxhB/yWI', /DES and MD5 crypt/],
    ['no scheme', '$6$salt$hash', /not of the form/],
    ['empty PLAIN', '{PLAIN}', /empty/],
    ['truncated SHA512-CRYPT', '{SHA512-CRYPT}$6$abc$short', /wrong length/],
    [
      'a $5$ value under SHA512-CRYPT',
      '{SHA512-CRYPT}$5$Q.RnCbWtZmTOSaBI$FspNHMzHfa5SnR2HhzlVIPbrx8104EC4VTIlHEQCJPC',
      /wrong scheme/,
    ],
    [
      'rounds above the limit',
      `{SHA256-CRYPT}$5$rounds=${MAX_CRYPT_ROUNDS + 1}$abc$FspNHMzHfa5SnR2HhzlVIPbrx8104EC4VTIlHEQCJPC`,
      /above the limit/,
    ],
    ['bcrypt cost 31', `{BLF-CRYPT}$2y$31$${'a'.repeat(53)}`, /cost 31 is outside/],
    ['bcrypt 2x', `{BLF-CRYPT}$2x$05$${'a'.repeat(53)}`, /not a bcrypt string/],
    [
      'argon2 with 4 GiB of memory',
      '{ARGON2ID}$argon2id$v=19$m=4194304,t=3,p=1$BeIWddUNbGE0UpqSNeBEhA$3d+tQvW8SYy+367qs2Ry4FgZWEuBHcZu0AJ1qVcCjJI',
      /m=4194304 is above/,
    ],
    [
      'argon2i under ARGON2ID',
      '{ARGON2ID}$argon2i$v=19$m=32768,t=4,p=1$J7tsKeZuiKwKqtDn2EoqRQ$IWVbNhV/UqB0UpB//8Sptz/vxlI5SVvwAnelFxb6CW0',
      /another argon2 variant/,
    ],
    ['argon2 garbage', '{ARGON2ID}garbage', /not an argon2 PHC string/],
    ['SSHA512 too short', '{SSHA512}AAAA', /too short/],
    ['SSHA512 not base64', '{SSHA512}@@@@', /not valid base64/],
    ['an encoding on a crypt scheme', '{SHA512-CRYPT.HEX}00', /no encoding suffix/],
    ['overlong', `{PLAIN}${'x'.repeat(600)}`, /longer than 512/],
  ];
  for (const [what, stored, reason] of refused) {
    test(`refused: ${what}`, async () => {
      const p = parseForeignHash(stored);
      assert.equal(p.ok, false);
      if (!p.ok) assert.match(p.reason, reason);
      assert.equal(isUsableStoredHash(stored), false);
      assert.equal(await verifyStoredHash('x', stored), false, 'never matches, never throws');
    });
  }

  test('SHA-crypt checks run off the main thread', async () => {
    // Ten checks at Dovecot's default rounds (~35 ms each in JavaScript): the event loop keeps
    // turning meanwhile, which it could not if they ran on it.
    const stored = doveadm('SHA512-CRYPT');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await verify(stored, PASSWORD));
    clearInterval(timer);
    assert.deepEqual(results, Array(10).fill(true));
    assert.ok(ticks >= 10, `the event loop turned ${ticks} times`);
  });
});
