// A real SqliteStore in a temp dir with messages appended through indexMessage, and the
// SearchContext a session would build over it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexMessage } from '../../../src/delivery/local.js';
import type { SearchContext } from '../../../src/imap/search/evaluate.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { MessageDetail } from '../../../src/store/types.js';

export interface TestMessage {
  raw: string;
  flags?: string[];
  internalDate?: Date;
}

export interface Fixture {
  store: SqliteStore;
  ctx: (extra?: Partial<SearchContext>) => Promise<SearchContext>;
  cleanup: () => Promise<void>;
}

export async function makeMailbox(messages: TestMessage[]): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-search-'));
  const store = await SqliteStore.open({ dir });
  await store.addDomain('example.test');
  const account = await store.createAccount({ address: 'u@example.test', passwordHash: 'x' });
  const inbox = await store.getMailbox(account.id, 'INBOX');
  if (!inbox) throw new Error('no INBOX');
  for (const m of messages) {
    const raw = Buffer.from(m.raw.replace(/\r?\n/g, '\r\n'));
    await store.append({ raw, index: indexMessage(raw), internalDate: m.internalDate }, [
      { mailboxId: inbox.id, flags: m.flags ?? [] },
    ]);
  }
  return {
    store,
    async ctx(extra = {}) {
      const records = await store.listMessages(inbox.id);
      const view = records.map((r, i) => ({
        seq: i + 1,
        uid: r.uid,
        flags: r.flags,
        modseq: r.modseq,
        size: r.size,
        internalDate: r.internalDate,
      }));
      return {
        mailboxId: inbox.id,
        messages: view,
        store,
        details: async (uids: number[]) => {
          const list = await store.getMessages(inbox.id, uids);
          return new Map<number, MessageDetail>(list.map((d) => [d.uid, d]));
        },
        saved: null,
        maxSeq: view.length,
        maxUid: view.length > 0 ? view[view.length - 1].uid : 0,
        recent: new Set<number>(),
        ...extra,
      };
    },
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
