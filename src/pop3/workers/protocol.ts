// The messages between the main process and its POP3 worker processes (over Node's IPC
// channel, structured-clone serialization). A client's socket travels with a `conn` message;
// everything a session asks of the server is a `call` answered by a `reply`.
import type { AuthRequest, AuthResult } from '../../auth/authenticator.js';
import type { Config } from '../../config/schema.js';
import type { HistogramSnapshot } from '../../http/metrics-family.js';
import type { StoreErrorCode } from '../../store/errors.js';
import type { Pop3Policy } from '../../store/types.js';
import type { UpdateRequest } from '../backend.js';
import type { MaildropSnapshot } from '../maildrop.js';

/** What a worker is started with (its first command-line argument, as JSON). */
export interface WorkerInit {
  cfg: Pick<Config, 'dataDir' | 'store' | 'hostname' | 'tlsFiles'>;
  /** `[auth]` plaintext networks in effect (auth/plaintext.ts effectiveNetworks). */
  plaintextNetworks: string[];
  logLevel: string;
  /** `[log] format`: a worker writes to the same stdout, as the main process does. */
  logFormat: 'auto' | 'json' | 'pretty';
  idleTimeoutMs: number;
}

/** The listener a connection came in on: STLS offered (110), or TLS from the first byte (995). */
export type ConnTls = 'none' | 'starttls' | 'implicit';

/** Requests a worker makes, by method: what it sends and what comes back. */
export interface Calls {
  authenticate: { args: AuthRequest; result: AuthResult };
  /** Lock and snapshot; the lock is released with a `release` message naming lockId. */
  open: {
    args: { accountId: number };
    result: { ok: true; snapshot: MaildropSnapshot; lockId: number } | { ok: false };
  };
  markSeen: { args: { mailboxId: number; uids: readonly number[] }; result: null };
  update: { args: UpdateRequest; result: { policy: Pop3Policy; removed: number } };
}
export type Method = keyof Calls;

/** An error as it crosses the channel: a store error keeps its code (OVERQUOTA, NOT_FOUND). */
export interface WireError {
  message: string;
  code?: StoreErrorCode;
}

export type ToWorker =
  | { t: 'conn'; id: number; listener: string; tls: ConnTls; refuse: boolean }
  | { t: 'reply'; rid: number; ok: true; value: unknown }
  | { t: 'reply'; rid: number; ok: false; error: WireError }
  /** Sessions say goodbye and get `deadlineMs` to finish; then the worker exits. */
  | { t: 'shutdown'; deadlineMs: number }
  | { t: 'reload-tls' }
  /** The account was disabled: its sessions in the worker end. */
  | { t: 'account-disabled'; accountId: number };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'call'; rid: number; method: Method; args: unknown }
  | { t: 'release'; lockId: number }
  /** The session of connection `id` is over (the worker closed its socket). */
  | { t: 'end'; id: number }
  /** Command latencies recorded since the last such message (for /metrics). */
  | { t: 'commands'; snapshots: HistogramSnapshot[] };
