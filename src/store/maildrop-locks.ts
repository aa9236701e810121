// RFC 1939 §8: a POP3 server must give one session exclusive access to a maildrop. This is
// the table of one process: the SQLite store's lock (both POP3 listeners of the process share
// it), and the first step of the PostgreSQL store's, which also holds an advisory lock in the
// database for other nodes to see (postgres/maildrop-locks.ts).

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
