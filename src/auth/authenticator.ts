// One place that decides whether a username and password log in, for every protocol: SMTP
// AUTH, IMAP LOGIN/AUTHENTICATE, POP3 USER/PASS and AUTH. It applies the brute-force throttle
// (throttle.ts), queues password hashing through a bounded pool (hash-pool.ts), checks the
// password in constant-ish time whether or not the account exists, refuses to act for another
// identity, and logs the outcome (never the password).
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { appPasswordId, verifyAppPassword } from './app-password.js';
import { HashPool } from './hash-pool.js';
import { DEFAULT_SCRYPT_PARAMS, hashPassword, needsRehash, type ScryptParams } from './password.js';
import { isUsableStoredHash, verifyStoredHash } from './stored-hash.js';
import type { LoginThrottle } from './throttle.js';
import { VerifiedCache } from './verified-cache.js';

export interface AccountRecord {
  id: number;
  address: string;
  passwordHash: string;
  disabled?: boolean;
  /** When an administrator last lifted the account's lockouts (ms since the epoch). */
  unlockedAt?: number | null;
}

/** Where the authenticator finds an account's app passwords (app-password.ts). */
export interface AppPasswordSource {
  find(
    accountId: number,
    id: string,
  ): Promise<{ name: string; hash: string; lastUsedAt: number | null } | null>;
  /** Notes a login with it; called at most once per TOUCH_INTERVAL_MS per app password. */
  touch(accountId: number, id: string, at: number): Promise<void>;
}

export type AuthProtocol = 'smtp' | 'imap' | 'pop3' | 'http';

export interface AuthRequest {
  /** The authentication identity: the account's full address. */
  username: string;
  password: string;
  /** SASL authorization identity; empty or absent means "myself". */
  authzid?: string;
  ip: string;
  protocol: AuthProtocol;
  /** The connection's id and listener name (net/connection.ts), for the log lines. */
  conn?: string;
  listener?: string;
}

/**
 * locked: the throttle refused the attempt; busy: too many password checks are queued. Both are
 * temporary, and neither says anything about the password, which was not checked.
 */
export type AuthFailureReason = 'invalid' | 'locked' | 'busy' | 'disabled' | 'authz-mismatch';

/** A failure the client may retry later with the same credentials. */
export function isTemporaryAuthFailure(reason: AuthFailureReason): boolean {
  return reason === 'locked' || reason === 'busy';
}

export type AuthResult =
  | {
      ok: true;
      account: { id: number; address: string };
      /** The name of the app password that logged in; absent for the main password. */
      appPassword?: string;
    }
  | { ok: false; reason: AuthFailureReason; retryAfterMs?: number };

export interface AuthenticatorOptions {
  /** Find an account by its lower-cased address; null when there is none. */
  lookup: (username: string) => Promise<AccountRecord | null>;
  throttle: LoginThrottle;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
  /** Parameters for new hashes and for the timing decoy; tests pass cheap ones. */
  hashParams?: ScryptParams;
  /**
   * Called after a successful login whose stored hash is foreign (`{SCHEME}`, stored-hash.ts)
   * or uses other parameters than hashParams, with the hash the login matched and a fresh one
   * to store in its place only if it is still that one (a password set meanwhile wins); true
   * when it was replaced. Errors are logged and otherwise ignored.
   */
  rehash?: (accountId: number, oldHash: string, newHash: string) => Promise<boolean>;
  /** Recently verified credentials (verified-cache.ts); null turns the cache off. */
  verified?: VerifiedCache | null;
  /** Where password hashes wait their turn; default a HashPool with default bounds. */
  pool?: HashPool;
  /** App passwords; absent: only main passwords log in. */
  appPasswords?: AppPasswordSource;
  /** Hears every decision (monitoring): success, a failure reason, or 'error' (store down). */
  onResult?: (protocol: AuthProtocol, result: 'success' | AuthFailureReason | 'error') => void;
}

/** An app password's last use is written at most this often (it is shown by `list`). */
const TOUCH_INTERVAL_MS = 3600_000;

// RFC 5321 §4.5.3.1: a local part is at most 64 octets and a domain at most 255, so no
// address is longer than this; a longer "username" is not worth a database query.
const MAX_USERNAME_LENGTH = 64 + 1 + 255;

/** Suggested wait after 'busy': about what the queue takes to drain. */
const BUSY_RETRY_MS = 5000;

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

export class Authenticator {
  private readonly lookup: AuthenticatorOptions['lookup'];
  private readonly throttle: LoginThrottle;
  private readonly log: Logger;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly hashParams: ScryptParams;
  private readonly rehash: AuthenticatorOptions['rehash'];
  private decoyHash: Promise<string> | undefined;
  private readonly verified: VerifiedCache | null;
  private readonly pool: HashPool;
  private readonly appPasswords: AppPasswordSource | undefined;
  private readonly onResult: AuthenticatorOptions['onResult'];
  /**
   * Verifications running now, by credentials: a client opening ten connections at once
   * (Thunderbird opens five, a phone one per folder) costs one hash, not ten, and the nine
   * others do not take places in the pool. Keyed by an HMAC under a key never stored, as in
   * verified-cache.ts. Unknown accounts are coalesced the same way, so that timing does not
   * tell them apart.
   */
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly inflightKey = randomBytes(32);

