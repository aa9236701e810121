// What every role's contract suite shares: a factory that opens a fresh, empty store (one per
// test), the roles a suite needs, and small helpers. A backend runs the suites of the roles
// it has; `storeContracts` (index.ts) runs them all.
import assert from 'node:assert/strict';
import { afterEach, beforeEach } from 'node:test';
import { isStoreError } from '../../../src/store/errors.js';
import type {
  Account,
  BlobStore,
  ChangeEvents,
  DirectoryStore,
  Mailbox,
  MailboxStore,
  MessageStore,
} from '../../../src/store/types.js';

export interface StoreFixture<S> {
  store: S;
  cleanup(): Promise<void>;
}

/** Opens a fresh, empty store; called once per test. */
export type StoreFactory<S> = () => Promise<StoreFixture<S>>;

/** What a suite about messages needs around them: accounts, mailboxes, bytes, events. */
export type MessageRoles = DirectoryStore & MailboxStore & MessageStore & BlobStore & ChangeEvents;

/** A fresh store for each test of the enclosing describe; the getter returns the current one. */
export function freshStore<S>(make: StoreFactory<S>): () => S {
  let fx: StoreFixture<S> | undefined;
  beforeEach(async () => {
    fx = await make();
  });
  afterEach(async () => {
    await fx?.cleanup();
    fx = undefined;
  });
  return () => {
    assert.ok(fx, 'no store: called outside a test');
    return fx.store;
  };
}

export async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isStoreError(e), `expected StoreError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

/** The domain example.test and its account alice@example.test (given in mixed case). */
export async function alice(store: DirectoryStore): Promise<Account> {
  await store.addDomain('example.test');
  return store.createAccount({ address: 'Alice@Example.TEST', passwordHash: 'h' });
}

export async function inbox(store: MailboxStore, accountId: number): Promise<Mailbox> {
  const mb = await store.getMailbox(accountId, 'inbox');
  assert.ok(mb, 'the account has an INBOX');
  return mb;
}

/** Resolves once `p` rejects; polls (a store may free bytes after the commit). */
export async function gone(read: () => Promise<unknown>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await read();
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
