// As a session of the account on the store's node: the account's events, every node's, are
// heard from when this resolves (over PostgreSQL a node listens to an account's channel only
// while it has a use for it: src/store/postgres/events.ts). The returned call ends it.
import type { ChangeListener, MailStore } from '../../src/store/types.js';

export async function hearAccount(
  store: Pick<MailStore, 'subscribeAccount' | 'listening'>,
  accountId: number,
  listener: ChangeListener = () => {},
): Promise<() => void> {
  const off = store.subscribeAccount(accountId, listener);
  await store.listening?.(accountId);
  return off;
}
