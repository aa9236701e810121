// MTA-STS (RFC 8461) texts: the `_mta-sts` TXT record, the policy file, and MX matching.
// Pure functions over strings; the lookups and the HTTPS fetch are in mta-sts.ts and
// mta-sts-fetch.ts. Every parser here is a linear scan (remote input).
import type { MtaStsMode } from './types.js';

export interface MtaStsPolicy {
  mode: MtaStsMode;
  /** MX patterns: a host name, or `*.` and a domain (one leftmost label). Lowercase. */
  mx: string[];
  /** Seconds the policy may be cached (§3.2, at most 31557600). */
  maxAge: number;
}

/** RFC 8461 §3.2: max_age is at most 31557600 seconds (about a year). */
export const MAX_AGE_LIMIT = 31_557_600;

/**
 * RFC 8461 §3.1: of the TXT records at `_mta-sts.<domain>`, those not beginning with
 * "v=STSv1;" are discarded; unless exactly one remains and it is valid, the domain has no
 * policy available (null). A record's strings are joined without spaces.
 */
export function parseStsRecord(records: readonly (readonly string[])[]): { id: string } | null {
  const sts = records.map((r) => r.join('')).filter((r) => r.startsWith('v=STSv1;'));
  if (sts.length !== 1) return null;
  let id: string | null = null;
  // sts-text-record = sts-version 1*(*WSP ";" *WSP sts-field) [";"]; fields are key=value.
  for (const part of sts[0]!.split(';').slice(1)) {
    const field = part.trim();
    if (field === '') continue;
    const eq = field.indexOf('=');
    if (eq <= 0) return null;
    const key = field.slice(0, eq);
    const value = field.slice(eq + 1);
    // sts-id = "id" *WSP "=" *WSP 1*32(ALPHA / DIGIT); the first one counts.
    if (key.trim() === 'id' && id === null) {
      const v = value.trim();
      if (!/^[A-Za-z0-9]{1,32}$/.test(v)) return null;
      id = v;
    }
  }
  return id === null ? null : { id };
}

/** RFC 8461 §3.2 policy text; a string saying what is wrong when it is not a valid policy. */
export function parsePolicy(text: string): MtaStsPolicy | string {
  let version: string | undefined;
  let mode: string | undefined;
  let maxAge: string | undefined;
  const mx: string[] = [];
  // sts-policy-term = LF / CRLF; sts-policy-field = key ":" *WSP value *WSP.
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return `not a "key: value" line: ${line.slice(0, 60)}`;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    // A field given twice: the first counts (mx may repeat); unknown fields are ignored.
    if (key === 'version') version ??= value;
    else if (key === 'mode') mode ??= value;
    else if (key === 'max_age') maxAge ??= value;
    else if (key === 'mx') mx.push(value.toLowerCase().replace(/\.$/, ''));
  }
  if (version !== 'STSv1') return `version is ${version ?? 'missing'}, not STSv1`;
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') {
    return `mode is ${mode ?? 'missing'}`;
  }
  if (maxAge === undefined || !/^\d{1,10}$/.test(maxAge)) return 'max_age missing or invalid';
  for (const p of mx) if (!validPattern(p)) return `invalid mx pattern: ${p.slice(0, 60)}`;
  // §3.2: a policy in enforce or testing mode names its MX hosts; one in none mode need not.
  if (mode !== 'none' && mx.length === 0) return 'no mx';
  return { mode, mx, maxAge: Math.min(Number(maxAge), MAX_AGE_LIMIT) };
}

function validPattern(p: string): boolean {
  const name = p.startsWith('*.') ? p.slice(2) : p;
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((l) => /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l));
}

/**
 * RFC 8461 §4.1: an MX host is valid for a policy when its name matches one of the mx
 * patterns; "*" may only stand for the whole leftmost label, so "*.example.com" matches
 * "mail.example.com" but neither "example.com" nor "foo.bar.example.com".
 */
export function mxMatches(host: string, pattern: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!pattern.startsWith('*.')) return h === pattern;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === pattern.slice(2);
}

export function mxAllowed(host: string, policy: MtaStsPolicy): boolean {
  return policy.mx.some((p) => mxMatches(host, p));
}
