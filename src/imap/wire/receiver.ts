/**
 * Incremental IMAP command receiver: bytes in, whole commands out. No I/O, no parsing of
 * arguments (that is parser.ts), no store.
 *
 * Usage from a session (one receiver per connection):
 *
 *   const rx = new CommandReceiver({ maxLineLength: 65536, maxLiteralSize: 50 << 20,
 *                                    literalPlus: true });
 *   socket.on('data', (chunk) => { rx.feed(chunk); drain(); });
 *   function drain() {
 *     for (let ev = rx.next(); ev; ev = rx.next()) {
 *       switch (ev.kind) {
 *         case 'command':        // parseCommand(ev.command) -> run the handler
 *         case 'continue':       // write `+ ${ev.text}\r\n` now: a synchronizing literal awaits
 *         case 'literal-too-big':// write `${ev.tag ?? '*'} ${ev.nonSync ? 'BAD' : 'NO'} [TOOBIG] ...`
 *         case 'line-too-long':  // write `${ev.tag ?? '*'} BAD line too long` (or close)
 *         case 'line':           // the raw line asked for with expectRawLine() (IDLE DONE, SASL)
 *       }
 *     }
 *   }
 *
 * Events are produced lazily by next(): after a command event the session may call
 * expectRawLine() (IDLE, AUTHENTICATE) and the bytes that follow in the same chunk are then read
 * as a raw line, not as a command. push(chunk) = feed(chunk) + drain all events; it is handy
 * when no mode switch can happen (tests), but a session should use feed()/next(). A session
 * that is busy with an async handler simply stops calling next(); bufferedBytes tells how much
 * input waits, so it can pause the socket.
 *
 * A command is delivered as `ReceivedCommand`: the non-literal text split at each literal,
 * with CRLF removed (`lines`), and the literal bytes (`literals`). lines[i] for i < literals
 * length ends with the literal marker (`{N}`, `{N+}` or `~{N}`) whose data is literals[i].
 */

/** One received command: lines.length === literals.length + 1. */
export interface ReceivedCommand {
  readonly lines: Buffer[];
  readonly literals: Buffer[];
  /** Bytes of its literals counted against the memory budget: the session gives them back. */
  readonly held?: number;
}

export type ReceiverEvent =
  | { kind: 'command'; command: ReceivedCommand }
  | { kind: 'continue'; text: string }
  | {
      kind: 'literal-too-big';
      tag: string | undefined;
      /** The announced size (Infinity when the digits do not fit a number). */
      size: number;
      nonSync: boolean;
      /**
       * 'limit': over maxLiteralSize (or maxCommandSize); 'literal-minus': RFC 7888 §4;
       * 'memory': the server's memory budget for message bytes is spent for now.
       */
      reason: 'limit' | 'literal-minus' | 'memory';
    }
  | { kind: 'line-too-long'; tag: string | undefined }
  | { kind: 'line'; line: Buffer };

export interface ReceiverOptions {
  /** Bytes of the non-literal part of one command (all its lines, CRLF excluded). */
  maxLineLength: number;
  /** Largest single literal accepted (APPENDLIMIT). */
  maxLiteralSize: number;
  /**
   * Total bytes of one command, literals included (MULTIAPPEND, RFC 3502);
   * default 2 x maxLiteralSize + maxLineLength.
   */
  maxCommandSize?: number;
  /** true: LITERAL+ (any {N+}); false: LITERAL- ({N+} only up to 4096 bytes). */
  literalPlus: boolean;
}

/** Memory accounting for literals: a literal's bytes are counted before they are read. */
export interface LiteralBudget {
  tryTake(n: number): boolean;
  give(n: number): void;
}

/** RFC 7888 §4: under LITERAL- a non-synchronizing literal may carry at most 4096 bytes. */
export const LITERAL_MINUS_MAX = 4096;

// A literal marker at the very end of a line: `{123}`, `{123+}` or the literal8 `~{123}`.
const MARKER = /~?\{(\d+)(\+?)\}$/;
// Pieces of one line kept before they are merged into one buffer.
const MAX_LINE_PARTS = 32;
/**
 * The empty tail, one for all receivers: a Buffer.alloc(0) per command kept a Buffer and its
 * ArrayBuffer (about 180 B) in every session waiting for its next command, IDLE included.
 */
