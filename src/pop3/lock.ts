// RFC 1939 §8: the server must give one session exclusive access to a maildrop. Letterbox
// holds the lock in memory, per store: both POP3 listeners (110 and 995) of one process share
// it because they share the store. Several nodes over one PostgreSQL would need the lock in
// the store itself; that is for the postgres backend to add.
import type { MailStore } from '../store/types.js';

export class MaildropLocks {
  private readonly held = new Set<number>();

  /** Lock the account's maildrop; a release function, or null when another session has it. */
  tryAcquire(accountId: number): (() => void) | null {
    if (this.held.has(accountId)) return null;
    this.held.add(accountId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held.delete(accountId);
    };
  }

  isLocked(accountId: number): boolean {
    return this.held.has(accountId);
  }
}

const byStore = new WeakMap<MailStore, MaildropLocks>();

/** The lock table of one store: every POP3 session over that store uses the same one. */
export function locksFor(store: MailStore): MaildropLocks {
  let locks = byStore.get(store);
  if (!locks) {
    locks = new MaildropLocks();
    byStore.set(store, locks);
  }
  return locks;
}