  constructor(opts: AuthenticatorOptions) {
    this.lookup = opts.lookup;
    this.throttle = opts.throttle;
    this.log = opts.log;
    this.sleep = opts.sleep ?? defaultSleep;
    this.hashParams = opts.hashParams ?? DEFAULT_SCRYPT_PARAMS;
    this.rehash = opts.rehash;
    this.verified = opts.verified === undefined ? new VerifiedCache() : opts.verified;
    this.pool = opts.pool ?? new HashPool();
    this.appPasswords = opts.appPasswords;
    this.onResult = opts.onResult;
  }

  /**
   * Decide a login. Bad credentials are a result, never an exception; the promise rejects only
   * when lookup does (the store is down), which callers answer as a temporary failure.
   */
  async authenticate(req: AuthRequest): Promise<AuthResult> {
    if (!this.onResult) return this.decide(req);
    let result: AuthResult;
    try {
      result = await this.decide(req);
    } catch (err) {
      this.onResult(req.protocol, 'error');
      throw err;
    }
    this.onResult(req.protocol, result.ok ? 'success' : result.reason);
    return result;
  }

  private async decide(req: AuthRequest): Promise<AuthResult> {
    // Addresses are looked up case-insensitively: local parts are case-sensitive in theory
    // (RFC 5321 §2.4) but no one creates two accounts that differ only in case.
    const username = req.username.toLowerCase();
    const ctx = {
      event: 'auth',
      protocol: req.protocol,
      listener: req.listener,
      conn: req.conn,
      ip: req.ip,
      username,
    };

    const plausible = username.length > 0 && username.length <= MAX_USERNAME_LENGTH;
    let account: AccountRecord | null | undefined;
    let decision = await this.throttle.check(req.ip, username);
    if (!decision.allowed && plausible) {
      // An administrator may have lifted this lockout since (`user unlock`, recorded in the
      // store by another process): only refused attempts pay for this lookup.
      account = await this.lookup(username);
      if (await this.liftIfUnlocked(account, ctx)) {
        decision = await this.throttle.check(req.ip, username);
      }
    }
    // A source with recent failures waits before its attempt is even looked at, so hanging up
    // early gains nothing. Attempts made in parallel all waited; those the others' failures
    // have locked out meanwhile are refused when they wake.
    if (decision.allowed && decision.delayMs > 0) {
      await this.sleep(decision.delayMs);
      decision = await this.throttle.check(req.ip, username);
    }
    if (!decision.allowed) {
      this.log.warn(
        { ...ctx, reason: 'locked', scope: decision.scope, retryAfterMs: decision.retryAfterMs },
        'authentication refused',
      );
      return { ok: false, reason: 'locked', retryAfterMs: decision.retryAfterMs };
    }

    // RFC 4422 §3.4.1: an authorization identity other than the authentication identity asks
    // to act as someone else, which no account may do here. Refused before the password is
    // checked, so the answer says nothing about the password, and not counted as a failure.
    if (req.authzid !== undefined && req.authzid !== '' && req.authzid.toLowerCase() !== username) {
      this.log.warn(
        { ...ctx, reason: 'authz-mismatch', authzid: req.authzid },
        'authentication failed',
      );
      return { ok: false, reason: 'authz-mismatch' };
    }

    if (account === undefined) {
      account = plausible ? await this.lookup(username) : null;
      // Forget failures from before an unlock, so that they do not lock the account again.
      await this.liftIfUnlocked(account, ctx);
    }
    if (account !== null && req.protocol !== 'http') {
      const app = await this.checkAppPassword(account, req.password);
      if (app !== null) return this.succeeded(ctx, account, req, app);
    }
    let storedHash = account?.passwordHash;
    if (account !== null && storedHash !== undefined && !isUsableStoredHash(storedHash)) {
      this.log.error({ ...ctx, accountId: account.id }, 'stored password hash is malformed');
      storedHash = undefined;
    }
    // No account (or an unusable hash): verify against a decoy hash anyway, so the answer takes
    // as long as for a real account and timing does not reveal which addresses exist.
    const cached =
      storedHash !== undefined && this.verified?.has(username, req.password, storedHash) === true;
    let matched = cached;
    if (!cached) {
      const key = createHmac('sha256', this.inflightKey)
        .update(username)
        .update('\0')
        .update(req.password)
        .update('\0')
        .update(storedHash ?? '')
        .digest('base64');
      let job = this.inflight.get(key) ?? null;
      if (job === null) {
        // Pairs that logged in before go first: a flood of guesses from elsewhere cannot make
        // the real user wait behind it (issue 15, item 11).
        job = this.pool.submit(
          async () => verifyStoredHash(req.password, storedHash ?? (await this.decoy())),
          decision.trusted ? 'high' : 'normal',
          this.throttle.sourceKey(req.ip),
        );
        if (job === null) {
          this.log.warn({ ...ctx, reason: 'busy', pool: this.pool.size }, 'authentication refused');
          return { ok: false, reason: 'busy', retryAfterMs: BUSY_RETRY_MS };
        }
        this.inflight.set(key, job);
        const forget = () => this.inflight.delete(key);
        job.then(forget, forget);
      }
      matched = await job;
    }
    const ok = matched && account !== null && storedHash !== undefined;
    if (ok && !cached && storedHash !== undefined)
      this.verified?.add(username, req.password, storedHash);

    if (!ok || account === null) {
      // Counted for unknown addresses too: otherwise "locked" would only ever be answered for
      // accounts that exist.
      await this.throttle.recordFailure(req.ip, username);
      this.log.warn({ ...ctx, reason: 'invalid' }, 'authentication failed');
      return { ok: false, reason: 'invalid' };
    }
    return this.succeeded(ctx, account, req, null);
  }

