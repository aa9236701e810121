// Composition root: config -> store, TLS, authenticator, listeners; start and stop.

import type net from 'node:net';
import { AcmeChallenges, acmeChallengeType } from './acme/challenges.js';
import type { AcmeInternals, AcmeManager } from './acme/manager.js';
import { TlsAlpnChallenges } from './acme/tls-alpn.js';
import { Authenticator } from './auth/authenticator.js';
import { HashPool } from './auth/hash-pool.js';
import { plaintextPolicy } from './auth/plaintext.js';
import { AuthThrottle } from './auth/throttle.js';
import type { Config, ListenerName, TlsMode } from './config/schema.js';
import { LISTENER_NAMES } from './config/schema.js';
import { adminApi } from './http/admin/api.js';
import { AdminAuth } from './http/admin/auth.js';
import { ADMIN_TOKEN_ENV, loadAdminToken, tokenFileWarning } from './http/admin/token.js';
import { autoconfigRoutes } from './http/autoconfig/routes.js';
import { ServerMetrics } from './http/metrics.js';
import { type HttpListener, type ServerPhase, startHttp } from './http/server.js';
import { webAdminRoutes } from './http/web/static.js';
import { imapProtocol } from './imap/index.js';
import type { Logger } from './log.js';
import { withEveryBusyPort } from './net/busy-ports.js';
import type { Connection } from './net/connection.js';
import { startHandoffListener } from './net/handoff-listener.js';
import { ConnectionLimiter } from './net/limits.js';
import { ListenError, type Listener, startListener } from './net/listener.js';
import { MemoryBudget } from './net/memory-budget.js';
import { certificateCovers, TlsProvider, tlsOptionsOf } from './net/tls.js';
import { pop3Protocol } from './pop3/index.js';
import { type QueueInternals, startQueueWorker } from './queue/index.js';
import { loadOrCreateSrsSecret, Srs } from './queue/srs.js';
import { smtpProtocol } from './smtp/index.js';
import { openStore } from './store/open.js';
import type { MailStore } from './store/types.js';

/** What every protocol session gets from the server. */
export interface ServerContext {
  cfg: Config;
  store: MailStore;
  log: Logger;
  tls: TlsProvider;
  auth: Authenticator;
  /** Message bytes held in memory by all sessions together (limits.message_memory). */
  memory: MemoryBudget;
  /** Sender rewriting of forwarded mail (key in data_dir/srs.key). */
  srs: Srs;
  /** What /metrics exports; sessions record their commands into it. */
  metrics: ServerMetrics;
}

/** A protocol whose sessions this process runs, one Connection each. */
export interface SessionProtocol {
  handler: (conn: Connection, ctx: { shuttingDown: AbortSignal }) => Promise<void>;
  onTooMany?: (conn: Connection) => Promise<void>;
}

/** A protocol whose sessions run elsewhere (POP3 workers): each raw socket is handed over. */
export interface HandoffProtocol {
  /** `head`: bytes already read from the socket, to be served ahead of the rest. */
  handoff: (socket: net.Socket, refuse: boolean, head?: Buffer) => Promise<void>;
  shutdown: (deadlineMs: number) => Promise<void>;
}

export type ProtocolModule = SessionProtocol | HandoffProtocol;

export type ProtocolFactory = (
  ctx: ServerContext,
  listener: { name: ListenerName; tls: TlsMode },
) => ProtocolModule;

/** A factory whose sessions always run in this process. */
export type SessionProtocolFactory = (
  ctx: ServerContext,
  listener: { name: ListenerName; tls: TlsMode },
) => SessionProtocol;

/** Protocol engines by listener. A listener whose protocol is not here is not started. */
export const PROTOCOLS: Partial<Record<ListenerName, ProtocolFactory>> = {
  smtp: smtpProtocol,
  submission: smtpProtocol,
  submissions: smtpProtocol,
  imap: imapProtocol,
  imaps: imapProtocol,
  pop3: pop3Protocol,
  pop3s: pop3Protocol,
};

export interface RunningListener {
  name: ListenerName;
  host: string;
  port: number;
  tls: TlsMode;
}

export interface RunningServer {
  ctx: ServerContext;
  listeners: RunningListener[];
  /** Configured and enabled, but with no protocol engine in this build. */
  unavailable: ListenerName[];
  /** With `[tls.acme]`: the certificate manager (src/acme/). */
  acme?: AcmeManager;
  /** With `[tls.acme]` validated by TLS-ALPN-01: the challenges the TLS listeners answer. */
  tlsAlpn?: TlsAlpnChallenges;
  reloadTls(): void;
  stop(): Promise<void>;
}

