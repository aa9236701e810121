// Recently verified credentials, so that a client opening many connections (a phone app with
// one IMAP connection per folder, a sync tool, 10,000 IDLE sessions) costs one scrypt per
// password and not one per connection (~60 ms of CPU each). Dovecot keeps such an auth cache.
//
// An entry is keyed by an HMAC of username and password under a key made at start and never
// stored, so the cache holds nothing a memory dump could turn back into a password; its value
// is the stored hash the password matched, so a password change (a new hash) misses at once.
// Only successes are cached: every wrong password still costs a full scrypt and the throttle.
import { createHmac, randomBytes } from 'node:crypto';

/** How long a verification is trusted without hashing again. */
export const VERIFIED_TTL_MS = 10 * 60 * 1000;
/** Entries kept (the oldest go first); about 150 bytes each. */
export const VERIFIED_MAX = 10_000;

export class VerifiedCache {
  private readonly key = randomBytes(32);
  /** Map order is insertion order: the first entry is the oldest. */
  private readonly entries = new Map<string, { storedHash: string; expires: number }>();

  constructor(
    private readonly ttlMs = VERIFIED_TTL_MS,
    private readonly max = VERIFIED_MAX,
    private readonly now: () => number = Date.now,
  ) {}

  /** This password was verified against this stored hash within the TTL. */
  has(username: string, password: string, storedHash: string): boolean {
    const id = this.id(username, password);
    const e = this.entries.get(id);
    if (!e) return false;
    if (e.expires <= this.now() || e.storedHash !== storedHash) {
      this.entries.delete(id);
      return false;
    }
    return true;
  }

  add(username: string, password: string, storedHash: string): void {
    const id = this.id(username, password);
    this.entries.delete(id);
    this.entries.set(id, { storedHash, expires: this.now() + this.ttlMs });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  private id(username: string, password: string): string {
    return createHmac('sha256', this.key)
      .update(username)
      .update('\0')
      .update(password)
      .digest('base64');
  }
}
