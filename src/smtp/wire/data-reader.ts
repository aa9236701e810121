// Streaming decoder for the bytes after DATA's 354 (RFC 5321 §4.1.1.4, §4.5.2): finds the end
// of the message, removes dot-stuffing and counts the size, without ever holding more than the
// allowed size. No I/O: the session pushes socket chunks and gets decoded bytes via onData.
//
// Line structure, terminator and dot-stuffing are defined by CRLF ONLY. The data begins as if
// right after a CRLF; the message ends at the first <CRLF>.<CRLF>; a line beginning with "."
// that is not exactly "." loses its first dot. A bare LF or bare CR (RFC 5321 §2.3.8: CR and
// LF occur only together as CRLF) never starts a line, so <LF>.<LF>, <LF>.<CRLF>, <CR>.<CR>,
// <CRLF>.<LF>, <CRLF>.<CR>... do not end the message: this is the defense against SMTP
// smuggling (SEC Consult 2023; CVE-2023-51764 Postfix, -51765 Sendmail, -51766 Exim), where a
// server that ended the message there would read the rest as new, unauthenticated commands.
//
// Bare CR / LF policy (`bareLf`, applies to both):
// - 'reject' (default): bytes are kept as sent and counted; at the end the session answers
//   `bareLineEnding()` (550 5.6.0, see replies.ts) instead of accepting the message.
// - 'normalize': each bare LF and each bare CR is stored as CRLF. This happens only on the
//   output side, after the end and the dots were decided on the raw CRLF structure, so it can
//   neither create a terminator nor remove a dot: `a<LF>.<LF>b` is stored as `a<CRLF>.<CRLF>b`,
//   a line "." inside the message, which is ordinary content (a client sends it as ".."), and
//   which our SMTP client and POP3 must dot-stuff again when they send it on, like any line
//   that begins with ".".

import { bareLineEnding, messageTooBig } from './replies.js';
import type { SmtpReply } from './reply.js';

export type BareLinePolicy = 'reject' | 'normalize';

export interface DataDecoderOptions {
  /** Largest decoded message accepted, in octets (RFC 1870). Only the first maxSize octets
   * are ever passed on; a bigger message is still read to its end, then refused. */
  maxSize: number;
  /** What to do with bare CR and bare LF; see the module comment. Default 'reject'. */
  bareLf?: BareLinePolicy;
  /**
   * Receives the decoded bytes in order. Buffers may be views into the pushed chunk (no copy):
   * do not modify a chunk after pushing it. Without onData the bytes are kept in memory (at
   * most maxSize) and returned by message().
   */
  onData?: (data: Buffer) => void;
}

export type DataPushResult = { done: false } | { done: true; rest: Buffer };

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CR_BUF = Buffer.from('\r');
const LF_BUF = Buffer.from('\n');
const CRLF_BUF = Buffer.from('\r\n');
/** Pieces of one push passed on as views before they are gathered into one copy. */
const MAX_VIEWS = 32;

// Where the decoder stands in the raw byte stream.
const LINE_START = 0; // just after a CRLF (or at the very beginning)
const MID = 1; // inside a line
const DOT_SEEN = 2; // "." at line start, withheld (it is dropped in every case)
const DOT_CR = 3; // ".<CR>" at line start; <LF> next ends the message
const CR_PENDING = 4; // a <CR> ended the previous chunk; is it followed by <LF>?
type State = 0 | 1 | 2 | 3 | 4;

export class DataDecoder {
  private state: State = LINE_START;
  private finished = false;
  private decoded = 0;
  private overflow = false;
  private crCount = 0;
  private lfCount = 0;
  private readonly maxSize: number;
  private readonly normalize: boolean;
  private readonly sink: (data: Buffer) => void;
  private readonly kept: Buffer[] = [];
  // Output of the push in progress (see emit).
  private views: Buffer[] = [];
  private scratch: Buffer | null = null;
  private used = 0;
  private chunkLength = 0;

  constructor(opts: DataDecoderOptions) {
    this.maxSize = opts.maxSize;
    this.normalize = opts.bareLf === 'normalize';
    this.sink = opts.onData ?? ((d) => this.kept.push(d));
  }

  /** Decoded message size in octets (RFC 1870 §5: CRLFs counted, the end dot and stuffing
   * dots not); still counted past maxSize. */
  get size(): number {
    return this.decoded;
  }

  /** The message exceeded maxSize: its bytes past the limit were dropped. */
  get tooBig(): boolean {
    return this.overflow;
  }

  /** Number of bare CRs seen (CR not followed by LF). */
  get bareCr(): number {
    return this.crCount;
  }

  /** Number of bare LFs seen (LF not preceded by CR). */
  get bareLf(): number {
    return this.lfCount;
  }

  get done(): boolean {
    return this.finished;
  }

  /**
   * After done: the reply that refuses the message, or null if it may be accepted.
   * RFC 1870 §4: too big is a permanent 552, also after the data was sent; bare line
   * endings under the 'reject' policy give bareLineEnding().
   */
  rejection(): SmtpReply | null {
    if (this.overflow) return messageTooBig(this.maxSize);
    if (!this.normalize && this.crCount + this.lfCount > 0) return bareLineEnding();
    return null;
  }

  /** The decoded message when no onData was given. */
  message(): Buffer {
    return Buffer.concat(this.kept);
  }

