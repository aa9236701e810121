// Which ACME challenge the CA is asked to validate, and the HTTP-01 challenges being answered
// now (RFC 8555 §8.3): token -> key authorization. The ACME manager puts one in before it tells
// the CA to validate and takes it out afterwards; the http listener serves them at
// /.well-known/acme-challenge/<token>. TLS-ALPN-01's are in tls-alpn.ts.
import { type AcmeChallengeType, type Config, LISTENER_NAMES } from '../config/schema.js';

/**
 * The listeners that can answer TLS-ALPN-01: TLS from the first byte (RFC 8737 §3), HTTPS
 * (`[listeners.http] tls = "implicit"`) included.
 */
export function implicitTlsListeners(cfg: Config): string[] {
  return LISTENER_NAMES.filter(
    (n) => cfg.listeners[n].enabled && cfg.listeners[n].tls === 'implicit',
  );
}

/** HTTP-01 can be answered: plain HTTP on the http listener (the CA fetches http://). */
export function plainHttpListener(cfg: Config): boolean {
  const http = cfg.listeners.http;
  return http.enabled && http.tls !== 'implicit';
}

/**
 * `[tls.acme] challenge`, else: HTTP-01 when the http listener serves plain HTTP on port 80
 * (where the CA fetches it), else TLS-ALPN-01 when an implicit-TLS listener is enabled (the CA
 * connects to port 443: that port, or a forward to one of these), else HTTP-01.
 */
export function acmeChallengeType(cfg: Config): AcmeChallengeType {
  const chosen = cfg.tls.acme?.challenge;
  if (chosen) return chosen;
  if (plainHttpListener(cfg) && cfg.listeners.http.port === 80) return 'http-01';
  return implicitTlsListeners(cfg).length > 0 ? 'tls-alpn-01' : 'http-01';
}

export class AcmeChallenges {
  private readonly byToken = new Map<string, string>();

  set(token: string, keyAuthorization: string): void {
    this.byToken.set(token, keyAuthorization);
  }

  get(token: string): string | undefined {
    return this.byToken.get(token);
  }

  delete(token: string): void {
    this.byToken.delete(token);
  }
}
