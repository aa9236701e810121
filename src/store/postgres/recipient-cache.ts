// RCPT's answers kept in this node's memory (issue 17), as the SQLite store keeps them while
// no other process commits (../sqlite/wal-changes.ts). Every RCPT over PostgreSQL was one
// round trip (RECIPIENT_LOOKUP, 1.00 statements a delivery): a socket write and a read on
// this node and a backend's wake-up, ~60-90 us of CPU between them a delivery.
//
// What is kept: the answer for an address that is an account's own, of an account without a
// quota (a quota'd account's usage is read at every RCPT, as it moves with every delivery),
// never "no such recipient" (an address made on another node is found at once) nor an
// alias's answer. An answer is used only while nothing may have changed the directory since
// its read was sent: every node listens to letterbox_directory (events.ts directoryClock),
// which migration 20's triggers notify at the commit of any write to domains, aliases or an
// account's row other than its usage and modseq, from any node or process; a lost or new
// LISTEN connection moves the clock too, and while there is none nothing is kept or used.
// This node's own directory writes drop every answer when they return (`changed`), before
// their notice comes back. So a RCPT sees every directory change this node made and every
// one whose notice reached it before the RCPT, as the caches of mailboxes' rows do
// (record-cache.ts): a change another node or a `letterbox` command committed a few
// milliseconds before, its notice still on its way, is seen by the next RCPT.
import type { Resolution } from '../types.js';

/** At most this many answers are kept (all dropped when full: they are one read each). */
const MAX_KEPT = 10_000;

interface Kept {
  /** The directory clock and this node's own writes' count when its read was sent. */
  clock: number;
  own: number;
  answer: Resolution;
}

/** A copy of an answer: the caller may change what it is given. */
function copy(r: Resolution): Resolution {
  return { accounts: r.accounts.map((a) => ({ ...a })), remote: [...r.remote] };
}

export class RecipientCache {
  private readonly kept = new Map<string, Kept>();
  /** This node's own directory writes done (see changed). */
  private own = 0;

  /** `clock` reads the directory clock (events.ts directoryClock): null while not listening. */
  constructor(private readonly clock: () => number | null) {}

  /** What a read sent now is stamped with, or null when its answer may not be kept. */
  stamp(): { clock: number; own: number } | null {
    const clock = this.clock();
    return clock === null ? null : { clock, own: this.own };
  }

  /** The kept answer for the (normalized) address, if nothing may have changed it since. */
  get(address: string): Resolution | undefined {
    const k = this.kept.get(address);
    if (!k) return undefined;
    if (k.clock !== this.clock() || k.own !== this.own) {
      this.kept.delete(address);
      return undefined;
    }
    return copy(k.answer);
  }

  /** Keeps an answer read with `stamp` (taken before the read was sent). */
  put(address: string, stamp: { clock: number; own: number }, answer: Resolution): void {
    if (stamp.clock !== this.clock() || stamp.own !== this.own) return;
    if (this.kept.size >= MAX_KEPT) this.kept.clear();
    this.kept.set(address, { ...stamp, answer: copy(answer) });
  }

  /** A directory write of this node returned (committed or not): no answer is used again. */
  changed(): void {
    this.own++;
    this.kept.clear();
  }
}
