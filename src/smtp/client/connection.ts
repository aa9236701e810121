// The SMTP client: a connection to one remote host that carries messages (issue 13 §2.3).
// connectSmtp tries the host's addresses in order, reads the greeting, says EHLO (HELO when
// EHLO is refused), upgrades with STARTTLS as the host's TLS policy asks, authenticates to a
// smarthost; the connection then sends one message per send(), several in a row (RSET between
// when a transaction was left open). Failures to connect throw SmtpClientError; failures in a
// transaction become per-recipient outcomes and leave the connection unusable.
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../log.js';
import type { AttemptInfo, RouteHost, SendRequest, SendResult } from '../../queue/types.js';
import type { SmtpReply } from '../wire/reply.js';
import { toRemoteReply } from '../wire/reply-parser.js';
import { SmtpClientError } from './errors.js';
import {
  type ClientTimeouts,
  DEFAULT_TIMEOUTS,
  runTransaction,
  type TxContext,
} from './transaction.js';
import { ClientTransport, handshake, tlsConnectOptions } from './transport.js';

export { SmtpClientError } from './errors.js';
export { type ClientTimeouts, DEFAULT_TIMEOUTS } from './transaction.js';

export interface ClientOptions {
  /** The name we give in EHLO/HELO (RFC 5321 §4.1.1.1: our primary host name). */
  helo: string;
  /** RFC 5321 §4.5.3.2 timeouts; the defaults are the RFC's. */
  timeouts?: Partial<ClientTimeouts>;
  /**
   * A further check of the remote's certificate once it verified for the host name, under
   * 'required' and 'implicit' (e.g. a pinned key): a reason to refuse it, or null.
   */
  tlsCheck?: (host: RouteHost, cert: tls.PeerCertificate) => string | null;
  /** Certificate authorities to trust instead of Node's roots (tests, a private smarthost). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Source address of outgoing connections. */
  localAddress?: string;
  /** Longest reply line accepted, CRLF included (default 4096). */
  maxReplyLine?: number;
  /**
   * Do not use STARTTLS under 'opportunistic': the retry in clear after a failed handshake
   * (SmtpClientError.retryInClear). Ignored under 'required' and 'implicit'.
   */
  noStartTls?: boolean;
  log?: Logger;
}

type ConnInfo = Omit<AttemptInfo, 'durationMs'>;

/**
 * Opens a session with `host`, trying its addresses in order (IPv6 and IPv4 as routing
 * ordered them): an address that cannot be reached, greets with an error or fails the TLS
 * policy gives way to the next. Throws the last address's SmtpClientError, except a failed
 * opportunistic handshake, thrown at once with retryInClear so the caller retries in clear.
 */
export async function connectSmtp(
  host: RouteHost,
  opts: ClientOptions,
): Promise<SmtpClientConnection> {
  if (host.addresses.length === 0) {
    const err = new SmtpClientError('connect', `no address for ${host.name}`);
    err.info = { host: host.name, ip: null, port: host.port, tls: null };
    throw err;
  }
  let last: SmtpClientError | null = null;
  for (const ip of host.addresses) {
    try {
      return await open(host, ip, opts);
    } catch (err) {
      if (!(err instanceof SmtpClientError)) throw err;
      err.info ??= { host: host.name, ip, port: host.port, tls: null };
      opts.log?.debug({ host: host.name, ip, err: err.message }, 'smtp client: address failed');
      last = err;
      if (err.retryInClear) throw err;
    }
  }
  throw last!;
}

