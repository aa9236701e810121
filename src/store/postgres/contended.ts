// Mailboxes another node wrote lately, as this node heard (its notices, or a modseq gap in an
// append's answer): for CONTENDED_MS after each, the append groups take the account's lock
// first (append-batch.ts) and a write that sends no notice still has a FLUSH after it
// (flush-guess.ts, append-batch.ts flushBehind), since a synchronous commit would hold the
// account's row lock through its fsync while the other writers wait.

/** For this long after another node's change to a mailbox was heard, it counts as contended. */
export const CONTENDED_MS = 2000;
/** The map is pruned of mailboxes past their time beyond this many. */
const PRUNE_AT = 64;

export class ContendedMailboxes {
  /** Until when (epoch ms) each mailbox counts as written by another node. */
  private readonly until = new Map<number, number>();
  private pruneAt = PRUNE_AT;

  /** Another node changed the mailbox now. */
  mark(mailboxId: number): void {
    this.until.set(mailboxId, Date.now() + CONTENDED_MS);
    if (this.until.size > this.pruneAt) {
      const now = Date.now();
      for (const [id, end] of this.until) if (end <= now) this.until.delete(id);
      this.pruneAt = Math.max(PRUNE_AT, 2 * this.until.size);
    }
  }

  /** Whether another node changed the mailbox within CONTENDED_MS of `now` (epoch ms). */
  at(mailboxId: number, now = Date.now()): boolean {
    return (this.until.get(mailboxId) ?? 0) > now;
  }
}
