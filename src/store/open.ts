// Picks the MailStore implementation the config names.
import type { Config } from '../config/schema.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { MailStore } from './types.js';

export async function openStore(
  cfg: Pick<Config, 'dataDir' | 'store'>,
  opts: { onListenerError?: (err: unknown) => void; onFtsError?: (err: unknown) => void } = {},
): Promise<MailStore> {
  switch (cfg.store.kind) {
    case 'sqlite':
      return SqliteStore.open({ dir: cfg.dataDir, ...opts });
  }
}
