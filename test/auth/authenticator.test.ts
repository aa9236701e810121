import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import {
  type AccountRecord,
  Authenticator,
  type AuthFailureReason,
  type AuthRequest,
  authErrorText,
} from '../../src/auth/authenticator.js';
import { hashPassword, TEST_SCRYPT_PARAMS } from '../../src/auth/password.js';
import { AuthThrottle } from '../../src/auth/throttle.js';
import { silentLogger } from '../../src/log.js';

const PASSWORD = 'Tr0ub4dor&3-süß';

async function setup(opts: { disabled?: boolean; maxFailuresPerAccount?: number } = {}) {
  const accounts = new Map<string, AccountRecord>([
    [
      'alice@example.org',
      {
        id: 1,
        address: 'alice@example.org',
        passwordHash: await hashPassword(PASSWORD, TEST_SCRYPT_PARAMS),
        disabled: opts.disabled,
      },
    ],
    ['broken@example.org', { id: 2, address: 'broken@example.org', passwordHash: 'garbage' }],
  ]);
  const lookups: string[] = [];
  const lines: string[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  );
  const clock = { t: 0 };
  const throttle = new AuthThrottle({
    now: () => clock.t,
    maxFailuresPerIp: 100,
    maxFailuresPerAccount: opts.maxFailuresPerAccount ?? 3,
  });
  const slept: number[] = [];
  const auth = new Authenticator({
    lookup: async (u) => {
      lookups.push(u);
      return accounts.get(u) ?? null;
    },
    throttle,
    log,
    sleep: async (ms) => {
      slept.push(ms);
    },
    hashParams: TEST_SCRYPT_PARAMS,
  });
  const req = (over: Partial<AuthRequest> = {}): AuthRequest => ({
    username: 'alice@example.org',
    password: PASSWORD,
    ip: '192.0.2.10',
    protocol: 'imap',
    ...over,
  });
  const logged = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { auth, req, lookups, lines, logged, slept, clock, throttle, accounts };
}

