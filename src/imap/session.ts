/**
 * One IMAP session (RFC 9051 §3, §5): greeting, the command loop over the incremental
 * receiver, the dispatcher (state check, argument parsing, errors mapped once), untagged
 * updates of the selected mailbox, IDLE wake-ups, rate limit, autologout, STARTTLS and
 * COMPRESS switches of the byte stream.
 */
import { plaintextPolicy } from '../auth/plaintext.js';
import type { CommandMetrics } from '../http/metrics.js';
import type { Logger } from '../log.js';
import type { Connection } from '../net/connection.js';
import type { ServerContext } from '../server.js';
import { StoreError } from '../store/errors.js';
import type { ChangeEvent, Mailbox } from '../store/types.js';
import { capabilities } from './commands/capability.js';
import { sendFlagsList } from './commands/select.js';
import { COMMANDS } from './commands/table.js';
import type { DeflateChannel } from './commands/tls-compress.js';
import type { CommandSpec, InputWait } from './commands/types.js';
import { formatFlags } from './commands/util.js';
import type { UpdateContexts } from './contexts.js';
import type { Notifier } from './notify/notifier.js';
import {
  type Completion,
  errorCompletion,
  formatTagged,
  formatUntaggedStatus,
  type Status,
} from './responses.js';
import { unwatchShutdown, watchShutdown } from './shutdown-watch.js';
import {
  type AccountRef,
  type Enabled,
  IMAP_LIMITS,
  type Selected,
  type SessionState,
} from './state.js';
import type { MailboxView, ViewUpdates } from './view.js';
import { ImapParseError, parseCommand, tryParse } from './wire/parser.js';
import { CommandReceiver, type ReceivedCommand, type ReceiverEvent } from './wire/receiver.js';
import { sequenceSetToString, type WriteOptions } from './wire/serializer.js';

export interface ImapListenerInfo {
  name: 'imap' | 'imaps';
  /** Port 143: cleartext until STARTTLS. */
  starttls: boolean;
  /** Latency per command (/metrics), shared by the listener's sessions. */
  commands: CommandMetrics;
}

export type InputEvent = ReceiverEvent | { kind: 'eof' } | { kind: 'wake' };

const EOF: InputEvent = { kind: 'eof' };
const WAKE: InputEvent = { kind: 'wake' };
/** takeEvent: nothing to take yet; a read is under way. */
const WAIT = 0;

/** A command waiting for its client (IDLE): what its tagged answer needs when it ends. */
interface Waiting {
  readonly wait: InputWait;
  readonly spec: CommandSpec<never>;
  readonly tag: string;
  readonly uid: boolean;
  /** Memory-budget bytes its command held (given back when it ends), and when it came. */
  readonly held: number;
  readonly started: number;
}

/** Queued output up to this size is copied into one buffer rather than written as a writev. */
const SMALL_OUTPUT = 4096;
/**
 * Larger output is copied too while its pieces average under this: a corked writev costs
 * Node's stream bookkeeping per piece (about 0.3 us each), more than copying a piece this size.
 */
const SMALL_PIECE = 2048;

const isString = (b: Buffer | string): b is string => typeof b === 'string';

/** The pieces in one new buffer of `bytes` (their total, strings as UTF-8), no copy per string. */
export function joinOutput(out: readonly (Buffer | string)[], bytes: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const p of out) at += typeof p === 'string' ? buf.write(p, at) : p.copy(buf, at);
  // Never past what was written: the rest of an unsafe allocation is old memory.
  return at === bytes ? buf : buf.subarray(0, at);
}

export class ImapSession {
  private current: SessionState = { kind: 'notAuthenticated' };
  readonly enabled: Enabled = { condstore: false, qresync: false, utf8: false, imap4rev2: false };
  log: Logger;
  rx: CommandReceiver;
  /** RFC 5182 SEARCHRES: UIDs saved by SEARCH RETURN (SAVE), referred to as `$`. */
  savedSearch: number[] = [];
  /** RFC 5267 searches with RETURN (UPDATE) (contexts.ts); null while there are none. */
  contexts: UpdateContexts | null = null;
  authFailures = 0;
  /** Set while IDLE waits: store events for the selected mailbox wake the session. */
  idling = false;
  /** RFC 5465 NOTIFY: null until the client sends NOTIFY (then NONE or SET). */
  notify: Notifier | null = null;
  /** Queued output: lines as the strings they were made as, until flush. */
  private out: (Buffer | string)[] = [];
  private outBytes = 0;
  private compress: DeflateChannel | null = null;
  /** A read from the connection is under way (it outlives a wake-up). */
  private reading = false;
  /** What the last read gave, until nextEvent takes it. */
  private readOutcome: { chunk: Buffer | null } | { error: unknown } | undefined;
  /** nextEvent waiting: called when the read completes, or by wake() when wakeable. */
  private waiter: (() => void) | null = null;
  private waiterWakeable = false;
  private wakePending = false;
  private unsubscribe: (() => void) | null = null;
  /** The session must end (BYE with this text): the server stops, or the account was disabled. */
  private endReason: string | null = null;
  /** LOGOUT was answered: the client sends nothing more (RFC 9051 §6.1.3). */
  loggedOut = false;
  /** A SELECT reading its mailbox, with the events that came meanwhile (see selecting). */
  private selectingFor: { mailboxId: number | null; events: ChangeEvent[] } | null = null;
  private badCommands = 0;
  private tokens: number = IMAP_LIMITS.commandBurst;
  private tokensAt = Date.now();
  /**
   * The mailbox an APPEND's check before its literal found (commands/append.ts), by the name
   * the client gave, for the APPEND to take instead of a second lookup.
   */
  appendMailbox: { clientName: string; mailbox: Mailbox } | null = null;
  /** The command being dispatched, for its latency (null: it did not parse). */
  private commandName: string | null = null;
  /** A command waiting for its client (IDLE), driven by the input loop (pump). */
  private waiting: Waiting | null = null;
  /** Settle run()'s promise: the session has ended and its connection is closed. */
  private runResolve: (() => void) | null = null;
  private runReject: ((err: unknown) => void) | null = null;

