// Fills a server's queue over SMTP: a fixed number of messages over N sessions, AUTH PLAIN
// first when credentials are given (Letterbox's submission listener), MAIL/RCPT/DATA pipelined
// when offered. The same generator and the same messages feed both servers; this part is not
// timed as the result (the drain is), only reported.
import type { MessageTemplate } from '../lib/message.js';
import {
  type Connection,
  closeSession,
  END_OF_DATA,
  expect,
  openSession,
  sendEnvelopeAndBody,
} from '../lib/smtp-wire.js';

export interface FeedOptions {
  port: number;
  sessions: number;
  count: number;
  template: MessageTemplate;
  sender: string;
  recipient: string;
  /** AUTH PLAIN (RFC 4616) with these, once per session. */
  auth?: { user: string; password: string };
  /** Called every `progressEvery` messages (the backlog mode fills for minutes). */
  progress?: (done: number) => void;
  progressEvery?: number;
}

export interface FeedResult {
  messages: number;
  elapsedMs: number;
  error?: string;
}

async function sendOne(c: Connection, o: FeedOptions, n: number, pipelining: boolean) {
  await sendEnvelopeAndBody(c, o, n, pipelining);
  c.socket.write(END_OF_DATA);
  expect(await c.replies.next(), 250, 'end of DATA');
}

/** Sends `count` messages; stops at the first failed session's error (the others finish). */
export async function feed(o: FeedOptions): Promise<FeedResult> {
  const started = performance.now();
  let next = 0;
  let done = 0;
  let error: string | undefined;
  const every = o.progressEvery ?? 10_000;
  const open = async (i: number) => {
    const c = await openSession('127.0.0.1', o.port, `feed-${i}.bench.client`);
    if (o.auth) {
      const token = Buffer.from(`\0${o.auth.user}\0${o.auth.password}`).toString('base64');
      c.socket.write(`AUTH PLAIN ${token}\r\n`);
      expect(await c.replies.next(), 235, 'AUTH PLAIN');
    }
    return c;
  };
  const session = async (c: Connection, i: number) => {
    try {
      const pipelining = c.extensions.has('PIPELINING');
      while (next < o.count && error === undefined) {
        await sendOne(c, o, next++, pipelining);
        done++;
        if (done % every === 0) o.progress?.(done);
      }
    } catch (err) {
      error ??= `session ${i}: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      await closeSession(c);
    }
  };
  // Sessions log in one after the other: the server refuses a burst of password checks from
  // one address (its hashing pool is bounded per source), and after the first the password
  // is known good to it.
  const conns: Connection[] = [];
  try {
    for (let i = 0; i < o.sessions; i++) conns.push(await open(i));
  } catch (err) {
    for (const c of conns) c.socket.destroy();
    throw err;
  }
  await Promise.all(conns.map((c, i) => session(c, i)));
  return {
    messages: done,
    elapsedMs: performance.now() - started,
    ...(error ? { error } : {}),
  };
}
