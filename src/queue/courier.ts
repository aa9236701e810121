// The courier: carries one message to a route's hosts with the SMTP client. Hosts are tried
// in order (RFC 5321 §5.1: the next MX when one cannot be reached or refuses the session);
// sessions are kept open a few seconds after a message and reused for the next message to
// the same host (Postfix's connection cache does the same).
import type { Logger } from '../log.js';
import {
  type ClientOptions,
  connectSmtp,
  type SmtpClientConnection,
  SmtpClientError,
} from '../smtp/client/connection.js';
import type { Route, RouteHost, SendRequest, SendResult } from './types.js';
import type { Courier } from './worker.js';

export interface CourierOptions {
  client: ClientOptions;
  /** How long an idle session is kept for reuse. */
  idleMs?: number;
  /**
   * Idle sessions kept per host at least. More are kept while the host's sessions, idle and in
   * use, are no more than were in use at once within the last idleMs: at 50 attempts at once,
   * a cap of 10 would close 40 sessions after their message and open new ones for the next.
   */
  maxIdlePerHost?: number;
  log: Logger;
}

/**
 * Sessions to one host out of the cache (sending) now, and the most at once in the current
 * window of idleMs and in the one before (so a need is remembered for one to two windows).
 */
interface Use {
  now: number;
  windowPeak: number;
  lastWindowPeak: number;
  windowStart: number;
}

interface Idle {
  conn: SmtpClientConnection;
  timer: NodeJS.Timeout;
}

export class SmtpCourier implements Courier {
  private readonly idle = new Map<string, Idle[]>();
  private readonly inUse = new Map<string, Use>();
  private readonly idleMs: number;
  private readonly maxIdle: number;
  private closed = false;

  constructor(private readonly opts: CourierOptions) {
    this.idleMs = opts.idleMs ?? 5000;
    this.maxIdle = opts.maxIdlePerHost ?? 10;
  }

  async send(route: Extract<Route, { kind: 'hosts' }>, req: SendRequest): Promise<SendResult> {
    let told = false;
    const sessionFree = () => {
      if (told) return;
      told = true;
      req.onSessionFree?.();
    };
    try {
      return await this.sendVia(route, req, sessionFree);
    } finally {
      sessionFree();
    }
  }

