// One POP3 session (RFC 1939): greeting, the command loop in the AUTHORIZATION and
// TRANSACTION states, reply batching for PIPELINING (RFC 2449 §6.6), limits, and the exits:
// QUIT (the only way into UPDATE), idle autologout, too many errors, server shutdown.
import type { AuthResult } from '../auth/authenticator.js';
import { authErrorText, isTemporaryAuthFailure } from '../auth/authenticator.js';
import type { PlaintextPolicy } from '../auth/plaintext.js';
import type { CommandMetrics } from '../http/metrics.js';
import type { Logger } from '../log.js';
import { type Connection, TlsHandshakeError } from '../net/connection.js';
import type { TlsProvider } from '../net/tls.js';
import type { AccountEnds } from './account-ends.js';
import type { Pop3Backend } from './backend.js';
import { COMMANDS } from './commands/index.js';
import {
  MAX_COMMAND_LINE,
  MAX_ERRORS,
  MAX_SASL_LINE,
  OUTBOX_FLUSH,
  SEEN_BATCH_MS,
} from './limits.js';
import { Maildrop } from './maildrop.js';
import { errLine, okLine, parseCommandLine, type RespCode } from './wire.js';

/** RFC 1939 §3: the session's state, with the data each state owns. */
export type Pop3State =
  | { kind: 'authorization' /** Name given by USER, waiting for PASS. */; user: string | null }
  | {
      kind: 'transaction';
      account: { id: number; address: string };
      drop: Maildrop;
      /** Lets go of the maildrop lock (idempotent). */
      release: () => void;
    }
  | { kind: 'update' };

export type StateKind = Pop3State['kind'];
export type TransactionState = Extract<Pop3State, { kind: 'transaction' }>;

export interface Pop3SessionOptions {
  backend: Pop3Backend;
  /** For the greeting. */
  hostname: string;
  /** Where passwords are accepted without TLS (`[auth] plaintext_networks`). */
  plaintext: PlaintextPolicy;
  tls: TlsProvider;
  /** The listener offers STLS (cleartext port 110). */
  starttls: boolean;
  idleTimeoutMs: number;
  /** Latency per command (/metrics); in a worker process, its own, sent to the main one. */
  commands?: CommandMetrics;
  /** Ends the session when its account is disabled (this process's registry). */
  accountEnds?: AccountEnds;
}

export class Pop3Session {
  state: Pop3State = { kind: 'authorization', user: null };
  log: Logger;
  private errors = 0;
  private closing = false;
  /** The session ends with QUIT's reply: the client sends nothing more (RFC 1939 §6). */
  private quitting = false;
  private outbox: Buffer[] = [];
  private outboxBytes = 0;
  /** Waiting for the next command: a shutdown may then say goodbye at once. */
  private idle = false;
  /** Why the session must end (server shutdown, account disabled): said as -ERR, then closed. */
  private endReason: { text: string; code: RespCode } | null = null;
  private unwatch: (() => void) | undefined;

  constructor(
    readonly conn: Connection,
    readonly opts: Pop3SessionOptions,
    private readonly shuttingDown: AbortSignal,
  ) {
    this.log = conn.log.child({ proto: 'pop3' });
  }

  /** Passwords may be sent: over TLS, or from `[auth] plaintext_networks` (RFC 8314 §3). */
  get plaintextAllowed(): boolean {
    return this.conn.secure || this.opts.plaintext.allows(this.conn.remoteAddress);
  }

  /** RFC 2595 §4: STLS is offered on a cleartext port until TLS is on. */
  get canStartTls(): boolean {
    return this.opts.starttls && !this.conn.secure;
  }

  /** The TRANSACTION state; the dispatcher only runs transaction commands in it. */
  transaction(): TransactionState {
    if (this.state.kind !== 'transaction') throw new Error('not in TRANSACTION state');
    return this.state;
  }

  ok(text = ''): void {
    this.queue(okLine(text));
  }

  err(text: string, code?: RespCode): void {
    this.queue(errLine(text, code));
  }

  /** A refused command: answered, and counted; too many and the session ends. */
  fail(text: string, code?: RespCode): void {
    this.err(text, code);
    this.errors++;
    if (this.errors >= MAX_ERRORS) {
      this.log.info({ errors: this.errors }, 'too many bad commands');
      this.err('Too many bad commands, closing connection');
      this.closing = true;
    }
  }

  /** Queue bytes, flushing (with backpressure) once enough waits: RETR streams through here. */
  async send(data: Buffer): Promise<void> {
    this.queue(data);
    if (this.outboxBytes >= OUTBOX_FLUSH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.outbox.length === 0) return;
    const data = this.outbox.length === 1 ? this.outbox[0]! : this.outbox;
    this.outbox = [];
    this.outboxBytes = 0;
    await this.conn.write(data);
  }

