// GET /metrics: the Prometheus text exposition, for a scraper on this host or one holding the
// token. Metrics name listeners, commands and queue sizes, not secrets, but they tell an
// outsider how busy the server is and when: they are not public by default.
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { ServerMetrics } from './metrics.js';

export interface MetricsRouteOptions {
  metrics: ServerMetrics;
  /** `[http] metrics_token`; empty: loopback peers only. */
  token: string;
}

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Compares digests, so neither the token's length nor its bytes show in the timing. */
function sameToken(given: string, expected: Buffer): boolean {
  const digest = createHash('sha256').update(given).digest();
  return timingSafeEqual(digest, expected);
}

export type RouteAnswer = { status: number; headers?: Record<string, string>; body: unknown };

export function metricsRoute(opts: MetricsRouteOptions) {
  const expected = opts.token === '' ? null : createHash('sha256').update(opts.token).digest();

  /** Null when the request may read the metrics, else the refusal. */
  function refusal(req: http.IncomingMessage): RouteAnswer | null {
    if (expected === null) {
      if (isLoopback(req.socket.remoteAddress)) return null;
      return { status: 403, body: { error: 'metrics are served to loopback only' } };
    }
    // RFC 6750 §2.1: `Authorization: Bearer <token>`; the scheme is case-insensitive
    // (RFC 9110 §11.1). Anything else is 401 with the challenge (RFC 6750 §3).
    const header = req.headers.authorization ?? '';
    const m = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (m && sameToken(m[1]!, expected)) return null;
    return {
      status: 401,
      headers: {
        'www-authenticate': m
          ? 'Bearer realm="letterbox", error="invalid_token"'
          : 'Bearer realm="letterbox"',
      },
      body: { error: 'a bearer token is required' },
    };
  }

  return async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    sendJson: (res: http.ServerResponse, a: RouteAnswer) => void,
  ): Promise<void> => {
    const refused = refusal(req);
    if (refused) return sendJson(res, refused);
    const text = await opts.metrics.text();
    res.writeHead(200, {
      'content-type': opts.metrics.contentType,
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    });
    res.end(text);
  };
}