describe('Authenticator', () => {
  test('a verified password is remembered until the stored hash changes', async () => {
    const { auth, req, accounts } = await setup();
    assert.equal((await auth.authenticate(req())).ok, true);
    assert.equal((await auth.authenticate(req())).ok, true, 'from the cache');
    assert.equal((await auth.authenticate(req({ password: 'nope' }))).ok, false);
    // `letterbox user passwd`: a new hash; the old password no longer logs in.
    const alice = accounts.get('alice@example.org')!;
    alice.passwordHash = await hashPassword('new secret', TEST_SCRYPT_PARAMS);
    assert.equal((await auth.authenticate(req())).ok, false);
    assert.equal((await auth.authenticate(req({ password: 'new secret' }))).ok, true);
  });

  test('correct password: ok, logged at info without the password', async () => {
    const { auth, req, logged } = await setup();
    const r = await auth.authenticate(req());
    assert.deepEqual(r, { ok: true, account: { id: 1, address: 'alice@example.org' } });
    const [entry] = logged();
    assert.equal(entry.level, 30);
    assert.equal(entry.protocol, 'imap');
    assert.equal(entry.ip, '192.0.2.10');
    assert.equal(entry.username, 'alice@example.org');
  });

  test('wrong password: invalid, logged at warn', async () => {
    const { auth, req, logged } = await setup();
    assert.deepEqual(await auth.authenticate(req({ password: 'nope' })), {
      ok: false,
      reason: 'invalid',
    });
    const [entry] = logged();
    assert.equal(entry.level, 40);
    assert.equal(entry.reason, 'invalid');
    assert.equal(entry.protocol, 'imap');
    assert.equal(entry.username, 'alice@example.org');
  });

  test('unknown user: invalid, same answer as a wrong password', async () => {
    const { auth, req, lookups } = await setup();
    const r = await auth.authenticate(req({ username: 'mallory@example.org' }));
    assert.deepEqual(r, { ok: false, reason: 'invalid' });
    assert.deepEqual(lookups, ['mallory@example.org']);
  });

  test('unknown user still costs a real scrypt verification (decoy hash)', async () => {
    // Without the decoy a miss would answer at once; with ln=14 a verification is ~30 ms here,
    // so 5 ms is a floor no machine undercuts, and this never waits on the clock.
    const { req } = await setup();
    const auth = new Authenticator({
      lookup: async () => null,
      throttle: new AuthThrottle(),
      log: silentLogger(),
      sleep: async () => {},
      hashParams: { ln: 14, r: 8, p: 1 },
    });
    await auth.authenticate(req({ username: 'x@example.org' })); // builds the decoy once
    const t = performance.now();
    assert.deepEqual(await auth.authenticate(req({ username: 'x@example.org' })), {
      ok: false,
      reason: 'invalid',
    });
    assert.ok(performance.now() - t >= 5, 'an unknown user must still cost a real scrypt');
  });

  test('username is matched case-insensitively', async () => {
    const { auth, req, lookups } = await setup();
    const r = await auth.authenticate(
      req({ username: 'Alice@EXAMPLE.org', authzid: 'ALICE@example.org' }),
    );
    assert.equal(r.ok, true);
    assert.deepEqual(lookups, ['alice@example.org']);
  });

  test('the password is case-sensitive', async () => {
    const { auth, req } = await setup();
    const r = await auth.authenticate(req({ password: PASSWORD.toUpperCase() }));
    assert.deepEqual(r, { ok: false, reason: 'invalid' });
  });

  test('an authzid other than the user is refused without checking the password', async () => {
    const { auth, req, lookups, logged } = await setup();
    const r = await auth.authenticate(req({ authzid: 'bob@example.org' }));
    assert.deepEqual(r, { ok: false, reason: 'authz-mismatch' });
    assert.deepEqual(lookups, []);
    assert.equal(logged()[0].reason, 'authz-mismatch');
    // An empty authzid means "myself".
    assert.equal((await auth.authenticate(req({ authzid: '' }))).ok, true);
  });

  test('locked after N failures, even with the right password, then unlocked', async () => {
    const { auth, req, clock, slept, logged } = await setup({ maxFailuresPerAccount: 3 });
    for (let i = 0; i < 3; i++) {
      assert.equal((await auth.authenticate(req({ password: `guess${i}` }))).ok, false);
    }
    // The throttle delay grew and was applied before each answer.
    assert.deepEqual(slept, [0, 250, 500]);
    const r = await auth.authenticate(req({ ip: '198.51.100.7' }));
    assert.deepEqual(r, { ok: false, reason: 'locked', retryAfterMs: 15 * 60_000 });
    assert.equal(logged().at(-1)?.reason, 'locked');
    clock.t += 15 * 60_000;
    assert.equal((await auth.authenticate(req())).ok, true);
  });

  test('unknown accounts lock too, so "locked" does not reveal which exist', async () => {
    const { auth, req } = await setup({ maxFailuresPerAccount: 2 });
    await auth.authenticate(req({ username: 'ghost@example.org' }));
    await auth.authenticate(req({ username: 'ghost@example.org' }));
    const r = await auth.authenticate(req({ username: 'ghost@example.org' }));
    assert.equal(r.ok === false && r.reason, 'locked');
  });

  test("success clears the account's failures, not the IP's", async () => {
    const { auth, req, slept } = await setup();
    await auth.authenticate(req({ password: 'x' }));
    await auth.authenticate(req({ password: 'y' }));
    assert.equal((await auth.authenticate(req())).ok, true);
    await auth.authenticate(req({ password: 'z' }));
    await auth.authenticate(req({ password: 'z', ip: '198.51.100.8' }));
    assert.deepEqual(slept, [0, 250, 500, 500, 250]);
  });

  test('disabled account: disabled with the right password, invalid with a wrong one', async () => {
    const { auth, req } = await setup({ disabled: true });
    assert.deepEqual(await auth.authenticate(req()), { ok: false, reason: 'disabled' });
    assert.deepEqual(await auth.authenticate(req({ password: 'x' })), {
      ok: false,
      reason: 'invalid',
    });
  });

  test('a malformed stored hash is invalid and logged as an error', async () => {
    const { auth, req, logged } = await setup();
    const r = await auth.authenticate(req({ username: 'broken@example.org', password: 'garbage' }));
    assert.deepEqual(r, { ok: false, reason: 'invalid' });
    assert.ok(logged().some((e) => e.level === 50 && e.accountId === 2));
  });

  test('empty and absurdly long usernames are invalid without a lookup', async () => {
    const { auth, req, lookups } = await setup();
    assert.equal((await auth.authenticate(req({ username: '' }))).ok, false);
    assert.equal(
      (await auth.authenticate(req({ username: `${'a'.repeat(400)}@x.org` }))).ok,
      false,
    );
    assert.deepEqual(lookups, []);
  });

  test('the password never appears in the log, whatever happens', async () => {
    const { auth, req, lines } = await setup({ disabled: false, maxFailuresPerAccount: 2 });
    await auth.authenticate(req());
    await auth.authenticate(req({ password: `${PASSWORD}x` }));
    await auth.authenticate(req({ username: 'nobody@example.org' }));
    await auth.authenticate(req({ authzid: 'bob@example.org' }));
    await auth.authenticate(req({ password: `${PASSWORD}y` }));
    await auth.authenticate(req()); // locked by now
    assert.ok(lines.length >= 6);
    const all = lines.join('');
    assert.ok(!all.includes(PASSWORD));
    assert.ok(!all.includes('Tr0ub4dor'));
    assert.ok(!all.includes(JSON.stringify(PASSWORD).slice(1, -1)));
  });

  test('rehash stores a new hash when the parameters changed', async () => {
    const old = await hashPassword('pw', { ln: 5, r: 8, p: 1 });
    const stored: Array<[number, string]> = [];
    const auth = new Authenticator({
      lookup: async () => ({ id: 7, address: 'a@x.org', passwordHash: old }),
      throttle: new AuthThrottle(),
      log: silentLogger(),
      sleep: async () => {},
      hashParams: TEST_SCRYPT_PARAMS,
      rehash: async (id, h) => {
        stored.push([id, h]);
      },
    });
    const r = await auth.authenticate({
      username: 'a@x.org',
      password: 'pw',
      ip: '::1',
      protocol: 'pop3',
    });
    assert.equal(r.ok, true);
    assert.equal(stored.length, 1);
    assert.equal(stored[0][0], 7);
    assert.match(stored[0][1], /^\$scrypt\$ln=4,/);
  });

  test('a failing lookup rejects (the caller answers with a temporary error)', async () => {
    const auth = new Authenticator({
      lookup: async () => {
        throw new Error('db down');
      },
      throttle: new AuthThrottle(),
      log: silentLogger(),
      sleep: async () => {},
      hashParams: TEST_SCRYPT_PARAMS,
    });
    await assert.rejects(
      auth.authenticate({ username: 'a@x.org', password: 'pw', ip: '::1', protocol: 'smtp' }),
      /db down/,
    );
  });
});

test('authErrorText gives distinct short texts', () => {
  const reasons: AuthFailureReason[] = ['invalid', 'locked', 'disabled', 'authz-mismatch'];
  const texts = reasons.map(authErrorText);
  assert.equal(new Set(texts).size, reasons.length);
  for (const t of texts) assert.ok(t.length > 0 && t.length < 60 && !/[\r\n]/.test(t));
});
