// The case SEARCH compares strings in (RFC 9051 §6.4.4: a substring, case-insensitively):
// lower case, and the final sigma as sigma. Lower-casing is the same for every character but
// one (Unicode's SpecialCasing): a capital sigma becomes final or not by the letters around
// it, so a needle lower-cased alone ("ΟΔΟΣ" -> "οδος") would not be found in the same letters
// inside a longer word ("ΟΔΟΣA" -> "οδοσa"). The full-text index, its checks of a text and the
// IMAP search's own checks of headers all fold this way.

export function searchFold(s: string): string {
  const lower = s.toLowerCase();
  return lower.includes('\u03c2') ? lower.replaceAll('\u03c2', '\u03c3') : lower;
}
