// IMAP section numbering (RFC 9051 §6.4.5) over a parsed part tree.
import type { PartNode } from './types.js';

/** Either a ParsedMessage or an EmbeddedMessage: anything with a root part. */
export interface HasRoot {
  root: PartNode;
}

/**
 * RFC 9051 §6.4.5: the parts of a message are numbered from 1. A non-multipart message has
 * only part 1, its body. A multipart's parts are its children. A message/rfc822 (or
 * message/global) part's sub-parts are the parts of the encapsulated message, numbered by the
 * same rule. `[]` is the message itself.
 */
export function findPart(msg: HasRoot, section: readonly number[]): PartNode | null {
  if (section.length === 0) return msg.root;
  let node = step(msg.root, section[0]);
  for (let i = 1; i < section.length && node !== null; i++) {
    if (node.type === 'multipart') node = child(node, section[i]);
    else if (node.message !== null) node = step(node.message.root, section[i]);
    else node = null;
  }
  return node;
}

function child(node: PartNode, n: number): PartNode | null {
  return Number.isInteger(n) && n >= 1 ? (node.children[n - 1] ?? null) : null;
}

/** Part n of the message whose root part is `root`. */
function step(root: PartNode, n: number): PartNode | null {
  if (root.type === 'multipart') return child(root, n);
  return n === 1 ? root : null;
}

export type SectionText = 'HEADER' | 'TEXT' | 'MIME' | null;

/**
 * The byte range [start, end) of BODY[section.specifier] (RFC 9051 §6.4.5), or null when the
 * section does not exist. HEADER.FIELDS uses the HEADER range. MIME needs a part number;
 * HEADER and TEXT after a part number need that part to be message/rfc822 or message/global.
 */
export function sectionRange(
  msg: HasRoot & { size: number },
  section: readonly number[],
  specifier: SectionText,
): [number, number] | null {
  if (section.length === 0) {
    if (specifier === null) return [0, msg.size];
    if (specifier === 'HEADER') return [msg.root.headerStart, msg.root.headerEnd];
    if (specifier === 'TEXT') return [msg.root.bodyStart, msg.root.bodyEnd];
    return null;
  }
  const part = findPart(msg, section);
  if (part === null) return null;
  if (specifier === null) return [part.bodyStart, part.bodyEnd];
  if (specifier === 'MIME') return [part.headerStart, part.headerEnd];
  const inner = part.message?.root;
  if (!inner) return null;
  return specifier === 'HEADER'
    ? [inner.headerStart, inner.headerEnd]
    : [inner.bodyStart, inner.bodyEnd];
}
