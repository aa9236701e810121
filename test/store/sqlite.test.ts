// The role contract suites (test/store/contract/) on the SQLite backend.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { storeContracts } from './contract/index.js';

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
