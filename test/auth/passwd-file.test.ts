import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePasswdFile } from '../../src/auth/passwd-file.js';

const SHA512 =
  '{SHA512-CRYPT}$6$8yURaruL5FrVZlKm$6QQZ/uxly51vDJUfYMBgy0olsmgnMD.v6pTBYFTLBfaKFPac6WjlcGA94osWzamfPraJDtDgEVjbja9mdB2xw0';
const BARE_SHA512 = SHA512.slice('{SHA512-CRYPT}'.length);

test('passwd-file: accounts, quotas, nologin, ignored fields, each problem with its line', () => {
  const text = [
    '# exported from dovecot',
    '',
    `alice@example.test:${SHA512}:1000:1000::/home/alice::userdb_quota_rule=*:storage=1G`,
    `Bob@Example.TEST:{PLAIN}secret:::::: nologin allow_nets=10.0.0.0/8 userdb_mail=maildir:~/M`,
    'carol:{BLF-CRYPT}$2y$05$ESV.jc1prFMOaJk/cohtCuVd/4KVqt0SeKn96xp0mtbdFn1RkzWEy',
    'dave@example.test:{NTLM}0123456789abcdef0123456789abcdef',
    'erin@example.test:',
    `alice@example.test:{PLAIN}again`,
    `frank@example.test:${BARE_SHA512}`,
    'not an address:{PLAIN}x',
    'gina@example.test:{PLAIN}x:::::: userdb_quota_rule=*:storage=2048 userdb_quota_rule2=Trash:storage=+100M',
    'hank@example.test:{PLAIN}x:::::: userdb_quota_rule=*:storage=0',
    'ivan@example.test:{MD5-CRYPT}$1$F6He4UyC$RF2xIYlvm6oHBf8morB8r0\r',
  ].join('\n');
  const { entries, problems } = parsePasswdFile(text, { domain: 'example.test' });
  assert.deepEqual(
    entries.map((e) => [e.line, e.address, e.passwordHash.slice(0, 14), e.quotaBytes, e.disabled]),
    [
      [3, 'alice@example.test', '{SHA512-CRYPT}', 1024 ** 3, false],
      [4, 'bob@example.test', '{PLAIN}secret', undefined, true],
      [5, 'carol@example.test', '{BLF-CRYPT}$2y', undefined, false],
      [11, 'gina@example.test', '{PLAIN}x', 2048 * 1024, false],
      [12, 'hank@example.test', '{PLAIN}x', null, false],
    ],
  );
  assert.deepEqual(entries[1]!.ignored, ['allow_nets', 'userdb_mail']);
  assert.deepEqual(entries[3]!.ignored, ['userdb_quota_rule2']);
  assert.deepEqual(
    problems.map((p) => p.line),
    [6, 7, 8, 9, 10, 13],
  );
  const reason = (line: number) => problems.find((p) => p.line === line)!.reason;
  assert.match(reason(6), /dave@example\.test: unknown scheme \{NTLM\}/);
  assert.match(reason(7), /erin@example\.test: no password/);
  assert.match(reason(8), /already on line 3/);
  assert.match(reason(9), /no \{SCHEME\} prefix.*--scheme/);
  assert.match(reason(10), /not a valid login address/);
  assert.match(reason(13), /MD5-CRYPT/);
});

test('passwd-file: --scheme for bare hashes, --domain needed for bare users', () => {
  const withScheme = parsePasswdFile(`frank@example.test:${BARE_SHA512}`, {
    defaultScheme: 'SHA512-CRYPT',
  });
  assert.equal(withScheme.problems.length, 0);
  assert.equal(withScheme.entries[0]!.passwordHash, SHA512);
  const noDomain = parsePasswdFile('carol:{PLAIN}x');
  assert.match(noDomain.problems[0]!.reason, /no domain.*--domain/);
});
