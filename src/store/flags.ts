// Flag sets as the store keeps them: system flags in their canonical spelling, keywords as
// first written, no duplicates. RFC 9051 §2.3.2: flags are case-insensitive.

const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'];
const CANONICAL = new Map(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

export function canonicalFlag(flag: string): string {
  return CANONICAL.get(flag.toLowerCase()) ?? flag;
}

/** Normalises, deduplicates and drops \Recent (a session property, not stored: RFC 9051 drops it). */
export function normalizeFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    if (f.length === 0 || /[\s()\p{Cc}]/u.test(f)) continue;
    const c = canonicalFlag(f);
    const key = c.toLowerCase();
    if (key === '\\recent' || seen.has(key)) continue;
    seen.add(key);
    out.push(c);
  }
  return out;
}

export function applyFlags(
  current: readonly string[],
  mode: 'add' | 'remove' | 'replace',
  flags: readonly string[],
): string[] {
  if (mode === 'replace') return normalizeFlags(flags);
  if (mode === 'add') return normalizeFlags([...current, ...flags]);
  const drop = new Set(normalizeFlags(flags).map((f) => f.toLowerCase()));
  return current.filter((f) => !drop.has(f.toLowerCase()));
}

export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => s.has(f.toLowerCase()));
}

/** Stored as one space-separated string: flags are atoms and cannot hold a space. */
export function encodeFlags(flags: readonly string[]): string {
  return flags.join(' ');
}

export function decodeFlags(s: string): string[] {
  return s.length === 0 ? [] : s.split(' ');
}

/** Keywords compare case-insensitively (RFC 3501 §2.3.2): the first spelling of each. */
export function uniqueFolded(keywords: Iterable<string>): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const k of keywords) {
    const folded = k.toLowerCase();
    if (seen.has(folded)) continue;
    seen.add(folded);
    out.push(k);
  }
  return out;
}
