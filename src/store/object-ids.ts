// RFC 8474 object ids, the same for every backend: MAILBOXID, EMAILID and THREADID are random
// (a letter, then 24 hex digits), never derived from row ids; and the In-Reply-To a THREADID
// is decided from (see sqlite/threads.ts).
import { randomHex } from '../random-hex.js';

/** A new object id: a letter, then 24 hex digits (RFC 8474 §7 objectid, §8.1 advice). */
export function newObjectId(prefix: 'F' | 'M' | 'T'): string {
  return prefix + randomHex(12);
}

/** The first `<id>` of an envelope's In-Reply-To, or null. */
export function inReplyToOf(envelope: unknown): string | null {
  const v = (envelope as { inReplyTo?: unknown } | null)?.inReplyTo;
  if (typeof v !== 'string') return null;
  return /<[^<>\s]+>/.exec(v)?.[0] ?? null;
}
