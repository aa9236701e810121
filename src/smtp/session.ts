// One SMTP server session: greeting, the command loop, reply batching for PIPELINING
// (RFC 2920 §3.1: replies may be sent as a group when the client's input is exhausted),
// limits (line length, bad commands, idle time) and a clean goodbye on shutdown.
import type { CommandMetrics } from '../http/metrics.js';
import type { Logger } from '../log.js';
import { ByteAccumulator } from '../net/byte-accumulator.js';
import { type Connection, TlsHandshakeError } from '../net/connection.js';
import { type ShutdownTarget, unwatchShutdown, watchShutdown } from '../net/shutdown-watch.js';
import type { ServerContext } from '../server.js';
import { COMMANDS } from './commands.js';
import type { SessionState, SmtpMode } from './state.js';
import { parseCommand } from './wire/command.js';
import * as R from './wire/replies.js';
import { formatReply, SmtpReply } from './wire/reply.js';
import { WireMemo } from './wire-memo.js';

/** RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with its CRLF. */
export const MAX_COMMAND_LINE = 510;

export interface SmtpListenerInfo {
  mode: SmtpMode;
  /** The listener offers STARTTLS (cleartext at first). */
  starttls: boolean;
  /** Delay before the greeting on MX, to catch clients that talk first (RFC 5321 §4.3.1). */
  greetDelayMs: number;
  /** Latency per command (/metrics), shared by the listener's sessions. */
  commands: CommandMetrics;
}

const PREGREET = new SmtpReply(554, '5.5.1', 'Protocol error: talking before the greeting');

const GREETING = new WireMemo((host: string) => R.greeting(host));

export class SmtpSession implements ShutdownTarget {
  readonly state: SessionState = {
    helo: null,
    esmtp: false,
    account: null,
    transaction: null,
    errors: 0,
  };
  log: Logger;
  /** The message being received (DATA, or the BDAT chunks so far), counted in ctx.memory. */
  readonly inbound: ByteAccumulator;
  private outbox: Buffer[] = [];
  private closing = false;

  constructor(
    readonly conn: Connection,
    readonly ctx: ServerContext,
    readonly listener: SmtpListenerInfo,
    private readonly shuttingDown: AbortSignal,
  ) {
    this.log = conn.log.child({ proto: listener.mode === 'mx' ? 'smtp' : 'submission' });
    this.inbound = new ByteAccumulator(ctx.memory);
  }

  get mode(): SmtpMode {
    return this.listener.mode;
  }

  get cfg() {
    return this.ctx.cfg;
  }

  /** Queue a reply; it is written before the next read that would wait. */
  reply(r: SmtpReply): void {
    this.outbox.push(formatReply(r));
  }

  /** The reply `memo` makes of these values, formatted once (see WireMemo). */
  replyMemo<A, B, C, D>(memo: WireMemo<A, B, C, D>, a: A, b: B, c: C, d: D): void {
    this.outbox.push(memo.wire(a, b, c, d));
  }

  /**
   * Writes the queued replies. Undefined when the socket took them at once (the usual case: no
   * promise and no await for a reply); else a promise of its 'drain'.
   */
  flush(): Promise<void> | undefined {
    const outbox = this.outbox;
    if (outbox.length === 0) return undefined;
    // pop, or a new list: setting an array's length to 0 is a runtime call in V8 (~70 ns a
    // flush against ~10), and a session without PIPELINING flushes once per command.
    let data: Buffer;
    if (outbox.length === 1) data = outbox.pop()!;
    else {
      data = Buffer.concat(outbox);
      this.outbox = [];
    }
    return this.conn.send(data);
  }

  /** Reply, flush and end the session: see flush for what it returns. */
  closeWith(r: SmtpReply): Promise<void> | undefined {
    this.reply(r);
    this.closing = true;
    return this.flush();
  }

  close(): void {
    this.closing = true;
  }

  /** Counts a refused command; too many and the session ends (421): see flush for the result. */
  countError(): Promise<void> | undefined {
    this.state.errors++;
    if (this.state.errors < this.cfg.smtp.max_errors) return undefined;
    this.log.info({ errors: this.state.errors }, 'too many bad commands');
    return this.closeWith(R.tooManyErrors());
  }

