// Fetching an MTA-STS policy file (RFC 8461 §3.3): HTTPS GET of
// https://mta-sts.<domain>/.well-known/mta-sts.txt with the certificate verified for that name,
// no redirect followed, no HTTP cache, a bounded body and one deadline for the whole fetch.
// The name is resolved through the outbound resolver (the configured DNS servers), so tests
// can point it at loopback; the port and the trusted CAs are options for the same reason.
import type { LookupAddress, LookupOneOptions } from 'node:dns';
import https from 'node:https';
import { isIP } from 'node:net';
import { lookup, type Resolver } from './resolver.js';

export interface FetchOptions {
  resolver: Resolver;
  /** 443 in production; tests serve the policy on a loopback port. */
  httpsPort?: number;
  /** Trusted CA certificates (PEM) instead of the system's; tests inject their own CA. */
  ca?: string | string[];
  /** Deadline for the whole fetch (connect, TLS, headers, body). */
  timeoutMs?: number;
  /** Largest body accepted. */
  maxBytes?: number;
}

/** The policy body size cap RFC 8461 §3.3 suggests. */
export const POLICY_MAX_BYTES = 64 * 1024;
/** Tighter than the minute §3.3 suggests: a route waits for it, and a real policy is small. */
export const POLICY_FETCH_TIMEOUT_MS = 10_000;

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `lookup` for https.request over our resolver: AAAA then A (net.connect tries them all). */
function resolverLookup(resolver: Resolver) {
  return (hostname: string, options: LookupOneOptions & { all?: boolean }, cb: LookupCallback) => {
    void (async () => {
      const [v6, v4] = await Promise.all([
        lookup(() => resolver.resolve6(hostname)),
        lookup(() => resolver.resolve4(hostname)),
      ]);
      const all: LookupAddress[] = [
        ...(v6.ok ? v6.records.map((address) => ({ address, family: 6 })) : []),
        ...(v4.ok ? v4.records.map((address) => ({ address, family: 4 })) : []),
      ];
      if (all.length === 0) {
        const err: NodeJS.ErrnoException = new Error(`cannot resolve ${hostname}`);
        err.code = !v6.ok && v6.failure === 'temporary' ? 'EAI_AGAIN' : 'ENOTFOUND';
        return cb(err, []);
      }
      if (options.all) cb(null, all);
      else cb(null, all[0]!.address, all[0]!.family);
    })();
  };
}

/** The policy text, or an Error saying why there is none. Never throws synchronously. */
export function fetchPolicyText(domain: string, opts: FetchOptions): Promise<string> {
  const host = `mta-sts.${domain}`;
  const maxBytes = opts.maxBytes ?? POLICY_MAX_BYTES;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | null, text?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      if (err) reject(err);
      else resolve(text!);
    };
    const req = https.request({
      host,
      port: opts.httpsPort ?? 443,
      path: '/.well-known/mta-sts.txt',
      method: 'GET',
      servername: isIP(host) ? undefined : host,
      ca: opts.ca,
      rejectUnauthorized: true,
      agent: false,
      lookup: resolverLookup(opts.resolver) as never,
      headers: { 'user-agent': 'letterbox-mta-sts', 'cache-control': 'no-cache' },
    });
    const timer = setTimeout(
      () => done(new Error(`timed out after ${opts.timeoutMs ?? POLICY_FETCH_TIMEOUT_MS} ms`)),
      opts.timeoutMs ?? POLICY_FETCH_TIMEOUT_MS,
    );
    req.on('error', (err) => done(err));
    req.on('response', (res) => {
      // §3.3: "HTTP 3xx redirects MUST NOT be followed".
      if (res.statusCode !== 200) return done(new Error(`HTTP status ${res.statusCode}`));
      // §3.2: senders SHOULD check that the media type is text/plain (parameters ignored).
      const type = (res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'text/plain') return done(new Error(`content type "${type}", not text/plain`));
      const declared = Number(res.headers['content-length']);
      if (declared > maxBytes) return done(new Error(`policy larger than ${maxBytes} bytes`));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) return done(new Error(`policy larger than ${maxBytes} bytes`));
        chunks.push(chunk);
      });
      res.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
      res.on('error', (err) => done(err));
      res.on('aborted', () => done(new Error('connection closed mid-body')));
    });
    req.end();
  });
}
