// XML text for the autoconfiguration documents: every value escaped, and the one element of a
// request (Autodiscover's EMailAddress) read without an XML library.

/**
 * Character data or an attribute value (XML 1.0 §2.4, §3.3.3): the five markup characters as
 * entity references, and characters XML 1.0 does not allow at all (§2.2: C0 controls other than
 * TAB, LF, CR; lone surrogates; U+FFFE, U+FFFF) left out, since no reference can carry them.
 */
export function xmlEscape(value: string | number): string {
  return String(value)
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/[&<>"']/g, (c) => ENTITY_OF[c]!);
}

const ENTITY_OF: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};
const CHAR_OF: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Character data with its references resolved (XML 1.0 §4.1), or null if one is malformed. */
export function xmlUnescape(text: string): string | null {
  let bad = false;
  const out = text.replace(/&([^;&]*);?/g, (ref, body: string) => {
    if (!ref.endsWith(';')) bad = true;
    const named = CHAR_OF[body];
    if (named !== undefined) return named;
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(body);
    const cp = m ? Number.parseInt(m[1] ?? m[2]!, m[1] ? 16 : 10) : Number.NaN;
    if (!(cp >= 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) {
      bad = true;
      return '';
    }
    return String.fromCodePoint(cp);
  });
  return bad ? null : out;
}

/**
 * The text of the first element named `name` (any namespace prefix), or undefined when there is
 * none, or null when it is malformed (markup inside, a bad reference). Documents with a DOCTYPE
 * are refused by the caller, so no entity declared elsewhere can stand in a value.
 */
export function elementText(doc: string, name: string): string | null | undefined {
  const open = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${name}(?:\\s[^<>]*)?>`, 'g');
  const m = open.exec(doc);
  if (!m) return undefined;
  const rest = doc.slice(open.lastIndex);
  const close = new RegExp(`^([^<]*)</(?:[A-Za-z_][\\w.-]*:)?${name}\\s*>`).exec(rest);
  if (!close) return null;
  return xmlUnescape(close[1]!);
}
