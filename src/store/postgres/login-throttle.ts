// The login throttle shared by every node over one PostgreSQL (issue 17 item 4): the policy
// of auth/throttle.ts (delays, per-source and per-account lockouts, trusted pairs, an
// administrator's unlock), with what it remembers in the database instead of one process's
// memory, so that N nodes do not give an attacker N times the attempts.
//
// A failure is one inserted row per key it counts against (auth_failures): concurrent
// failures on any nodes are all counted, none lost to a read-modify-write. A check reads the
// keys' recent failures and replays them in time order through the same countFailure as the
// in-memory throttle, so every node reaches the same lockouts from the same rows, and a
// failure recorded before a login is answered counts at every node's next check. Trust is one
// row per (account, source) pair (auth_trust). Rows too old to matter go now and then.
import {
  type AuthThrottleOptions,
  accountKey,
  countedSource,
  countFailure,
  type Entry,
  failureDelay,
  type LoginThrottle,
  prune,
  type ThrottleDecision,
  type ThrottleScope,
  type ThrottleSettings,
  throttleSettings,
} from '../../auth/throttle.js';
import { ipKey } from '../../net/ip-key.js';
import { type PgDb, rows, run } from './db.js';

/** Between two sweeps of rows no decision needs any more (per node). */
const SWEEP_EVERY_MS = 60_000;
/** A login refreshes its pair's trust only when it is older than this, or has struck. */
const TRUST_REFRESH_MS = 60_000;
/** Pairs whose trust a check found fresh, waiting for their login's outcome (see `fresh`). */
const MAX_FRESH_PAIRS = 1000;

interface FailureRow {
  scope: ThrottleScope | 'trust';
  key: string;
  at: number;
  /** The trust row's strikes (0 for a failure). */
  strikes: number;
}

export class PgLoginThrottle implements LoginThrottle {
  private readonly opts: ThrottleSettings;
  private readonly now: () => number;
  private lastSweep = 0;
  /**
   * Pairs whose trust row the last check read with no strike, by `pairKey`, with its `until`:
   * the login that follows need not write the row when that is recent enough (recordSuccess).
   */
  private readonly fresh = new Map<string, number>();

  constructor(
    private readonly db: PgDb,
    options: AuthThrottleOptions = {},
  ) {
    const { opts, now } = throttleSettings(options);
    this.opts = opts;
    this.now = now;
  }

  sourceKey(ip: string): string {
    return ipKey(ip, this.opts.ipv6PrefixLength);
  }

  /**
   * How far back failures can still decide anything now: a lockout in force began at most
   * lockoutMs ago, from failures of the window before it; twice that covers a lockout that
   * ended and the count it cleared.
   */
  private horizon(now: number): number {
    return now - 2 * (this.opts.windowMs + this.opts.lockoutMs);
  }

  private keys(ip: string, account: string | undefined): Array<[ThrottleScope, string]> {
    const out: Array<[ThrottleScope, string]> = [];
    const source = countedSource(ip, this.opts);
    if (source !== null) out.push(['ip', source]);
    const acct = accountKey(account);
    if (acct !== null) out.push(['account', acct]);
    return out;
  }

  /** The keys' entries as their recorded failures make them, and whether the pair is trusted. */
  private async entries(
    keys: Array<[ThrottleScope, string]>,
    trustPair: [string, string] | null,
    now: number,
  ): Promise<{ entries: Map<string, Entry>; trusted: boolean; trustUntil?: number }> {
    const rs = await rows<FailureRow>(
      this.db,
      `SELECT 'trust' AS scope, source AS key, until AS at, strikes FROM auth_trust
         WHERE account = $4 AND source = $5 AND until > $3
       UNION ALL
       SELECT scope, key, at, 0 FROM auth_failures
         WHERE (scope, key) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND at > $6
       ORDER BY at`,
      [
        keys.map((k) => k[0]),
        keys.map((k) => k[1]),
        now,
        trustPair?.[0] ?? null,
        trustPair?.[1] ?? null,
        this.horizon(now),
      ],
    );
    const entries = new Map<string, Entry>(
      keys.map(([scope]) => [scope, { failures: [], lockedUntil: 0 }]),
    );
    let trusted = false;
    let trustUntil: number | undefined;
    for (const r of rs) {
      if (r.scope === 'trust') {
        trusted = true;
        if (r.strikes === 0) trustUntil = r.at;
        continue;
      }
      const e = entries.get(r.scope);
      if (e) countFailure(e, r.scope, r.at, this.opts);
    }
    return { entries, trusted, ...(trustUntil === undefined ? {} : { trustUntil }) };
  }

  async check(ip: string, account?: string): Promise<ThrottleDecision> {
    const now = this.now();
    const acct = accountKey(account);
    const pair: [string, string] | null = acct === null ? null : [acct, this.sourceKey(ip)];
    const read = await this.entries(this.keys(ip, account), pair, now);
    const { entries, trusted } = read;
    if (pair !== null) this.noteFresh(pairKey(pair[0], pair[1]), read.trustUntil);
    if (trusted) return { allowed: true, delayMs: 0, trusted: true };
    let recent = 0;
    for (const [scope, e] of entries) {
      if (e.lockedUntil > now) {
        return { allowed: false, retryAfterMs: e.lockedUntil - now, scope: scope as ThrottleScope };
      }
      prune(e, now - this.opts.windowMs);
      if (scope === 'ip') recent = e.failures.length;
    }
    return { allowed: true, delayMs: failureDelay(recent, this.opts), trusted: false };
  }

