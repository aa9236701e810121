// The configuration: every option declared once, beside its default, validated once into a
// typed, frozen object that is passed explicitly (no globals). Unknown keys are errors, so a
// typo never silently falls back to a default.
import { z } from 'zod';
import { DEFAULT_PLAINTEXT_NETWORKS, parseNetwork } from '../auth/plaintext.js';

export const TLS_MODES = ['none', 'starttls', 'implicit'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export const LISTENER_NAMES = [
  'smtp',
  'submission',
  'submissions',
  'imap',
  'imaps',
  'pop3',
  'pop3s',
  'http',
] as const;
export type ListenerName = (typeof LISTENER_NAMES)[number];

/** Unprivileged development ports (the default) and the standard ones (`init --standard-ports`). */
export const DEV_PORTS: Record<ListenerName, number> = {
  smtp: 2525,
  submission: 2587,
  submissions: 2465,
  imap: 2143,
  imaps: 2993,
  pop3: 2110,
  pop3s: 2995,
  http: 8080,
};
export const STANDARD_PORTS: Record<ListenerName, number> = {
  smtp: 25,
  submission: 587,
  submissions: 465,
  imap: 143,
  imaps: 993,
  pop3: 110,
  pop3s: 995,
  http: 8080,
};
export const DEFAULT_TLS: Record<ListenerName, TlsMode> = {
  smtp: 'starttls',
  submission: 'starttls',
  submissions: 'implicit',
  imap: 'starttls',
  imaps: 'implicit',
  pop3: 'starttls',
  pop3s: 'implicit',
  http: 'none',
};

const port = z.number().int().min(0).max(65535);

function listener(name: ListenerName) {
  return z
    .strictObject({
      enabled: z.boolean().default(true),
      address: z.string().min(1).default('127.0.0.1'),
      port: port.default(DEV_PORTS[name]),
      tls: z.enum(TLS_MODES).default(DEFAULT_TLS[name]),
    })
    .prefault({});
}

const sni = z.strictObject({
  servername: z.string().min(1),
  cert: z.string().min(1),
  key: z.string().min(1),
});

/** The ACME challenges Letterbox answers: HTTP-01 (RFC 8555 §8.3), TLS-ALPN-01 (RFC 8737). */
export const ACME_CHALLENGES = ['http-01', 'tls-alpn-01'] as const;
export type AcmeChallengeType = (typeof ACME_CHALLENGES)[number];

/**
 * `[tls.acme]`: certificates from an ACME CA (RFC 8555) for the hostname and the exact names of
 * `[[tls.sni]]`, validated by HTTP-01 on the http listener or by TLS-ALPN-01 on the implicit-TLS
 * listeners (src/acme/).
 */
const acme = z.strictObject({
  /** The CA's directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory. */
  directory: z.url({ protocol: /^https$/ }),
  /** Contact for the account (RFC 8555 §7.3): the CA writes about expiry and problems. */
  email: z.email(),
  /**
   * PEM CA certificates to trust for the directory's HTTPS, instead of the system's: for a
   * private CA (step-ca, a test CA such as pebble). Only the ACME client uses them.
   */
  ca_file: z.string().min(1).optional(),
  /**
   * Renew when fewer than this many days are left. Default: 30 days or a third of the
   * certificate's lifetime, whichever is shorter (a 90-day certificate at 30 days left).
   */
  renew_before_days: z.number().positive().optional(),
  /**
   * How the CA validates: "http-01" (it fetches http://<name>/.well-known/acme-challenge/ on
   * port 80: the http listener must be reachable there) or "tls-alpn-01" (it opens TLS to
   * <name>:443 offering ALPN acme-tls/1: port 443 must reach an implicit-TLS listener, e.g.
   * imaps or HTTPS). Default: http-01 if the http listener is plain HTTP on port 80, else
   * tls-alpn-01 if an implicit-TLS listener is enabled, else http-01 (acme/challenges.ts).
   */
  challenge: z.enum(ACME_CHALLENGES).optional(),
});

/** RFC 8314 / RFC 3207 ways of protecting a connection to a smarthost. */
export const SMARTHOST_TLS = ['starttls', 'implicit', 'opportunistic'] as const;

/** A `[[queue.routes]]` entry: mail for `domain` (or "*" for all) goes to these hosts. */
const smarthostRoute = z.strictObject({
  /** "*" for all outbound mail, else one destination domain (exact match). */
  domain: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^(\*|[a-z0-9_-]+(\.[a-z0-9_-]+)*)$/, '"*" or a domain name'),
  /** One host, or several tried in order (failover); each "name", "name:port", "[ipv6]:port". */
  host: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** Port of the hosts that do not name theirs; default 465 for implicit TLS, else 587. */
  port: port.min(1).optional(),
  /** starttls: TLS required (verified); implicit: TLS from the first byte; opportunistic. */
  tls: z.enum(SMARTHOST_TLS).default('starttls'),
  /** A file holding `user:password` for AUTH (relative paths: to the config file). */
  auth_file: z.string().min(1).optional(),
});