function timeoutsOf(opts: ClientOptions): ClientTimeouts {
  return { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
}

async function open(
  host: RouteHost,
  ip: string,
  opts: ClientOptions,
): Promise<SmtpClientConnection> {
  const to = timeoutsOf(opts);
  const socket =
    host.tls === 'implicit'
      ? await connectImplicit(host, ip, opts, to.connect)
      : await connectPlain(host, ip, opts, to.connect);
  const t = new ClientTransport(socket, opts.maxReplyLine ? { maxLine: opts.maxReplyLine } : {});
  const where = `${host.name}[${ip}]`;
  try {
    if (host.tls === 'implicit') verify(host, socket as tls.TLSSocket, opts);
    // RFC 5321 §3.1: 220 greets; 554 refuses service (the client QUITs and tries elsewhere).
    const greeting = await t.read(to.greeting, 'the greeting');
    if (greeting.code !== 220) {
      await quietQuit(t, to);
      throw refused(`${where} greeted with ${greeting}`, greeting);
    }
    let ext = await hello(t, opts.helo, to, where);
    if (host.tls === 'required' || (host.tls === 'opportunistic' && !opts.noStartTls)) {
      ext = await startTls(t, host, ext, opts, to, where);
    }
    if (host.auth) await authenticate(t, host.auth, ext, to, where);
    const info: ConnInfo = { host: host.name, ip, port: host.port, tls: t.tlsVersion };
    opts.log?.debug({ ...info, extensions: [...ext.keys()] }, 'smtp client: session open');
    return new SmtpClientConnection(t, info, ext, to, where);
  } catch (err) {
    if (err instanceof SmtpClientError) {
      err.info ??= { host: host.name, ip, port: host.port, tls: t.tlsVersion };
    }
    t.close();
    throw err;
  }
}

function refused(message: string, reply: SmtpReply): SmtpClientError {
  return new SmtpClientError('refused', message, { reply: toRemoteReply(reply) });
}

function connectPlain(
  host: RouteHost,
  ip: string,
  opts: ClientOptions,
  timeoutMs: number,
): Promise<net.Socket> {
  const socket = net.connect({
    host: ip,
    port: host.port,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
  return new Promise<net.Socket>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', onError);
    };
    const onConnect = () => {
      done();
      resolve(socket);
    };
    const onError = (err: Error) => {
      done();
      socket.on('error', () => {});
      socket.destroy();
      reject(
        new SmtpClientError(
          'connect',
          `cannot connect to ${host.name}[${ip}]:${host.port}: ${err.message}`,
          {
            cause: err,
          },
        ),
      );
    };
    const timer = setTimeout(
      () => onError(new Error(`no connection within ${Math.round(timeoutMs)} ms`)),
      timeoutMs,
    );
    socket.once('connect', onConnect);
    socket.on('error', onError);
  });
}

async function connectImplicit(
  host: RouteHost,
  ip: string,
  opts: ClientOptions,
  timeoutMs: number,
): Promise<tls.TLSSocket> {
  // RFC 8314 §3: TLS from the first byte; the certificate is checked as under 'required'.
  const secure = tls.connect({
    ...tlsConnectOptions({ servername: host.name, ca: opts.ca }),
    host: ip,
    port: host.port,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  } as tls.ConnectionOptions);
  try {
    await handshake(secure, timeoutMs);
  } catch (err) {
    const e = err as SmtpClientError;
    throw new SmtpClientError(
      'connect',
      `cannot connect to ${host.name}[${ip}]:${host.port} with TLS: ${e.message}`,
      {
        cause: err,
      },
    );
  }
  return secure;
}

/**
 * RFC 8461 §4.2 / RFC 3207 §4.1 with a required policy: the chain verifies to a trusted root
 * and the certificate names the host (RFC 6125 via tls.checkServerIdentity), then tlsCheck.
 */
function verify(host: RouteHost, secure: tls.TLSSocket, opts: ClientOptions): void {
  const cert = secure.getPeerCertificate();
  let reason: string | null = null;
  if (!secure.authorized) reason = String(secure.authorizationError ?? 'not trusted');
  else {
    const bad = tls.checkServerIdentity(host.name, cert);
    if (bad) reason = bad.message;
    else if (opts.tlsCheck) reason = opts.tlsCheck(host, cert);
  }
  if (reason !== null) {
    throw new SmtpClientError(
      'tls-required',
      `the certificate of ${host.name} does not verify (${reason}); not sending in clear`,
    );
  }
}