  /** After a correct password (main or app): the disabled check, trust, rehash, the log. */
  private async succeeded(
    ctx: Record<string, unknown>,
    account: AccountRecord,
    req: AuthRequest,
    app: string | null,
  ): Promise<AuthResult> {
    const appField = app === null ? {} : { appPassword: app };
    if (account.disabled === true) {
      // Said only after a correct password, so it reveals nothing to a guesser.
      this.log.warn(
        { ...ctx, ...appField, reason: 'disabled', accountId: account.id },
        'authentication failed',
      );
      return { ok: false, reason: 'disabled' };
    }
    await this.throttle.recordSuccess(req.ip, req.username.toLowerCase());
    // Only the main password's hash is upgraded, never from an app password.
    if (app === null) {
      await this.maybeRehash(account, req.password, req.ip);
    }
    this.log.info({ ...ctx, ...appField, accountId: account.id }, 'authentication succeeded');
    return {
      ok: true,
      account: { id: account.id, address: account.address },
      ...(app === null ? {} : { appPassword: app }),
    };
  }

  /**
   * The name of the account's app password this is, or null (not shaped like one, no such id,
   * or not matching: then it is checked as the main password, as any other text would be).
   */
  private async checkAppPassword(account: AccountRecord, password: string) {
    const id = this.appPasswords === undefined ? null : appPasswordId(password);
    if (id === null || this.appPasswords === undefined) return null;
    const found = await this.appPasswords.find(account.id, id);
    if (found === null || !verifyAppPassword(password, found.hash)) return null;
    const now = Date.now();
    if (found.lastUsedAt === null || now - found.lastUsedAt >= TOUCH_INTERVAL_MS) {
      this.appPasswords.touch(account.id, id, now).catch((err: unknown) => {
        this.log.error({ err, accountId: account.id }, 'could not note an app password’s use');
      });
    }
    return found.name;
  }

  /** Applies an administrator's unlock recorded with the account; true when it lifted one. */
  private async liftIfUnlocked(
    account: AccountRecord | null,
    ctx: { ip: string; username: string; [field: string]: unknown },
  ): Promise<boolean> {
    const at = account?.unlockedAt;
    if (at === undefined || at === null) return false;
    const lifted = await this.throttle.lift(ctx.ip, ctx.username, at);
    if (lifted) {
      // The attempt's fields (connection, listener), as on every auth line.
      this.log.info(
        { ...ctx, unlockedAt: new Date(at).toISOString() },
        'lockout lifted by an administrator',
      );
    }
    return lifted;
  }

  private decoy(): Promise<string> {
    // Made once, on first need, with the same parameters as real hashes.
    if (this.decoyHash === undefined) {
      this.decoyHash = hashPassword(randomBytes(18).toString('base64'), this.hashParams);
    }
    return this.decoyHash;
  }

  private async maybeRehash(account: AccountRecord, password: string, ip: string) {
    const { id, passwordHash: stored } = account;
    // A foreign hash never parses as ours, so it is always replaced (issue 18 item 3).
    if (this.rehash === undefined || !needsRehash(stored, this.hashParams)) return;
    // After a correct password, so with priority; when even that queue is full, the next
    // login will do it.
    const job = this.pool.submit(
      () => hashPassword(password, this.hashParams),
      'high',
      this.throttle.sourceKey(ip),
    );
    if (job === null) return;
    try {
      const fresh = await job;
      if (await this.rehash(id, stored, fresh)) {
        // The next connection's check finds the new hash in the cache instead of hashing again.
        this.verified?.add(account.address.toLowerCase(), password, fresh);
        this.log.info({ accountId: id }, 'password hash upgraded to the server’s scheme');
      }
    } catch (err) {
      this.log.error({ err, accountId: id }, 'could not store the upgraded password hash');
    }
  }
}

/** Short text for a failed login, fit to show a client after the protocol's error code. */
export function authErrorText(reason: AuthFailureReason): string {
  switch (reason) {
    case 'invalid':
      return 'Invalid credentials';
    case 'locked':
      return 'Too many failed attempts, try again later';
    case 'busy':
      return 'Server busy, try again later';
    case 'disabled':
      return 'Account disabled';
    case 'authz-mismatch':
      return 'Not authorized to act as that identity';
  }
}
