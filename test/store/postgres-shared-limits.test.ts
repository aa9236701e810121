// Issue 17 item 4: the limits nodes over one PostgreSQL share. Two stores over one database
// stand for two nodes: an attacker spreading login attempts over both gets what one node
// would give, no more (src/store/postgres/login-throttle.ts), and appends on both at once
// cannot together pass an account's quota (messages.ts: the account's row lock).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { AuthThrottleOptions, LoginThrottle } from '../../src/auth/throttle.js';
import { StoreError } from '../../src/store/errors.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { newMessage } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const MIN = 60_000;
const ALLOWED = { allowed: true, delayMs: 0, trusted: false };
const TRUSTED = { allowed: true, delayMs: 0, trusted: true };

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

/** Two nodes' throttles over one fresh database, on one clock. */
async function twoNodes(
  opts: AuthThrottleOptions,
  fn: (a: LoginThrottle, b: LoginThrottle, clock: { t: number }, url: string) => Promise<void>,
) {
  const url = await server.createDatabase();
  const stores = await Promise.all([
    PostgresStore.open({ connectionString: url, max: 2 }),
    PostgresStore.open({ connectionString: url, max: 2 }),
  ]);
  const clock = { t: Date.UTC(2026, 11, 5) };
  const [a, b] = stores.map((s) => s.sharedLoginThrottle({ now: () => clock.t, ...opts }));
  try {
    await fn(a!, b!, clock, url);
  } finally {
    for (const s of stores) await s.close();
    await server.dropDatabase(url);
  }
}

describe('postgres: the login throttle across two nodes', () => {
  test('a source is locked out after maxFailuresPerIp failures counted on both nodes', () =>
    twoNodes({ maxFailuresPerIp: 4 }, async (a, b, clock) => {
      const ip = '192.0.2.1';
      // Alternating nodes: each sees only two of the four, together they lock the source.
      for (const [i, node] of [a, b, a].entries()) {
        assert.equal((await node.check(ip, `u${i}@x.org`)).allowed, true);
        await node.recordFailure(ip, `u${i}@x.org`);
      }
      // The delay doubles per failure, wherever it was counted.
      assert.deepEqual(await b.check(ip, 'v@x.org'), { ...ALLOWED, delayMs: 1000 });
      await b.recordFailure(ip, 'u3@x.org');
      const locked = { allowed: false, retryAfterMs: 15 * MIN, scope: 'ip' };
      assert.deepEqual(await a.check(ip, 'w@x.org'), locked);
      assert.deepEqual(await b.check(ip), locked);
      assert.deepEqual(await a.check('192.0.2.2', 'w@x.org'), ALLOWED);
      // Failures in flight while locked neither count nor extend it.
      clock.t += 10 * MIN;
      await a.recordFailure(ip, 'x@x.org');
      assert.deepEqual(await b.check(ip), { ...locked, retryAfterMs: 5 * MIN });
      clock.t += 5 * MIN;
      assert.deepEqual(await a.check(ip), ALLOWED);
    }));

  test('concurrent failures on both nodes are all counted', () =>
    twoNodes({ maxFailuresPerIp: 1000, maxFailuresPerAccount: 20 }, async (a, b) => {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? a : b).recordFailure(`198.51.100.${i}`, 'victim@x.org'),
        ),
      );
      assert.deepEqual(await a.check('203.0.113.7', 'victim@x.org'), {
        allowed: false,
        retryAfterMs: 15 * MIN,
        scope: 'account',
      });
      assert.equal(await b.accountLocked('victim@x.org'), true);
      assert.equal(await b.accountLocked('other@x.org'), false);
    }));

  test('trust earned on one node holds on the other; strikes in a row end it', () =>
    twoNodes(
      { maxFailuresPerIp: 3, maxFailuresPerAccount: 3, maxTrustedFailures: 2 },
      async (a, b) => {
        await a.recordSuccess('192.0.2.9', 'alice@x.org');
        // A distributed guess locks the account for every other source.
        for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
          await b.recordFailure(ip, 'alice@x.org');
        }
        assert.equal((await a.check('198.51.100.4', 'alice@x.org')).allowed, false);
        assert.deepEqual(await b.check('192.0.2.9', 'alice@x.org'), TRUSTED);
        // Two failures in a row from the trusted pair end its trust (one on each node).
        await a.recordFailure('192.0.2.9', 'alice@x.org');
        assert.deepEqual(await b.check('192.0.2.9', 'alice@x.org'), TRUSTED);
        await b.recordFailure('192.0.2.9', 'alice@x.org');
        assert.equal((await a.check('192.0.2.9', 'alice@x.org')).allowed, false);
      },
    ));

  test('a login soon after the last one of its pair writes nothing; one after a strike does', () =>
    twoNodes({ maxTrustedFailures: 3 }, async (a, b, clock, url) => {
      const ip = '192.0.2.7';
      const who = 'carol@x.org';
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      // xmax: a statement that locked or updated the row since it was written leaves its
      // transaction there (an ON CONFLICT DO UPDATE whose WHERE is false locks the row too).
      const trust = async () =>
        (
          await c.query<{ until: string; strikes: number; xmax: string }>(
            'SELECT until::text, strikes, xmax::text FROM auth_trust WHERE account = $1',
            [who],
          )
        ).rows[0];
      const login = async (node: LoginThrottle) => {
        await node.check(ip, who);
        await node.recordSuccess(ip, who);
      };
      try {
        await login(a);
        const first = await trust();
        assert.equal(first?.xmax, '0');
        clock.t += 30_000;
        await login(a);
        assert.deepEqual(await trust(), first, 'not written, not locked');
        // A minute on, the login refreshes it.
        clock.t += 31_000;
        await login(a);
        const refreshed = await trust();
        assert.equal(Number(refreshed?.until), Number(first?.until) + 61_000);
        // A strike on the other node: the next login reads it and sets it back.
        await b.recordFailure(ip, who);
        assert.equal((await trust())?.strikes, 1);
        clock.t += 1000;
        await login(a);
        assert.equal((await trust())?.strikes, 0);
      } finally {
        await c.end();
      }
    }));

  test("an administrator's unlock lifts the lockout on every node, once", () =>
    twoNodes({ maxFailuresPerIp: 2, maxFailuresPerAccount: 100 }, async (a, b, clock) => {
      const ip = '192.0.2.5';
      await a.recordFailure(ip, 'bob@x.org');
      await b.recordFailure(ip, 'bob@x.org');
      assert.equal((await a.check(ip, 'bob@x.org')).allowed, false);
      clock.t += MIN;
      const unlockedAt = clock.t;
      clock.t += 1000;
      assert.equal(await b.lift(ip, 'bob@x.org', unlockedAt), true);
      assert.deepEqual(await a.check(ip, 'bob@x.org'), ALLOWED);
      assert.equal(await a.lift(ip, 'bob@x.org', unlockedAt), false, 'nothing left to lift');
    }));
});

