// Where a domain's mail goes: a smarthost route from the config, else the domain's MX hosts
// (RFC 5321 §5.1), each with its addresses in the order to try them, and the TLS each needs
// (MTA-STS, RFC 8461). The worker asks once per destination domain per run; this module only
// looks things up, it never connects.
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { MtaStsCache } from './mta-sts.js';
import { mxAllowed } from './mta-sts-policy.js';
import {
  createOutboundResolver,
  describeFailure,
  type Lookup,
  lookup,
  type Resolver,
} from './resolver.js';
import { type SmarthostRoute, smarthostRoutes } from './smarthost.js';
import type { Route, RouteHost } from './types.js';

export type { Resolver } from './resolver.js';
export type { SmarthostRoute } from './smarthost.js';

export interface RouteOptions {
  resolver: Resolver;
  routes: readonly SmarthostRoute[];
  /** Port of MX hosts (`[queue] port`, 25). */
  port: number;
  /** MTA-STS policies (`[queue] mta_sts`); absent: not applied. */
  mtaSts?: MtaStsCache;
  log?: Logger;
  /** [0, 1), for the order among MX hosts of equal preference; tests may fix it. */
  random?: () => number;
}

/** MX hosts kept after sorting (a hostile zone may list hundreds); Postfix tries about 5. */
export const MAX_MX_HOSTS = 10;
/** Addresses kept per host, each family counted alone. */
export const MAX_ADDRESSES_PER_FAMILY = 5;

/**
 * routeFor over the config: `[dns]` servers, `[queue]` port, routes and mta_sts (its cache
 * kept in <data_dir>/mta-sts.json). Reads the smarthost auth files now: a ConfigError if one
 * is missing. `internal` is for tests: the policy servers' HTTPS port and trusted CA.
 */
export function routerFromConfig(
  cfg: Pick<Config, 'file' | 'dataDir' | 'dns' | 'queue'>,
  log?: Logger,
  internal: { httpsPort?: number; ca?: string | string[] } = {},
): (domain: string) => Promise<Route> {
  const resolver = createOutboundResolver({
    servers: cfg.dns.servers,
    timeoutMs: cfg.dns.timeout_ms,
  });
  const routes = smarthostRoutes(cfg);
  const mtaSts = cfg.queue.mta_sts
    ? new MtaStsCache({ resolver, file: join(cfg.dataDir, 'mta-sts.json'), log, ...internal })
    : undefined;
  const opts: RouteOptions = { resolver, routes, port: cfg.queue.port, log };
  if (mtaSts) opts.mtaSts = mtaSts;
  const requireTls = new Set(cfg.queue.require_tls.map((d) => d.toLowerCase().replace(/\.$/, '')));
  const cache = new RouteCache(cfg.queue.route_cache_seconds * 1000);
  return async (domain) => {
    const key = domain.toLowerCase();
    const cached = cache.get(key);
    if (cached) return cached;
    let route = await routeFor(domain, opts);
    if (requireTls.has(key)) route = withTlsRequired(route);
    // A DNS failure is not remembered: the next message asks again.
    if (route.kind !== 'dns-error') cache.set(key, route);
    return route;
  };
}

/** Domains' routes kept a short while: a queue run to one domain asks DNS once, not per message. */
const ROUTE_CACHE_ENTRIES = 10_000;

class RouteCache {
  private readonly entries = new Map<string, { route: Route; until: number }>();

  constructor(private readonly ttlMs: number) {}

  get(domain: string): Route | null {
    const e = this.entries.get(domain);
    if (!e) return null;
    if (e.until <= Date.now()) {
      this.entries.delete(domain);
      return null;
    }
    return e.route;
  }

  set(domain: string, route: Route): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(domain);
    if (this.entries.size >= ROUTE_CACHE_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(domain, { route, until: Date.now() + this.ttlMs });
  }
}

/**
 * `[queue] require_tls`: mail to these domains goes only over TLS with a certificate valid
 * for the host name (as under an MTA-STS enforce policy); otherwise it waits.
 */
export function withTlsRequired(route: Route): Route {
  if (route.kind !== 'hosts') return route;
  return {
    ...route,
    hosts: route.hosts.map((h) => (h.tls === 'opportunistic' ? { ...h, tls: 'required' } : h)),
  };
}