/** The `[queue]` keys of outbound routing (src/queue/routing.ts). */
const queueRoutingKeys = {
  /** The port MX hosts are reached on (RFC 5321: 25); tests deliver on loopback ports. */
  port: port.min(1).default(25),
  /** Smarthost routes; they override MX lookups for their domain (or all mail with "*"). */
  routes: z
    .array(smarthostRoute)
    .default([])
    .refine((rs) => new Set(rs.map((r) => r.domain)).size === rs.length, {
      message: 'two routes for the same domain',
    }),
  /** Honour the recipient domains' MTA-STS policies (RFC 8461). */
  mta_sts: z.boolean().default(true),
  /** Domains whose mail goes only over verified TLS, whatever they publish. */
  require_tls: z.array(z.string().min(1)).default([]),
  /**
   * A domain's route (MX lookup, addresses, MTA-STS) is reused this long, so a queue run to
   * one domain does not ask DNS for every message. 0: ask every time. DNS failures are never
   * reused.
   */
  route_cache_seconds: z.number().int().min(0).max(3600).default(60),
};

/** The `[queue]` keys of the queue worker (src/queue/worker.ts, schedule.ts). */
const queueWorkerKeys = {
  /** Run the worker in this process (false: mail waits in the queue, e.g. a read-only node). */
  deliver: z.boolean().default(true),
  /** Messages attempted at once, all destinations together. */
  concurrency: z.number().int().min(1).max(1000).default(50),
  /** Sessions at once to one destination domain (messages being written to it). */
  per_destination: z.number().int().min(1).max(1000).default(10),
  /**
   * Minutes to wait after the 1st, 2nd, ... failed attempt; the last repeats (RFC 5321
   * §4.5.4.1: at least 30 minutes once the first tries failed).
   */
  retry_minutes: z.array(z.number().positive()).min(1).default([5, 10, 20, 40, 60, 120, 240]),
  /** Give up (bounce with 4.4.7) after this many hours (RFC 5321 §4.5.4.1: 4-5 days). */
  max_age_hours: z.number().positive().default(120),
  /** Tell the sender after this many hours that the message is still waiting (NOTIFY=DELAY). */
  delay_notice_hours: z.number().positive().default(4),
};

/** No password in the URL: it would be logged with it, and sit in the config file. */
function urlWithoutPassword(url: string): boolean {
  try {
    return new URL(url).password === '';
  } catch {
    return false;
  }
}

/** `[store] pool_idle_seconds` when not given (docs/scaling.md, design-notes 28th session). */
const DEFAULT_POOL_IDLE_SECONDS = 300;

/**
 * `[store]`: `sqlite` (embedded, under data_dir), or `postgres` (several nodes over one
 * database, issue 17) with the password in a file or an environment variable, never in the
 * URL. A `[store]` without `kind` is sqlite.
 */
const storeSchema = z
  .preprocess(
    (v) => (v !== null && typeof v === 'object' && !('kind' in v) ? { ...v, kind: 'sqlite' } : v),
    z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('sqlite') }),
      z.strictObject({
        kind: z.literal('postgres'),
        /** postgres://user@host:port/database; a host that is a path is a unix socket dir. */
        url: z.string().min(1).refine(urlWithoutPassword, {
          message:
            'must be a postgres:// URL without a password (use password_file or password_env)',
        }),
        /** A file holding the password (relative paths: to the config file). */
        password_file: z.string().min(1).optional(),
        /** The name of an environment variable holding the password. */
        password_env: z.string().min(1).optional(),
        /** Connections of this node's pool. */
        pool_size: z.number().int().min(1).max(1000).default(10),
        /**
         * A pool connection idle this long is closed (beyond the two kept open however long
         * idle); 0: never closed. One opened again is a new backend that plans its statements
         * again (docs/scaling.md).
         */
        pool_idle_seconds: z.number().min(0).max(86_400).default(DEFAULT_POOL_IDLE_SECONDS),
        /**
         * A statement (or a new connection) the database has not answered in this time fails
         * as a temporary error and its connection is dropped: a database that hangs, or a
         * network that drops packets without a reset, does not hold sessions forever.
         */
        query_timeout_seconds: z.number().positive().max(3600).default(30),
        /** This node's name in the outbound queue's leases (default: the host name). */
        node_id: z.string().min(1).max(128).optional(),
      }),
    ]),
  )
  .prefault({});