describe('postgres: the quota across two nodes', () => {
  test('appends on both nodes at once never pass the quota together', async () => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([
      PostgresStore.open({ connectionString: url, max: 4 }),
      PostgresStore.open({ connectionString: url, max: 4 }),
    ]);
    try {
      await a.addDomain('example.test');
      const size = newMessage('m00').raw.length;
      // Room for 10 of the messages (their sizes differ by a byte or two), not 11.
      const acct = await b.createAccount({
        address: 'full@example.test',
        passwordHash: 'h',
        quotaBytes: 10 * size + 5,
      });
      const inbox = (await a.getMailbox(acct.id, 'INBOX'))!;
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 ? a : b)
            .append(newMessage(`m${String(i).padStart(2, '0')}`), [{ mailboxId: inbox.id }])
            .then(
              () => 'stored',
              (err: unknown) => (err instanceof StoreError ? err.code : String(err)),
            ),
        ),
      );
      assert.equal(outcomes.filter((o) => o === 'stored').length, 10, outcomes.join(' '));
      assert.equal(outcomes.filter((o) => o === 'OVERQUOTA').length, 20, outcomes.join(' '));
      const used = (await a.getAccount('full@example.test'))!.usedBytes;
      const stored = await b.listMessages(inbox.id);
      assert.equal(stored.length, 10);
      assert.equal(
        used,
        stored.reduce((n, r) => n + r.size, 0),
      );
      assert.ok(used <= 10 * size + 5);
    } finally {
      await a.close();
      await b.close();
      await server.dropDatabase(url);
    }
  });
});
