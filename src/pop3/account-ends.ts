// The POP3 sessions to end when their account is disabled (store event 'account-disabled'):
// one registry per process, by account id. The main process feeds it from the store and tells
// its worker processes, whose registries end their own sessions (workers/protocol.ts).
export class AccountEnds {
  private readonly byAccount = new Map<number, Set<() => void>>();

  /** Call `end` when account `id` is disabled; returns the function that stops watching. */
  watch(id: number, end: () => void): () => void {
    let set = this.byAccount.get(id);
    if (!set) {
      set = new Set();
      this.byAccount.set(id, set);
    }
    set.add(end);
    return () => {
      set.delete(end);
      if (set.size === 0 && this.byAccount.get(id) === set) this.byAccount.delete(id);
    };
  }

  disabled(id: number): void {
    const set = this.byAccount.get(id);
    if (!set) return;
    for (const end of [...set]) end();
  }
}
