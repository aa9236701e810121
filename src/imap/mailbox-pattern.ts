// LIST and LSUB mailbox patterns (RFC 9051 §6.3.9, RFC 3501 §6.3.8): `*` matches any run of
// characters, `%` any run that does not contain the hierarchy delimiter `/`.
//
// The pattern comes from the client, so it is never turned into a backtracking regex (a
// pattern like `*a*a*a*a*a*a*b` against a long name of `a`s took a regex engine 20 s). Instead
// the pattern is a small NFA, one state per pattern position, simulated over the name with the
// set of live states kept as a bit set: O(n * m / 32) word operations for a name of n UTF-16
// code units and a pattern of m positions, whatever the pattern. Runs of wildcards collapse to
// one, and a pattern with more literal characters than the name is refused before any work,
// so m is at most 2n + 1 whenever the simulation runs (n is at most MAX_MAILBOX_NAME_BYTES).

const SLASH = 0x2f;
const STAR = 0x2a;
const PERCENT = 0x25;

export type MailboxMatcher = (name: string) => boolean;

/** `inbox*`, `Inbox/%`: INBOX is case-insensitive, also as the first level of a pattern. */
function canonicalInbox(pattern: string): string {
  // RFC 9051 §5.1: the name INBOX is case-insensitive.
  return /^inbox(?=$|[/*%])/i.test(pattern) ? `INBOX${pattern.slice(5)}` : pattern;
}

/** The pattern as code units, each run of wildcards collapsed to `*` (if it has one) or `%`. */
function tokens(pattern: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    const last = out.length - 1;
    const wild = c === STAR || c === PERCENT;
    if (wild && last >= 0 && (out[last] === STAR || out[last] === PERCENT)) {
      // `%*`, `*%`, `**` match what `*` matches; `%%` what `%` matches.
      if (c === STAR) out[last] = STAR;
      continue;
    }
    out.push(c);
  }
  return out;
}

/** A matcher for one LIST/LSUB pattern (already joined with its reference). */
export function compileMailboxPattern(pattern: string): MailboxMatcher {
  const toks = tokens(canonicalInbox(pattern));
  const m = toks.length;
  // States 0..m: state i means "the first i pattern positions matched what was read".
  const words = (m >>> 5) + 1;
  const star = new Uint32Array(words);
  const percent = new Uint32Array(words);
  const literal = new Map<number, Uint32Array>();
  let literals = 0;
  for (let i = 0; i < m; i++) {
    const bit = 1 << (i & 31);
    const w = i >>> 5;
    const c = toks[i];
    if (c === STAR) star[w] |= bit;
    else if (c === PERCENT) percent[w] |= bit;
    else {
      literals++;
      let mask = literal.get(c);
      if (!mask) {
        mask = new Uint32Array(words);
        literal.set(c, mask);
      }
      mask[w] |= bit;
    }
  }
  const wild = star.map((s, i) => s | percent[i]);
  const acceptWord = m >>> 5;
  const acceptBit = 1 << (m & 31);
  let cur = new Uint32Array(words);
  let next = new Uint32Array(words);

  /** A live wildcard may also match nothing: the state after it is live too. */
  const closure = (d: Uint32Array): void => {
    // Runs of wildcards were collapsed, so the state after a wildcard is never one: one pass.
    let carry = 0;
    for (let w = 0; w < words; w++) {
      const e = d[w] & wild[w];
      d[w] |= (e << 1) | carry;
      carry = e >>> 31;
    }
  };

  return (name) => {
    // Every literal position consumes exactly one code unit of the name.
    if (name.length < literals) return false;
    cur.fill(0);
    cur[0] = 1;
    closure(cur);
    for (let j = 0; j < name.length; j++) {
      const c = name.charCodeAt(j);
      const lit = literal.get(c);
      const keepPercent = c !== SLASH;
      let carry = 0;
      let any = 0;
      for (let w = 0; w < words; w++) {
        const d = cur[w];
        const advance = lit ? d & lit[w] : 0;
        let n = (advance << 1) | carry | (d & star[w]);
        if (keepPercent) n |= d & percent[w];
        carry = advance >>> 31;
        next[w] = n;
        any |= n;
      }
      if (any === 0) return false;
      closure(next);
      const t = cur;
      cur = next;
      next = t;
    }
    return (cur[acceptWord] & acceptBit) !== 0;
  };
}