  constructor(
    readonly conn: Connection,
    readonly ctx: ServerContext,
    readonly listener: ImapListenerInfo,
    private readonly shuttingDown: AbortSignal,
  ) {
    this.log = conn.log.child({ proto: 'imap' });
    this.rx = this.newReceiver();
  }

  private newReceiver(): CommandReceiver {
    return new CommandReceiver(
      {
        maxLineLength: IMAP_LIMITS.maxLineLength,
        maxLiteralSize: this.literalLimit,
        literalPlus: true,
      },
      this.ctx.memory,
    );
  }

  /**
   * Largest literal accepted now. Before authentication only LOGIN and AUTHENTICATE take
   * arguments, and they are short: a few KB (RFC 7888 §4 lets the server refuse a literal).
   */
  private get literalLimit(): number {
    return this.account ? this.ctx.cfg.limits.max_message_size : IMAP_LIMITS.preAuthLiteral;
  }

  get account(): AccountRef | null {
    return this.state.kind === 'authenticated' || this.state.kind === 'selected'
      ? this.state.account
      : null;
  }

  get selected(): Selected | null {
    return this.state.kind === 'selected' ? this.state.selected : null;
  }

  get state(): SessionState {
    return this.current;
  }

  /**
   * Every change of state goes through here: a session entering or leaving a selected mailbox
   * tells the store (holdMailbox / releaseMailbox), which keeps a large mailbox's cached rows
   * only while some session has it selected.
   */
  set state(next: SessionState) {
    const was = this.current.kind === 'selected' ? this.current.selected.mailbox.id : 0;
    const now = next.kind === 'selected' ? next.selected.mailbox.id : 0;
    this.current = next;
    if (was === now) return;
    const store = this.ctx.store;
    if (next.kind === 'selected') {
      const { mailbox, view } = next.selected;
      store.holdMailbox?.(now, { accountId: mailbox.accountId, modseq: view.highestModseq });
    }
    if (was !== 0) store.releaseMailbox?.(was);
  }

  /**
   * RFC 8314 / RFC 9051 §6.2.3: passwords only over TLS, except from `[auth]
   * plaintext_networks` (auth/plaintext.ts).
   */
  get plaintextAuthAllowed(): boolean {
    return this.conn.secure || plaintextPolicy(this.ctx.cfg.auth).allows(this.conn.remoteAddress);
  }

  get writeOpts(): WriteOptions {
    return { utf8: this.enabled.utf8 };
  }

  /** The server is stopping or the account was disabled: the BYE text IDLE ends with. */
  get endPending(): string | null {
    return this.endReason;
  }

  get compressed(): boolean {
    return this.compress !== null;
  }

  // ---- output -------------------------------------------------------------------------

  /** Queues bytes; they go out before the session next waits for input. */
  send(data: Buffer | string): void {
    this.out.push(data);
    this.outBytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  }

  /** Queues a line's pieces (serializeLineParts): strings in them must be ASCII. */
  sendParts(parts: readonly (Buffer | string)[]): void {
    for (const p of parts) {
      this.out.push(p);
      this.outBytes += p.length;
    }
  }

  /** `* text\r\n`. */
  untagged(text: string | Buffer): void {
    this.send(
      typeof text === 'string'
        ? `* ${text}\r\n`
        : Buffer.concat([Buffer.from('* '), text, Buffer.from('\r\n')]),
    );
  }

  untaggedStatus(status: Status | 'BYE', code: string | undefined, text: string): void {
    this.send(formatUntaggedStatus(status, code, text));
  }

  /** Flushes when a lot is queued, so that a big FETCH streams with backpressure. */
  async maybeFlush(): Promise<void> {
    if (this.outBytes >= IMAP_LIMITS.outputHighWater) await this.flush();
  }

