// Brute-force protection for password logins, shared by SMTP AUTH, IMAP LOGIN/AUTHENTICATE and
// POP3 USER/PASS/AUTH. The policy, in short (docs/security.md has the long form):
//
// - Per source. A source is an IPv4 address or an IPv6 /64 (anyone with one IPv6 address usually
//   has the whole /64). Every failed login from a source within the window makes its next
//   attempts wait longer before they are even checked (delayStepMs, doubling per failure, up to
//   maxDelayMs), and maxFailuresPerIp failures lock the source out for lockoutMs, for every
//   account.
// - Per account. maxFailuresPerAccount failures against one account within the window, from any
//   sources together, lock the account for lockoutMs, but only for sources it has not proven
//   itself from: this stops a distributed guess (many addresses, each below its own limit) and
//   never refuses the real user where they usually log in. The default is twice the per-source
//   limit, so a single source cannot trigger it: it is locked out itself first.
// - Trusted pairs. A correct password from a source makes the (account, source) pair trusted for
//   trustMs (refreshed at each login): its attempts skip the delays and both lockouts, so an
//   attacker cannot lock the user out of the places they use. maxTrustedFailures failed
//   attempts in a row from a trusted pair end its trust, which bounds what someone sharing the
//   user's address (NAT) could gain from it. Memory is bounded: maxTrustedSourcesPerAccount per
//   account and maxTrustedPairs in all, the least recently used go first.
//
// Attempts refused by a lockout are neither checked nor counted, and failures while a lockout is
// on do not extend it, so a lockout always ends lockoutMs after it began.
//
// AuthThrottle keeps this in memory, per process: a restart forgets counters and trust alike.
// Nodes over one PostgreSQL share one throttle instead (store/postgres/login-throttle.ts), so N
// nodes do not give an attacker N times the attempts; it replays the same policy (countFailure)
// over failures recorded in the database.
import { ipKey as normalizeIp } from '../net/ip-key.js';

export interface AuthThrottleOptions {
  /** Failures from one source within the window that lock that source out. */
  maxFailuresPerIp?: number;
  /**
   * Failures against one account within the window (from all sources) that lock the account
   * for sources it was not proven from.
   */
  maxFailuresPerAccount?: number;
  windowMs?: number;
  lockoutMs?: number;
  /** Wait before an attempt from a source with one recent failure; doubles with each more. */
  delayStepMs?: number;
  maxDelayMs?: number;
  /** Exempt 127.0.0.0/8 and ::1 from the per-source counters (account counters still apply). */
  exemptLoopback?: boolean;
  /**
   * Bound on tracked sources, and separately on tracked accounts (so that a flood of addresses
   * cannot evict account lockouts); the least recently touched are dropped first.
   */
  maxEntries?: number;
  /**
   * IPv6 clients are counted by prefix: anyone with one address usually has a whole /64, so
   * counting single addresses would let them rotate through 2^64 fresh counters.
   */
  ipv6PrefixLength?: number;
  /** How long a source that logged in to an account stays trusted for it. */
  trustMs?: number;
  /** Trusted (account, source) pairs kept in all (about 200 bytes each). */
  maxTrustedPairs?: number;
  /** Trusted sources kept per account: a phone, a laptop, home, office, ... */
  maxTrustedSourcesPerAccount?: number;
  /** Failed attempts in a row from a trusted pair that end its trust. */
  maxTrustedFailures?: number;
  now?: () => number;
}

export type ThrottleDecision =
  /**
   * delayMs: wait this long before checking the password. trusted: the (account, source) pair
   * logged in before, so its attempts may go first (hash-pool.ts).
   */
  | { allowed: true; delayMs: number; trusted: boolean }
  | { allowed: false; retryAfterMs: number; scope: 'ip' | 'account' };

/**
 * A login throttle as the authenticator and the admin API use it: this process's
 * (AuthThrottle) or one every node over the store shares (its answers then come from there).
 */