  /** End the session after the replies queued so far. */
  end(): void {
    this.closing = true;
  }

  /** QUIT: end the session after its reply, and let the socket go once the reply is out. */
  endWithQuit(): void {
    this.closing = true;
    this.quitting = true;
  }

  /**
   * One line of a SASL exchange (RFC 5034 §4), after flushing the challenge; a line too long
   * is answered here, and the exchange ends with it as when the client is gone.
   */
  async readSaslLine(): Promise<
    { kind: 'line'; text: string } | { kind: 'too-long' } | { kind: 'closed' }
  > {
    await this.flush();
    const r = await this.conn.readLine(MAX_SASL_LINE);
    if (r.kind === 'line') return { kind: 'line', text: r.line.toString('latin1') };
    if (r.kind === 'too-long') {
      this.err('Line too long');
      return { kind: 'too-long' };
    }
    this.end();
    return { kind: 'closed' };
  }

  /**
   * Check credentials and open the maildrop: RFC 1939 §4, "+OK" only once the maildrop is
   * locked. Shared by PASS and AUTH.
   */
  async login(username: string, password: string, authzid?: string): Promise<void> {
    let result: AuthResult;
    try {
      result = await this.opts.backend.authenticate({
        username,
        password,
        authzid,
        ip: this.conn.remoteAddress,
        protocol: 'pop3',
        conn: this.conn.id,
        listener: this.conn.listener,
      });
    } catch (err) {
      this.log.error({ err }, 'authentication backend failed');
      this.err('Authentication temporarily unavailable', 'SYS/TEMP');
      return;
    }
    if (!result.ok) {
      // RFC 3206 §4: [AUTH] says the credentials are the problem; a disabled account, a
      // lockout or a full queue (SYS/TEMP: try again later, same password) are not.
      const code = isTemporaryAuthFailure(result.reason)
        ? 'SYS/TEMP'
        : result.reason === 'disabled'
          ? 'SYS/PERM'
          : 'AUTH';
      this.fail(authErrorText(result.reason), code);
      return;
    }
    const account = result.account;
    this.conn.account = account.address;
    let opened: Awaited<ReturnType<Pop3Backend['open']>>;
    try {
      opened = await this.opts.backend.open(account.id);
    } catch (err) {
      this.log.error({ err, account: account.address }, 'cannot open maildrop');
      this.err('Cannot open maildrop, try again later', 'SYS/TEMP');
      return;
    }
    if (!opened.ok) {
      // RFC 2449 §8.1.1 IN-USE. RFC 1939 §4: the client may try again or QUIT.
      this.log.info({ account: account.address }, 'maildrop in use');
      this.err('Maildrop already in use by another session', 'IN-USE');
      return;
    }
    const drop = Maildrop.from(opened.snapshot);
    this.state = { kind: 'transaction', account, drop, release: opened.release };
    // Disabled while logged in: the session ends like at a shutdown, with a permanent code.
    this.unwatch = this.opts.accountEnds?.watch(
      account.id,
      this.conn.guard.wrap(() => this.endWith({ text: 'Account disabled', code: 'SYS/PERM' })),
    );
    this.log = this.log.child({ account: account.address });
    const { count, size } = drop.stat();
    this.ok(`${account.address} has ${count} messages (${size} octets)`);
  }

  async run(): Promise<void> {
    this.conn.setIdleTimeout(this.opts.idleTimeoutMs);
    const onShutdown = this.conn.guard.wrap(() =>
      this.endWith({ text: 'Server shutting down, try again later', code: 'SYS/TEMP' }),
    );
    this.shuttingDown.addEventListener('abort', onShutdown, { once: true });
    try {
      this.ok(`${this.opts.hostname} Letterbox POP3 server ready`);
      while (!this.closing && !this.conn.closed) {
        if (this.endReason) {
          await this.sayGoodbye();
          break;
        }
        if (!this.conn.hasBufferedInput()) await this.flush();
        this.idle = true;
        const r = await this.conn.readLine(MAX_COMMAND_LINE);
        this.idle = false;
        // A shutdown said goodbye while we waited: a command that crossed it is not run.
        if (r.kind === 'eof' || this.closing) break;
        if (r.kind === 'timeout') {
          // RFC 1939 §3: at autologout the session does not enter UPDATE and sends nothing.
          this.log.info('idle timeout: closing without update');
          break;
        }
        if (r.kind === 'too-long') {
          this.fail('Line too long');
          continue;
        }
        await this.dispatch(r.line);
      }
      await this.flush();
      // RFC 1939 §6: after QUIT's reply (and the UPDATE state's work, done before it) the
      // server closes; the client sends nothing more, so the socket goes as soon as the reply
      // and our FIN are with the kernel (Connection.finish), without waiting for its side.
      if (this.quitting) this.conn.guard.detach(this.conn.finish());
    } finally {
      this.shuttingDown.removeEventListener('abort', onShutdown);
      this.unwatch?.();
      // Retrieved messages were read even if the session ends without QUIT.
      await this.flushSeen();
      // A session that ends without QUIT deletes nothing (RFC 1939 §6): just unlock.
      if (this.state.kind === 'transaction') this.state.release();
    }
  }