const NO_BYTES = Buffer.alloc(0);

// Enough of a line's tail to hold any marker we could act upon.
const TAIL_KEEP = 40;

type Mode =
  | { m: 'line' }
  /** A literal's bytes are copied into `buf` (its exact size, allocated once). */
  | { m: 'literal'; remaining: number; buf: Buffer }
  | { m: 'raw' }
  | { m: 'swallow'; remaining: number };

export class CommandReceiver {
  private opts: Required<ReceiverOptions>;
  private readonly budget: LiteralBudget | undefined;
  /** Bytes counted against the budget for the command being assembled. */
  private held = 0;
  private input: Buffer[] = [];
  private inputBytes = 0;
  private mode: Mode = { m: 'line' };
  private rawWanted = false;
  // The command being assembled.
  private lines: Buffer[] = [];
  private literals: Buffer[] = [];
  private lineParts: Buffer[] = [];
  private textBytes = 0; // non-literal bytes of the command so far
  private totalBytes = 0; // all bytes of the command so far
  private tag: string | undefined;
  // Discarding: the rest of the current command is dropped (after an error event).
  private discarding = false;
  private tail: Buffer = NO_BYTES;
  // Quote state of the current line, carried across chunks (a marker inside a quoted string
  // is not a marker).
  private inQuote = false;
  private escaped = false;

  constructor(options: ReceiverOptions, budget?: LiteralBudget) {
    this.opts = withDefaults(options);
    this.budget = budget;
  }

  get options(): Readonly<Required<ReceiverOptions>> {
    return this.opts;
  }

  /**
   * New size limits for literals announced from now on (the session raises them after
   * authentication, RFC 7888 §4 lets a server refuse big literals before it).
   */
  setLimits(limits: Pick<ReceiverOptions, 'maxLiteralSize' | 'maxCommandSize'>): void {
    this.opts = withDefaults({ ...this.opts, maxCommandSize: undefined, ...limits });
  }

  /** Gives back what the command being assembled holds (the session ends mid-command). */
  dispose(): void {
    this.release();
    this.input = [];
    this.inputBytes = 0;
    this.literals = [];
    this.mode = { m: 'line' };
  }

  /**
   * The command being assembled, as far as it came: after a `continue` event its last line
   * ends with the literal marker whose bytes have not been asked for yet (so lines.length ===
   * literals.length + 1, as in a whole command). The session may look at it to refuse the
   * command before the client sends the literal (RFC 9051 §7.5: a tagged response instead of
   * the continuation request).
   */
  pendingCommand(): ReceivedCommand {
    return { lines: [...this.lines], literals: [...this.literals] };
  }

  /**
   * Forgets the command being assembled, after a `continue` event the session answered with
   * a tagged response instead of `+`: the client sends no literal, and what the command held
   * of the memory budget is given back. Input that follows is read as a new command.
   */
  dropPending(): void {
    this.startDiscard();
    this.endCommand();
  }

  /** Bytes received and not yet turned into events. */
  get bufferedBytes(): number {
    return this.inputBytes;
  }