export interface LoginThrottle {
  /** May this attempt proceed, how long should it wait first, and is its source trusted? */
  check(ip: string, account?: string): ThrottleDecision | Promise<ThrottleDecision>;
  recordFailure(ip: string, account?: string): void | Promise<void>;
  recordSuccess(ip: string, account: string): void | Promise<void>;
  /** An administrator's unlock at `at` (ms), applied to an attempt on `account` from `ip`. */
  lift(ip: string, account: string, at: number): boolean | Promise<boolean>;
  accountLocked(account: string, unlockedAt?: number | null): boolean | Promise<boolean>;
  /** The key a client address is counted under (an IPv4 address or an IPv6 prefix). */
  sourceKey(ip: string): string;
}

export type ThrottleScope = 'ip' | 'account';
type Scope = ThrottleScope;

/** What the throttle knows of one source or one account. */
export interface Entry {
  /** Times of recent failures, oldest first; never longer than the max for its scope. */
  failures: number[];
  lockedUntil: number;
}

interface TrustedAccount {
  /** Source key -> trust, in order of last login, oldest first. */
  sources: Map<string, { until: number; strikes: number }>;
  /** The latest `until` among the sources. */
  until: number;
}

const DEFAULTS = {
  maxFailuresPerIp: 10,
  maxFailuresPerAccount: 20,
  windowMs: 15 * 60_000,
  lockoutMs: 15 * 60_000,
  delayStepMs: 250,
  maxDelayMs: 5000,
  exemptLoopback: false,
  maxEntries: 100_000,
  ipv6PrefixLength: 64,
  trustMs: 30 * 24 * 3600_000,
  maxTrustedPairs: 100_000,
  maxTrustedSourcesPerAccount: 8,
  maxTrustedFailures: 5,
};

const POSITIVE_INTEGERS = [
  'maxFailuresPerIp',
  'maxFailuresPerAccount',
  'maxEntries',
  'maxTrustedPairs',
  'maxTrustedSourcesPerAccount',
  'maxTrustedFailures',
] as const;

export type ThrottleSettings = typeof DEFAULTS;

/** The options with their defaults, checked. */
export function throttleSettings(options: AuthThrottleOptions): {
  opts: ThrottleSettings;
  now: () => number;
} {
  const { now, ...rest } = options;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  const opts = { ...DEFAULTS, ...defined };
  for (const k of POSITIVE_INTEGERS) {
    if (!Number.isInteger(opts[k]) || opts[k] < 1) {
      throw new RangeError(`AuthThrottle: ${k} must be a positive integer`);
    }
  }
  return { opts, now: now ?? Date.now };
}

/**
 * Counts a failure at `now` in an entry of `scope`: unless a lockout is on, it joins the
 * window's failures, and the one that reaches the scope's maximum begins a lockout.
 */
export function countFailure(e: Entry, scope: Scope, now: number, opts: ThrottleSettings): void {
  // Failures while locked (e.g. attempts already in flight) neither count nor extend the
  // lockout, so that a lockout always ends lockoutMs after it began.
  if (e.lockedUntil > now) return;
  prune(e, now - opts.windowMs);
  e.failures.push(now);
  const max = scope === 'ip' ? opts.maxFailuresPerIp : opts.maxFailuresPerAccount;
  if (e.failures.length >= max) {
    e.lockedUntil = now + opts.lockoutMs;
    // After the lockout the count starts over, giving max attempts per lockout period.
    e.failures = [];
  }
}

/** The wait before an attempt from a source with `recent` failures in the window. */
export function failureDelay(recent: number, opts: ThrottleSettings): number {
  return recent === 0 ? 0 : Math.min(opts.maxDelayMs, opts.delayStepMs * 2 ** (recent - 1));
}

/** The source's key, or null when it is exempt from per-source counting. */
export function countedSource(ip: string, opts: ThrottleSettings): string | null {
  const key = normalizeIp(ip, opts.ipv6PrefixLength);
  return opts.exemptLoopback && isLoopback(key) ? null : key;
}

export class AuthThrottle implements LoginThrottle {
  private readonly opts: ThrottleSettings;
  private readonly now: () => number;
  // Map iteration order is insertion order; every touch re-inserts, so the first entries are
  // the least recently touched, which is what both expiry sweeps and eviction want.
  private readonly tables = { ip: new Map<string, Entry>(), account: new Map<string, Entry>() };
  private readonly trust = new Map<string, TrustedAccount>();
  private trustedPairs = 0;

