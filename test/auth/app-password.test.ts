// App passwords (auth/app-password.ts) and how the authenticator takes them and an
// administrator's unlock: one cheap check selected by the id, the main password still
// working, revocation, no rehash of the main password from an app password.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  appPasswordId,
  generateAppPassword,
  verifyAppPassword,
} from '../../src/auth/app-password.js';
import {
  type AccountRecord,
  type AppPasswordSource,
  Authenticator,
} from '../../src/auth/authenticator.js';
import { HashPool } from '../../src/auth/hash-pool.js';
import { hashPassword, TEST_SCRYPT_PARAMS } from '../../src/auth/password.js';
import { AuthThrottle } from '../../src/auth/throttle.js';
import { memoryLog } from '../helpers/memory-log.js';

describe('app password format', () => {
  test('lb-<8 id>-<24 secret>, base32 lower-case; the id is recognised, other text is not', () => {
    const made = generateAppPassword();
    assert.match(made.password, /^lb-[a-z2-7]{8}-[a-z2-7]{24}$/);
    assert.equal(appPasswordId(made.password), made.id);
    assert.equal(made.password.slice(3, 11), made.id);
    assert.ok(!made.hash.includes(made.password.slice(12)), 'the secret is not stored');
    for (const other of [
      'correct horse battery',
      `${made.password}x`,
      made.password.slice(0, -1),
      made.password.replace('lb-', 'lx-'),
      made.password.replace(/.$/, '1'),
    ]) {
      assert.equal(appPasswordId(other), null, other);
    }
    assert.notEqual(generateAppPassword().password, made.password);
  });

  test('verification: exact secret (any case), nothing else', () => {
    const made = generateAppPassword();
    assert.equal(verifyAppPassword(made.password, made.hash), true);
    assert.equal(verifyAppPassword(made.password.toUpperCase(), made.hash), true);
    const other = generateAppPassword();
    assert.equal(verifyAppPassword(other.password, made.hash), false);
    assert.equal(verifyAppPassword(made.password, '$scrypt$whatever'), false);
    assert.equal(verifyAppPassword(made.password, '$sha256$'), false);
  });
});

const MAIN = 'main password 1';

async function setup(opts: { disabled?: boolean; unlockedAt?: number | null } = {}) {
  const phone = generateAppPassword();
  const apps = new Map([
    [phone.id, { name: 'phone', hash: phone.hash, lastUsedAt: null as number | null }],
  ]);
  const account: AccountRecord = {
    id: 7,
    address: 'alice@example.org',
    passwordHash: await hashPassword(MAIN, TEST_SCRYPT_PARAMS),
    disabled: opts.disabled,
    unlockedAt: opts.unlockedAt,
  };
  const finds: string[] = [];
  const touches: number[] = [];
  const rehashed: string[] = [];
  const source: AppPasswordSource = {
    async find(accountId, id) {
      finds.push(id);
      return accountId === 7 ? (apps.get(id) ?? null) : null;
    },
    async touch(_accountId, id, at) {
      touches.push(at);
      const a = apps.get(id);
      if (a) a.lastUsedAt = at;
    },
  };
  const clock = { t: 1_000_000 };
  const throttle = new AuthThrottle({
    now: () => clock.t,
    maxFailuresPerIp: 3,
    delayStepMs: 0,
  });
  let hashes = 0;
  const pool = new HashPool();
  const logs = memoryLog('debug');
  const auth = new Authenticator({
    lookup: async (u) => (u === account.address ? account : null),
    throttle,
    log: logs.log,
    hashParams: { ...TEST_SCRYPT_PARAMS, ln: TEST_SCRYPT_PARAMS.ln + 1 },
    rehash: async (_id, _old, h) => {
      rehashed.push(h);
      return true;
    },
    verified: null,
    pool: {
      submit: (...args: Parameters<HashPool['submit']>) => {
        hashes++;
        return pool.submit(...args);
      },
      get size() {
        return pool.size;
      },
    } as unknown as HashPool,
    appPasswords: source,
  });
  const login = (password: string, over: Record<string, unknown> = {}) =>
    auth.authenticate({
      username: 'alice@example.org',
      password,
      ip: '192.0.2.10',
      protocol: 'imap',
      ...over,
    });
  return {
    auth,
    login,
    phone,
    apps,
    account,
    finds,
    touches,
    rehashed,
    clock,
    throttle,
    logs,
    hashes: () => hashes,
  };
}

