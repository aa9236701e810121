// Where passwords may be sent without TLS: `[auth] plaintext_networks`. RFC 8314 §3 asks for
// TLS for every password; a client on the server's own host (a webmail, a fetch script) is
// not on a network an eavesdropper can reach, and Dovecot treats such peers as secure too. So
// the default is loopback only; everywhere else a password needs TLS (STARTTLS or implicit),
// and IMAP CAPABILITY, POP3 CAPA and SMTP EHLO advertise exactly that, per connection.
//
// `allow_plaintext = true`, the older switch, still means what it did: every network.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { ipKey } from '../net/ip-key.js';

export const DEFAULT_PLAINTEXT_NETWORKS: readonly string[] = ['127.0.0.0/8', '::1'];
const ALL_NETWORKS: readonly string[] = ['0.0.0.0/0', '::/0'];

export interface Network {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `addr/n`; null when it is none of these. */
export function parseNetwork(text: string): Network | null {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
  if (family === null) return null;
  const max = family === 'ipv4' ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return null;
    prefix = Number(p);
  }
  return { address, prefix, family };
}

export interface PlaintextSettings {
  allow_plaintext: boolean;
  plaintext_networks: readonly string[];
}

/** The networks in effect: all of them with allow_plaintext, else plaintext_networks. */
export function effectiveNetworks(auth: PlaintextSettings): string[] {
  return [...(auth.allow_plaintext ? ALL_NETWORKS : auth.plaintext_networks)];
}

/** Addresses whose answer allows() keeps; past this many it starts over. */
const KEPT_ANSWERS = 1024;

export class PlaintextPolicy {
  private readonly list = new BlockList();
  private readonly empty: boolean;
  /**
   * allows() by address, as answered before: every connection asks (IMAP's greeting and LOGIN,
   * POP3's CAPA, SMTP's EHLO), most of them from few addresses, and each BlockList check makes
   * a native SocketAddress (issue 19). The networks never change, so an answer never goes stale.
   */
  private readonly answers = new Map<string, boolean>();

  /** Throws on a network that parseNetwork refuses (the config schema checks them first). */
  constructor(readonly networks: readonly string[]) {
    for (const n of networks) {
      const net = parseNetwork(n);
      if (net === null) throw new RangeError(`not a network: ${n}`);
      this.list.addSubnet(net.address, net.prefix, net.family);
    }
    this.empty = networks.length === 0;
  }

  /** May a client at `ip` send a password on a connection without TLS? */
  allows(ip: string): boolean {
    if (this.empty) return false;
    let answer = this.answers.get(ip);
    if (answer === undefined) {
      answer = this.check(ip);
      if (this.answers.size >= KEPT_ANSWERS) this.answers.clear();
      this.answers.set(ip, answer);
    }
    return answer;
  }

  private check(ip: string): boolean {
    // IPv4-mapped IPv6 (a dual-stack listener's IPv4 peers) is checked as the IPv4 it is.
    const key = ipKey(ip);
    if (isIPv4(key)) return this.list.check(key, 'ipv4');
    if (isIPv6(key)) return this.list.check(key, 'ipv6');
    return false;
  }
}

const policies = new WeakMap<PlaintextSettings, PlaintextPolicy>();

/** The policy of a loaded config's `[auth]` section, made once per config. */
export function plaintextPolicy(auth: PlaintextSettings): PlaintextPolicy {
  let p = policies.get(auth);
  if (p === undefined) {
    p = new PlaintextPolicy(effectiveNetworks(auth));
    policies.set(auth, p);
  }
  return p;
}