  constructor(options: AuthThrottleOptions = {}) {
    const { opts, now } = throttleSettings(options);
    this.opts = opts;
    this.now = now;
  }

  /** May this attempt proceed, how long should it wait first, and is its source trusted? */
  check(ip: string, account?: string): ThrottleDecision {
    const now = this.now();
    this.sweep(now);
    const acct = accountKey(account);
    if (acct !== null && this.isTrusted(acct, this.sourceKey(ip), now)) {
      return { allowed: true, delayMs: 0, trusted: true };
    }
    let recent = 0;
    for (const [scope, key] of this.keys(this.sourceOf(ip), acct)) {
      const e = this.tables[scope].get(key);
      if (e === undefined) continue;
      if (e.lockedUntil > now) return { allowed: false, retryAfterMs: e.lockedUntil - now, scope };
      prune(e, now - this.opts.windowMs);
      // Only the source's own failures slow it down: the account's would slow the real user on
      // a new address too, and do little against a distributed attack (that is the lockout's).
      if (scope === 'ip') recent = e.failures.length;
    }
    return { allowed: true, delayMs: failureDelay(recent, this.opts), trusted: false };
  }

  recordFailure(ip: string, account?: string): void {
    const now = this.now();
    this.sweep(now);
    const source = this.sourceOf(ip);
    const acct = accountKey(account);
    for (const [scope, key] of this.keys(source, acct)) {
      countFailure(this.touch(scope, key), scope, now, this.opts);
    }
    if (acct !== null) this.strike(acct, this.sourceKey(ip));
  }

  /**
   * A correct password makes the (account, source) pair trusted. It clears no counter: else an
   * attacker holding one working account could log in between guesses to reset the source's,
   * and the real user logging in during a distributed attack would reset the account's.
   */
  recordSuccess(ip: string, account: string): void {
    const now = this.now();
    this.sweep(now);
    const acct = accountKey(account);
    // Trust is kept for exempt loopback sources too: the account lockout still applies to them.
    if (acct !== null) this.addTrust(acct, this.sourceKey(ip), now);
  }

  /**
   * An administrator lifted the lockouts of `account` at time `at` (`letterbox user unlock`,
   * stored with the account so that it reaches this process). For an attempt on that account
   * from `ip`: the account's failures and lockout from before `at` are forgotten, and so are
   * the source's, since a user locked out from their own address (a phone with an old
   * password) is the usual case. Later failures count as usual, and an unlock is only ever
   * worth one fresh start per source. Returns whether anything was lifted.
   */
  lift(ip: string, account: string, at: number): boolean {
    const now = this.now();
    // Older than every window and lockout: nothing it could still lift.
    if (at <= now - Math.max(this.opts.windowMs, this.opts.lockoutMs)) return false;
    let lifted = false;
    for (const [scope, key] of this.keys(this.sourceOf(ip), accountKey(account))) {
      const e = this.tables[scope].get(key);
      if (e === undefined) continue;
      if (e.lockedUntil > now && e.lockedUntil - this.opts.lockoutMs <= at) {
        e.lockedUntil = 0;
        lifted = true;
      }
      const before = e.failures.length;
      prune(e, at);
      if (e.failures.length !== before) lifted = true;
    }
    return lifted;
  }

  /**
   * Whether the account's own lockout is in force now (the admin API's `locked`); one begun
   * before an administrator's unlock at `unlockedAt` (ms) no longer counts, as lift() decides.
   */
  accountLocked(account: string, unlockedAt: number | null = null): boolean {
    const acct = accountKey(account);
    const e = acct === null ? undefined : this.tables.account.get(acct);
    if (e === undefined || e.lockedUntil <= this.now()) return false;
    return unlockedAt === null || e.lockedUntil - this.opts.lockoutMs > unlockedAt;
  }

  /** The key a client address is counted under (an IPv4 address or an IPv6 prefix). */
  sourceKey(ip: string): string {
    return normalizeIp(ip, this.opts.ipv6PrefixLength);
  }

  /** Number of sources, accounts and trusted pairs being tracked (for metrics and tests). */
  get size(): { ip: number; account: number; trusted: number } {
    return {
      ip: this.tables.ip.size,
      account: this.tables.account.size,
      trusted: this.trustedPairs,
    };
  }