/** Test hooks: what a test replaces of the outside world. */
export interface ServerInternals {
  queue?: QueueInternals;
  acme?: AcmeInternals;
}

export async function startServer(
  cfg: Config,
  log: Logger,
  internals: ServerInternals = {},
): Promise<RunningServer> {
  const tls = TlsProvider.load(tlsOptionsOf(cfg.tlsFiles));
  // Read once at the start (a ConfigError stops it); never logged. Taken out of the
  // environment, so that the processes this one starts (POP3 workers) do not inherit it.
  const adminToken = cfg.listeners.http.enabled ? loadAdminToken(cfg) : null;
  const tokenWarning = adminToken === null ? null : tokenFileWarning(cfg);
  if (tokenWarning !== null) log.warn(tokenWarning);
  delete process.env[ADMIN_TOKEN_ENV];
  const metrics = new ServerMetrics();
  let phase: ServerPhase = 'starting';
  warnIfNotCovered(cfg, tls, log);
  // The responder of the challenge the CA is asked for: HTTP-01 on the http listener, or
  // TLS-ALPN-01 on every implicit-TLS listener.
  const challenge = cfg.tls.acme ? acmeChallengeType(cfg) : undefined;
  const acmeChallenges = challenge === 'http-01' ? new AcmeChallenges() : undefined;
  const tlsAlpn = challenge === 'tls-alpn-01' ? new TlsAlpnChallenges(log) : undefined;
  let acme: AcmeManager | undefined;
  const store = await openStore(cfg, {
    onListenerError: (err) => log.error({ err }, 'change listener failed'),
    onFtsError: (err) => log.error({ err }, 'full-text index failed'),
    onCommitGroup: (commits, seconds) => metrics.commitGroup(commits, seconds),
  });
  const throttleOptions = {
    maxFailuresPerIp: cfg.auth.max_failures_per_ip,
    maxFailuresPerAccount: cfg.auth.max_failures_per_account,
    lockoutMs: cfg.auth.lockout_seconds * 1000,
    delayStepMs: cfg.auth.failure_delay_ms,
    maxDelayMs: cfg.auth.max_failure_delay_ms,
    trustMs: cfg.auth.trusted_source_days * 86_400_000,
  };
  // Over PostgreSQL every node counts the same failures (issue 17 item 4).
  const throttle =
    store.sharedLoginThrottle?.(throttleOptions) ?? new AuthThrottle(throttleOptions);
  const hashes = cfg.auth.max_concurrent_hashes;
  const pool = new HashPool({
    concurrency: hashes === 'auto' ? undefined : hashes,
    maxQueued: cfg.auth.max_queued_hashes,
  });
  const auth = new Authenticator({
    lookup: async (username) => {
      const a = await (store.loginAccount
        ? store.loginAccount(username)
        : store.getAccount(username));
      return (
        a && {
          id: a.id,
          address: a.address,
          passwordHash: a.passwordHash,
          disabled: a.disabled,
          unlockedAt: a.unlockedAt?.getTime() ?? null,
        }
      );
    },
    appPasswords: {
      find: async (accountId, id) => {
        const p = await store.getAppPassword(accountId, id);
        return p && { name: p.name, hash: p.hash, lastUsedAt: p.lastUsedAt?.getTime() ?? null };
      },
      touch: (accountId, id, at) => store.touchAppPassword(accountId, id, new Date(at)),
    },
    throttle,
    pool,
    log,
    rehash: (id, oldHash, newHash) => store.replacePasswordHash(id, oldHash, newHash),
    onResult: (protocol, result) => metrics.authResult(protocol, result),
  });
  const memory = new MemoryBudget(cfg.limits.message_memory);
  const srs = new Srs(await loadOrCreateSrsSecret(cfg.dataDir));
  const ctx: ServerContext = { cfg, store, log, tls, auth, memory, srs, metrics };

  const closers: Array<(deadlineMs: number) => Promise<void>> = [];
  // The HTTP listener closes last: /readyz says 503 while the others finish their sessions.
  let http: HttpListener | null = null;
  const listeners: RunningListener[] = [];
  const running = new Map<ListenerName, Listener>();
  // One count per source over all listeners (limits.max_connections_per_ip).
  const limiter = new ConnectionLimiter(cfg.limits.max_connections_per_ip);
  const unavailable: ListenerName[] = [];
  const stopAll = async (deadlineMs: number) => {
    phase = 'stopping';
    await Promise.all(closers.map((c) => c(deadlineMs)));
    await http?.close(Math.min(deadlineMs, 1000));
    metrics.close();
    await store.close();
  };
  try {
    for (const name of LISTENER_NAMES) {
      const l = cfg.listeners[name];
      if (!l.enabled) continue;
      if (name === 'http') {
        const h = await startHttp({
          host: l.address,
          port: l.port,
          store,
          log,
          routes: [
            ...autoconfigRoutes({ cfg, store }),
            ...webAdminRoutes(),
            adminApi({
              ctx: {
                store,
                cfg,
                locked: (a) => throttle.accountLocked(a.address, a.unlockedAt?.getTime() ?? null),
              },
              auth: new AdminAuth({ token: adminToken, authenticator: auth, throttle, store, log }),
              plaintext: plaintextPolicy(cfg.auth),
              log,
            }),
          ],
          tls: l.tls === 'implicit' ? tls : undefined,
          ...(tlsAlpn && l.tls === 'implicit' ? { tlsInterceptor: tlsAlpn } : {}),
          listeners: () =>
            listeners.map((r) => ({ ...r, connections: running.get(r.name)?.connections })),
          phase: () => phase,
          certificates: () => tls.certificates(),
          metrics,
          metricsToken: cfg.http.metrics_token,
          limiter,
          acmeChallenges,
          acmeStatus: cfg.tls.acme && (() => acme?.status()),
        });
        http = h;
        listeners.push({ name, tls: l.tls, ...h.address() });
        continue;
      }
      const factory = PROTOCOLS[name];
      if (!factory) {
        unavailable.push(name);
        continue;
      }
      const proto = factory(ctx, { name, tls: l.tls });
      const common = {
        name,
        host: l.address,
        port: l.port,
        limiter,
        maxConnections: cfg.limits.max_connections,
        log,
        ...(tlsAlpn && l.tls === 'implicit' ? { tlsInterceptor: tlsAlpn } : {}),
      };
      const listener =
        'handoff' in proto
          ? await startHandoffListener({ ...common, ...proto })
          : await startListener({ ...common, tls: l.tls, tlsProvider: tls, ...proto });
      closers.push((d) => listener.close(d));
      listeners.push({ name, tls: l.tls, ...listener.address() });
      running.set(name, listener);
    }
  } catch (err) {
    await stopAll(0);
    if (err instanceof ListenError) {
      // Every port in use named at once (net/busy-ports.ts), not one per attempt.
      const enabled = LISTENER_NAMES.filter((n) => cfg.listeners[n].enabled).map((n) => ({
        name: n,
        host: cfg.listeners[n].address,
        port: cfg.listeners[n].port,
      }));
      throw await withEveryBusyPort(err, enabled);
    }
    throw err;
  }
  if (cfg.queue.deliver) {
    const queue = startQueueWorker(cfg, store, log, internals.queue, srs, metrics);
    closers.push((d) => queue.stop(d));
  }
  metrics.attach({
    store,
    listeners: () => [
      ...[...running].map(([name, l]) => ({
        name,
        connections: l.connections,
        accepted: l.accepted,
      })),
      ...(http ? [{ name: 'http', connections: http.connections, accepted: http.accepted }] : []),
    ],
  });
  phase = 'ready';
  const responder = acmeChallenges ?? tlsAlpn;
  if (responder) {
    // Loaded only with [tls.acme]: acme-client and its dependencies hold about 8 MiB of heap
    // (27 MiB RSS) that a server without ACME would carry for nothing (issue 14 §4 budget).
    const { AcmeManager } = await import('./acme/manager.js');
    acme = new AcmeManager(cfg, log, tls, responder, internals.acme);
    const m = acme;
    closers.push((d) => m.stop(d));
    m.start();
  }
  log.info({ listeners }, 'letterbox started');
  return {
    ctx,
    listeners,
    unavailable,
    ...(acme ? { acme } : {}),
    ...(tlsAlpn ? { tlsAlpn } : {}),
    reloadTls: () => tls.reload(),
    stop: () => stopAll(cfg.limits.shutdown_grace_seconds * 1000),
  };
}

/** At start: a certificate that does not cover the hostname is what clients will refuse. */
function warnIfNotCovered(cfg: Config, tls: TlsProvider, log: Logger): void {
  const cert = tls.certificate();
  if (certificateCovers(cert, cfg.hostname)) return;
  log.warn(
    {
      hostname: cfg.hostname,
      subject: cert.subject,
      subjectAltName: cert.subjectAltName,
      acme: cfg.tls.acme !== undefined,
    },
    cfg.tls.acme
      ? 'the TLS certificate does not cover the hostname (until ACME replaces it)'
      : 'the TLS certificate does not cover the hostname: clients that verify it will refuse it',
  );
}