export async function routeFor(domain: string, opts: RouteOptions): Promise<Route> {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const smarthost =
    opts.routes.find((r) => r.domain === d) ?? opts.routes.find((r) => r.domain === '*');
  if (smarthost) return smarthostRoute(smarthost, opts);
  if (d.startsWith('[')) return literalRoute(d, opts.port);
  return mxRoute(d, opts);
}

/** RFC 5321 §4.1.3: `[192.0.2.1]` or `[IPv6:2001:db8::1]` names that one address. */
function literalRoute(literal: string, port: number): Route {
  const inner = literal.endsWith(']') ? literal.slice(1, -1) : '';
  const v6 = inner.startsWith('ipv6:');
  const ip = v6 ? inner.slice(5) : inner;
  if (isIP(ip) !== (v6 ? 6 : 4)) {
    return { kind: 'no-domain', reason: `not an address literal: ${literal.slice(0, 80)}` };
  }
  return {
    kind: 'hosts',
    via: 'implicit-mx',
    hosts: [{ name: ip, addresses: [ip], port, tls: 'opportunistic' }],
  };
}

async function smarthostRoute(route: SmarthostRoute, opts: RouteOptions): Promise<Route> {
  const hosts: RouteHost[] = [];
  let temporary = false;
  const resolved = await Promise.all(route.hosts.map((h) => addressesOf(h.name, opts.resolver)));
  route.hosts.forEach((h, i) => {
    const r = resolved[i]!;
    if (r.addresses.length === 0) {
      temporary ||= r.temporary;
      opts.log?.warn({ host: h.name, failure: r.why }, 'smarthost does not resolve');
      return;
    }
    const host: RouteHost = { name: h.name, addresses: r.addresses, port: h.port, tls: route.tls };
    if (route.auth) host.auth = route.auth;
    hosts.push(host);
  });
  if (hosts.length === 0) {
    const names = route.hosts.map((h) => h.name).join(', ');
    return {
      kind: 'dns-error',
      reason: `smarthost ${names}: no address${temporary ? ' (DNS failure)' : ''}`,
    };
  }
  return { kind: 'hosts', via: 'smarthost', hosts };
}

async function mxRoute(domain: string, opts: RouteOptions): Promise<Route> {
  const [mx, policy] = await Promise.all([
    lookup(() => opts.resolver.resolveMx(domain)),
    opts.mtaSts ? opts.mtaSts.policy(domain) : Promise.resolve(null),
  ]);
  let names: string[];
  let via: 'mx' | 'implicit-mx';
  if (mx.ok) {
    // RFC 7505 §3: a null MX is a single MX record whose exchange is the root ("."); node gives
    // it as ''. Whatever its preference, one root target says the domain takes no mail.
    if (mx.records.length === 1 && isRoot(mx.records[0]!.exchange)) return { kind: 'null-mx' };
    names = orderMx(mx.records, opts.random ?? Math.random, domain, opts.log);
    via = 'mx';
    if (names.length === 0) {
      return { kind: 'dns-error', reason: `${domain}: no usable MX host` };
    }
  } else if (mx.failure === 'nodata') {
    // RFC 5321 §5.1: no MX records: the domain itself is the implicit MX, preference 0.
    names = [domain];
    via = 'implicit-mx';
  } else if (mx.failure === 'nxdomain') {
    return { kind: 'no-domain', reason: `${domain}: no such domain (NXDOMAIN)` };
  } else {
    return { kind: 'dns-error', reason: `${domain}: MX lookup failed (SERVFAIL or timeout)` };
  }

  // RFC 8461 §5.1: under enforce only MX hosts the policy names are used, over verified TLS;
  // under testing, delivery goes on as usual and a would-be failure is only logged.
  let tls: RouteHost['tls'] = 'opportunistic';
  if (policy?.mode === 'enforce') {
    const allowed = names.filter((n) => mxAllowed(n, policy));
    for (const n of names) {
      if (!allowed.includes(n))
        opts.log?.warn({ domain, mx: n }, 'MTA-STS enforce: MX not in policy, skipped');
    }
    // §4.2 / §5: never a permanent failure on policy grounds before a newer policy is looked
    // for: no matching MX defers the mail.
    if (allowed.length === 0) {
      return { kind: 'dns-error', reason: `${domain}: no MX host matches its MTA-STS policy` };
    }
    names = allowed;
    tls = 'required';
  } else if (policy?.mode === 'testing') {
    for (const n of names) {
      if (!mxAllowed(n, policy)) {
        opts.log?.info({ domain, mx: n }, 'MTA-STS testing: MX not in policy (would be skipped)');
      }
    }
  }

  const resolved = await Promise.all(names.map((n) => addressesOf(n, opts.resolver)));
  const hosts: RouteHost[] = [];
  let temporary = false;
  names.forEach((name, i) => {
    const r = resolved[i]!;
    // RFC 5321 §5.1: a host without addresses is skipped; the next one is tried.
    if (r.addresses.length === 0) {
      temporary ||= r.temporary;
      return;
    }
    hosts.push({ name, addresses: r.addresses, port: opts.port, tls });
  });
  const mtaSts = policy?.mode ?? 'none';
  if (hosts.length > 0) {
    return opts.mtaSts ? { kind: 'hosts', via, hosts, mtaSts } : { kind: 'hosts', via, hosts };
  }
  // The domain exists, has no MX and no address: nothing will ever take its mail.
  if (via === 'implicit-mx' && !temporary) {
    return { kind: 'no-domain', reason: `${domain}: no MX and no A/AAAA record` };
  }
  return { kind: 'dns-error', reason: `${domain}: no address for any MX host` };
}

