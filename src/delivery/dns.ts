// The DNS resolver inbound checks use: configurable servers (tests publish SPF/DKIM/DMARC from
// a loopback server), one try per query with a timeout, so a DNS outage costs bounded time.
import { promises as dns } from 'node:dns';

export type ResolveFn = (name: string, rrtype: string) => Promise<string[][] | string[]>;

export function createResolver(opts: { servers: readonly string[]; timeoutMs: number }): ResolveFn {
  const r = new dns.Resolver({ timeout: opts.timeoutMs, tries: 1 });
  if (opts.servers.length > 0) r.setServers([...opts.servers]);
  return (name, rrtype) =>
    (r.resolve as (n: string, t: string) => Promise<string[][] | string[]>)(name, rrtype);
}
