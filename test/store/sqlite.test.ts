// The role contract suites (test/store/contract/) on the SQLite backend.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { storeContracts } from './contract/index.js';
import { messageContract } from './contract/messages.js';

storeContracts('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-store-'));
  const store = await SqliteStore.open({ dir });
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

// The store's default is full_text_index = "on-search"; the messages' suite (searchText among
// them) also over the index written at delivery.
messageContract('sqlite (on-delivery)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-store-'));
  const store = await SqliteStore.open({ dir, fullTextIndex: 'on-delivery' });
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
