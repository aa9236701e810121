// A SqliteStore in a test directory with alice@example.test and her INBOX, made on first
// open and found again on a reopen of the same directory.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.js';

export async function openAliceStore(
  dir: string,
  opts: Partial<SqliteStoreOptions> = {},
): Promise<{ store: SqliteStore; inbox: number }> {
  const store = await SqliteStore.open({ dir, ...opts });
  let account = await store.getAccount('alice@example.test');
  if (!account) {
    await store.addDomain('example.test');
    account = await store.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
  }
  const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
  return { store, inbox: inbox.id };
}

/** Stored messages (rows of `messages`) in the SQLite store in `dir`, read on a connection of its own. */
export function storedMessages(dir: string): number {
  const db = new Database(join(dir, 'letterbox.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
  } finally {
    db.close();
  }
}
