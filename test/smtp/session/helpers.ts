// Shared by the SMTP session and e2e tests: a server with the three SMTP listeners, reading
// what landed in a user's INBOX, and checking the prefix the server adds at delivery.
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type TestServerOptions } from '../../helpers/server.js';
import { startDns, type TestDns } from './dns.js';

export const PASSWORD = 'correct horse battery';

export interface SmtpTestServer extends TestServer {
  /** The loopback DNS server the inbound checks use (unless `dnsServer` was given). */
  dns: TestDns;
}

export interface SmtpServerOptions {
  /** Lines of the `[smtp]` section (greet_delay_ms defaults to 0 here). */
  smtp?: string;
  /** Lines of the `[limits]` section. */
  limits?: string;
  /** Resolver address for `[dns] servers` instead of the test DNS server. */
  dnsServer?: string;
  /** `[dns] timeout_ms` (500 here unless given). */
  dnsTimeoutMs?: number;
  /** Protocol engines to use instead of the registered ones (see startTestServer). */
  protocols?: TestServerOptions['protocols'];
  /** Where the server logs (see startTestServer). */
  log?: TestServerOptions['log'];
}

/**
 * A server with smtp, submission and submissions. Its inbound checks ask a DNS server on
 * loopback, never the machine's resolver: results are the same with or without a network.
 */
export async function startSmtpServer(opts: SmtpServerOptions = {}): Promise<SmtpTestServer> {
  const dns = await startDns();
  const smtp = /greet_delay_ms/.test(opts.smtp ?? '')
    ? opts.smtp
    : `greet_delay_ms = 0\n${opts.smtp ?? ''}`;
  const t = await startTestServer({
    listeners: ['smtp', 'submission', 'submissions'],
    protocols: opts.protocols,
    log: opts.log,
    extraToml:
      `[smtp]\n${smtp}\n[limits]\n${opts.limits ?? ''}\n` +
      `[dns]\nservers = ["${opts.dnsServer ?? dns.address}"]\ntimeout_ms = ${opts.dnsTimeoutMs ?? 500}\n`,
  });
  const stop = t.stop;
  return Object.assign(t, {
    dns,
    async stop() {
      await stop();
      await dns.close();
    },
  });
}

/** The raw messages in an account's INBOX, in UID order. */
export async function inbox(t: TestServer, address: string): Promise<Buffer[]> {
  const store = t.server.ctx.store;
  const account = await store.getAccount(address);
  assert.ok(account, `no account ${address}`);
  const box = await store.getMailbox(account.id, 'INBOX');
  assert.ok(box, `no INBOX for ${address}`);
  const records = await store.listMessages(box.id);
  return Promise.all(records.map((r) => store.readMessage(r.blobHash)));
}

/** Blob hashes of an account's INBOX messages. */
export async function inboxHashes(t: TestServer, address: string): Promise<string[]> {
  const store = t.server.ctx.store;
  const account = await store.getAccount(address);
  assert.ok(account, `no account ${address}`);
  const box = await store.getMailbox(account.id, 'INBOX');
  assert.ok(box);
  return (await store.listMessages(box.id)).map((r) => r.blobHash);
}

export interface StoredParts {
  /** Header fields the server prepended, each as one unfolded-by-lines block. */
  returnPath: string;
  received: string;
  /** The Received-SPF field mailauth adds before Authentication-Results (MX), or null. */
  receivedSpf: string | null;
  /** The Authentication-Results field (MX only), or null. */
  authResults: string | null;
  /** The bytes after the server's prefix: what the client sent. */
  rest: Buffer;
}

/** Length of the header field starting at `pos`, folded continuation lines included. */
function fieldLength(raw: Buffer, pos: number): number {
  let end = pos;
  for (;;) {
    const nl = raw.indexOf('\r\n', end);
    if (nl < 0) return raw.length - pos;
    end = nl + 2;
    if (raw[end] !== 0x20 && raw[end] !== 0x09) return end - pos;
  }
}

/**
 * Splits a stored message into Return-Path, Received, [Received-SPF,] Authentication-Results
 * (when `mx`) and the rest; asserts the prefix is exactly that, in that order.
 */
export function splitStored(raw: Buffer, opts: { mx: boolean }): StoredParts {
  let pos = 0;
  const at = (name: string): boolean =>
    raw
      .subarray(pos, pos + name.length + 1)
      .toString('latin1')
      .toLowerCase() === `${name.toLowerCase()}:`;
  const take = (name: string): string => {
    const head = raw.subarray(pos, pos + name.length + 1).toString('latin1');
    assert.equal(head.toLowerCase(), `${name.toLowerCase()}:`, `expected ${name} at ${pos}`);
    const n = fieldLength(raw, pos);
    const field = raw.subarray(pos, pos + n).toString('latin1');
    pos += n;
    return field;
  };
  const returnPath = take('Return-Path');
  const received = take('Received');
  const receivedSpf = opts.mx && at('Received-SPF') ? take('Received-SPF') : null;
  const authResults = opts.mx ? take('Authentication-Results') : null;
  return { returnPath, received, receivedSpf, authResults, rest: raw.subarray(pos) };
}

/** A plain test message with CRLF line ends. */
export function message(from: string, to: string, subject: string, body = 'Hello.\r\n'): string {
  return (
    `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n` +
    `Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@client.test>\r\n` +
    `\r\n${body}`
  );
}