  /** UIDs retrieved but not yet marked \Seen in the store. */
  private seenPending: number[] = [];
  private seenMailboxId = 0;
  private seenTimer: NodeJS.Timeout | undefined;

  noteSeen(uid: number): void {
    if (this.state.kind !== 'transaction') return;
    this.seenMailboxId = this.state.drop.mailboxId;
    this.seenPending.push(uid);
    this.armSeen();
  }

  /** A batch of \Seen marks goes out within SEEN_BATCH_MS of the first pending one. */
  armSeen(): void {
    if (this.seenPending.length === 0) return;
    this.seenTimer ??= this.conn.guard.setTimeout(() => {
      this.seenTimer = undefined;
      this.conn.guard.detach(this.flushSeen({ skipDeleted: true }));
    }, SEEN_BATCH_MS);
  }

  /** The UIDs retrieved and not yet marked \Seen; the caller marks them (QUIT). */
  takeSeen(): number[] {
    clearTimeout(this.seenTimer);
    this.seenTimer = undefined;
    const uids = this.seenPending;
    this.seenPending = [];
    return uids;
  }

  /**
   * One store commit for the RETRs since the last flush; the events reach IMAP sessions.
   * `skipDeleted` (the batch timer): messages marked for deletion wait, as QUIT expunges them
   * or marks them with the update; a session that ends without QUIT (nothing deleted), or an
   * RSET, marks them after all. A download that retrieves and deletes each message then
   * writes no \Seen flags for them at all.
   */
  async flushSeen(opts: { skipDeleted?: boolean } = {}): Promise<void> {
    let uids = this.takeSeen();
    if (opts.skipDeleted && this.state.kind === 'transaction') {
      const deleted = new Set(this.state.drop.deletedUids());
      this.seenPending = uids.filter((u) => deleted.has(u));
      uids = uids.filter((u) => !deleted.has(u));
    }
    if (uids.length === 0) return;
    try {
      await this.opts.backend.markSeen(this.seenMailboxId, uids);
    } catch (err) {
      this.log.warn({ err, uids: uids.length }, 'could not mark retrieved messages \\Seen');
    }
  }

  private async dispatch(line: Buffer): Promise<void> {
    const metrics = this.opts.commands;
    if (!metrics) return this.dispatchCommand(line);
    const started = performance.now();
    try {
      await this.dispatchCommand(line);
    } finally {
      metrics.observe(this.commandName, started);
    }
  }

  /** The keyword of the command being dispatched, once it parsed (for its latency). */
  private commandName: string | null = null;

  private async dispatchCommand(line: Buffer): Promise<void> {
    this.commandName = null;
    const cmd = parseCommandLine(line);
    if (!cmd) {
      this.fail('Empty command');
      return;
    }
    this.commandName = cmd.keyword;
    const spec = Object.hasOwn(COMMANDS, cmd.keyword) ? COMMANDS[cmd.keyword] : undefined;
    if (!spec) {
      this.fail('Unknown command');
      return;
    }
    if (!spec.states.includes(this.state.kind)) {
      this.fail(`${cmd.keyword} not allowed in the ${this.state.kind.toUpperCase()} state`);
      return;
    }
    try {
      await spec.run(this, cmd);
    } catch (err) {
      if (err instanceof TlsHandshakeError) return; // the client's; logged; connection gone
      // Never past the session: the client gets a generic answer, the log the details.
      this.log.error({ err, command: cmd.keyword }, 'command failed');
      this.err('Internal server error, try again later', 'SYS/TEMP');
    }
  }

  private shutdownSaid = false;

  /** End the session: between commands at once, during one after it (the loop checks). */
  private endWith(reason: { text: string; code: RespCode }): void {
    this.endReason ??= reason;
    if (this.idle) this.conn.guard.detach(this.sayGoodbye());
  }

  private async sayGoodbye(): Promise<void> {
    if (this.shutdownSaid || !this.endReason) return;
    this.shutdownSaid = true;
    this.closing = true;
    // The session never reaches UPDATE: its deletions are dropped, as for a lost connection.
    this.err(this.endReason.text, this.endReason.code);
    await this.flush();
    await this.conn.close();
  }

  private queue(data: Buffer): void {
    this.outbox.push(data);
    this.outboxBytes += data.length;
  }
}