function isRoot(name: string): boolean {
  return name === '' || name === '.';
}

/**
 * RFC 5321 §5.1: MX records sorted by preference, lowest first, in random order among those of
 * equal preference (to spread the load). A target that is an address rather than a name is not
 * valid (an MX names a host, RFC 1035 §3.3.9) and is skipped, as is a root target among others.
 */
function orderMx(
  records: ReadonlyArray<{ exchange: string; priority: number }>,
  random: () => number,
  domain: string,
  log?: Logger,
): string[] {
  const keyed: Array<{ name: string; pref: number; r: number }> = [];
  for (const rec of records) {
    const name = rec.exchange.toLowerCase().replace(/\.$/, '');
    if (isRoot(name) || isIP(name) !== 0 || name.startsWith('[')) {
      log?.warn({ domain, mx: rec.exchange }, 'MX target is not a host name, skipped');
      continue;
    }
    keyed.push({ name, pref: rec.priority, r: random() });
  }
  keyed.sort((a, b) => a.pref - b.pref || a.r - b.r);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const k of keyed) {
    if (seen.has(k.name)) continue;
    seen.add(k.name);
    out.push(k.name);
    if (out.length === MAX_MX_HOSTS) break;
  }
  return out;
}

interface Addresses {
  addresses: string[];
  /** No address, and at least one of the lookups failed temporarily. */
  temporary: boolean;
  why: string;
}

/**
 * A host's addresses, IPv6 and IPv4 interleaved, IPv6 first (RFC 8305 §4, Happy Eyeballs):
 * IPv6 is preferred (RFC 6724), but a host whose IPv6 path is broken costs one failed connect
 * before an IPv4 address is tried, not one per IPv6 address. A host given as an address is
 * its own.
 */
async function addressesOf(name: string, resolver: Resolver): Promise<Addresses> {
  if (isIP(name) !== 0) return { addresses: [name], temporary: false, why: '' };
  const [v6, v4] = await Promise.all([
    lookup(() => resolver.resolve6(name)),
    lookup(() => resolver.resolve4(name)),
  ]);
  const six = records(v6).slice(0, MAX_ADDRESSES_PER_FAMILY);
  const four = records(v4).slice(0, MAX_ADDRESSES_PER_FAMILY);
  const addresses: string[] = [];
  for (let i = 0; i < Math.max(six.length, four.length); i++) {
    if (i < six.length) addresses.push(six[i]!);
    if (i < four.length) addresses.push(four[i]!);
  }
  const temporary =
    (!v6.ok && v6.failure === 'temporary') || (!v4.ok && v4.failure === 'temporary');
  const why = !v4.ok ? describeFailure(v4.failure) : '';
  return { addresses, temporary, why };
}

function records(l: Lookup<string>): string[] {
  return l.ok ? [...new Set(l.records)] : [];
}
