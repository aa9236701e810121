// The DNS resolver inbound checks use: configurable servers (tests publish SPF/DKIM/DMARC from
// a loopback server), one try per query with a timeout, so a DNS outage costs bounded time.
//
// Answers and failures are kept for a few seconds, and a query already under way is shared:
// mail from one sender domain tends to come in bursts (lists, notifications, a busy peer),
// and each message asks for the same SPF and DMARC records (RFC 7208 §4.4, RFC 7489 §6.6.3).
// Node's resolver reports no TTL for TXT records, so the time is short enough to be below
// the TTL of nearly every published record; RFC 2308 §7 allows caching a server failure or
// an unreachable server for up to five minutes.
import { promises as dns } from 'node:dns';

export type ResolveFn = (name: string, rrtype: string) => Promise<string[][] | string[]>;

/** A resolver that keeps answers (createResolver's), which says for how long. */
export interface CachingResolveFn extends ResolveFn {
  /**
   * performance.now() until which the answer (or failure) kept for the question is what the
   * resolver gives; -Infinity when none is kept or it is still under way.
   */
  keptUntil(name: string, rrtype: string): number;
}

export function isCaching(r: ResolveFn): r is CachingResolveFn {
  return typeof (r as Partial<CachingResolveFn>).keptUntil === 'function';
}

/** How long an answer (or a failure) is reused. */
export const DNS_CACHE_MS = 5_000;
/** Names kept at most; the oldest go first. */
const DNS_CACHE_MAX = 10_000;

interface Entry {
  answer: Promise<string[][] | string[]>;
  /** performance.now() after which the entry is asked again; Infinity while pending. */
  until: number;
}

export function createResolver(opts: {
  servers: readonly string[];
  timeoutMs: number;
  cacheMs?: number;
}): CachingResolveFn {
  const r = new dns.Resolver({ timeout: opts.timeoutMs, tries: 1 });
  if (opts.servers.length > 0) r.setServers([...opts.servers]);
  const resolve = r.resolve as (n: string, t: string) => Promise<string[][] | string[]>;
  const cacheMs = opts.cacheMs ?? DNS_CACHE_MS;
  const cache = new Map<string, Entry>();
  const keyOf = (name: string, rrtype: string) => `${rrtype} ${name.toLowerCase()}`;
  const ask: ResolveFn = (name, rrtype) => {
    const key = keyOf(name, rrtype);
    const now = performance.now();
    const hit = cache.get(key);
    if (hit && hit.until > now) return hit.answer;
    if (hit) cache.delete(key);
    const entry: Entry = { answer: resolve.call(r, name, rrtype), until: Infinity };
    const settled = () => {
      entry.until = performance.now() + cacheMs;
    };
    entry.answer.then(settled, settled);
    cache.set(key, entry);
    if (cache.size > DNS_CACHE_MAX) cache.delete(cache.keys().next().value as string);
    return entry.answer;
  };
  const keptUntil = (name: string, rrtype: string): number => {
    const until = cache.get(keyOf(name, rrtype))?.until;
    return until === undefined || until === Infinity ? -Infinity : until;
  };
  return Object.assign(ask, { keptUntil });
}