  /** Whether maybeFlush would write now: a loop over many messages asks without a promise. */
  get flushDue(): boolean {
    return this.outBytes >= IMAP_LIMITS.outputHighWater;
  }

  async flush(): Promise<void> {
    if (this.out.length === 0) return;
    const out = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    if (this.compress) {
      await this.conn.write(await this.compress.deflate(joinOutput(out, bytes)));
    } else if (out.length === 1) {
      await this.conn.write(out[0]!);
    } else if (bytes <= SMALL_OUTPUT) {
      // A few short lines (EXISTS and RECENT to every session in IDLE): one string, or one
      // small copy, costs less than a corked writev of each, per session per delivery; lines
      // queued as strings are written as one, with no Buffer made for any (issue 14 §4).
      await this.conn.write(out.every(isString) ? out.join('') : joinOutput(out, bytes));
    } else if (bytes < out.length * SMALL_PIECE) {
      // Many small pieces (a FETCH of flags and headers of a whole mailbox): one copy.
      await this.conn.write(joinOutput(out, bytes));
    } else {
      // Large pieces (message bodies) go out in one writev, uncopied.
      await this.conn.write(out);
    }
  }

  /** RFC 4978 §3: everything after the tagged OK of COMPRESS is compressed, both ways. */
  startCompression(channel: DeflateChannel): void {
    this.compress = channel;
  }

  // ---- input --------------------------------------------------------------------------

  /**
   * Starts a read unless one is under way or its result waits. One permanent callback, no
   * promise (Connection.readChunkThen): thousands of sessions sit here in IDLE. The read may
   * complete inside this call (input was buffered): then readOutcome is set on return.
   */
  private startRead(): void {
    if (this.reading || this.readOutcome !== undefined) return;
    this.reading = true;
    if (this.compress) this.conn.guard.detach(this.readInflated(this.compress));
    else this.conn.readChunkThen(this.onChunk);
  }

  // What this throws ends the connection (net/guard.ts): it is called by the connection's
  // socket listeners and timer, or inside startRead.
  private readonly onChunk = (chunk: Buffer | null): void => {
    try {
      this.settleRead({ chunk });
    } catch (err) {
      this.conn.guard.fail(err, 'read');
    }
  };

  /**
   * RFC 4978: the next inflated piece, reading compressed bytes from the socket only when
   * everything inflated so far was consumed. Any failure reaches nextEvent.
   */
  private async readInflated(channel: DeflateChannel): Promise<void> {
    try {
      for (;;) {
        const inflated = await channel.nextInflated();
        if (inflated !== null) return this.settleRead({ chunk: inflated });
        const raw = await this.conn.readChunk();
        if (raw === null) return this.settleRead({ chunk: null });
        channel.writeCompressed(raw);
      }
    } catch (error) {
      this.settleRead({ error });
    }
  }

