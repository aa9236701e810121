// Recently verified credentials, so that a client opening many connections (a phone app with
// one IMAP connection per folder, a sync tool, 10,000 IDLE sessions) costs one scrypt per
// password and not one per connection (~60 ms of CPU each). Dovecot keeps such an auth cache.
//
// An entry is keyed by a SHA-256 of a secret made at start and never stored, the username and
// the password, so the cache holds no password; its value is the stored hash the password
// matched, so a password change (a new hash) misses at once. Only successes are cached: every
// wrong password still costs a full scrypt and the throttle. The digest is the one-shot
// crypto.hash of one string (about 1 us) rather than an HMAC object (about 8 us, once per
// login: issue 19); as a lookup key under a secret prefix it gives what the HMAC gave (a
// memory dump holding the secret lets a guesser test passwords against either as fast).
import { hash, randomBytes } from 'node:crypto';

/** How long a verification is trusted without hashing again. */
export const VERIFIED_TTL_MS = 10 * 60 * 1000;
/** Entries kept (the oldest go first); about 150 bytes each. */
export const VERIFIED_MAX = 10_000;

export class VerifiedCache {
  private readonly key = randomBytes(32).toString('base64');
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
    // Neither a username nor a password holds NUL (password.ts, RFC 4616 §2): the joined
    // string stands for one pair only.
    return hash('sha256', `${this.key}\0${username}\0${password}`, 'base64');
  }
}
