// Brute-force protection for password logins, shared by SMTP AUTH, IMAP LOGIN/AUTHENTICATE and
// POP3 USER/PASS/AUTH. Failures are counted per client IP and per account over a sliding
// window; each recent failure adds to the delay before the next answer, and reaching the
// maximum locks that IP or account out for a while.
//
// In memory and per process: a cluster of nodes throttles per node, which still bounds an
// attacker's rate by the node count.
import { isIPv4, isIPv6 } from 'node:net';

export interface AuthThrottleOptions {
  /** Failures from one IP within the window that trigger a lockout of that IP. */
  maxFailuresPerIp?: number;
  /** Failures against one account within the window that trigger a lockout of the account. */
  maxFailuresPerAccount?: number;
  windowMs?: number;
  lockoutMs?: number;
  /** Delay added per recent failure before answering. */
  delayStepMs?: number;
  maxDelayMs?: number;
  /** Exempt 127.0.0.0/8 and ::1 from the per-IP counters (account counters still apply). */
  exemptLoopback?: boolean;
  /**
   * Bound on tracked IPs, and separately on tracked accounts (so that a flood of addresses
   * cannot evict account lockouts); the least recently touched are dropped first.
   */
  maxEntries?: number;
  /**
   * IPv6 clients are counted by prefix: anyone with one address usually has a whole /64, so
   * counting single addresses would let them rotate through 2^64 fresh counters.
   */
  ipv6PrefixLength?: number;
  now?: () => number;
}

export type ThrottleDecision =
  | { allowed: true; delayMs: number }
  | { allowed: false; retryAfterMs: number; scope: 'ip' | 'account' };

type Scope = 'ip' | 'account';

interface Entry {
  /** Times of recent failures, oldest first; never longer than the max for its scope. */
  failures: number[];
  lockedUntil: number;
}

const DEFAULTS = {
  maxFailuresPerIp: 10,
  maxFailuresPerAccount: 5,
  windowMs: 15 * 60_000,
  lockoutMs: 15 * 60_000,
  delayStepMs: 250,
  maxDelayMs: 5000,
  exemptLoopback: false,
  maxEntries: 100_000,
  ipv6PrefixLength: 64,
};

export class AuthThrottle {
  private readonly opts: typeof DEFAULTS;
  private readonly now: () => number;
  // Map iteration order is insertion order; every touch re-inserts, so the first entries are
  // the least recently touched, which is what both expiry sweeps and eviction want.
  private readonly tables = { ip: new Map<string, Entry>(), account: new Map<string, Entry>() };

  constructor(options: AuthThrottleOptions = {}) {
    const { now, ...rest } = options;
    const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    this.opts = { ...DEFAULTS, ...defined };
    this.now = now ?? Date.now;
    for (const k of ['maxFailuresPerIp', 'maxFailuresPerAccount', 'maxEntries'] as const) {
      if (!Number.isInteger(this.opts[k]) || this.opts[k] < 1) {
        throw new RangeError(`AuthThrottle: ${k} must be a positive integer`);
      }
    }
  }

  /** May this attempt proceed, and how long should the answer wait? */
  check(ip: string, account?: string): ThrottleDecision {
    const now = this.now();
    this.sweep(now);
    let recent = 0;
    for (const [scope, key] of this.keys(ip, account)) {
      const e = this.tables[scope].get(key);
      if (e === undefined) continue;
      if (e.lockedUntil > now) return { allowed: false, retryAfterMs: e.lockedUntil - now, scope };
      prune(e, now - this.opts.windowMs);
      recent = Math.max(recent, e.failures.length);
    }
    return {
      allowed: true,
      delayMs: Math.min(this.opts.maxDelayMs, recent * this.opts.delayStepMs),
    };
  }

  recordFailure(ip: string, account?: string): void {
    const now = this.now();
    this.sweep(now);
    for (const [scope, key] of this.keys(ip, account)) {
      const e = this.touch(scope, key);
      // Failures while locked (e.g. attempts already in flight) neither count nor extend the
      // lockout, so that a lockout always ends lockoutMs after it began.
      if (e.lockedUntil > now) continue;
      prune(e, now - this.opts.windowMs);
      e.failures.push(now);
      const max = scope === 'ip' ? this.opts.maxFailuresPerIp : this.opts.maxFailuresPerAccount;
      if (e.failures.length >= max) {
        e.lockedUntil = now + this.opts.lockoutMs;
        // After the lockout the count starts over, giving max attempts per lockout period.
        e.failures = [];
      }
    }
  }