  private settleRead(outcome: { chunk: Buffer | null } | { error: unknown }): void {
    this.reading = false;
    this.readOutcome = outcome;
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** The listener shuts down (shutdown-watch.ts): BYE at the next wake, IDLE included. */
  shutDown(): void {
    try {
      this.endReason = 'Server shutting down';
      this.wake();
    } catch (err) {
      // Called for every session in one loop: what one throws ends only that connection.
      this.conn.guard.fail(err, 'callback');
    }
  }

  /**
   * Wakes a session waiting with wakeable = true (IDLE, shutdown). The waiter runs in a
   * microtask, never inside the caller: wake() is called from the store's event emit (another
   * session's write under way) and from the shutdown loop over all sessions.
   */
  wake(): void {
    this.wakePending = true;
    const w = this.waiterWakeable ? this.waiter : null;
    if (!w) return;
    this.waiter = null;
    this.conn.guard.queueMicrotask(w);
  }

  /**
   * The next receiver event if there is one now; 'eof' at end of input or autologout; 'wake'
   * (only when wakeable) after wake(). Else queued output is flushed first (the promise: ask
   * again when it is done; a wake() meanwhile is seen then), then a read is started and WAIT
   * returned: the caller sets the waiter, called when the read completes (or by a wake).
   */
  private takeEvent(wakeable: boolean): InputEvent | Promise<void> | typeof WAIT {
    for (;;) {
      if (wakeable && this.wakePending) {
        this.wakePending = false;
        return WAKE;
      }
      const ev = this.rx.next();
      if (ev) return ev;
      if (this.out.length > 0) return this.flush();
      this.startRead();
      const outcome = this.readOutcome;
      if (outcome === undefined) return WAIT;
      this.readOutcome = undefined;
      if ('error' in outcome) throw outcome.error;
      if (outcome.chunk === null) return EOF;
      this.rx.feed(outcome.chunk);
    }
  }

  /**
   * The next event, for a command that reads in the middle of running (AUTHENTICATE's SASL
   * responses); see takeEvent. Queued output is flushed before waiting.
   */
  async nextEvent(wakeable: boolean): Promise<InputEvent> {
    for (;;) {
      const ev = this.takeEvent(wakeable);
      if (ev === WAIT) {
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
          this.waiterWakeable = wakeable;
        });
      } else if (ev instanceof Promise) await ev;
      else return ev;
    }
  }

  /** Drops input buffered in the receiver (STARTTLS: nothing sent in clear may run in TLS). */
  resetReceiver(): void {
    this.rx.dispose();
    this.rx = this.newReceiver();
  }

  // ---- lifecycle ----------------------------------------------------------------------

  /**
   * Runs the session; the promise settles once it has ended and its connection is closed.
   * Not an async loop: the input loop (pump) runs on callbacks, so a session waiting for its
   * client, between commands or in IDLE, has no async function suspended (issue 19: 10,000
   * IDLE connections; each suspended frame costs its generator, promise and reactions).
   */
  run(): Promise<void> {
    // Until LOGIN, a short timer (limits.preauth_idle_seconds, a minute): an idle
    // unauthenticated connection only holds a slot. RFC 9051 §5.4's 30 minutes apply after.
    this.conn.setIdleTimeout(this.ctx.cfg.limits.preauth_idle_seconds * 1000);
    watchShutdown(this.shuttingDown, this);
    return new Promise<void>((resolve, reject) => {
      this.runResolve = resolve;
      this.runReject = reject;
      try {
        this.untaggedStatus('OK', `CAPABILITY ${capabilities(this).join(' ')}`, 'Letterbox ready');
      } catch (err) {
        this.end(err);
        return;
      }
      this.pump();
    });
  }

  /**
   * The input loop: takes input events and runs commands until it must wait, for input (the
   * read's completion or a wake-up calls it again) or for a promise (it goes on when that
   * settles). One turn is step(), or waitStep() while a command waits for its client.
   */
  private readonly pump = (): void => {
    try {
      for (;;) {
        const next = this.waiting ? this.waitStep(this.waiting) : this.step();
        if (next === WAIT) return;
        if (next !== undefined) {
          next.then(this.pump, this.pumpFailed);
          return;
        }
      }
    } catch (err) {
      this.pumpFailed(err);
    }
  };

  /**
   * A failure in the input loop: while a command waits it is that command's failure (its
   * tagged answer, as a run() that threw), else the session's: it ends.
   */
  private readonly pumpFailed = (err: unknown): void => {
    const w = this.waiting;
    if (w)
      this.endWaiting(w, this.commandFailed(err, w.spec.name)).then(this.pump, this.pumpFailed);
    else this.end(err);
  };

  /** One turn of the command loop: WAIT (for input or the end), a promise, or undefined. */
  private step(): Promise<void> | undefined | typeof WAIT {
    if (this.state.kind === 'logout' || this.conn.closed) return this.end();
    const ev = this.takeEvent(true);
    if (ev === WAIT) return this.waitInput();
    if (ev instanceof Promise) return ev;
    if (ev.kind === 'eof') {
      if (this.conn.timedOut) {
        // RFC 9051 §5.4: autologout after at least 30 minutes of inactivity.
        this.untaggedStatus('BYE', undefined, 'Autologout; idle for too long');
      }
      return this.end();
    }
    if (ev.kind === 'wake') {
      if (this.endReason !== null) {
        this.untaggedStatus('BYE', undefined, this.endReason);
        return this.end();
      }
      // RFC 5465: with NOTIFY, events are pushed while no command is in progress.
      return this.notify ? this.pushNotifications(false) : undefined;
    }
    return this.onEvent(ev);
  }

  /** One turn while a command waits for its client (commands/types.ts InputWait). */
  private waitStep(w: Waiting): Promise<void> | undefined | typeof WAIT {
    const ready = w.wait.beforeInput();
    if (ready instanceof Promise) return ready;
    if (ready !== null) return this.endWaiting(w, ready);
    const ev = this.takeEvent(true);
    if (ev === WAIT) return this.waitInput();
    if (ev instanceof Promise) return ev;
    const done = w.wait.onInput(ev);
    return done === null ? undefined : this.endWaiting(w, done);
  }

  /** The read under way (or a wake-up) calls the loop again. */
  private waitInput(): typeof WAIT {
    this.waiter = this.pump;
    this.waiterWakeable = true;
    return WAIT;
  }

  /**
   * The session is over (`failure`: it failed): output flushed, state released, connection
   * closed; then run()'s promise settles. Returns WAIT: the loop does not run again.
   */
  private end(failure?: unknown): typeof WAIT {
    this.waiter = null;
    this.finishSession(failure).then(this.runResolve, this.runReject);
    return WAIT;
  }

  private async finishSession(failure: unknown): Promise<void> {
    try {
      if (failure !== undefined) throw failure;
      await this.flush();
    } catch (err) {
      this.log.error({ err }, 'IMAP session failed');
    } finally {
      unwatchShutdown(this.shuttingDown, this);
      // A connection that ends with a mailbox selected leaves it too.
      if (this.current.kind === 'selected') this.state = { kind: 'logout' };
      this.unsubscribe?.();
      this.contexts?.dispose();
      this.rx.dispose();
      // RFC 9051 §6.1.3: after LOGOUT's BYE and tagged OK the server closes; the client sends
      // nothing more, so the socket goes as soon as they and our FIN are with the kernel
      // (Connection.finish), without waiting for the client's side.
      await (this.loggedOut ? this.conn.finish() : this.conn.close());
    }
  }

  /** Not async: the command's own promise is returned (one suspended frame fewer in IDLE). */
  private onEvent(ev: ReceiverEvent): Promise<void> | undefined {
    switch (ev.kind) {
      case 'command':
        return this.dispatch(ev.command);
      case 'continue': {
        // RFC 9051 §7.5: the size was checked by the receiver before we say go ahead; a
        // command that will be refused anyway is answered now, and its literal never sent.
        const refusal = this.refuseBeforeLiteral();
        if (refusal instanceof Promise)
          return refusal.then((r) => this.continueOrRefuse(r, ev.text));
        this.continueOrRefuse(refusal, ev.text);
        return;
      }
      case 'literal-too-big':
        if (ev.reason === 'memory') {
          // A temporary condition, not the client's fault: the command did not run, try later
          // (RFC 9051 §7.1 LIMIT). A {N+} literal's bytes are read and dropped.
          this.send(
            formatTagged(ev.tag ?? '*', {
              status: 'NO',
              code: 'LIMIT',
              text: 'Server memory for messages is busy; try again later',
            }),
          );
          return;
        }
        // RFC 7888 §4 / RFC 9051 §7.1 TOOBIG: a synchronizing literal is refused before the
        // client sends it (tagged NO); the bytes of a non-synchronizing one were already on the
        // way, so they are read and dropped, and the command is BAD.
        this.send(
          formatTagged(ev.tag ?? '*', {
            status: ev.nonSync ? 'BAD' : 'NO',
            code: 'TOOBIG',
            text: `Literal of ${ev.size} bytes is over the limit`,
          }),
        );
        return;
      case 'line-too-long':
        this.send(formatTagged(ev.tag ?? '*', { status: 'BAD', text: 'Command line too long' }));
        this.countBad();
        return;
      case 'line':
        this.send(formatTagged('*', { status: 'BAD', text: 'Unexpected line' }));
        return;
    }
  }

  private continueOrRefuse(refusal: Buffer | null, text: string): void {
    if (!refusal) {
      this.send(`+ ${text}\r\n`);
      return;
    }
    this.send(refusal);
    this.rx.dropPending();
  }

  /**
   * The tagged answer for a command waiting for a synchronizing literal that is refused on
   * what came before it: unknown, not allowed in this state, or its spec's beforeLiteral
   * check. Null lets the literal come (a syntax error is answered once the command is whole,
   * and so is anything unexpected: the command then runs as usual).
   */
  private refuseBeforeLiteral(): Buffer | null | Promise<Buffer | null> {
    const pending = this.rx.pendingCommand();
    const cmd = parseCommand(pending);
    if (cmd instanceof ImapParseError) return null;
    const spec = COMMANDS.get(cmd.name);
    if (!spec) {
      this.countBad();
      return formatTagged(cmd.tag, { status: 'BAD', text: `Unknown command ${cmd.name}` });
    }
    if (!spec.states.includes(this.state.kind)) {
      return formatTagged(cmd.tag, {
        status: 'BAD',
        text: `${cmd.name} is not allowed in the ${this.state.kind} state`,
      });
    }
    const check = spec.beforeLiteral;
    if (!check) return null;
    const refused = tryParse(() => check(this, cmd.args, cmd, pending.literals.length));
    if (refused === null || refused instanceof ImapParseError) return null;
    if (!(refused instanceof Promise)) return formatTagged(cmd.tag, refused);
    return refused.then(
      (c) => (c ? formatTagged(cmd.tag, c) : null),
      (err: unknown) => {
        const failed = errorCompletion(err);
        return failed.internal ? null : formatTagged(cmd.tag, failed.completion);
      },
    );
  }

  private countBad(): void {
    if (++this.badCommands < IMAP_LIMITS.maxBadCommands) return;
    this.untaggedStatus('BYE', undefined, 'Too many invalid commands');
    this.state = { kind: 'logout' };
  }

  /** Token bucket: past the burst, commands wait for their turn (the client is not refused). */
  private async rateLimit(): Promise<void> {
    const now = Date.now();
    this.tokens = Math.min(
      IMAP_LIMITS.commandBurst,
      this.tokens + ((now - this.tokensAt) / 1000) * IMAP_LIMITS.commandsPerSecond,
    );
    this.tokensAt = now;
    if (this.tokens < 1) {
      const waitMs = ((1 - this.tokens) / IMAP_LIMITS.commandsPerSecond) * 1000;
      await this.flush();
      await this.conn.guard.sleep(waitMs);
      this.tokens = 1;
      this.tokensAt = Date.now();
    }
    this.tokens -= 1;
  }

  private async dispatch(received: ReceivedCommand): Promise<void> {
    // Latency from arrival to the tagged response, a rate-limit wait included.
    const started = performance.now();
    this.commandName = null;
    let waits = false;
    try {
      waits = await this.dispatchCommand(received, started);
    } finally {
      // A command that waits for its client does this when it ends (endWaiting).
      if (!waits) {
        this.ctx.memory.give(received.held ?? 0);
        this.listener.commands.observe(this.commandName, started);
      }
    }
  }

  /** True when the command now waits for its client (this.waiting): the loop drives it. */
  private async dispatchCommand(received: ReceivedCommand, started: number): Promise<boolean> {
    await this.rateLimit();
    const cmd = parseCommand(received);
    if (cmd instanceof ImapParseError) {
      this.send(formatTagged(cmd.tag ?? '*', { status: 'BAD', text: cmd.message }));
      this.countBad();
      return false;
    }
    const spec = COMMANDS.get(cmd.name);
    // The table's name, one string for all sessions: the parser's copy would be held by every
    // session for as long as its command runs (an IDLE for hours; issue 14 §4 memory budget).
    this.commandName = spec?.name ?? cmd.name;
    if (!spec) {
      this.send(formatTagged(cmd.tag, { status: 'BAD', text: `Unknown command ${cmd.name}` }));
      this.countBad();
      return false;
    }
    if (!spec.states.includes(this.state.kind)) {
      this.send(
        formatTagged(cmd.tag, {
          status: 'BAD',
          text: `${cmd.name} is not allowed in the ${this.state.kind} state`,
        }),
      );
      return false;
    }
    const args = tryParse(() => spec.parse(cmd.args, this));
    if (args instanceof ImapParseError) {
      this.send(
        formatTagged(cmd.tag, { status: args.status, code: args.code, text: args.message }),
      );
      if (args.status === 'BAD') this.countBad();
      return false;
    }
    this.badCommands = 0;
    // New messages are announced before the command runs, so that a UID command names
    // messages another session just added (EXISTS may be sent at any time, RFC 9051 §7.4.1).
    if (this.state.kind === 'selected') {
      await this.sendUpdates({ allowExpunge: false });
      // sendUpdates may end the session (the mailbox was deleted): TS cannot see that.
      if ((this.state as SessionState).kind === 'logout') {
        this.send(
          formatTagged(cmd.tag, { status: 'NO', text: 'The selected mailbox was deleted' }),
        );
        return false;
      }
    }
    let completion: Completion;
    this.notify?.beginCommand(this, cmd.name, args);
    try {
      if (spec.wait) {
        const wait = spec.wait(this, args as never, cmd);
        const held = received.held ?? 0;
        this.waiting = { wait, spec, tag: cmd.tag, uid: cmd.uid, held, started };
        return true;
      }
      completion = await spec.run(this, args as never, cmd);
    } catch (err) {
      completion = this.commandFailed(err, cmd.name);
    }
    await this.completeCommand(spec, cmd.tag, cmd.uid, completion);
    return false;
  }

  /** A command's failure as its tagged answer (logged when it is the server's fault). */
  private commandFailed(err: unknown, command: string): Completion {
    const failed = errorCompletion(err);
    if (failed.internal) this.log.error({ err, command }, 'IMAP command failed');
    return failed.completion;
  }

  /** After a command: updates it may be answered with, then its tagged answer. */
  private async completeCommand(
    spec: CommandSpec<never>,
    tag: string,
    uid: boolean,
    completion: Completion,
  ): Promise<void> {
    this.notify?.endCommand();
    if (this.state.kind === 'selected') {
      // RFC 9051 §7.5.1: no EXPUNGE while answering FETCH, STORE or SEARCH (their UID forms
      // may have them).
      await this.sendUpdates({ allowExpunge: !spec.noExpunge || uid });
    }
    if (spec.afterTagged) {
      this.send(formatTagged(tag, completion));
      await this.flush();
      if (completion.status === 'OK') await spec.afterTagged(this);
      return;
    }
    this.send(formatTagged(tag, completion));
  }

  /** The waiting command ends with `completion`: answered as a command that ran. */
  private async endWaiting(w: Waiting, completion: Completion): Promise<void> {
    this.waiting = null;
    try {
      w.wait.end();
      await this.completeCommand(w.spec, w.tag, w.uid, completion);
    } finally {
      this.ctx.memory.give(w.held);
      this.listener.commands.observe(w.spec.name, w.started);
    }
  }

  /**
   * RFC 7162 §3.1: a CONDSTORE enabling command (FETCH MODSEQ or CHANGEDSINCE, SEARCH MODSEQ,
   * STORE UNCHANGEDSINCE, STATUS HIGHESTMODSEQ) turns CONDSTORE on for the rest of the
   * connection. When it is the first one issued with a mailbox selected (SELECT did not have
   * it), the client has not had the mailbox's HIGHESTMODSEQ yet: it gets `OK [HIGHESTMODSEQ]`
   * now, with the value it has been told up to (changes not yet announced come after it).
   */
  enableCondstore(): void {
    if (this.enabled.condstore) return;
    this.enabled.condstore = true;
    const sel = this.selected;
    if (sel) this.untaggedStatus('OK', `HIGHESTMODSEQ ${sel.view.highestModseq}`, 'Highest');
  }

  /**
   * RFC 3501 §2.3.2: takes \Recent for the selected mailbox's messages up to `upToUid` that
   * no session has been told about, and marks them recent in this session's view. A
   * read-only session (EXAMINE) sees them recent without taking them (§6.3.2). IMAP4rev2
   * has no \Recent (RFC 9051 Appendix E): such a session neither sees nor takes it, so it
   * leaves the new-mail indication to IMAP4rev1 clients of the same mailbox.
   * Synchronous when the store answers at once (see MailStore.claimRecent): no promise per
   * session per delivery.
   */
  claimRecent(upToUid: number): Promise<void> | undefined {
    const sel = this.selected;
    if (!sel || this.enabled.imap4rev2 || upToUid <= 0) return;
    const from = this.ctx.store.claimRecent(sel.mailbox.id, upToUid, !sel.readOnly);
    if (typeof from === 'number') sel.view.addRecent(from, upToUid);
    else return from.then((n) => sel.view.addRecent(n, upToUid));
  }

  /**
   * RFC 3501 §7.2.6 / RFC 9051 §7.3.5: when a change (a STORE, APPEND, COPY or MOVE, by this
   * session or another, or delivery) brought keywords the session's FLAGS list lacks, the
   * grown list goes out as FLAGS and OK [PERMANENTFLAGS]. `keywords`: ones the caller is
   * about to show (its own STORE), checked as well.
   */
  announceKeywords(keywords?: readonly string[]): void {
    const sel = this.selected;
    if (!sel) return;
    if (keywords) sel.view.noteKeywords(keywords);
    const list = sel.view.takeNewKeywords();
    if (list) sendFlagsList(this, list, sel.readOnly);
  }

  // ---- authentication and the selected mailbox ----------------------------------------

  /** Enters the authenticated state and starts listening for the account's changes. */
  login(account: AccountRef): void {
    this.state = { kind: 'authenticated', account };
    this.log = this.log.child({ account: account.address });
    this.rx.setLimits({ maxLiteralSize: this.literalLimit });
    this.conn.setIdleTimeout(IMAP_LIMITS.idleTimeoutMs);
    this.unsubscribe = this.ctx.store.subscribeAccount(account.id, (ev) => this.onStoreEvent(ev));
  }

  /**
   * Runs a SELECT's reading of the mailbox: the store's events for it while the read is under
   * way (it yields) are kept and handed to the view made from what was read, so that nothing
   * committed in between goes unannounced (the view ignores what it already holds). With
   * `mailboxId` null (the mailbox is found by the read itself) the account's events are kept
   * (the view takes its own mailbox's); `stop` drops them when no view is made.
   */
  async selecting<T>(
    mailboxId: number | null,
    read: () => Promise<T>,
  ): Promise<{ value: T; replay: (view: MailboxView) => void; stop: () => void }> {
    const capture = { mailboxId, events: [] as ChangeEvent[] };
    this.selectingFor = capture;
    const stop = () => {
      if (this.selectingFor === capture) this.selectingFor = null;
    };
    try {
      const value = await read();
      // Kept until the view exists (replay, with the session selected): no event in between.
      const replay = (view: MailboxView) => {
        stop();
        for (const ev of capture.events) view.onEvent(ev);
      };
      return { value, replay, stop };
    } catch (err) {
      stop();
      throw err;
    }
  }

  private onStoreEvent(ev: ChangeEvent): void {
    const account = this.account;
    if (!account || ev.accountId !== account.id) return;
    if (ev.kind === 'account-disabled') {
      // No login of a disabled account succeeds; one made before ends now: BYE at once when
      // waiting (IDLE too), else after the command under way (RFC 9051 §7.1.5).
      this.endReason ??= 'Account disabled';
      this.wake();
      return;
    }
    const capture = this.selectingFor;
    if (capture && (capture.mailboxId ?? ev.mailboxId) === ev.mailboxId) capture.events.push(ev);
    if (this.notify?.onEvent(ev, this.selected?.mailbox.id ?? 0)) this.wake();
    const sel = this.selected;
    if (!sel || ev.mailboxId !== sel.mailbox.id) return;
    sel.view.onEvent(ev);
    this.contexts?.onEvent(ev);
    // RFC 2177: in IDLE, changes are pushed at once.
    if (this.idling) this.wake();
  }

  /**
   * Announces queued changes of the selected mailbox: EXPUNGE (or VANISHED under QRESYNC,
   * RFC 7162 §3.2.10), EXISTS, and FETCH (UID FLAGS [MODSEQ]) for flags changed by others.
   */
  sendUpdates(opts: { allowExpunge: boolean }): Promise<void> | undefined {
    const sel = this.selected;
    if (!sel) return;
    const view = sel.view;
    if (view.gone) {
      this.untaggedStatus('BYE', undefined, 'The selected mailbox was deleted');
      this.state = { kind: 'logout' };
      return;
    }
    // RFC 5267 §4.3: contexts end with the selection; §4.3.4: REMOVEFROM before EXPUNGE.
    if (this.contexts?.selected !== sel) {
      this.contexts?.dispose();
      this.contexts = null;
    }
    const contexts = this.contexts;
    contexts?.announceExpunged(this);
    if (!view.hasPending) return contexts?.announceChanges(this);
    const newFrom = this.notify ? this.notify.beforeUpdates(view) : -1;
    // RFC 3501 §7.2.6: a new keyword is announced before any FETCH that shows it.
    this.announceKeywords();
    const u = view.takeUpdates(opts);
    if (u.expunged.uids.length > 0) {
      if (this.enabled.qresync) this.untagged(`VANISHED ${sequenceSetToString(u.expunged.uids)}`);
      else for (const seq of u.expunged.seqs) this.untagged(`${seq} EXPUNGE`);
    }
    let claiming: Promise<void> | undefined;
    if (u.exists !== null) {
      this.untagged(`${u.exists} EXISTS`);
      if (!this.enabled.imap4rev2) {
        // RFC 3501 §7.3.2: RECENT comes with a change of the mailbox's size; this session,
        // the first told of the new messages, takes their \Recent (§2.3.2).
        claiming = u.added ? this.claimRecent(u.added[1]) : undefined;
        if (!claiming) this.untagged(`${view.recentCount()} RECENT`);
      }
    }
    // A session in IDLE hearing of a new message usually has nothing to wait for: it returns
    // without a promise, so 10,000 of them do not all stay suspended at once (issue 14 §4).
    const notifyNew = newFrom >= 0 && u.exists !== null;
    if (!claiming && u.flags.length === 0 && !notifyNew && !contexts) return;
    return this.finishUpdates(view, u, claiming, notifyNew ? newFrom : -1, contexts);
  }

  /** The part of sendUpdates that reads the store or awaits NOTIFY and contexts. */
  private async finishUpdates(
    view: MailboxView,
    u: ViewUpdates,
    claiming: Promise<void> | undefined,
    newFrom: number,
    contexts: UpdateContexts | null,
  ): Promise<void> {
    // The store may be out of reach (PostgreSQL restarting, a partition: UNAVAILABLE). The
    // session goes on, and so does the command, which gets its own answer: a \Recent claim
    // that failed is not taken (this session's RECENT counts what it knows), and flag changes
    // it could not read are announced later.
    if (claiming) {
      await claiming.catch(unlessUnavailable);
      this.untagged(`${view.recentCount()} RECENT`);
    }
    if (u.flags.length > 0) {
      const since = Math.min(...u.flags.map((f) => f.modseq)) - 1;
      const records = await this.ctx.store
        .listMessages(view.mailboxId, { changedSince: since })
        .catch((err: unknown) => {
          unlessUnavailable(err);
          for (const f of u.flags) {
            view.onEvent({
              ...FLAGS_AGAIN,
              mailboxId: view.mailboxId,
              modseq: f.modseq,
              uids: [f.uid],
            });
          }
          return [];
        });
      const byUid = new Map(records.map((r) => [r.uid, r]));
      for (const f of u.flags) {
        const r = byUid.get(f.uid);
        const seq = view.seqOf(f.uid);
        if (!r || seq === 0) continue;
        const modseq = this.enabled.condstore ? ` MODSEQ (${r.modseq})` : '';
        const flags = formatFlags(view.withRecent(r.uid, r.flags));
        this.untagged(`${seq} FETCH (UID ${r.uid} FLAGS ${flags}${modseq})`);
        view.highestModseq = Math.max(view.highestModseq, r.modseq);
      }
    }
    // RFC 5465 §5.2: MessageNew's fetch attributes follow EXISTS.
    if (newFrom >= 0) await this.notify?.afterUpdates(this, view, newFrom);
    // RFC 5267 §4.3.3: ADDTO after the EXISTS / FETCH that caused it.
    if (contexts) await contexts.announceChanges(this);
  }

  /** RFC 5465: sends what NOTIFY queued (between commands, or in IDLE). */
  async pushNotifications(inIdle: boolean): Promise<void> {
    try {
      await this.notify?.push(this, inIdle);
    } catch (err) {
      this.log.error({ err }, 'NOTIFY push failed');
    }
  }
}

/** A flag change to announce again (an event as the store would send, for the view alone). */
const FLAGS_AGAIN = { accountId: 0, kind: 'flags' } as const;

/** Rethrows anything but the store's UNAVAILABLE. */
function unlessUnavailable(err: unknown): void {
  if (!(err instanceof StoreError && err.code === 'UNAVAILABLE')) throw err;
}