/** EHLO, or HELO when EHLO gets a 5xx (RFC 5321 §3.2): the extensions offered, by keyword. */
async function hello(
  t: ClientTransport,
  name: string,
  to: ClientTimeouts,
  where: string,
): Promise<Map<string, string>> {
  await t.write(`EHLO ${name}\r\n`, to.command);
  const r = await t.read(to.command, 'EHLO');
  if (r.code === 250) return extensionsOf(r);
  if (r.code < 500) throw refused(`${where} refused EHLO: ${r}`, r);
  await t.write(`HELO ${name}\r\n`, to.command);
  const h = await t.read(to.command, 'HELO');
  if (h.code !== 250) throw refused(`${where} refused EHLO and HELO: ${h}`, h);
  return new Map();
}

/** RFC 5321 §4.1.1.1: after the first line, "keyword [SP params]" per line. */
export function extensionsOf(r: SmtpReply): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of r.lines.slice(1)) {
    const l = line.trim();
    const sp = l.indexOf(' ');
    const key = (sp < 0 ? l : l.slice(0, sp)).toUpperCase();
    if (key !== '' && !out.has(key)) out.set(key, sp < 0 ? '' : l.slice(sp + 1).trim());
  }
  return out;
}

async function startTls(
  t: ClientTransport,
  host: RouteHost,
  ext: Map<string, string>,
  opts: ClientOptions,
  to: ClientTimeouts,
  where: string,
): Promise<Map<string, string>> {
  const required = host.tls === 'required';
  if (!ext.has('STARTTLS')) {
    if (!required) return ext;
    throw new SmtpClientError(
      'tls-required',
      `${where} does not offer STARTTLS, which is required`,
    );
  }
  await t.write('STARTTLS\r\n', to.command);
  const r = await t.read(to.command, 'STARTTLS');
  if (r.code !== 220) {
    // RFC 3207 §4: a 454 leaves the session in clear; under opportunistic TLS we go on.
    if (!required) return ext;
    throw new SmtpClientError(
      'tls-required',
      `${where} refused STARTTLS (${r}), which is required`,
      {
        reply: toRemoteReply(r),
      },
    );
  }
  try {
    await t.startTls({ servername: host.name, ca: opts.ca }, to.command);
  } catch (err) {
    if (err instanceof SmtpClientError && err.kind === 'tls') {
      throw new SmtpClientError(required ? 'tls-required' : 'tls', `${where}: ${err.message}`, {
        retryInClear: !required,
        cause: err,
      });
    }
    throw err;
  }
  if (required) verify(host, t.tlsSocket!, opts);
  // RFC 3207 §4.2: forget what was learnt in clear and ask again.
  return hello(t, opts.helo, to, where);
}

/** RFC 4954 to a smarthost: PLAIN (RFC 4616) with an initial response, else LOGIN. */
async function authenticate(
  t: ClientTransport,
  auth: { user: string; password: string },
  ext: Map<string, string>,
  to: ClientTimeouts,
  where: string,
): Promise<void> {
  // Credentials never go in clear (RFC 4954 §14, RFC 8314 §3).
  if (t.tlsVersion === null) {
    throw new SmtpClientError(
      'auth',
      `${where}: no TLS, so no AUTH (credentials never go in clear)`,
    );
  }
  const mechs = (ext.get('AUTH') ?? '').toUpperCase().split(/\s+/);
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  let r: SmtpReply;
  if (mechs.includes('PLAIN')) {
    await t.write(`AUTH PLAIN ${b64(`\0${auth.user}\0${auth.password}`)}\r\n`, to.command);
    r = await t.read(to.command, 'AUTH');
  } else if (mechs.includes('LOGIN')) {
    await t.write('AUTH LOGIN\r\n', to.command);
    r = await t.read(to.command, 'AUTH');
    for (const value of [auth.user, auth.password]) {
      if (r.code !== 334) break;
      await t.write(`${b64(value)}\r\n`, to.command);
      r = await t.read(to.command, 'AUTH');
    }
  } else {
    throw new SmtpClientError('auth', `${where} offers no AUTH mechanism we use (PLAIN, LOGIN)`);
  }
  if (r.code !== 235) {
    throw new SmtpClientError('auth', `${where} refused AUTH: ${r}`, { reply: toRemoteReply(r) });
  }
}