  async run(): Promise<void> {
    this.conn.setIdleTimeout(this.cfg.smtp.idle_timeout_seconds * 1000);
    if (!(await this.greet())) return;
    // Told of the listener's shutdown (shutDown) for the whole session, none per command.
    watchShutdown(this.shuttingDown, this);
    try {
      // A command whose handler does not wait (most of them) costs no promise here: flush,
      // the handler and countError answer undefined when there is nothing to wait for.
      while (!this.closing && !this.conn.closed) {
        if (!this.conn.hasBufferedInput()) {
          const written = this.flush();
          if (written) await written;
        }
        if (this.shutdownRequested) {
          await this.closeWith(R.shuttingDown());
          break;
        }
        const line = await this.nextLine();
        if (line === null) break;
        if (line === 'answered') continue;
        const running = this.runLine(line, performance.now());
        if (running) await running;
      }
      await this.flush();
    } finally {
      unwatchShutdown(this.shuttingDown, this);
      this.inbound.reset();
    }
  }

  /** The listener shuts down (net/shutdown-watch.ts). */
  shutDown(): void {
    try {
      this.shutdownRequested = true;
      // Waiting for a command: say goodbye now, and end our side so that the read ends. During
      // a command (a transfer under way gets the grace period): after it, the loop checks.
      if (this.waitingForCommand) {
        const written = this.closeWith(R.shuttingDown());
        if (written) this.conn.guard.detach(written);
        this.conn.guard.detach(this.conn.close());
      }
    } catch (err) {
      // Called for every session in one loop: what one throws ends only that connection.
      this.conn.guard.fail(err, 'callback');
    }
  }

  private shutdownRequested = false;
  /** In nextLine's read: a shutdown then says goodbye at once (run's onShutdown). */
  private waitingForCommand = false;

  /** The next command line; 'answered' when it was refused already; null when the session is over. */
  private async nextLine(): Promise<Buffer | 'answered' | null> {
    if (this.shuttingDown.aborted) this.shutdownRequested = true;
    if (this.shutdownRequested) {
      await this.closeWith(R.shuttingDown());
      return null;
    }
    // No promise, race or listener per command: run's onShutdown ends this read by closing.
    this.waitingForCommand = true;
    let r: Awaited<ReturnType<Connection['readLine']>>;
    try {
      r = await this.conn.readLine(MAX_COMMAND_LINE);
    } finally {
      this.waitingForCommand = false;
    }
    // The goodbye was said while we waited: a command that crossed it is not run.
    if (this.shutdownRequested) return null;
    switch (r.kind) {
      case 'line':
        return r.line;
      case 'too-long':
        this.reply(R.lineTooLong());
        await this.countError();
        return this.closing ? null : 'answered';
      case 'timeout':
        this.log.info('idle timeout');
        await this.closeWith(R.timeout());
        return null;
      case 'eof':
        return null;
    }
  }

  /**
   * Runs one command line and records its latency under its kind (null when it did not
   * parse); a promise only when its handler has one.
   */
  private runLine(line: Buffer, started: number): Promise<void> | undefined {
    // We offer SMTPUTF8: UTF-8 is allowed in EHLO and MAIL, and in RCPT when the transaction
    // was opened with the SMTPUTF8 parameter (RFC 6531 §3.4).
    const tx = this.state.transaction;
    const cmd = parseCommand(line, { smtputf8Allowed: tx ? tx.params.smtputf8 === true : true });
    if (cmd.kind === 'error') {
      this.reply(cmd.reply);
      this.listener.commands.observe(null, started);
      return this.countError();
    }
    const kind = cmd.kind;
    let running: Promise<void> | void;
    try {
      // The table's handlers narrow cmd by kind themselves.
      running = COMMANDS[kind](this, cmd as never);
    } catch (err) {
      running = undefined;
      this.commandFailed(err, kind);
    }
    if (!running) {
      this.listener.commands.observe(kind, started);
      return undefined;
    }
    return running.then(
      () => this.listener.commands.observe(kind, started),
      (err: unknown) => {
        this.commandFailed(err, kind);
        this.listener.commands.observe(kind, started);
      },
    );
  }

  private commandFailed(err: unknown, kind: string): void {
    if (err instanceof TlsHandshakeError) return; // the client's; logged; gone
    this.log.error({ err, command: kind }, 'command failed');
    this.reply(R.localError());
  }

  /** RFC 5321 §4.3.1: the client waits for the greeting; one that talks first is refused. */
  private async greet(): Promise<boolean> {
    const delay = this.mode === 'mx' ? this.listener.greetDelayMs : 0;
    if (delay > 0) {
      await this.conn.guard.sleep(delay);
      if (this.conn.hasBufferedInput()) {
        this.log.info('client talked before the greeting');
        await this.closeWith(PREGREET);
        return false;
      }
    }
    if (this.conn.closed) return false;
    const host = this.cfg.hostname;
    this.replyMemo(GREETING, host, undefined, undefined, undefined);
    const written = this.flush();
    if (written) await written;
    return true;
  }
}

export async function refuseTooMany(conn: Connection): Promise<void> {
  await conn.write(formatReply(R.tooManyConnections()));
}
