// The maildrop (RFC 1939 §3): INBOX as it stood at login. Message numbers, sizes and unique
// ids are fixed for the session; deletion marks live here until QUIT, when applyUpdate
// carries them out in one store call (one transaction) according to the account's policy.
import type { MailStore, Pop3Policy } from '../store/types.js';
import type { UpdateRequest } from './backend.js';

/**
 * Under the `keep` policy a message deleted over POP3 is not removed: it gets this keyword,
 * which later POP3 sessions skip. IMAP clients still see the message (and may show the
 * keyword); removing the keyword over IMAP makes it visible to POP3 again. Stored as an
 * ordinary keyword so that no schema change is needed.
 */
export const POP3_DELETED_KEYWORD = '$POP3Deleted';

export interface DropMessage {
  readonly uid: number;
  /** Octets as stored (CRLF lines), before dot-stuffing: what LIST and STAT report. */
  readonly size: number;
  readonly blobHash: string;
}

/** A maildrop as it stood at login: plain data, so a worker process can be sent it. */
export interface MaildropSnapshot {
  mailboxId: number;
  uidValidity: number;
  messages: DropMessage[];
}

export type Lookup =
  | { ok: true; message: DropMessage }
  | { ok: false; reason: 'no-such-message' | 'deleted' };

export class Maildrop {
  private readonly deleted = new Set<number>();

  constructor(
    readonly mailboxId: number,
    readonly uidValidity: number,
    private readonly messages: readonly DropMessage[],
  ) {}

  static from(s: MaildropSnapshot): Maildrop {
    return new Maildrop(s.mailboxId, s.uidValidity, s.messages);
  }

  /** Highest message number, deleted ones included (numbers never shift in a session). */
  get count(): number {
    return this.messages.length;
  }

  /** RFC 1939 §5 STAT: messages not marked deleted, and their octets. */
  stat(): { count: number; size: number } {
    let count = 0;
    let size = 0;
    for (const [n, m] of this.messages.entries()) {
      if (this.deleted.has(n + 1)) continue;
      count++;
      size += m.size;
    }
    return { count, size };
  }

  lookup(n: number): Lookup {
    const message = n >= 1 ? this.messages[n - 1] : undefined;
    if (!message) return { ok: false, reason: 'no-such-message' };
    if (this.deleted.has(n)) return { ok: false, reason: 'deleted' };
    return { ok: true, message };
  }

  /** Message numbers not marked deleted, ascending, with their messages. */
  *live(): Generator<[number, DropMessage]> {
    for (const [i, m] of this.messages.entries()) {
      if (!this.deleted.has(i + 1)) yield [i + 1, m];
    }
  }

  /**
   * RFC 1939 §7: unique-id is 1 to 70 characters in 0x21..0x7E, never reused for another
   * message in the maildrop, and the same across sessions. A UID never changes while the
   * mailbox's UIDVALIDITY holds, and is never reused (RFC 9051 §2.3.1.1); if UIDVALIDITY
   * changes, so do all the ids, which makes clients download again rather than lose mail.
   */
  uniqueId(message: DropMessage): string {
    return `${this.uidValidity}.${message.uid}`;
  }

  /** Mark for deletion at QUIT; the caller checked lookup(n) first. */
  markDeleted(n: number): void {
    this.deleted.add(n);
  }

  /** RFC 1939 §5 RSET: unmark every message. */
  reset(): void {
    this.deleted.clear();
  }

  deletedUids(): number[] {
    return [...this.deleted].sort((a, b) => a - b).map((n) => this.messages[n - 1]!.uid);
  }
}

/** Snapshot of the account's INBOX, leaving out what an earlier `keep` session deleted. */
export async function snapshotMaildrop(
  store: MailStore,
  accountId: number,
): Promise<MaildropSnapshot> {
  const inbox = await store.getMailbox(accountId, 'INBOX');
  if (!inbox) throw new Error(`account ${accountId} has no INBOX`);
  const hidden = POP3_DELETED_KEYWORD.toLowerCase();
  const records = await store.listMessages(inbox.id);
  const messages = records
    .filter((r) => !r.flags.some((f) => f.toLowerCase() === hidden))
    .map((r) => ({ uid: r.uid, size: r.size, blobHash: r.blobHash }));
  return { mailboxId: inbox.id, uidValidity: inbox.uidValidity, messages };
}

/**
 * RFC 1939 §6 UPDATE: carry out the deletions, all or none (each branch is one store call,
 * one transaction). The policy is read now, so an admin's change applies to the next QUIT.
 * Store events tell IMAP sessions at once: `expunge` for delete and trash, `flags` for keep.
 * First the retrieved messages (`seen`) not yet marked \Seen are, except those about to be
 * expunged: moved to Trash or kept, a message keeps the mark.
 */
export async function applyUpdate(
  store: MailStore,
  req: UpdateRequest,
): Promise<{ policy: Pop3Policy; removed: number }> {
  const { accountId, mailboxId, seen } = req;
  const uids = [...req.deletedUids];
  const account = await store.getAccountById(accountId);
  if (!account) throw new Error(`account ${accountId} is gone`);
  const policy = account.pop3Policy;
  const gone = new Set(policy === 'delete' ? uids : []);
  const mark = seen.filter((u) => !gone.has(u));
  if (mark.length > 0) await store.setFlags(mailboxId, mark, 'add', ['\\Seen']);
  if (uids.length === 0) return { policy, removed: 0 };
  switch (policy) {
    case 'delete': {
      const removed = await store.expunge(mailboxId, { uids, onlyDeleted: false });
      return { policy, removed: removed.length };
    }
    case 'keep': {
      const r = await store.setFlags(mailboxId, uids, 'add', [POP3_DELETED_KEYWORD]);
      return { policy, removed: r.updated.length };
    }
    case 'trash': {
      const trash = await trashMailbox(store, accountId);
      const r = await store.moveMessages(mailboxId, uids, trash);
      return { policy, removed: r.mapping.length };
    }
  }
}

/** The account's \Trash mailbox (RFC 6154), created if the user deleted it. */
async function trashMailbox(store: MailStore, accountId: number): Promise<number> {
  const boxes = await store.listMailboxes(accountId);
  const trash =
    boxes.find((b) => b.specialUse === '\\Trash') ?? boxes.find((b) => b.name === 'Trash');
  if (trash) return trash.id;
  return (await store.createMailbox(accountId, 'Trash', '\\Trash')).id;
}
