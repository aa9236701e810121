// The commented config file `letterbox init` writes. Every option appears with its default
// and a line on what it does, so the file documents itself.
import {
  DEFAULT_TLS,
  DEV_PORTS,
  LISTENER_NAMES,
  type ListenerName,
  STANDARD_PORTS,
} from './schema.js';

const LISTENER_NOTES: Record<ListenerName, string> = {
  smtp: 'SMTP from other servers (MX): no AUTH, local recipients only',
  submission: 'SMTP submission from your users (RFC 6409), STARTTLS then AUTH',
  submissions: 'SMTP submission over implicit TLS (RFC 8314)',
  imap: 'IMAP with STARTTLS',
  imaps: 'IMAP over implicit TLS',
  pop3: 'POP3 with STLS',
  pop3s: 'POP3 over implicit TLS',
  http: 'health, metrics, mail client autoconfiguration (put a TLS proxy on 443 in front)',
};

export function configTemplate(opts: { hostname: string; standardPorts: boolean }): string {
  const ports = opts.standardPorts ? STANDARD_PORTS : DEV_PORTS;
  // "::" listens on every IPv6 address and, dual stack (Linux's default, bindv6only = 0), on
  // every IPv4 one too: clients reach a real server over both. Development: loopback only.
  const address = opts.standardPorts ? '::' : '127.0.0.1';
  const addressNote = opts.standardPorts ? '   # every IPv6 and IPv4 address' : '';
  const listeners = LISTENER_NAMES.map(
    (n) => `# ${LISTENER_NOTES[n]}
[listeners.${n}]
enabled = true
address = "${n === 'http' ? '127.0.0.1' : address}"${n === 'http' ? '' : addressNote}
port = ${ports[n]}
tls = "${DEFAULT_TLS[n]}"   # none | starttls | implicit
`,
  ).join('\n');
  return `# Letterbox configuration. Every option is shown with its default.
# Paths are relative to this file's directory.

# The name this server uses in greetings, Received headers and its certificate.
hostname = "${opts.hostname}"

# Where the store (letterbox.db and blobs/) lives.
data_dir = "."

[log]
level = "info"   # fatal | error | warn | info | debug | trace | silent
format = "auto"  # auto (pretty on a terminal, JSON otherwise) | json | pretty
# On stdout: JSON lines, or pretty lines with the date when stdout is a terminal. At info, a
# line per connection opened and closed (listener, peer, TLS, duration, bytes, account), the
# logins, and each message accepted with its recipients and queue ids (docs/logging.md).

[tls]
# PEM certificate chain and private key. \`letterbox init\` made a self-signed pair;
# put your real certificate here (e.g. from Let's Encrypt). Reloaded on SIGHUP.
cert = "tls/cert.pem"
key = "tls/key.pem"
# More certificates, chosen by SNI:
# [[tls.sni]]
# servername = "mail.other.example"
# cert = "/etc/letsencrypt/live/mail.other.example/fullchain.pem"
# key = "/etc/letsencrypt/live/mail.other.example/privkey.pem"

# Certificates from an ACME CA (RFC 8555), for hostname and the exact [[tls.sni]] names.
# challenge = "http-01": the CA fetches from [listeners.http] on port 80 (make it reachable
# there); "tls-alpn-01" (RFC 8737): the CA connects to port 443 with ALPN acme-tls/1, answered
# by the implicit-TLS listeners (HTTPS on 443, or forward 443 to 993). Default: http-01 if
# the http listener serves plain HTTP on port 80, else tls-alpn-01. Kept in data_dir/acme/, renewed 30 days
# (or a third of the lifetime) before expiry, loaded into every listener without a restart;
# until the first one, cert/key above serve.
# Setting it agrees to the CA's terms of service (RFC 8555 §7.3).
# [tls.acme]
# directory = "https://acme-v02.api.letsencrypt.org/directory"
# email = "postmaster@example.com"
# renew_before_days = 30           # default: min(30, a third of the lifetime)
# ca_file = "/path/to/ca.pem"      # trust a private CA for the directory's HTTPS
# challenge = "tls-alpn-01"        # or "http-01"; default above

[store]
kind = "sqlite"   # embedded: SQLite + message files under data_dir
# Several nodes over one PostgreSQL (docs/scaling.md):
# kind = "postgres"
# url = "postgres://letterbox@db.example.com:5432/letterbox"   # no password here
# password_file = "pg.pass"        # or password_env = "LETTERBOX_PG_PASSWORD"
# pool_size = 10                   # connections of this node
# pool_idle_seconds = 300          # an idle pool connection closes after this (0: never)
# query_timeout_seconds = 30       # unanswered statements fail as temporary errors
# node_id = "mx1"                  # this node in the queue's leases (default: host name)

[search]
# When a message's text goes into the full-text index (SEARCH BODY / TEXT):
# "on-search": a mailbox's new messages are indexed by its first text search after they
#   arrived, which waits for them (SQLite: about 0.3 ms of CPU a 10 KB message, 10,000 new
#   ones ~3 s of CPU, 5-6 s on a busy 2-core machine; PostgreSQL: ~0.3 ms of the node's and
#   ~0.3 ms of the database's);
#   deliveries do no indexing work (~0.15 ms of CPU less a 10 KB message over SQLite). Most
#   mail is never searched by body on the server.
# "on-delivery": each delivery and APPEND is indexed as it is stored (a share of its CPU).
# Both stores take it (over PostgreSQL: each message's search text and words).
full_text_index = "on-search"

${listeners}
[limits]
max_connections_per_ip = 50       # all listeners together
max_connections = 10000           # per listener
max_message_size = 52428800       # bytes (SMTP SIZE, IMAP APPENDLIMIT)
message_memory = 536870912        # message bytes in memory, all sessions together; past it
                                  # new uploads get 452 4.3.1 / NO [LIMIT] (try again later)
preauth_idle_seconds = 60         # IMAP: an idle connection that has not logged in is closed
shutdown_grace_seconds = 10       # on SIGTERM, sessions get this long to finish

[smtp]
max_recipients = 100              # per message; more get 452 4.5.3
greet_delay_ms = 300              # MX only: a client talking before the greeting is refused
max_errors = 10                   # bad commands before 421 and close
idle_timeout_seconds = 300        # RFC 5321 §4.5.3.2.7
auth_checks_timeout_seconds = 5   # SPF/DKIM/DMARC/ARC budget per message, then temperror
dmarc_reject = true               # 550 5.7.1 for DMARC failures under p=reject
bare_lf = "reject"                # reject | normalize: a bare LF/CR inside DATA
postmaster = ""                   # where postmaster@<domain> and <Postmaster> go when no such
                                  # account or alias exists; "" = the oldest account

[pop3]
workers = "auto"                  # processes serving POP3 sessions: "auto" (one per CPU,
                                  # up to 4; none on 1 CPU), a number, or 0 (main process)

[dns]
servers = []                      # e.g. ["127.0.0.1:5353"]; empty = system resolver
timeout_ms = 2000                 # per query

[auth]
max_failures_per_ip = 10          # per IPv4 address or IPv6 /64 in 15 min: then locked out
max_failures_per_account = 20     # all sources in 15 min: then locked for new sources only
lockout_seconds = 900
failure_delay_ms = 250            # wait after a source's 1st failure, doubling with each more
max_failure_delay_ms = 5000
trusted_source_days = 30          # a source that logged in skips the delays and lockouts
max_concurrent_hashes = "auto"    # scrypt at once; auto = half the libuv threadpool
max_queued_hashes = 128           # logins waiting for scrypt; more get "try again later"
min_password_length = 8           # shortest password user add / user passwd accept
# RFC 8314: passwords only over TLS, except from these networks (the server's own host by
# default: a webmail or a fetch script beside it). [] requires TLS everywhere.
plaintext_networks = ["127.0.0.0/8", "::1"]
# The older switch: true accepts passwords without TLS from every network. Tests only.
allow_plaintext = false

# The HTTP listener ([listeners.http]): /health, /healthz, /readyz and /metrics (Prometheus).
[http]
# Bearer token for /metrics (Authorization: Bearer <token>, at least 16 characters).
# Empty: /metrics answers only clients on loopback (127.0.0.0/8, ::1).
metrics_token = ""
# The admin API (/api/v1/, docs/admin-api.md): a file whose first line is its bearer token
# (at least 16 characters; env LETTERBOX_ADMIN_TOKEN wins). Empty: only accounts with the
# admin role (letterbox user admin ADDRESS on) can sign in. Without TLS on [listeners.http]
# (tls = "implicit") it answers only [auth] plaintext_networks (loopback by default).
admin_token_file = ""

# Outbound delivery: mail to other domains.
[queue]
port = 25                         # port of the recipients' MX hosts (RFC 5321)
mta_sts = true                    # honour MTA-STS policies (RFC 8461): TLS to listed MX only
require_tls = []                  # e.g. ["bank.example"]: mail to these only over verified TLS
route_cache_seconds = 60          # reuse a domain's MX lookup this long (0: every message)
deliver = true                    # run the queue worker in this process
concurrency = 50                  # messages attempted at once
per_destination = 10              # attempts at once to one recipient domain
retry_minutes = [5, 10, 20, 40, 60, 120, 240]   # waits after each failed try; last repeats
max_age_hours = 120               # then bounce (5 days, RFC 5321 §4.5.4.1)
delay_notice_hours = 4            # tell the sender the message is delayed (NOTIFY=DELAY)
# Smarthost: send through a provider instead of the MX hosts, for all mail ("*") or a domain.
# Several hosts are tried in order. tls: starttls (required, certificate verified) | implicit
# (TLS from the first byte, port 465) | opportunistic. auth_file holds "user:password".
# [[queue.routes]]
# domain = "*"
# host = ["smtp.provider.example", "smtp2.provider.example:2587"]
# port = 587                      # default 465 for tls = "implicit", else 587
# tls = "starttls"
# auth_file = "smarthost-auth"
`;
}
