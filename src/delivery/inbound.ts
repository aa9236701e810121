// Mail from another server (the MX): forged verdicts removed, SPF, DKIM, DMARC and ARC
// checked (inbound-auth.ts), and the sender domain's DMARC policy applied.
import { createResolver, type ResolveFn } from './dns.js';
import { stripForgedAuthResults } from './headers.js';
import { verifyInbound } from './inbound-auth.js';
import { pin } from './message-memory.js';
import type { DeliveryDeps, Peer, Refusal } from './types.js';

const resolvers = new WeakMap<object, ResolveFn>();

function resolverFor(cfg: DeliveryDeps['cfg']): ResolveFn {
  let r = resolvers.get(cfg);
  if (!r) {
    r = createResolver({ servers: cfg.dns.servers, timeoutMs: cfg.dns.timeout_ms });
    resolvers.set(cfg, r);
  }
  return r;
}

export interface Inbound {
  /** The message without forged Authentication-Results fields. */
  message: Buffer;
  /** Fields to add in front (Received-SPF, Authentication-Results), CRLF-terminated. */
  authHeaders: string;
}

/** `log` carries the message id. */
export async function checkInbound(
  deps: DeliveryDeps,
  input: { message: Buffer; sender: string; peer: Peer },
): Promise<Inbound | Refusal> {
  const { cfg, log } = deps;
  const message = stripForgedAuthResults(input.message, cfg.hostname);
  const auth = await verifyInbound({
    raw: message,
    ip: input.peer.ip,
    helo: input.peer.helo ?? '',
    sender: input.sender,
    hostname: cfg.hostname,
    resolver: resolverFor(cfg),
    timeoutMs: cfg.smtp.auth_checks_timeout_seconds * 1000,
  });
  log.info(
    { spf: auth.spf, dkim: auth.dkim, dmarc: auth.dmarc, timedOut: auth.timedOut },
    'inbound checks',
  );
  // RFC 7489 §6.6.4: a receiver may reject mail that fails DMARC under p=reject
  // ([smtp] dmarc_reject = false only records the verdict).
  if (auth.dmarcReject && cfg.smtp.dmarc_reject) return { reason: 'dmarc-reject' };
  // The checks that timed out still run, reading the message: its memory is not reused.
  if (auth.timedOut) pin(input.message);
  return { message, authHeaders: auth.headers };
}
