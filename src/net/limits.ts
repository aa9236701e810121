// Per-source concurrent connection limit, over all listeners together: one host must not take
// every session slot (a slow or hostile client opening hundreds of idle connections). A source
// is an IPv4 address or an IPv6 /64: whoever has one IPv6 address usually has the whole /64.
import { ipKey } from './ip-key.js';

/** IPv6 sources are counted by this prefix (RFC 4291 §2.5.4: a /64 is one subnet). */
const IPV6_PREFIX = 64;

/**
 * Canonical text form of a peer address for counting and logging: an IPv4-mapped IPv6
 * address (`::ffff:1.2.3.4`, RFC 4291 §2.5.5.2, what a dual-stack socket reports for an
 * IPv4 peer) becomes the plain IPv4 address; IPv6 text is lower-cased.
 */
export function normalizeIp(ip: string): string {
  const lower = ip.toLowerCase();
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  return m ? m[1] : lower;
}

/** The key `ip` is counted under: the IPv4 address, or the IPv6 address's /64. */
export function sourceKey(ip: string): string {
  return ipKey(ip, IPV6_PREFIX);
}

export class ConnectionLimiter {
  private readonly counts = new Map<string, number>();

  /** `maxPerIp` concurrent connections per source; 0 or less means no limit. */
  constructor(readonly maxPerIp: number) {}

  /** Count a new connection from `ip`; false (and nothing counted) if it is over the limit. */
  tryAcquire(ip: string): boolean {
    const key = sourceKey(ip);
    const n = this.counts.get(key) ?? 0;
    if (this.maxPerIp > 0 && n >= this.maxPerIp) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  /** Forget one connection from `ip` that tryAcquire accepted. */
  release(ip: string): void {
    const key = sourceKey(ip);
    const n = this.counts.get(key) ?? 0;
    // Delete at zero so the map does not grow with every address ever seen.
    if (n <= 1) this.counts.delete(key);
    else this.counts.set(key, n - 1);
  }

  /** Connections currently counted for `ip`. */
  count(ip: string): number {
    return this.counts.get(sourceKey(ip)) ?? 0;
  }
}
