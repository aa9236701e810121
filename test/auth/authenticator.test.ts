import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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
import { HashPool } from '../../src/auth/hash-pool.js';
import { hashPassword, TEST_SCRYPT_PARAMS } from '../../src/auth/password.js';
import { AuthThrottle } from '../../src/auth/throttle.js';
import { silentLogger } from '../../src/log.js';

const PASSWORD = 'Tr0ub4dor&3-süß';

async function setup(
  opts: { disabled?: boolean; maxFailuresPerAccount?: number; pool?: HashPool } = {},
) {
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
    pool: opts.pool,
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
    // The source's delay grew, and was waited before its attempts were checked.
    assert.deepEqual(slept, [250, 500]);
    const r = await auth.authenticate(req({ ip: '198.51.100.7' }));
    assert.deepEqual(r, { ok: false, reason: 'locked', retryAfterMs: 15 * 60_000 });
    assert.equal(logged().at(-1)?.reason, 'locked');
    clock.t += 15 * 60_000;
    assert.equal((await auth.authenticate(req())).ok, true);
  });

  test('the account lockout spares a source the account logged in from (issue 15 item 6)', async () => {
    const { auth, req, slept } = await setup({ maxFailuresPerAccount: 3 });
    assert.equal((await auth.authenticate(req({ ip: '203.0.113.5' }))).ok, true);
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) {
      await auth.authenticate(req({ ip, password: 'guess' }));
    }
    assert.equal((await auth.authenticate(req({ ip: '198.51.100.7' }))).ok, false);
    slept.length = 0;
    // The real user, where it logged in before: accepted, without waiting, even uncached.
    const home = await auth.authenticate(req({ ip: '203.0.113.5' }));
    assert.equal(home.ok, true);
    assert.deepEqual(slept, []);
  });

  test('attempts that waited are refused if a lockout began meanwhile', async () => {
    const { req } = await setup();
    const throttle = new AuthThrottle({ maxFailuresPerIp: 3 });
    throttle.recordFailure('192.0.2.1', 'x@example.org');
    const auth = new Authenticator({
      lookup: async () => null,
      throttle,
      log: silentLogger(),
      // Parallel attempts from the same source fail while this one waits.
      sleep: async () => {
        throttle.recordFailure('192.0.2.1', 'y@example.org');
        throttle.recordFailure('192.0.2.1', 'z@example.org');
      },
      hashParams: TEST_SCRYPT_PARAMS,
    });
    const r = await auth.authenticate(req({ ip: '192.0.2.1' }));
    assert.equal(r.ok === false && r.reason, 'locked');
  });

  test('unknown accounts lock too, so "locked" does not reveal which exist', async () => {
    const { auth, req } = await setup({ maxFailuresPerAccount: 2 });
    await auth.authenticate(req({ username: 'ghost@example.org' }));
    await auth.authenticate(req({ username: 'ghost@example.org' }));
    const r = await auth.authenticate(req({ username: 'ghost@example.org' }));
    assert.equal(r.ok === false && r.reason, 'locked');
  });

  test('a login clears no counter, and its source is no longer delayed for that account', async () => {
    const { auth, req, slept } = await setup({ maxFailuresPerAccount: 4 });
    await auth.authenticate(req({ password: 'x' }));
    await auth.authenticate(req({ password: 'y' }));
    assert.equal((await auth.authenticate(req())).ok, true);
    assert.deepEqual(slept, [250, 500]);
    slept.length = 0;
    // Trusted now: a typo from here is not delayed.
    await auth.authenticate(req({ password: 'z' }));
    assert.deepEqual(slept, []);
    // Another account from the same source still waits for the source's three failures.
    await auth.authenticate(req({ username: 'bob@example.org', password: 'z' }));
    assert.deepEqual(slept, [1000]);
    // The account kept its count: a fourth failure locks it for sources it was not proven from.
    await auth.authenticate(req({ ip: '198.51.100.8', password: 'w' }));
    assert.equal((await auth.authenticate(req({ ip: '198.51.100.9' }))).ok, false);
    assert.equal((await auth.authenticate(req())).ok, true);
  });

  test('a full hash queue answers busy at once, without counting a failure', async () => {
    const pool = new HashPool({ concurrency: 1, maxQueued: 1 });
    const { auth, req, throttle, logged } = await setup({ pool });
    let release!: () => void;
    const blocker = pool.submit(() => new Promise<void>((r) => (release = r)), 'normal', 'x');
    const queued = pool.submit(async () => {}, 'normal', 'y');
    assert.ok(blocker && queued);
    const r = await auth.authenticate(req({ ip: '198.51.100.20' }));
    assert.deepEqual(r, { ok: false, reason: 'busy', retryAfterMs: 5000 });
    assert.equal(logged().at(-1)?.reason, 'busy');
    assert.deepEqual(throttle.size, { ip: 0, account: 0, trusted: 0 });
    release();
    await blocker;
    assert.equal((await auth.authenticate(req())).ok, true);
  });

  test('logins with the same credentials at once cost one hash, for real and unknown accounts', async () => {
    const pool = new HashPool({ concurrency: 1, maxQueued: 1, maxPerSource: 1 });
    const { auth, req } = await setup({ pool });
    let release!: () => void;
    assert.ok(pool.submit(() => new Promise<void>((r) => (release = r)), 'normal', 'x'));
    // Ten connections of one client, and ten guesses at an unknown address: one job each in a
    // queue that holds one per source, so without coalescing all but one would be refused.
    const good = Array.from({ length: 10 }, () => auth.authenticate(req()));
    const unknown = Array.from({ length: 10 }, () =>
      auth.authenticate(req({ username: 'nobody@example.org', password: 'guess' })),
    );
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(pool.size, { running: 1, high: 0, normal: 1, inLanes: 1 });
    release();
    for (const r of await Promise.all(good)) assert.equal(r.ok, true);
    for (const r of await Promise.all(unknown))
      assert.deepEqual(r, { ok: false, reason: 'invalid' });
    // A wrong password is not answered by the right one's verification, nor the reverse.
    assert.equal((await auth.authenticate(req({ password: 'wrong' }))).ok, false);
  });

  test('a source the account logged in from is verified before queued strangers', async () => {
    const pool = new HashPool({ concurrency: 1 });
    const { auth, req, accounts } = await setup({ pool });
    assert.equal((await auth.authenticate(req({ ip: '203.0.113.5' }))).ok, true);
    // A new password, so that the next login is not answered from the verified cache.
    accounts.get('alice@example.org')!.passwordHash = await hashPassword('pw2', TEST_SCRYPT_PARAMS);
    let release!: () => void;
    assert.ok(pool.submit(() => new Promise<void>((r) => (release = r)), 'normal', 'x'));
    const order: string[] = [];
    const track = (name: string, p: Promise<unknown>) => p.then(() => order.push(name));
    const strangers = Array.from({ length: 5 }, (_, i) =>
      track(`stranger${i}`, auth.authenticate(req({ ip: `192.0.2.${i}`, password: `guess${i}` }))),
    );
    // Let the strangers reach the queue first.
    await new Promise((r) => setImmediate(r));
    assert.equal(pool.size.normal, 5);
    const home = track('home', auth.authenticate(req({ ip: '203.0.113.5', password: 'pw2' })));
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all([...strangers, home]);
    assert.equal(order[0], 'home');
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
      rehash: async (id, previous, h) => {
        assert.equal(previous, old, 'the hash the login matched, for the compare and set');
        stored.push([id, h]);
        return true;
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
  const reasons: AuthFailureReason[] = ['invalid', 'locked', 'busy', 'disabled', 'authz-mismatch'];
  const texts = reasons.map(authErrorText);
  assert.equal(new Set(texts).size, reasons.length);
  for (const t of texts) assert.ok(t.length > 0 && t.length < 60 && !/[\r\n]/.test(t));
});

describe('Authenticator: foreign hashes (issue 18 item 3)', () => {
  const SSHA = (() => {
    const salt = Buffer.from('saltsalt');
    const raw = Buffer.concat([createHash('sha512').update(PASSWORD).update(salt).digest(), salt]);
    return `{SSHA512}${raw.toString('base64')}`;
  })();

  function foreignSetup(replace: (old: string, fresh: string) => boolean) {
    const account: AccountRecord = { id: 9, address: 'f@x.org', passwordHash: SSHA };
    const calls: Array<[string, string]> = [];
    const throttle = new AuthThrottle({ maxFailuresPerIp: 100, maxFailuresPerAccount: 3 });
    const auth = new Authenticator({
      lookup: async (u) => (u === account.address ? { ...account } : null),
      throttle,
      log: silentLogger(),
      sleep: async () => {},
      hashParams: TEST_SCRYPT_PARAMS,
      rehash: async (id, old, fresh) => {
        assert.equal(id, 9);
        calls.push([old, fresh]);
        const ok = replace(old, fresh);
        if (ok) account.passwordHash = fresh;
        return ok;
      },
    });
    const login = (password: string) =>
      auth.authenticate({ username: 'F@x.org', password, ip: '192.0.2.1', protocol: 'imap' });
    return { account, calls, login };
  }

  test('a login with a foreign hash stores the server’s own hash in its place', async () => {
    const { account, calls, login } = foreignSetup((old) => old === SSHA);
    assert.equal((await login(PASSWORD)).ok, true);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]![0], SSHA, 'compare and set against the foreign hash');
    assert.match(account.passwordHash, /^\$scrypt\$ln=4,r=8,p=1\$/);
    assert.equal((await login(PASSWORD)).ok, true, 'the new hash verifies');
    assert.equal((await login('wrong')).ok, false);
    assert.equal(calls.length, 1, 'ours with the current parameters: not replaced again');
  });

  test('a password set meanwhile is not overwritten (the store refuses the swap)', async () => {
    const { account, calls, login } = foreignSetup(() => false);
    assert.equal((await login(PASSWORD)).ok, true);
    assert.equal(calls.length, 1);
    assert.equal(account.passwordHash, SSHA);
  });

  test('wrong passwords against a foreign hash count toward the lockout', async () => {
    const { calls, login } = foreignSetup(() => true);
    for (let i = 0; i < 3; i++) {
      const r = await login(`wrong${i}`);
      assert.deepEqual(r.ok ? 'ok' : r.reason, 'invalid');
    }
    const r = await login(PASSWORD);
    assert.equal(r.ok ? 'ok' : r.reason, 'locked', 'the right password is refused while locked');
    assert.equal(calls.length, 0, 'and the hash is not replaced');
  });

  test('an unusable foreign hash never logs in', async () => {
    const { account, login } = foreignSetup(() => true);
    account.passwordHash = '{MD5-CRYPT}$1$F6He4UyC$RF2xIYlvm6oHBf8morB8r0';
    assert.equal((await login('x')).ok, false);
  });
});