  /** The source's key, or null when it is exempt from per-source counting. */
  private sourceOf(ip: string): string | null {
    return countedSource(ip, this.opts);
  }

  private keys(source: string | null, acct: string | null): Array<[Scope, string]> {
    const out: Array<[Scope, string]> = [];
    if (source !== null) out.push(['ip', source]);
    if (acct !== null) out.push(['account', acct]);
    return out;
  }

  private touch(scope: Scope, key: string): Entry {
    const table = this.tables[scope];
    let e = table.get(key);
    if (e !== undefined) {
      table.delete(key);
    } else {
      e = { failures: [], lockedUntil: 0 };
      while (table.size >= this.opts.maxEntries) {
        const oldest = table.keys().next().value;
        if (oldest === undefined) break;
        table.delete(oldest);
      }
    }
    table.set(key, e);
    return e;
  }

  private isTrusted(acct: string, source: string, now: number): boolean {
    const t = this.trust.get(acct);
    const pair = t?.sources.get(source);
    if (t === undefined || pair === undefined) return false;
    if (pair.until > now) return true;
    this.dropPair(acct, t, source);
    return false;
  }

  private addTrust(acct: string, source: string, now: number): void {
    let t = this.trust.get(acct);
    if (t === undefined) t = { sources: new Map(), until: 0 };
    else this.trust.delete(acct);
    if (t.sources.delete(source)) this.trustedPairs--;
    t.sources.set(source, { until: now + this.opts.trustMs, strikes: 0 });
    this.trustedPairs++;
    t.until = now + this.opts.trustMs;
    this.trust.set(acct, t);
    while (t.sources.size > this.opts.maxTrustedSourcesPerAccount) {
      this.dropPair(acct, t, t.sources.keys().next().value as string);
    }
    // Past the global bound, the least recently used account gives up its oldest source.
    while (this.trustedPairs > this.opts.maxTrustedPairs) {
      const [oldAcct, oldT] = this.trust.entries().next().value as [string, TrustedAccount];
      this.dropPair(oldAcct, oldT, oldT.sources.keys().next().value as string);
    }
  }

  private strike(acct: string, source: string): void {
    const t = this.trust.get(acct);
    const pair = t?.sources.get(source);
    if (t === undefined || pair === undefined) return;
    pair.strikes++;
    if (pair.strikes >= this.opts.maxTrustedFailures) this.dropPair(acct, t, source);
  }

  private dropPair(acct: string, t: TrustedAccount, source: string): void {
    if (t.sources.delete(source)) this.trustedPairs--;
    if (t.sources.size === 0) this.trust.delete(acct);
  }

  /**
   * Drop entries that no longer matter. Entries are in touch order and each one's relevance
   * ends about max(windowMs, lockoutMs) after its last touch (trustMs after the last login for
   * trust), so stop at the first one still live: the cost is proportional to what is removed (a
   * few stale entries may wait behind a live one; they are harmless, as check() prunes old
   * failures and expired trust itself).
   */
  private sweep(now: number): void {
    for (const table of [this.tables.ip, this.tables.account]) {
      for (const [key, e] of table) {
        const last = e.failures.length > 0 ? e.failures[e.failures.length - 1] : 0;
        const liveUntil = Math.max(last + this.opts.windowMs, e.lockedUntil);
        if (liveUntil > now) break;
        table.delete(key);
      }
    }
    for (const [acct, t] of this.trust) {
      if (t.until > now) break;
      this.trustedPairs -= t.sources.size;
      this.trust.delete(acct);
    }
  }
}

export function prune(e: Entry, cutoff: number): void {
  let i = 0;
  while (i < e.failures.length && e.failures[i] <= cutoff) i++;
  if (i > 0) e.failures.splice(0, i);
}

/** Accounts are email addresses, matched case-insensitively like the login itself. */
export function accountKey(account: string | undefined): string | null {
  return account === undefined || account === '' ? null : account.toLowerCase();
}

function isLoopback(ipKey: string): boolean {
  return ipKey.startsWith('127.') || ipKey === '0:0:0:0:0:0:0:1';
}
