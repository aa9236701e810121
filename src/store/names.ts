// Validation and normalisation of the names the store keys on: domains, addresses, mailboxes.
import { StoreError } from './errors.js';
import { MAILBOX_DELIMITER } from './types.js';

// RFC 1035 §2.3.1 labels (with underscores tolerated, as seen in real zones), or U-labels: we
// accept UTF-8 domains because SMTPUTF8 (RFC 6531) mail may name them.
const LABEL = /^(?!-)[\p{L}\p{N}_-]{1,63}(?<!-)$/u;

/**
 * The normal forms of the last inputs seen, per function: both are pure functions of their
 * input, and a recipient's RCPT asks for the same address's forms three or four times (the
 * delivery's check, the store's look-up and its walk), each 0.6-0.9 us of trim, case folding,
 * splits and Unicode regular expressions, where a hit is a Map look-up. Inputs that throw are
 * never kept. Bounded: the oldest entry goes first (a sender trying many names only churns it).
 */
const MEMO_MAX = 512;
/** Longer inputs (no valid address or domain is) are normalized each time, not kept. */
const MEMO_INPUT_MAX = 320;
const domains = new Map<string, string>();
const addresses = new Map<string, string>();

function remember(memo: Map<string, string>, input: string, normal: string): string {
  if (input.length > MEMO_INPUT_MAX) return normal;
  if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value as string);
  // Kept as copies: an input cut from a larger string (a command line, a header) may share
  // that string's memory, which a kept slice would hold. UTF-16 code units copy losslessly.
  memo.set(copyOf(input), copyOf(normal));
  return normal;
}

function copyOf(s: string): string {
  return Buffer.from(s, 'utf16le').toString('utf16le');
}

/** How many inputs each memo holds (tests: it stays bounded). */
export function normalMemoSizes(): { domains: number; addresses: number } {
  return { domains: domains.size, addresses: addresses.size };
}

export function normalizeDomain(input: string): string {
  return domains.get(input) ?? remember(domains, input, domainNormal(input));
}

function domainNormal(input: string): string {
  const d = input.trim().toLowerCase().replace(/\.$/, '');
  if (d.length === 0 || d.length > 253) throw new StoreError('INVALID', `invalid domain: ${input}`);
  const labels = d.split('.');
  if (labels.length < 1 || !labels.every((l) => LABEL.test(l))) {
    throw new StoreError('INVALID', `invalid domain: ${input}`);
  }
  return d;
}

/**
 * Addresses are stored lower-case: RFC 5321 §2.4 lets the local part be case-sensitive, but
 * every mainstream server folds it, and users expect Alice@ and alice@ to be one mailbox.
 */
export function normalizeAddress(input: string): string {
  return addresses.get(input) ?? remember(addresses, input, addressNormal(input));
}

function addressNormal(input: string): string {
  const a = input.trim();
  const at = a.lastIndexOf('@');
  if (at <= 0 || at === a.length - 1) throw new StoreError('INVALID', `invalid address: ${input}`);
  const local = a.slice(0, at);
  // RFC 5321 §4.5.3.1.1: local part at most 64 octets.
  if (Buffer.byteLength(local) > 64 || /[\s<>()[\]\\,;:@"\p{Cc}]/u.test(local)) {
    throw new StoreError('INVALID', `invalid address: ${input}`);
  }
  return `${local.toLowerCase()}@${normalizeDomain(a.slice(at + 1))}`;
}

/** Catch-all aliases are written `@domain`. */
export function normalizeAliasAddress(input: string): string {
  const a = input.trim();
  if (a.startsWith('@')) return `@${normalizeDomain(a.slice(1))}`;
  return normalizeAddress(a);
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

export const MAX_MAILBOX_NAME_BYTES = 512;
export const MAX_MAILBOX_DEPTH = 16;

/**
 * Mailbox names are UTF-8 with `/` as the hierarchy delimiter. `INBOX` is case-insensitive
 * (RFC 9051 §5.1) and stored as `INBOX`. Names are scoped to their account by id, so no name
 * can reach another user's mail; we still refuse names that would confuse clients or admins.
 */
export function normalizeMailboxName(input: string): string {
  let name = input;
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  if (name.toUpperCase().startsWith(`INBOX${MAILBOX_DELIMITER}`)) name = `INBOX${name.slice(5)}`;
  if (name.length === 0) throw new StoreError('INVALID', 'empty mailbox name');
  if (Buffer.byteLength(name) > MAX_MAILBOX_NAME_BYTES) {
    throw new StoreError('LIMIT', 'mailbox name too long');
  }
  if (/\p{Cc}/u.test(name)) throw new StoreError('INVALID', 'mailbox name has control characters');
  // RFC 9051 §5.1: `*` and `%` are LIST wildcards and must not be in names.
  if (/[*%]/.test(name)) throw new StoreError('INVALID', 'mailbox name has a wildcard character');
  const levels = name.split(MAILBOX_DELIMITER);
  if (levels.some((l) => l.length === 0)) {
    throw new StoreError('INVALID', 'mailbox name has an empty hierarchy level');
  }
  if (levels.some((l) => l === '.' || l === '..')) {
    throw new StoreError('INVALID', 'mailbox name has a "." or ".." level');
  }
  if (levels.length > MAX_MAILBOX_DEPTH) throw new StoreError('LIMIT', 'mailbox nesting too deep');
  return name.normalize('NFC');
}
