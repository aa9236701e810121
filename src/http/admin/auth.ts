// Who may use the admin API: the holder of the admin token, or a session opened with it or
// with an admin account's password (POST /api/v1/session). Sessions live in this process's
// memory for SESSION_MS, found by the SHA-256 of their text (the map never holds a usable
// token); the admin token is compared as a digest in constant time (timingSafeEqual).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Authenticator } from '../../auth/authenticator.js';
import type { LoginThrottle } from '../../auth/throttle.js';
import type { Logger } from '../../log.js';
import type { MailStore } from '../../store/types.js';

export type Principal = { kind: 'token' } | { kind: 'account'; username: string };

export const SESSION_MS = 12 * 3600_000;
/** Sessions kept at most; the oldest go first (each is about 200 bytes). */
export const MAX_SESSIONS = 10_000;

interface Session {
  principal: Principal;
  expires: number;
}

export type LoginResult =
  | { ok: true; session: string; expires: Date; principal: Principal }
  | { ok: false; reason: 'unauthorized' }
  | { ok: false; reason: 'throttled'; retryAfterMs: number };

export interface AdminAuthOptions {
  /** The admin token; null: none configured (only admin accounts can sign in). */
  token: string | null;
  authenticator?: Authenticator;
  throttle?: LoginThrottle;
  store: MailStore;
  log: Logger;
  now?: () => number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The token of an `Authorization: Bearer` field (RFC 6750 §2.1, scheme case-insensitive). */
export function bearerOf(header: string | undefined): string | null {
  const m = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header ?? '');
  return m ? m[1]! : null;
}

export class AdminAuth {
  private readonly token: Buffer | null;
  private readonly sessions = new Map<string, Session>();
  private readonly now: () => number;

  constructor(private readonly opts: AdminAuthOptions) {
    this.token = opts.token === null ? null : digest(opts.token);
    this.now = opts.now ?? Date.now;
  }

  private isToken(given: string): boolean {
    // Compared even without a token, so that the timing is the same either way.
    const ok = timingSafeEqual(
      digest(given),
      this.token ?? digest(randomBytes(32).toString('hex')),
    );
    return ok && this.token !== null;
  }

  /** Who the bearer token of the request is, or null (no token, a wrong or expired one). */
  async verify(header: string | undefined): Promise<Principal | null> {
    const given = bearerOf(header);
    if (given === null) return null;
    if (this.isToken(given)) return { kind: 'token' };
    const key = digest(given).toString('base64');
    const s = this.sessions.get(key);
    if (s === undefined) return null;
    if (s.expires <= this.now()) {
      this.sessions.delete(key);
      return null;
    }
    // An account's session lasts only while it is an enabled admin account: a role taken away
    // or an account disabled or removed ends its sessions at their next request.
    if (s.principal.kind === 'account') {
      const a = await this.opts.store.getAccount(s.principal.username);
      if (!a?.admin || a.disabled) {
        this.sessions.delete(key);
        return null;
      }
    }
    return s.principal;
  }

  /**
   * Opens a session from the admin token or an admin account's password. Both go through the
   * login throttle: a wrong token counts against the source as a wrong password does.
   */
  async login(
    creds: { token: string } | { username: string; password: string },
    ip: string,
  ): Promise<LoginResult> {
    const log = this.opts.log;
    if ('token' in creds) {
      const throttle = this.opts.throttle;
      const decision = await throttle?.check(ip);
      if (decision && !decision.allowed) {
        return { ok: false, reason: 'throttled', retryAfterMs: decision.retryAfterMs };
      }
      if (!this.isToken(creds.token)) {
        await throttle?.recordFailure(ip);
        log.warn({ event: 'admin-login', ip, kind: 'token' }, 'admin sign-in refused');
        return { ok: false, reason: 'unauthorized' };
      }
      log.info({ event: 'admin-login', ip, kind: 'token' }, 'admin signed in');
      return this.open({ kind: 'token' });
    }
    const auth = this.opts.authenticator;
    if (auth === undefined) return { ok: false, reason: 'unauthorized' };
    // protocol http: the main password only, never an app password (authenticator.ts).
    const r = await auth.authenticate({
      username: creds.username,
      password: creds.password,
      ip,
      protocol: 'http',
      listener: 'http',
    });
    if (!r.ok) {
      if (r.reason === 'locked' || r.reason === 'busy') {
        return { ok: false, reason: 'throttled', retryAfterMs: r.retryAfterMs ?? 5000 };
      }
      return { ok: false, reason: 'unauthorized' };
    }
    const a = await this.opts.store.getAccount(r.account.address);
    if (!a?.admin) {
      log.warn(
        { event: 'admin-login', ip, kind: 'account', username: r.account.address },
        'admin sign-in refused: not an administrator',
      );
      return { ok: false, reason: 'unauthorized' };
    }
    log.info({ event: 'admin-login', ip, kind: 'account', username: a.address }, 'admin signed in');
    return this.open({ kind: 'account', username: a.address });
  }

  /** Ends the session the request carries (the admin token itself cannot be ended). */
  logout(header: string | undefined): void {
    const given = bearerOf(header);
    if (given !== null) this.sessions.delete(digest(given).toString('base64'));
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private open(principal: Principal): LoginResult {
    const now = this.now();
    for (const [k, s] of this.sessions) {
      if (s.expires <= now || this.sessions.size >= MAX_SESSIONS) this.sessions.delete(k);
      else break;
    }
    const session = randomBytes(32).toString('base64url');
    const expires = now + SESSION_MS;
    this.sessions.set(digest(session).toString('base64'), { principal, expires });
    return { ok: true, session, expires: new Date(expires), principal };
  }
}
