// THREADID (RFC 8474 §5.2): which thread a stored message belongs to, decided once when its
// row is created and never changed ("MUST NOT change"). A message joins the thread of the
// first stored message it names, root first: its References, then In-Reply-To; else that of
// a stored message with its own Message-ID (the same mail delivered twice with different
// trace fields); else it starts a new thread. Every copy of the same bytes is one row, so
// messages with one EMAILID always share their THREADID. A parent stored after its replies
// does not merge their threads: THREADIDs already reported could not change.
//
// Delivery pays one indexed lookup per Message-ID named (most mail names one or two), not a
// scan: ~2 us each.
import { newObjectId } from '../object-ids.js';
import { type Db, stmt } from './db.js';

// Shared with the PostgreSQL store; kept importable from here.
export { inReplyToOf, newObjectId } from '../object-ids.js';

/** At most this many Message-IDs of one message are looked up (a long References chain). */
const MAX_KEYS = 16;

/** The THREADID a message being stored now gets (see above). */
export function threadIdFor(
  db: Db,
  messageId: string,
  references: readonly string[],
  inReplyTo: string | null,
): string {
  const keys = new Set<string>();
  // Root first, then the nearest: the first and last of a long chain are the likeliest stored.
  const refs =
    references.length <= MAX_KEYS - 2
      ? references
      : [...references.slice(0, MAX_KEYS / 2 - 1), ...references.slice(1 - MAX_KEYS / 2)];
  for (const r of refs) keys.add(r);
  if (inReplyTo !== null) keys.add(inReplyTo);
  if (messageId !== '') keys.add(messageId);
  if (keys.size === 0) return newObjectId('T');
  const lookup = stmt(
    db,
    `SELECT thread_id FROM messages INDEXED BY messages_message_id
     WHERE s_message_id = ? AND s_message_id <> '' AND thread_id IS NOT NULL
     ORDER BY id LIMIT 1`,
  ).pluck();
  for (const k of keys) {
    const found = lookup.get(k) as string | undefined;
    if (found !== undefined) return found;
  }
  return newObjectId('T');
}