/** QUIT without caring for the answer (a refusing greeting, a session being abandoned). */
async function quietQuit(t: ClientTransport, to: ClientTimeouts): Promise<void> {
  try {
    await t.write('QUIT\r\n', to.command);
    await t.read(Math.min(to.command, 10_000), 'QUIT');
  } catch {
    // The connection is closed below either way.
  }
}

export class SmtpClientConnection {
  readonly info: ConnInfo;
  /** EHLO keywords (upper case) and their parameters; empty after HELO. */
  readonly extensions: ReadonlyMap<string, string>;
  private readonly ctx: TxContext;
  /** A transaction is writing (until its content is on the wire, or it ends). */
  private writing = false;
  /** Resolves once the last transaction started has read its last reply. */
  private replies: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly transport: ClientTransport,
    info: ConnInfo,
    extensions: Map<string, string>,
    timeouts: ClientTimeouts,
    where: string,
  ) {
    this.info = Object.freeze({ ...info });
    this.extensions = extensions;
    this.ctx = {
      transport,
      extensions,
      timeouts,
      where,
      needsReset: false,
      begun: 0,
      finished: false,
    };
  }

  /** The connection can carry another message. */
  get usable(): boolean {
    return !this.closed && !this.ctx.finished && this.transport.healthy;
  }

  /**
   * Sends one message to its recipients. Never throws for what the remote does: every
   * recipient gets an outcome, and a broken connection defers the undecided ones.
   *
   * `free` is called once the session can take the next message: when this one's content
   * is on the wire to a server that offers PIPELINING (RFC 2920 §3.1: the next MAIL, RCPT
   * and DATA may follow it before its reply, saving a round trip per message), else when
   * the send ends. The next send() may start from then on; it reads its replies after this
   * one's. A recipient is still decided only by the reply to its own transaction.
   */
  async send(req: SendRequest, free?: (early: boolean) => void): Promise<SendResult> {
    const started = Date.now();
    if (this.writing) throw new Error('SmtpClientConnection.send while a send is writing');
    this.writing = true;
    const previous = this.replies;
    let answered!: () => void;
    const own = new Promise<void>((resolve) => {
      answered = resolve;
    });
    // A send that ends without reading (a check failed before any byte) must not let the
    // next one read before this one's predecessor has.
    this.replies = previous.then(() => own);
    let freed = false;
    /** `early`: the content is on the wire and its reply still to come. */
    const release = (early: boolean) => {
      if (freed) return;
      freed = true;
      this.writing = false;
      free?.(early);
    };
    try {
      let recipients: SendResult['recipients'];
      if (!this.usable) {
        await previous;
        const why = this.transport.error?.message ?? 'the connection is closed';
        recipients = req.recipients.map((r) => ({
          address: r.address,
          status: 'deferred' as const,
          reply: null,
          diagnostic: `4.4.2 ${this.ctx.where}: ${why}`,
        }));
      } else {
        recipients = await runTransaction(this.ctx, req, {
          previous,
          written: () => release(true),
        });
        if (this.ctx.finished) this.close();
      }
      return {
        recipients,
        info: {
          ...this.info,
          durationMs: Date.now() - started,
          dsn: this.extensions.has('DSN'),
        },
      };
    } finally {
      answered();
      release(false);
    }
  }

  /** RFC 5321 §4.1.1.10: QUIT (after the replies owed), wait briefly for the 221, close. */
  async quit(): Promise<void> {
    await this.replies;
    if (this.usable && !this.writing) await quietQuit(this.transport, this.ctx.timeouts);
    this.close();
  }

  /** Drops the connection at once. */
  close(): void {
    this.closed = true;
    this.transport.close();
  }
}
