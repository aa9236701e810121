// Comments in structured header values (RFC 5322 §3.2.2), removed the tolerant way the MIME
// parsers always have: from a "(" to the next ")", without nesting.

/**
 * Replaces each span from a "(" to the next ")" with `replacement`; an unclosed "(" and what
 * follows it stay. The same result as `s.replace(/\([^)]*\)/g, replacement)` in linear time:
 * that regex scans from every "(" of "((((..." to the end for a ")" that is not there, which
 * is quadratic in the length of a header value a client chose.
 */
export function stripComments(s: string, replacement = ''): string {
  let open = s.indexOf('(');
  if (open < 0) return s;
  let out = '';
  let pos = 0;
  while (open >= 0) {
    const close = s.indexOf(')', open + 1);
    // No ")" after this "(": none after any later "(" either.
    if (close < 0) break;
    out += s.slice(pos, open) + replacement;
    pos = close + 1;
    open = s.indexOf('(', pos);
  }
  return out + s.slice(pos);
}