  /**
   * Feeds raw bytes. Returns done with the bytes that followed <CRLF>.<CRLF> (pipelined
   * commands, RFC 2920) once the end is found. Pushing after done returns the chunk as rest.
   */
  push(chunk: Buffer): DataPushResult {
    if (this.finished) return { done: true, rest: chunk };
    const n = chunk.length;
    this.chunkLength = n;
    let i = 0;
    // Bytes [run, i) are passed on as they are; they are flushed only when a byte must be
    // dropped or inserted, so a chunk of ordinary lines goes out as one Buffer.
    let run = 0;
    // Cached positions of the next CR / LF at or after i (n: none), so that scanning stays
    // linear even for a chunk full of CRs and no LF.
    let nextCr = -1;
    let nextLf = -1;
    while (i < n) {
      switch (this.state) {
        case LINE_START:
          if (chunk[i] === DOT) {
            this.flush(chunk, run, i);
            i += 1;
            run = i;
            this.state = DOT_SEEN;
          } else {
            this.state = MID;
          }
          break;
        case DOT_SEEN:
          // RFC 5321 §4.5.2: a line of a single "." ends the data; otherwise the first "." of
          // a line is deleted. The dot is already out of the run.
          if (chunk[i] === CR) {
            i += 1;
            run = i;
            this.state = DOT_CR;
          } else {
            this.state = MID;
          }
          break;
        case DOT_CR:
          if (chunk[i] === LF) {
            this.finished = true;
            this.drain();
            return { done: true, rest: chunk.subarray(i + 1) };
          }
          // ".<CR>x": the dot was stuffing, the CR is bare.
          this.withheldCrWasBare();
          run = i;
          this.state = MID;
          break;
        case CR_PENDING:
          if (chunk[i] === LF) {
            this.emit(CR_BUF);
            run = i;
            i += 1;
            this.state = LINE_START;
          } else {
            this.withheldCrWasBare();
            run = i;
            this.state = MID;
          }
          break;
        case MID: {
          if (nextCr < i) nextCr = indexOr(chunk, CR, i, n);
          if (nextLf < i) nextLf = indexOr(chunk, LF, i, n);
          const j = Math.min(nextCr, nextLf);
          if (j === n) {
            i = n;
          } else if (j === nextCr) {
            if (j + 1 === n) {
              // Cannot tell CRLF from a bare CR yet: withhold the CR.
              this.flush(chunk, run, j);
              run = n;
              i = n;
              this.state = CR_PENDING;
            } else if (chunk[j + 1] === LF) {
              i = j + 2;
              this.state = LINE_START;
            } else {
              this.crCount += 1;
              if (this.normalize) {
                this.flush(chunk, run, j + 1);
                this.emit(LF_BUF);
                run = j + 1;
              }
              i = j + 1;
            }
          } else {
            // An LF not preceded by CR: bare. It does not start a line.
            this.lfCount += 1;
            if (this.normalize) {
              this.flush(chunk, run, j);
              this.emit(CR_BUF);
              run = j;
            }
            i = j + 1;
          }
          break;
        }
      }
    }
    this.flush(chunk, run, n);
    this.drain();
    return { done: false };
  }

  // A withheld CR turned out to be bare: write it out as CR or, when normalizing, CRLF.
  private withheldCrWasBare(): void {
    this.crCount += 1;
    this.emit(this.normalize ? CRLF_BUF : CR_BUF);
  }

  private flush(chunk: Buffer, from: number, to: number): void {
    if (to > from) this.emit(chunk.subarray(from, to));
  }

  // Output of the current push is gathered and handed on at its end. Pieces are views into
  // the chunk (zero copy: a stuffed dot only splits the chunk in two views) up to MAX_VIEWS;
  // past that, everything is copied into one scratch Buffer, so that a chunk full of bare
  // line endings (normalized one by one) costs a few sink calls, not one per byte.
  private emit(data: Buffer): void {
    if (this.scratch === null) {
      if (this.views.length < MAX_VIEWS) {
        this.views.push(data);
        return;
      }
      // Worst case: every input byte becomes two (bare LF -> CRLF), plus a withheld CR.
      this.scratch = Buffer.allocUnsafe(2 * this.chunkLength + 2);
      this.used = 0;
      for (const v of this.views) this.used += v.copy(this.scratch, this.used);
      this.views = [];
    }
    if (data.length < 16) {
      for (let k = 0; k < data.length; k++) this.scratch[this.used++] = data[k];
    } else {
      this.used += data.copy(this.scratch, this.used);
    }
  }

  private drain(): void {
    if (this.scratch !== null) {
      this.pass(this.scratch.subarray(0, this.used));
      this.scratch = null;
      this.used = 0;
      return;
    }
    for (const v of this.views) this.pass(v);
    this.views = [];
  }

  private pass(data: Buffer): void {
    const before = this.decoded;
    this.decoded += data.length;
    if (this.overflow) return;
    if (this.decoded > this.maxSize) {
      // Store exactly the first maxSize octets (so the result does not depend on how the
      // input was chunked), then stop storing; keep counting so the session can still find
      // the end and answer 552.
      this.overflow = true;
      if (this.maxSize > before) this.sink(data.subarray(0, this.maxSize - before));
      return;
    }
    this.sink(data);
  }
}

function indexOr(chunk: Buffer, byte: number, from: number, n: number): number {
  const at = chunk.indexOf(byte, from);
  return at < 0 ? n : at;
}