describe('Authenticator with app passwords', () => {
  test('an app password logs in with no scrypt; the main password still works', async () => {
    const s = await setup();
    const r = await s.login(s.phone.password);
    assert.deepEqual(r, {
      ok: true,
      account: { id: 7, address: 'alice@example.org' },
      appPassword: 'phone',
    });
    assert.equal(s.hashes(), 0, 'no password hash computed');
    assert.deepEqual(s.finds, [s.phone.id], 'one app password looked up, by its id');
    assert.deepEqual(s.rehashed, [], 'the main hash is never rehashed from an app password');
    const ok = s.logs.records.find((x) => x.msg === 'authentication succeeded');
    assert.equal(ok?.appPassword, 'phone');
    assert.ok(!s.logs.text().includes(s.phone.password), 'not logged');
    assert.equal((await s.login(MAIN)).ok, true);
    assert.equal(s.hashes() > 0, true, 'the main password is an scrypt check');
  });

  test('for SMTP and POP3 too; never for the HTTP admin sign-in', async () => {
    const s = await setup();
    for (const protocol of ['smtp', 'pop3', 'imap'])
      assert.equal((await s.login(s.phone.password, { protocol })).ok, true, protocol);
    assert.deepEqual(await s.login(s.phone.password, { protocol: 'http' }), {
      ok: false,
      reason: 'invalid',
    });
  });

  test('a wrong or revoked app password fails like any wrong password (scrypt, counted)', async () => {
    const s = await setup();
    const wrong = `lb-${s.phone.id}-${'a'.repeat(24)}`;
    assert.deepEqual(await s.login(wrong), { ok: false, reason: 'invalid' });
    assert.equal(s.hashes(), 1, 'checked as a main password, so timing does not tell');
    s.apps.delete(s.phone.id);
    assert.deepEqual(await s.login(s.phone.password), { ok: false, reason: 'invalid' });
    assert.deepEqual(await s.login('lb-aaaaaaaa-aaaaaaaaaaaaaaaaaaaaaaaa'), {
      ok: false,
      reason: 'invalid',
    });
    // Three failures from the source: locked, app password or not.
    s.apps.set(s.phone.id, { name: 'phone', hash: s.phone.hash, lastUsedAt: null });
    assert.deepEqual((await s.login(s.phone.password)).ok, false);
  });

  test('an unknown account with an app-password-shaped password: invalid, no lookup', async () => {
    const s = await setup();
    const r = await s.login(s.phone.password, { username: 'bob@example.org' });
    assert.deepEqual(r, { ok: false, reason: 'invalid' });
    assert.deepEqual(s.finds, []);
  });

  test('a disabled account: an app password does not log in either', async () => {
    const s = await setup({ disabled: true });
    assert.deepEqual(await s.login(s.phone.password), { ok: false, reason: 'disabled' });
    assert.deepEqual(await s.login(MAIN), { ok: false, reason: 'disabled' });
  });

  test('the last use is noted at most once an hour', async () => {
    const s = await setup();
    await s.login(s.phone.password);
    await s.login(s.phone.password);
    assert.equal(s.touches.length, 1);
    s.apps.get(s.phone.id)!.lastUsedAt = Date.now() - 3600_001;
    await s.login(s.phone.password);
    assert.equal(s.touches.length, 2);
  });
});

describe('Authenticator and an administrator unlock', () => {
  test('a lockout from before the unlock is lifted at the next attempt; later ones count', async () => {
    const s = await setup();
    for (let i = 0; i < 3; i++) await s.login('wrong password');
    assert.deepEqual((await s.login(MAIN)).ok, false, 'the source is locked out');
    s.clock.t += 1000;
    s.account.unlockedAt = s.clock.t; // `letterbox user unlock`, read from the store
    s.clock.t += 1000;
    const at = { ip: '192.0.2.10', conn: 'c1', listener: 'imaps' };
    assert.equal((await s.login(MAIN, at)).ok, true);
    const lifted = s.logs.records.find((x) => x.msg === 'lockout lifted by an administrator');
    assert.deepEqual(
      [lifted?.event, lifted?.ip, lifted?.conn, lifted?.listener],
      ['auth', '192.0.2.10', 'c1', 'imaps'],
    );
    // A fresh start, not an exemption: new failures from another source lock it again.
    for (let i = 0; i < 3; i++) await s.login('wrong password', { ip: '198.51.100.1' });
    const locked = await s.login(MAIN, { ip: '198.51.100.1' });
    assert.deepEqual(locked.ok, false);
    assert.equal(!locked.ok && locked.reason, 'locked');
  });

  test('an unlock older than the lockout lifts nothing', async () => {
    const s = await setup({ unlockedAt: 999_000 });
    for (let i = 0; i < 3; i++) await s.login('wrong password');
    const r = await s.login(MAIN);
    assert.equal(!r.ok && r.reason, 'locked');
  });
});
