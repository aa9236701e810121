// What most commands need: the loaded config and an open store, closed afterwards.
import { configPath, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { openStore } from '../store/open.js';
import type { MailStore } from '../store/types.js';

export interface GlobalOptions {
  config?: string;
}

export async function withStore<T>(
  opts: GlobalOptions,
  fn: (store: MailStore, cfg: Config) => Promise<T>,
): Promise<T> {
  const cfg = loadConfig(configPath(opts.config));
  const store = await openStore(cfg);
  try {
    return await fn(store, cfg);
  } finally {
    await store.close();
  }
}
