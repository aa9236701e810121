// SMTP load generator: N concurrent sessions on one host, each EHLO once then MAIL/RCPT/DATA
// per message (pipelined when the server offers PIPELINING), until a deadline or a message
// count; or, with `perConnection`, a new connection per message (greeting, EHLO, one message,
// QUIT), as an MX sees mail from many senders. It records, per message, the time from sending
// the final ".\r\n" to the 250.
import type { MessageTemplate } from './message.js';
import {
  type Connection,
  closeSession,
  END_OF_DATA,
  expect,
  openSession,
  sendEnvelopeAndBody,
  writeFlushed,
} from './smtp-wire.js';
import { type Summary, summarize } from './stats.js';

export interface LoadOptions {
  host: string;
  port: number;
  sessions: number;
  template: MessageTemplate;
  sender: string;
  recipient: string;
  /** Stop starting new messages after this long. */
  durationMs: number;
  /** And after this many messages in all (across sessions). */
  maxMessages: number;
  /** Each message on a connection of its own, closed with QUIT after its 250. */
  perConnection?: boolean;
}

export interface LoadResult extends Summary {
  sessions: number;
  messageSize: number;
  /** Messages that got 250 after DATA. */
  messages: number;
  /** Wall time from the first connection to the last 250. */
  elapsedMs: number;
  /** performance.now() when the load started and when the last 250 came: for delivery timing. */
  startedAt: number;
  endedAt: number;
  pipelining: boolean;
  /** The first error seen, if a session failed (the others go on). */
  error?: string;
  /** Every message's end-of-DATA to 250 time, for merging rounds. */
  latenciesMs: number[];
}

/** Several rounds of the same cell as one result: totals added, latencies pooled. */
export function mergeResults(rounds: LoadResult[]): LoadResult {
  const first = rounds[0]!;
  const latenciesMs = rounds.flatMap((r) => r.latenciesMs);
  const elapsedMs = rounds.reduce((t, r) => t + r.elapsedMs, 0);
  const error = rounds.find((r) => r.error)?.error;
  return {
    ...summarize(latenciesMs, elapsedMs, first.messageSize),
    sessions: first.sessions,
    messageSize: first.messageSize,
    messages: latenciesMs.length,
    elapsedMs,
    startedAt: first.startedAt,
    endedAt: rounds[rounds.length - 1]!.endedAt,
    pipelining: rounds.every((r) => r.pipelining),
    latenciesMs,
    ...(error ? { error } : {}),
  };
}

/** One message on an open session; returns the end-of-DATA to 250 latency in ms. */
async function sendOne(c: Connection, o: LoadOptions, n: number, pipelining: boolean) {
  await sendEnvelopeAndBody(c, o, n, pipelining);
  // The clock starts when the terminator has left for the kernel: from then on the server
  // has the whole message, and the wait is its own (parse, store, fsync).
  const reply = c.replies.next();
  await writeFlushed(c.socket, END_OF_DATA);
  const flushed = performance.now();
  const done = await reply;
  const t = performance.now();
  expect(done, 250, 'end of DATA');
  return t - flushed;
}

/** Runs the load and returns totals and latency percentiles. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let started = 0;
  let pipelining = true;
  let error: string | undefined;
  const startedAt = performance.now();
  const deadline = startedAt + o.durationMs;
  let endedAt = startedAt;

  const more = () => performance.now() < deadline && started < o.maxMessages;
  const session = async (i: number) => {
    let c: Connection | null = null;
    try {
      while (more()) {
        c = await openSession(o.host, o.port, `bench-${i}.client`);
        const pipe = c.extensions.has('PIPELINING');
        if (!pipe) pipelining = false;
        while (more()) {
          const n = started++;
          latencies.push(await sendOne(c, o, n, pipe));
          endedAt = performance.now();
          if (o.perConnection) break;
        }
        // The QUIT reply is part of a connection's cost: waited for, then the socket closed.
        await closeSession(c);
        c = null;
        if (o.perConnection) endedAt = performance.now();
      }
    } catch (err) {
      error ??= `session ${i}: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      if (c) await closeSession(c);
    }
  };
  await Promise.all(Array.from({ length: o.sessions }, (_, i) => session(i)));

  const elapsedMs = Math.max(endedAt - startedAt, 1);
  return {
    ...summarize(latencies, elapsedMs, o.template.size),
    sessions: o.sessions,
    messageSize: o.template.size,
    messages: latencies.length,
    elapsedMs,
    startedAt,
    endedAt,
    pipelining,
    latenciesMs: latencies,
    ...(error ? { error } : {}),
  };
}