  async recordFailure(ip: string, account?: string): Promise<void> {
    const now = this.now();
    const keys = this.keys(ip, account);
    const acct = accountKey(account);
    if (acct !== null) this.fresh.delete(pairKey(acct, this.sourceKey(ip)));
    // The failures, and a strike against the pair's trust: maxTrustedFailures in a row end
    // it (a login sets the strikes back to 0).
    await rows(
      this.db,
      `WITH f AS (
         INSERT INTO auth_failures (scope, key, at)
         SELECT s, k, $3 FROM unnest($1::text[], $2::text[]) AS t(s, k))
       UPDATE auth_trust SET strikes = strikes + 1,
         until = CASE WHEN strikes + 1 >= $6 THEN 0 ELSE until END
       WHERE account = $4 AND source = $5`,
      [
        keys.map((k) => k[0]),
        keys.map((k) => k[1]),
        now,
        acct,
        this.sourceKey(ip),
        this.opts.maxTrustedFailures,
      ],
    );
    await this.sweep(now);
  }

  async recordSuccess(ip: string, account: string): Promise<void> {
    const acct = accountKey(account);
    if (acct === null) return;
    const now = this.now();
    const until = now + this.opts.trustMs;
    // Refreshed when it has struck or is older than a minute: a login-heavy client does not
    // write at each login. Nor does it send the statement when this login's check read the
    // row with no strike and recent enough: the statement would change nothing, yet lock the
    // row, which takes a transaction id, writes WAL and waits for a commit's flush. A strike
    // or a refresh another node made since that read is one made during this login, which
    // may as well come after it.
    const key = pairKey(acct, this.sourceKey(ip));
    const seen = this.fresh.get(key);
    this.fresh.delete(key);
    if (seen !== undefined && seen >= until - TRUST_REFRESH_MS) return;
    const r = await rows<{ fresh: boolean }>(
      this.db,
      `INSERT INTO auth_trust (account, source, until, strikes) VALUES ($1, $2, $3, 0)
       ON CONFLICT (account, source) DO UPDATE SET until = excluded.until, strikes = 0
         WHERE auth_trust.strikes > 0 OR auth_trust.until < excluded.until - ${TRUST_REFRESH_MS}
       RETURNING (xmax = 0) AS fresh`,
      [acct, this.sourceKey(ip), until],
    );
    if (r[0]?.fresh) {
      // A new pair: the account keeps its most recently used sources only.
      await run(
        this.db,
        `DELETE FROM auth_trust WHERE account = $1 AND source NOT IN (
           SELECT source FROM auth_trust WHERE account = $1 ORDER BY until DESC LIMIT $2)`,
        [acct, this.opts.maxTrustedSourcesPerAccount],
      );
    }
  }

  /**
   * As AuthThrottle.lift: the account's and the source's failures from before the unlock are
   * forgotten (deleted, so an unlock is worth one fresh start per source, on every node).
   */
  async lift(ip: string, account: string, at: number): Promise<boolean> {
    const now = this.now();
    if (at <= now - Math.max(this.opts.windowMs, this.opts.lockoutMs)) return false;
    const keys = this.keys(ip, account);
    const n = await run(
      this.db,
      `DELETE FROM auth_failures WHERE (scope, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))
         AND at <= $3`,
      [keys.map((k) => k[0]), keys.map((k) => k[1]), at],
    );
    return n > 0;
  }

  async accountLocked(account: string, unlockedAt: number | null = null): Promise<boolean> {
    const acct = accountKey(account);
    if (acct === null) return false;
    const now = this.now();
    const { entries } = await this.entries([['account', acct]], null, now);
    const e = entries.get('account');
    if (e === undefined || e.lockedUntil <= now) return false;
    return unlockedAt === null || e.lockedUntil - this.opts.lockoutMs > unlockedAt;
  }

  /** What a check read of the pair's trust, for the login's outcome (`fresh`). */
  private noteFresh(key: string, until: number | undefined): void {
    this.fresh.delete(key);
    if (until === undefined) return;
    if (this.fresh.size >= MAX_FRESH_PAIRS) {
      // Checks whose login never ended (a client gone mid-way): the oldest go first.
      const oldest = this.fresh.keys().next();
      if (!oldest.done) this.fresh.delete(oldest.value);
    }
    this.fresh.set(key, until);
  }

  /** Now and then: rows no decision can need any more. */
  private async sweep(now: number): Promise<void> {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    await run(this.db, 'DELETE FROM auth_failures WHERE at <= $1', [this.horizon(now)]);
    await run(this.db, 'DELETE FROM auth_trust WHERE until <= $1', [now]);
  }
}

function pairKey(account: string, source: string): string {
  return `${account}\0${source}`;
}
