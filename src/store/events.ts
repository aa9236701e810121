// In-process change bus. The store emits after each commit; listeners must not throw into
// the store (a faulty listener is isolated and reported).
//
// Listeners of one account (an IMAP session hears only its own account's changes) are kept
// by account, so that an event reaches the sessions of its account and no others: with every
// session a listener of all events, each delivery called every session in the process to
// compare account ids (10,000 IDLE sessions of other accounts: ~140-250 us per event, issue 19).
import type { ChangeEvent, ChangeListener } from './types.js';

export class ChangeBus {
  private readonly listeners = new Set<ChangeListener>();
  private readonly byAccount = new Map<number, Set<ChangeListener>>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  /** Every event. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The events of one account, after the listeners of every event have heard each. */
  subscribeAccount(accountId: number, listener: ChangeListener): () => void {
    let own = this.byAccount.get(accountId);
    if (own === undefined) {
      own = new Set();
      this.byAccount.set(accountId, own);
    }
    own.add(listener);
    return () => {
      const now = this.byAccount.get(accountId);
      if (now === undefined || !now.delete(listener) || now.size > 0) return;
      this.byAccount.delete(accountId);
    };
  }

  emit(event: ChangeEvent): void {
    this.call(this.listeners, event);
    const own = this.byAccount.get(event.accountId);
    if (own !== undefined) this.call(own, event);
  }

  private call(listeners: ReadonlySet<ChangeListener>, event: ChangeEvent): void {
    for (const l of listeners) {
      try {
        l(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