  /**
   * A correct password forgets the account's failures only. The IP keeps its count: else an
   * attacker holding one working account could log in between guesses to reset it.
   */
  recordSuccess(ip: string, account: string): void {
    for (const [scope, key] of this.keys(ip, account)) {
      if (scope === 'account') this.tables[scope].delete(key);
    }
  }

  /** Number of IPs and accounts being tracked (for metrics and tests). */
  get size(): { ip: number; account: number } {
    return { ip: this.tables.ip.size, account: this.tables.account.size };
  }

  private keys(ip: string, account?: string): Array<[Scope, string]> {
    const out: Array<[Scope, string]> = [];
    const ipKey = normalizeIp(ip, this.opts.ipv6PrefixLength);
    if (!(this.opts.exemptLoopback && isLoopback(ipKey))) out.push(['ip', ipKey]);
    // Accounts are email addresses, matched case-insensitively like the login itself.
    if (account !== undefined && account !== '') out.push(['account', account.toLowerCase()]);
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

  /**
   * Drop entries that no longer matter. Entries are in touch order and each one's relevance
   * ends about max(windowMs, lockoutMs) after its last touch, so stop at the first one still
   * live: the cost is proportional to what is removed (a few stale entries may wait behind a
   * live one; they are harmless, as check() prunes old failures itself).
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
  }
}

function prune(e: Entry, cutoff: number): void {
  let i = 0;
  while (i < e.failures.length && e.failures[i] <= cutoff) i++;
  if (i > 0) e.failures.splice(0, i);
}

function isLoopback(ipKey: string): boolean {
  return ipKey.startsWith('127.') || ipKey === '0:0:0:0:0:0:0:1';
}

/**
 * Canonical key for a client address: IPv4-mapped IPv6 (::ffff:a.b.c.d, as a dual-stack
 * listener reports IPv4 peers) becomes plain IPv4; IPv6 is expanded and cut to its prefix
 * (except ::1, kept whole). Anything unparseable is used lower-cased as given.
 */
export function normalizeIp(ip: string, ipv6PrefixLength = 128): string {
  const raw = ip.trim().toLowerCase();
  if (isIPv4(raw)) return raw;
  const zoneless = raw.split('%')[0];
  if (!isIPv6(zoneless)) return raw;
  const groups = expandIPv6(zoneless);
  if (groups === null) return raw;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
  }
  const loopback = groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
  const bits = loopback ? 128 : Math.max(0, Math.min(128, ipv6PrefixLength));
  const masked = groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    return keep === 16 ? g : g & ((0xffff << (16 - keep)) & 0xffff);
  });
  const key = masked.map((g) => g.toString(16)).join(':');
  return bits === 128 ? key : `${key}/${bits}`;
}

/** Eight 16-bit groups of a syntactically valid IPv6 address (checked by isIPv6 first). */
function expandIPv6(addr: string): number[] | null {
  let text = addr;
  const tail: number[] = [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const lastColon = text.lastIndexOf(':');
  const maybeV4 = text.slice(lastColon + 1);
  if (isIPv4(maybeV4)) {
    const o = maybeV4.split('.').map(Number);
    tail.push((o[0] << 8) | o[1], (o[2] << 8) | o[3]);
    text = text.slice(0, lastColon + 1) + '0';
  }
  const [head, rest] = text.split('::');
  const parse = (s: string | undefined) =>
    s === undefined || s === '' ? [] : s.split(':').map((h) => Number.parseInt(h, 16));
  const left = parse(head);
  const right = parse(rest);
  // The '0' placeholder stood where the IPv4 tail was; drop it.
  if (tail.length > 0) {
    if (right.length > 0) right.pop();
    else left.pop();
  }
  const fill = 8 - tail.length - left.length - right.length;
  if (rest === undefined ? fill !== 0 : fill < 0) return null;
  const groups = [
    ...left,
    ...new Array<number>(rest === undefined ? 0 : fill).fill(0),
    ...right,
    ...tail,
  ];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g)) ? groups : null;
}
