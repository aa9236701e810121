// The key a client address is counted under (connection limits, the login throttle): one
// text form per address, and IPv6 cut to a prefix, since whoever has one IPv6 address
// usually has the whole /64 (RFC 4291 §2.5.4).
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Keys already worked out for addresses that are not plain IPv4, by prefix length, then by
 * the address as given. An IPv6 key takes ~3 us to work out (Node's isIPv6, the groups'
 * parse), and one connection asks for it several times: the connection limit at accept and
 * again at close (net/limits.ts), the login throttle two or three times a login
 * (auth/throttle.ts); a client comes back from the same address. A plain IPv4 address is its
 * own key at once (~50 ns) and is not kept.
 */
const known = new Map<number, Map<string, string>>();
/** Addresses kept per prefix length; the map starts again empty when it is full. */
const KNOWN_MAX = 4096;
/**
 * Longer text is worked out every time, never kept: the longest IPv6 text, with an IPv4 tail
 * and a zone, is well under this, and a caller's arbitrary string must not fill the memory.
 */
const KNOWN_TEXT_MAX = 64;

/**
 * Canonical key for a client address: IPv4-mapped IPv6 (::ffff:a.b.c.d, as a dual-stack
 * listener reports IPv4 peers) becomes plain IPv4; IPv6 is expanded and cut to its prefix
 * (except ::1, kept whole). Anything unparseable is used lower-cased as given.
 */
export function ipKey(ip: string, ipv6PrefixLength = 128): string {
  // As the text is given (no space, no letter): the trimmed, lower-cased form below is the same.
  if (isIPv4(ip)) return ip;
  if (ip.length > KNOWN_TEXT_MAX) return workOutKey(ip, ipv6PrefixLength);
  let byText = known.get(ipv6PrefixLength);
  if (byText === undefined) {
    byText = new Map();
    known.set(ipv6PrefixLength, byText);
  }
  let key = byText.get(ip);
  if (key === undefined) {
    if (byText.size >= KNOWN_MAX) byText.clear();
    key = workOutKey(ip, ipv6PrefixLength);
    byText.set(ip, key);
  }
  return key;
}

function workOutKey(ip: string, ipv6PrefixLength: number): string {
  const raw = ip.trim().toLowerCase();
  if (isIPv4(raw)) return raw;
  const zoneless = raw.split('%')[0];
  if (!isIPv6(zoneless)) return raw;
  const groups = expandIPv6(zoneless);
  if (groups === null) return raw;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
  }
  const loopback = groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
  const bits = loopback ? 128 : Math.max(0, Math.min(128, ipv6PrefixLength));
  const masked = groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    return keep === 16 ? g : g & ((0xffff << (16 - keep)) & 0xffff);
  });
  const key = masked.map((g) => g.toString(16)).join(':');
  return bits === 128 ? key : `${key}/${bits}`;
}

/** Eight 16-bit groups of a syntactically valid IPv6 address (checked by isIPv6 first). */
function expandIPv6(addr: string): number[] | null {
  let text = addr;
  const tail: number[] = [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const lastColon = text.lastIndexOf(':');
  const maybeV4 = text.slice(lastColon + 1);
  if (isIPv4(maybeV4)) {
    const o = maybeV4.split('.').map(Number);
    tail.push((o[0] << 8) | o[1], (o[2] << 8) | o[3]);
    text = text.slice(0, lastColon + 1) + '0';
  }
  const [head, rest] = text.split('::');
  const parse = (s: string | undefined) =>
    s === undefined || s === '' ? [] : s.split(':').map((h) => Number.parseInt(h, 16));
  const left = parse(head);
  const right = parse(rest);
  // The '0' placeholder stood where the IPv4 tail was; drop it.
  if (tail.length > 0) {
    if (right.length > 0) right.pop();
    else left.pop();
  }
  const fill = 8 - tail.length - left.length - right.length;
  if (rest === undefined ? fill !== 0 : fill < 0) return null;
  const groups = [
    ...left,
    ...new Array<number>(rest === undefined ? 0 : fill).fill(0),
    ...right,
    ...tail,
  ];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g)) ? groups : null;
}