  private async sendVia(
    route: Extract<Route, { kind: 'hosts' }>,
    req: SendRequest,
    sessionFree: () => void,
  ): Promise<SendResult> {
    const started = Date.now();
    let last: SmtpClientError | null = null;
    for (const host of route.hosts) {
      const key = keyOf(host);
      const reused = this.takeIdle(key);
      if (reused) {
        const r = await this.sendOn(key, reused, req, sessionFree);
        // A cached session the remote had closed meanwhile: nothing was decided, go fresh.
        if (reused.usable || !r.recipients.every((o) => o.status === 'deferred' && !o.reply)) {
          return r;
        }
        reused.close();
      }
      let conn: SmtpClientConnection | undefined;
      // A session being opened counts as in use: sends that start while others are still
      // connecting are one burst, and all its sessions are kept for the next.
      const u = this.useOf(key);
      u.now++;
      try {
        conn = await this.connect(host, route);
      } catch (err) {
        if (!(err instanceof SmtpClientError)) throw err;
        this.opts.log.info(
          { host: host.name, ip: err.info?.ip, kind: err.kind },
          `smtp client: ${err.message}`,
        );
        last = err;
        continue;
      } finally {
        u.now--;
        // A host that could not be reached leaves no count behind.
        if (conn === undefined) this.forget(key);
      }
      return this.sendOn(key, conn, req, sessionFree);
    }
    // No host took the session: every recipient waits for the next attempt.
    const reason = last ? `${last.message}` : 'no host to try';
    return {
      recipients: req.recipients.map((r) => ({
        address: r.address,
        status: 'deferred',
        reply: last?.reply ?? null,
        diagnostic: `${enhancedOf(last)} ${reason}`,
      })),
      info: {
        host: last?.info?.host ?? route.hosts[0]?.name ?? '',
        ip: last?.info?.ip ?? null,
        port: last?.info?.port ?? 0,
        tls: last?.info?.tls ?? null,
        durationMs: Date.now() - started,
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.all(
      all.map((i) => {
        clearTimeout(i.timer);
        return i.conn.quit().catch(() => {});
      }),
    );
  }

  private async connect(host: RouteHost, route: Extract<Route, { kind: 'hosts' }>) {
    const client = { ...this.opts.client, log: this.opts.log };
    try {
      return await connectSmtp(host, client);
    } catch (err) {
      // RFC 3207 §4.1 / RFC 7435: a failed opportunistic handshake is retried in clear, unless
      // a policy asked for TLS (then the host's tls is 'required' and no retry is offered).
      if (err instanceof SmtpClientError && err.retryInClear && route.mtaSts !== 'enforce') {
        return connectSmtp(host, { ...client, noStartTls: true });
      }
      throw err;
    }
  }

  /**
   * One message on a session, counted as in use for the host until the session can take the
   * next message; then it goes back to the cache (with PIPELINING that is as soon as the
   * message is on the wire, and the next message's commands follow it before its reply).
   */
  private async sendOn(
    key: string,
    conn: SmtpClientConnection,
    req: SendRequest,
    sessionFree: () => void,
  ): Promise<SendResult> {
    const u = this.useOf(key);
    u.now++;
    let freed = false;
    const free = (early: boolean) => {
      if (freed) return;
      freed = true;
      u.now--;
      this.keep(key, conn);
      // At the end of the send the caller tells (after a retry on a fresh session, if any).
      if (early) sessionFree();
    };
    try {
      return await conn.send(req, free);
    } finally {
      free(false);
    }
  }

  /** The host's use count, its window moved on to now (u.now++ then also counts the peak). */
  private useOf(key: string): Use {
    const now = Date.now();
    const u = this.inUse.get(key) ?? { now: 0, windowPeak: 0, lastWindowPeak: 0, windowStart: now };
    this.inUse.set(key, u);
    if (now - u.windowStart > this.idleMs) {
      // A new window: what the last one needed is still wanted; older needs are forgotten.
      u.lastWindowPeak = now - u.windowStart > 2 * this.idleMs ? 0 : u.windowPeak;
      u.windowPeak = 0;
      u.windowStart = now;
    }
    // The peak is taken after the caller's increment: count one more than now.
    u.windowPeak = Math.max(u.windowPeak, u.now + 1);
    return u;
  }

  private takeIdle(key: string): SmtpClientConnection | null {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const i = list.pop()!;
      clearTimeout(i.timer);
      if (i.conn.usable) return i.conn;
      i.conn.close();
    }
    return null;
  }

  private keep(key: string, conn: SmtpClientConnection): void {
    const list = this.idle.get(key) ?? [];
    const u = this.inUse.get(key);
    const peak = u ? Math.max(u.windowPeak, u.lastWindowPeak) : 0;
    const wanted = list.length < this.maxIdle || (u !== undefined && u.now + list.length < peak);
    if (this.closed || !conn.usable || !wanted) {
      void conn.quit().catch(() => {});
      this.forget(key);
      return;
    }
    const entry: Idle = {
      conn,
      timer: setTimeout(() => {
        const l = this.idle.get(key);
        const at = l?.indexOf(entry) ?? -1;
        if (l && at >= 0) l.splice(at, 1);
        if (l && l.length === 0) this.idle.delete(key);
        this.forget(key);
        void conn.quit().catch(() => {});
      }, this.idleMs),
    };
    entry.timer.unref();
    list.push(entry);
    this.idle.set(key, list);
  }

  /** Drops a host's use count once it has neither sessions in use nor idle ones. */
  private forget(key: string): void {
    if (this.inUse.get(key)?.now === 0 && !this.idle.has(key)) this.inUse.delete(key);
  }
}

function keyOf(h: RouteHost): string {
  return `${h.name}|${h.port}|${h.tls}|${h.auth?.user ?? ''}`;
}

/** RFC 3463 code for a session that could not be had. */
function enhancedOf(err: SmtpClientError | null): string {
  if (err?.reply?.enhanced)
    return err.reply.enhanced.startsWith('5') ? '4.4.0' : err.reply.enhanced;
  switch (err?.kind) {
    case 'connect':
    case 'timeout':
    case 'closed':
      return '4.4.1';
    case 'tls':
    case 'tls-required':
      return '4.7.5';
    case 'auth':
      return '4.7.0';
    default:
      return '4.4.0';
  }
}
