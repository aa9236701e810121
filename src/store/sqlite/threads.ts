// THREADID (RFC 8474 §5.2): which thread a stored message belongs to, decided once when its
// row is created and never changed ("MUST NOT change"). A message joins the thread of the
// oldest stored message that it names in References or In-Reply-To, or that has its own
// Message-ID (the same mail delivered twice with different trace fields); otherwise it starts
// a new thread. Every copy of the same bytes is one row, so messages with one EMAILID always
// share their THREADID. A parent stored after its replies does not merge their threads:
// THREADIDs already reported could not change.
import { randomBytes } from 'node:crypto';
import { type Db, stmt } from './db.js';

/** A new object id: a letter, then 24 hex digits (RFC 8474 §7 objectid, §8.1 advice). */
export function newObjectId(prefix: 'F' | 'M' | 'T'): string {
  return prefix + randomBytes(12).toString('hex');
}

/** The first `<id>` of an envelope's In-Reply-To, or null. */
export function inReplyToOf(envelope: unknown): string | null {
  const v = (envelope as { inReplyTo?: unknown } | null)?.inReplyTo;
  if (typeof v !== 'string') return null;
  return /<[^<>\s]+>/.exec(v)?.[0] ?? null;
}

/** The THREADID a message being stored now gets (see above). */
export function threadIdFor(
  db: Db,
  messageId: string,
  references: readonly string[],
  inReplyTo: string | null,
): string {
  const keys = new Set<string>(references);
  if (inReplyTo !== null) keys.add(inReplyTo);
  if (messageId !== '') keys.add(messageId);
  if (keys.size > 0) {
    const found = stmt(
      db,
      `SELECT thread_id FROM messages INDEXED BY messages_message_id
       WHERE s_message_id <> '' AND s_message_id IN (SELECT value FROM json_each(?))
         AND thread_id IS NOT NULL
       ORDER BY id LIMIT 1`,
    )
      .pluck()
      .get(JSON.stringify([...keys])) as string | undefined;
    if (found !== undefined) return found;
  }
  return newObjectId('T');
}
