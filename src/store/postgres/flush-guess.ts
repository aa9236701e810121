// Whether a one-row STORE's or an EXPUNGE's commit is followed by a FLUSH (issue 17): the
// appends' per-mailbox guess (append-batch.ts flushBehind) for the writes of flag-groups.ts
// and messages.ts expunge. A commit that sends notices does not wait for its WAL flush (db.ts
// UNFLUSHED_COMMIT: it would hold PostgreSQL's notify lock through it) and a FLUSH after it
// makes it durable before anyone is answered. One that sends none (only the writer's node
// holds the account's lease: events.ts noticeWanted) can commit synchronously, durable when
// answered, with no FLUSH: a transaction and a round trip less. Whether it will send one is
// known only after it ran, so the mailbox's last such write here decides. A synchronous commit
// holds the account's row lock through its fsync, so for CONTENDED_MS after another node's
// change to the mailbox was heard the FLUSH comes back. A wrong guess costs only speed:
// a notifying commit that is synchronous holds the notify lock through that one flush, and a
// FLUSH after a commit that sent none flushes as before; every write is durable when answered.
import { ContendedMailboxes } from './contended.js';
import type { PgEvents } from './events.js';

/** The quiet mailboxes kept at most (forgotten all at once past it: a FLUSH each again). */
const QUIET_MAX = 4096;

export class FlushGuess {
  /** Mailboxes whose last such write here sent no notice. */
  private readonly quiet = new Set<number>();
  /** Mailboxes another node wrote lately (contended.ts): a FLUSH follows their writes. */
  private readonly contended = new ContendedMailboxes();

  constructor(events: PgEvents) {
    events.observeOthers((ev) => this.contended.mark(ev.mailboxId));
  }

  /**
   * Whether the mailbox's next write commits unflushed with a FLUSH after it: unless its last
   * one here sent no notice and no other node's change to it was heard lately.
   */
  flushAfter(mailboxId: number): boolean {
    return !this.quiet.has(mailboxId) || this.contended.at(mailboxId);
  }

  /** What a write that changed something says of the next: whether it sent a notice. */
  noted(mailboxId: number, notified: boolean): void {
    if (notified) this.quiet.delete(mailboxId);
    else {
      if (this.quiet.size >= QUIET_MAX) this.quiet.clear();
      this.quiet.add(mailboxId);
    }
  }
}
