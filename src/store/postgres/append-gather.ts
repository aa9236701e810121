// When a mailbox's next append group goes (issue 17, append-batch.ts). A mailbox has one group
// out at a time, and a group holds what queued while the one before it was out. Senders that
// wait for each answer before they send again (an MTA's connections, each waiting for its 250
// before its next message; RFC 5321 §4.5.3.1 bounds their number, not their pace) then fall
// into two sets that take turns: those answered by one group come back while the next is out,
// and go in the group after it. Each group pays a statement's start, a commit and a FLUSH
// whatever it holds (PostgreSQL's CPU per 10 KB delivery about 0.45 ms in groups of ten, 0.8
// in groups of four or five), so the two halves cost nearly twice what one group of all would.
//
// So, while a mailbox is busy (its last turn ended less than a turn ago), its next group waits
// until as many appends are queued as the last group held plus those that were queued behind
// it (the senders of both halves), for at most half the last turn and GATHER_MAX_MS. The first
// append after a quiet moment goes at once, as does a group that has all it waits for (a queue
// that is never short, under a steady load, never waits), and one IMAP client appending one
// message after another never waits (its last group was one, and one is queued).

/** The longest a group waits for the appends of its mailbox's last turn. */
export const GATHER_MAX_MS = 8;
/** Mailboxes kept beyond this many are pruned of those quiet for long. */
const PRUNE_AT = 64;

interface Turn {
  /** When it ended (performance.now()). */
  ended: number;
  /** How long it was out. */
  took: number;
  /** The appends it held and those queued behind it when it ended. */
  size: number;
  behind: number;
}

export class GatherClock {
  private readonly turns = new Map<number, Turn>();
  private pruneAt = PRUNE_AT;

  /** `full`: the most appends a group holds (a queue of that many goes at once). */
  constructor(private readonly full: number) {}

  /**
   * When the mailbox's next group of `queued` appends should go (performance.now() time):
   * `now` or before to go at once.
   */
  readyAt(mailboxId: number, queued: number, now: number): number {
    const t = this.turns.get(mailboxId);
    if (!t) return now;
    // A quiet moment since its last turn: the senders are not waiting on it.
    if (now - t.ended > t.took) {
      this.turns.delete(mailboxId);
      return now;
    }
    if (queued >= Math.min(this.full, t.size + t.behind)) return now;
    return t.ended + Math.min(t.took / 2, GATHER_MAX_MS);
  }

  /** A turn of the mailbox ended: it held `size` appends, `behind` wait after it. */
  ended(mailboxId: number, size: number, behind: number, started: number, now: number): void {
    this.turns.set(mailboxId, { ended: now, took: now - started, size, behind });
    if (this.turns.size > this.pruneAt) {
      for (const [id, t] of this.turns) if (now - t.ended > t.took) this.turns.delete(id);
      this.pruneAt = Math.max(PRUNE_AT, 2 * this.turns.size);
    }
  }
}