  /**
   * The next line (from the next byte not yet consumed) is returned whole as a `line` event,
   * without literal processing: IDLE's `DONE` (RFC 2177), AUTHENTICATE responses (RFC 9051
   * §6.2.2). Call it between commands, after handling the command that asks for it.
   */
  expectRawLine(): void {
    const betweenCommands =
      this.mode.m === 'line' && this.lines.length === 0 && this.lineParts.length === 0;
    if (betweenCommands && !this.discarding) {
      this.mode = { m: 'raw' };
    } else {
      this.rawWanted = true;
    }
  }

  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.input.push(chunk);
    this.inputBytes += chunk.length;
  }

  /** Feeds the chunk and returns every event it completes. */
  push(chunk: Buffer): ReceiverEvent[] {
    this.feed(chunk);
    const out: ReceiverEvent[] = [];
    for (let ev = this.next(); ev; ev = this.next()) out.push(ev);
    return out;
  }

  /** The next event, or undefined when more input is needed. */
  next(): ReceiverEvent | undefined {
    while (this.input.length > 0) {
      const ev = this.step();
      if (ev) return ev;
    }
    return undefined;
  }

  /** Consumes some input from the head buffer; may produce one event. */
  private step(): ReceiverEvent | undefined {
    const head = this.input[0];
    const mode = this.mode;
    if (mode.m === 'literal' || mode.m === 'swallow') {
      const n = Math.min(mode.remaining, head.length);
      // Copied, not kept as views of socket chunks: a literal sent in tiny TCP segments would
      // otherwise cost an object per segment, many times its size.
      if (mode.m === 'literal') head.copy(mode.buf, mode.buf.length - mode.remaining, 0, n);
      this.consume(n);
      mode.remaining -= n;
      if (mode.remaining > 0) return undefined;
      if (mode.m === 'literal') this.literals.push(mode.buf);
      this.mode = { m: 'line' };
      return undefined;
    }
    if (mode.m === 'line' && this.atCommandStart()) {
      // Empty lines between commands make no event: skip a run of them at once (one step per
      // line cost a microsecond each, 35-90 ms for a 64 KB read of them).
      const n = emptyLines(head);
      if (n > 0) {
        this.consume(n);
        return undefined;
      }
      const whole = this.wholeLine(head);
      if (whole !== null) return whole;
    }
    const lf = head.indexOf(0x0a);
    const piece = lf < 0 ? head : head.subarray(0, lf);
    this.consume(lf < 0 ? head.length : lf + 1);
    if (mode.m === 'raw') return this.rawPiece(piece, lf >= 0);
    return this.linePiece(piece, lf >= 0);
  }

  /**
   * A command of one line that came whole at the head of the input, with no literal marker at
   * its end (all but APPEND of the commands a client sends at each login, issue 19): the
   * command event the general path (linePiece, finishLine) gives for it, without its steps
   * for a line cut across reads or announcing a literal (the tail kept for the marker, the
   * quote scan, the tag). Null when the general path must take it: no line end yet, a line
   * ending with `}` (maybe a marker), or one over maxLineLength (line-too-long).
   */
  private wholeLine(head: Buffer): ReceiverEvent | null {
    const lf = head.indexOf(0x0a);
    if (lf < 0) return null;
    const end = lf > 0 && head[lf - 1] === 0x0d ? lf - 1 : lf;
    if (end === 0 || end > this.opts.maxLineLength || head[end - 1] === 0x7d) return null;
    // A copy, as Buffer.concat made it: the line does not hold the read it came in.
    const text = Buffer.allocUnsafe(end);
    head.copy(text, 0, 0, end);
    this.consume(lf + 1);
    return { kind: 'command', command: { lines: [text], literals: [] } };
  }

  /** Nothing of a command received yet (so an empty line now is no command at all). */
  private atCommandStart(): boolean {
    return (
      this.lineParts.length === 0 &&
      this.lines.length === 0 &&
      !this.discarding &&
      !this.rawWanted &&
      this.textBytes === 0
    );
  }

  private consume(n: number): void {
    const head = this.input[0];
    this.inputBytes -= n;
    if (n >= head.length) this.input.shift();
    else this.input[0] = head.subarray(n);
  }

  private rawPiece(piece: Buffer, complete: boolean): ReceiverEvent | undefined {
    if (!this.discarding) {
      this.lineParts.push(piece);
      this.textBytes += piece.length;
      if (this.textBytes > this.opts.maxLineLength + 1) {
        // +1: the CR of CRLF may still be in lineParts.
        this.lineParts = [];
        this.discarding = true;
        if (!complete) return { kind: 'line-too-long', tag: undefined };
        this.endLine();
        return { kind: 'line-too-long', tag: undefined };
      }
    }
    if (!complete) return undefined;
    const wasDiscarding = this.discarding;
    const line = stripCr(Buffer.concat(this.lineParts));
    this.endLine();
    if (wasDiscarding) return undefined;
    if (line.length > this.opts.maxLineLength) return { kind: 'line-too-long', tag: undefined };
    return { kind: 'line', line };
  }

  private endLine(): void {
    this.lineParts = [];
    this.textBytes = 0;
    this.discarding = false;
    this.resetLineScan();
    this.mode = this.rawWanted ? { m: 'raw' } : { m: 'line' };
    this.rawWanted = false;
  }

  private resetLineScan(): void {
    this.tail = NO_BYTES;
    this.inQuote = false;
    this.escaped = false;
  }

  private linePiece(piece: Buffer, complete: boolean): ReceiverEvent | undefined {
    this.scanQuotes(piece);
    this.tail = keepTail(this.tail, piece);
    if (!this.discarding) {
      this.pushLinePart(piece);
      this.textBytes += piece.length;
      this.totalBytes += piece.length;
      // +1: the CR of CRLF is still counted here; it is stripped when the line completes.
      if (this.textBytes > this.opts.maxLineLength + 1) {
        const tag =
          this.lines.length > 0 ? this.tag : tagOf(this.lineParts, this.opts.maxLineLength);
        this.startDiscard();
        if (complete) this.finishLine();
        return { kind: 'line-too-long', tag };
      }
    }
    if (!complete) return undefined;
    return this.finishLine();
  }

  /** Called at LF: the line either announces a literal or ends the command. */
  private finishLine(): ReceiverEvent | undefined {
    const tail = stripCr(this.tail);
    // MARKER ends with `}`: a line ending otherwise is not turned into a string to be matched.
    const marker =
      this.inQuote || tail[tail.length - 1] !== 0x7d ? null : MARKER.exec(tail.toString('latin1'));
    this.resetLineScan();
    if (this.discarding) {
      // Dropping the rest of a rejected command: only non-synchronizing literals are still
      // coming; a synchronizing one waits for a `+` that is never sent, so the command ends.
      if (marker && marker[2] === '+') {
        this.mode = { m: 'swallow', remaining: literalSize(marker[1]) };
      } else {
        this.endCommand();
      }
      return undefined;
    }
    const raw = Buffer.concat(this.lineParts);
    const text = stripCr(raw);
    this.lineParts = [];
    // The CR of CRLF is not part of the command text.
    this.textBytes -= raw.length - text.length;
    this.totalBytes -= raw.length - text.length;
    const tooLong = this.textBytes > this.opts.maxLineLength;
    // The tag is only told with an error about this command, which needs a marker or a line
    // too long; a command that ends here has no use for it.
    if (this.lines.length === 0 && (marker || tooLong))
      this.tag = tagOf([text], this.opts.maxLineLength);
    if (tooLong) {
      const tag = this.tag;
      this.startDiscard();
      if (marker && marker[2] === '+')
        this.mode = { m: 'swallow', remaining: literalSize(marker[1]) };
      else this.endCommand();
      return { kind: 'line-too-long', tag };
    }
    if (!marker) {
      const lines = [...this.lines, text];
      const command: ReceivedCommand =
        this.held > 0
          ? { lines, literals: this.literals, held: this.held }
          : { lines, literals: this.literals };
      this.held = 0; // now the session's to give back
      this.endCommand();
      // An empty line is not a command: ignore it rather than answer `* BAD`.
      if (command.lines.length === 1 && text.length === 0) return undefined;
      return { kind: 'command', command };
    }
    this.lines.push(text);
    const size = literalSize(marker[1]);
    const nonSync = marker[2] === '+';
    let reason: 'limit' | 'literal-minus' | 'memory' | undefined;
    if (size > this.opts.maxLiteralSize || this.totalBytes + size > this.opts.maxCommandSize)
      reason = 'limit';
    else if (nonSync && !this.opts.literalPlus && size > LITERAL_MINUS_MAX)
      reason = 'literal-minus';
    else if (this.budget && !this.budget.tryTake(size)) reason = 'memory';
    else if (this.budget) this.held += size;
    if (reason) {
      const tag = this.tag;
      this.startDiscard();
      // RFC 7888 §4 / RFC 9051 §7.1 (TOOBIG): the client of a {N+} sends the bytes anyway, so
      // they are read and dropped; the client of a {N} waits for `+` and gets the answer.
      if (nonSync) this.mode = { m: 'swallow', remaining: size };
      else this.endCommand();
      return { kind: 'literal-too-big', tag, size, nonSync, reason };
    }
    this.totalBytes += size;
    this.mode = { m: 'literal', remaining: size, buf: Buffer.allocUnsafe(size) };
    if (size === 0) return this.afterEmptyLiteral(nonSync);
    // RFC 9051 §7.5: the server answers a synchronizing literal with a continuation request.
    return nonSync ? undefined : { kind: 'continue', text: 'Ready for literal data' };
  }

  private afterEmptyLiteral(nonSync: boolean): ReceiverEvent | undefined {
    this.literals.push(Buffer.alloc(0));
    this.mode = { m: 'line' };
    return nonSync ? undefined : { kind: 'continue', text: 'Ready for literal data' };
  }

  /** A line arriving in many tiny pieces is merged as it goes (an object per piece costs more). */
  private pushLinePart(piece: Buffer): void {
    this.lineParts.push(piece);
    if (this.lineParts.length > MAX_LINE_PARTS) this.lineParts = [Buffer.concat(this.lineParts)];
  }

  private release(): void {
    this.budget?.give(this.held);
    this.held = 0;
  }

  private startDiscard(): void {
    this.release();
    this.discarding = true;
    this.lineParts = [];
    this.lines = [];
    this.literals = [];
  }

  private endCommand(): void {
    this.lines = [];
    this.literals = [];
    this.lineParts = [];
    this.textBytes = 0;
    this.totalBytes = 0;
    this.tag = undefined;
    this.discarding = false;
    this.mode = this.rawWanted ? { m: 'raw' } : { m: 'line' };
    this.rawWanted = false;
  }

  /** Tracks whether the line so far ends inside a quoted string (RFC 9051 §4.3). */
  private scanQuotes(piece: Buffer): void {
    let inQuote = this.inQuote;
    let escaped = this.escaped;
    let i = 0;
    while (i < piece.length) {
      if (!inQuote) {
        const q = piece.indexOf(0x22, i);
        if (q < 0) break;
        inQuote = true;
        i = q + 1;
        continue;
      }
      const b = piece[i++];
      if (escaped) escaped = false;
      else if (b === 0x5c) escaped = true;
      else if (b === 0x22) inQuote = false;
    }
    this.inQuote = inQuote;
    this.escaped = escaped;
  }
}

