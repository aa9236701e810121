// What most commands need: the loaded config and an open store, closed afterwards.
import type { AdminContext } from '../admin/context.js';
import { AdminError } from '../admin/errors.js';
import { configPath, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { openStore } from '../store/open.js';
import type { MailStore } from '../store/types.js';
import { CliError, EXIT_FAILED, EXIT_USAGE } from './errors.js';

export interface GlobalOptions {
  config?: string;
}

export async function withStore<T>(
  opts: GlobalOptions,
  fn: (store: MailStore, cfg: Config) => Promise<T>,
  storeOpts: Parameters<typeof openStore>[1] = {},
): Promise<T> {
  const cfg = loadConfig(configPath(opts.config));
  const store = await openStore(cfg, storeOpts);
  try {
    return await fn(store, cfg);
  } finally {
    await store.close();
  }
}

/**
 * withStore for the shared admin operations (src/admin/): their refusals become the CLI's
 * exit codes, bad input 2 and a refusal (no such thing, exists, in use) 1.
 */
export function withAdmin<T>(
  opts: GlobalOptions,
  fn: (ctx: AdminContext) => Promise<T>,
  storeOpts: { shareChanges?: boolean } = {},
): Promise<T> {
  return withStore(
    opts,
    async (store, cfg) => {
      try {
        return await fn({ store, cfg });
      } catch (err) {
        if (err instanceof AdminError) {
          throw new CliError(err.message, err.code === 'invalid' ? EXIT_USAGE : EXIT_FAILED);
        }
        throw err;
      }
    },
    storeOpts,
  );
}