export const configSchema = z.strictObject({
  /** The name this server gives itself in greetings, Received headers and the certificate. */
  hostname: z.string().min(1).default('localhost'),
  /** Where the store lives; relative paths are relative to the config file. */
  data_dir: z.string().min(1).default('.'),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** auto: pretty (with the date) when stdout is a terminal, else JSON lines (log.ts). */
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    })
    .prefault({}),
  tls: z
    .strictObject({
      cert: z.string().min(1).default('tls/cert.pem'),
      key: z.string().min(1).default('tls/key.pem'),
      sni: z.array(sni).default([]),
      acme: acme.optional(),
    })
    .prefault({}),
  store: storeSchema,
  search: z
    .strictObject({
      /**
       * When a message's text goes into the full-text index (SEARCH BODY / TEXT):
       * "on-search", the messages of a mailbox are indexed when it is first searched for
       * text after they arrived (that search waits for them); "on-delivery", at each delivery
       * and APPEND. Both stores take it (store/open.ts).
       */
      full_text_index: z.enum(['on-search', 'on-delivery']).default('on-search'),
    })
    .prefault({}),
  listeners: z
    .strictObject(
      Object.fromEntries(LISTENER_NAMES.map((n) => [n, listener(n)])) as {
        [K in ListenerName]: ReturnType<typeof listener>;
      },
    )
    // HTTP has no STARTTLS: its TLS is implicit (HTTPS) or none.
    .refine((l) => l.http.tls !== 'starttls', {
      message: 'http takes tls = "implicit" (HTTPS) or "none"',
      path: ['http', 'tls'],
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** Concurrent connections from one IP address, all listeners together. */
      max_connections_per_ip: z.number().int().min(1).default(50),
      /** Concurrent connections per listener. */
      max_connections: z.number().int().min(1).default(10_000),
      /** Largest message accepted (SMTP SIZE, IMAP APPENDLIMIT), bytes. */
      max_message_size: z
        .number()
        .int()
        .min(1024)
        .default(50 * 1024 * 1024),
      /**
       * Message bytes held in memory by all sessions together (DATA, BDAT, IMAP literals);
       * past it new transactions get a temporary refusal. At least max_message_size.
       */
      message_memory: z
        .number()
        .int()
        .min(1024)
        .default(512 * 1024 * 1024),
      /**
       * IMAP before login: an idle connection is closed after this long (RFC 9051 §5.4 sets
       * the 30-minute minimum only for authenticated sessions).
       */
      preauth_idle_seconds: z.number().int().min(1).default(60),
      /** Seconds of grace for sessions to finish on SIGTERM before they are cut. */
      shutdown_grace_seconds: z.number().min(0).default(10),
    })
    .prefault({})
    .refine((l) => l.message_memory >= l.max_message_size, {
      message: 'message_memory must be at least max_message_size',
      path: ['message_memory'],
    }),
  smtp: z
    .strictObject({
      /** RCPT commands per transaction; more get 452 4.5.3 (RFC 5321 §4.5.3.1.8 minimum 100). */
      max_recipients: z.number().int().min(1).default(100),
      /**
       * Pause before the MX greeting (RFC 5321 §4.3.1: the client must wait for it); a client
       * that talks first is refused. 0 turns the check off.
       */
      greet_delay_ms: z.number().int().min(0).max(30_000).default(300),
      /** Bad commands in one session before 421 and close. */
      max_errors: z.number().int().min(1).default(10),
      /** RFC 5321 §4.5.3.2.7: at least 5 minutes waiting for a command. */
      idle_timeout_seconds: z.number().int().min(1).default(300),
      /** Bound on SPF + DKIM + DMARC + ARC checks per message; then temperror, and deliver. */
      auth_checks_timeout_seconds: z.number().min(0.1).default(5),
      /** Refuse (550 5.7.1) mail that fails DMARC where the domain publishes p=reject. */
      dmarc_reject: z.boolean().default(true),
      /** A bare LF or CR in DATA: refuse the message, or turn it into CRLF. */
      bare_lf: z.enum(['reject', 'normalize']).default('reject'),
      /**
       * Where mail to postmaster goes when postmaster@<domain> (or, for a bare <Postmaster>,
       * postmaster@<hostname>) is neither an account nor an alias: RFC 5321 §4.5.1 requires
       * accepting it. An address (local or remote), or "" for the oldest account.
       */
      postmaster: z
        .string()
        .trim()
        .toLowerCase()
        .regex(
          /^$|^[^\s@<>()",;:]+@[^\s@<>()",;:[\]]+$/,
          'an address, or "" for the oldest account',
        )
        .default(''),
    })
    .prefault({}),
  pop3: z
    .strictObject({
      /**
       * Processes that serve POP3 sessions beside the main one, so that downloads use every
       * CPU (src/pop3/workers/). 'auto': one per CPU up to 4, none on a single CPU; 0 serves
       * POP3 in the main process.
       */
      workers: z.union([z.literal('auto'), z.number().int().min(0).max(64)]).default('auto'),
    })
    .prefault({}),
  dns: z
    .strictObject({
      /** Resolvers as "ip" or "ip:port"; empty means the system's (/etc/resolv.conf). */
      servers: z.array(z.string().min(1)).default([]),
      /** Per query. */
      timeout_ms: z.number().int().min(50).default(2000),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /**
       * Failed logins from one source (an IPv4 address, an IPv6 /64) within 15 minutes that lock
       * that source out for lockout_seconds. Each failure also doubles the wait before the
       * source's next attempt, from failure_delay_ms up to max_failure_delay_ms.
       */
      max_failures_per_ip: z.number().int().min(1).default(10),
      /**
       * Failed logins against one account within 15 minutes, from all sources together, that
       * lock the account for lockout_seconds, except from sources it logged in from within
       * trusted_source_days. Above max_failures_per_ip, so only several sources together (a
       * distributed attack) trigger it.
       */
      max_failures_per_account: z.number().int().min(1).default(20),
      lockout_seconds: z.number().int().min(1).default(900),
      failure_delay_ms: z.number().int().min(0).default(250),
      max_failure_delay_ms: z.number().int().min(0).default(5000),
      /** A source that logged in to an account skips its delays and lockouts this long. */
      trusted_source_days: z.number().min(0).default(30),
      /** Password hashes computed at once; 'auto': half the libuv threadpool, at most the CPUs. */
      max_concurrent_hashes: z
        .union([z.literal('auto'), z.number().int().min(1).max(64)])
        .default('auto'),
      /** Logins waiting for a password hash; past it, a temporary failure (try again later). */
      max_queued_hashes: z.number().int().min(1).default(128),
      /** Shortest password `user add` and `user passwd` accept (characters). */
      min_password_length: z.number().int().min(1).max(1024).default(8),
      /**
       * RFC 8314: passwords only over TLS, except from these networks (CIDR or single
       * addresses): by default the server's own host, for a webmail or a script beside it.
       */
      plaintext_networks: z
        .array(
          z.string().refine((n) => parseNetwork(n) !== null, {
            message: 'expected an IP address or network, e.g. "127.0.0.0/8" or "::1"',
          }),
        )
        .default([...DEFAULT_PLAINTEXT_NETWORKS]),
      /**
       * The older switch: true accepts passwords without TLS from every network (the same as
       * plaintext_networks = ["0.0.0.0/0", "::/0"]); for tests only, never for production.
       */
      allow_plaintext: z.boolean().default(false),
    })
    .prefault({}),
  /** The HTTP listener's routes (src/http/): health, readiness, metrics. */
  http: z
    .strictObject({
      /**
       * A bearer token for GET /metrics (`Authorization: Bearer <token>`), at least 16
       * characters. Empty: /metrics answers loopback peers only (127.0.0.0/8, ::1).
       */
      metrics_token: z
        .string()
        .refine((t) => t === '' || t.length >= 16, 'at least 16 characters, or "" for none')
        .default(''),
      /**
       * A file whose first line is the admin API's bearer token (at least 16 characters;
       * env LETTERBOX_ADMIN_TOKEN wins over it). Empty: only admin accounts can sign in.
       */
      admin_token_file: z.string().default(''),
    })
    .prefault({}),
  /** Outbound delivery. Each part of the queue spreads its own keys in here. */
  queue: z
    .strictObject({
      ...queueRoutingKeys,
      ...queueWorkerKeys,
    })
    .prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;

/** The validated config with absolute paths, as the rest of the program sees it. */
export interface Config extends ParsedConfig {
  /** Absolute path of the file it was loaded from. */
  file: string;
  /** Absolute data directory. */
  dataDir: string;
  tlsFiles: {
    cert: string;
    key: string;
    sni: { servername: string; cert: string; key: string }[];
    /** With `[tls.acme]`: where the ACME certificate and its key are kept (data_dir/acme/). */
    acme?: { cert: string; key: string };
  };
  /** With `[tls.acme] ca_file`: its absolute path. */
  acmeCaFile?: string;
}