/** Bytes of the empty lines (LF or CRLF) at the start of `b`. */
function emptyLines(b: Buffer): number {
  let i = 0;
  for (;;) {
    if (b[i] === 0x0a) i += 1;
    else if (b[i] === 0x0d && b[i + 1] === 0x0a) i += 2;
    else return i;
  }
}

function withDefaults(o: ReceiverOptions): Required<ReceiverOptions> {
  return {
    ...o,
    maxCommandSize: o.maxCommandSize ?? 2 * o.maxLiteralSize + o.maxLineLength,
  };
}

function stripCr(b: Buffer): Buffer {
  return b.length > 0 && b[b.length - 1] === 0x0d ? b.subarray(0, b.length - 1) : b;
}

function keepTail(tail: Buffer, piece: Buffer): Buffer {
  if (piece.length >= TAIL_KEEP) return Buffer.from(piece.subarray(piece.length - TAIL_KEEP));
  const joined = Buffer.concat([tail, piece]);
  return joined.length > TAIL_KEEP ? joined.subarray(joined.length - TAIL_KEEP) : joined;
}

function literalSize(digits: string): number {
  // Beyond 15 digits the number is past any limit; keep it exact below that.
  return digits.length > 15 ? Number.POSITIVE_INFINITY : Number(digits);
}

// RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">.
const TAG = /^[^\x00-\x20\x7f-\xff(){%*"\\+]+$/;

/**
 * The tag of a (partial) first line, when the bytes before the first space form one. Only
 * the first `limit` bytes are looked at: an over-long line is caught once more than that has
 * come, however it was cut into reads, so its tag (or none) is the same whatever the cuts.
 */
function tagOf(parts: Buffer[], limit: number): string | undefined {
  const first = parts.length === 1 ? parts[0] : Buffer.concat(parts);
  const sp = first.subarray(0, limit).indexOf(0x20);
  if (sp <= 0) return undefined;
  const tag = first.subarray(0, sp).toString('latin1');
  return TAG.test(tag) ? tag : undefined;
}
