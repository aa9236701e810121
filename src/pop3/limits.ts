// Every POP3 limit in one place, each with the reason for its value.

/**
 * RFC 2449 §4: a command line is at most 255 octets including its CRLF. Clients in the wild
 * send longer USER/PASS lines (long addresses, passphrases), so allow up to this and refuse
 * beyond it with -ERR, without buffering the rest of the line.
 */
export const MAX_COMMAND_LINE = 1000;

/**
 * A SASL response line in an AUTH exchange (RFC 5034 §4) carries base64, longer than a
 * command; src/auth/sasl.ts bounds the decoded work at 4096 base64 characters.
 */
export const MAX_SASL_LINE = 4100;

/**
 * RFC 1939 §3: an inactivity autologout timer MUST be of at least 10 minutes. Not yet a
 * config option (would be `pop3.idle_timeout_seconds`); createPop3Protocol takes an override.
 */
export const IDLE_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * Refused commands (unknown, wrong state, bad syntax, failed logins) before the session is
 * closed: a client that keeps getting -ERR is confused or probing, and each costs a round.
 */
export const MAX_ERRORS = 10;

/**
 * RETR/TOP output is written in pieces of about this size: small enough that a slow reader
 * holds back the writer (Connection.write awaits 'drain'), large enough to fill TCP windows.
 */
export const WRITE_CHUNK = 64 * 1024;

/**
 * Output is queued (small replies batched, RFC 2449 §6.6 PIPELINING; a message's pieces as
 * views, not copies) until this much is waiting, then written in one writev: a 1 MB message
 * cut by its stuffed dots into hundreds of pieces costs a few system calls, not sixty.
 */
export const OUTBOX_FLUSH = 256 * 1024;

/**
 * RETR marks \Seen (for IMAP) in batches: the first pending mark starts this timer and every
 * RETR until it fires shares one store commit (and one fsync). A commit per RETR costs more
 * than the RETR itself. QUIT marks what is pending together with the UPDATE (leaving out what
 * it expunges), and a session that ends otherwise marks it as it ends. Dovecot marks only at
 * the end of the session; a second lets an IMAP client on another device follow a long
 * download as it goes.
 */
export const SEEN_BATCH_MS = 1000;
