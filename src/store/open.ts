// Picks the MailStore implementation the config names.
import type { Config } from '../config/schema.js';
import { SqliteMessageReader } from './sqlite/message-reader.js';
import { INLINE_MAX } from './sqlite/messages.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { MailStore, MessageReader } from './types.js';

export async function openStore(
  cfg: Pick<Config, 'dataDir' | 'store'>,
  opts: {
    onListenerError?: (err: unknown) => void;
    onFtsError?: (err: unknown) => void;
    /** Each group commit: commits made durable together, seconds since the first asked. */
    onCommitGroup?: (commits: number, seconds: number) => void;
    /** Changes are made beside a running server, which must hear of them (`letterbox import`). */
    shareChanges?: boolean;
  } = {},
): Promise<MailStore> {
  switch (cfg.store.kind) {
    case 'sqlite':
      return SqliteStore.open({ dir: cfg.dataDir, ...opts });
  }
}

/** A reader of the messages of the store the config names, for another process. */
export function openMessageReader(cfg: Pick<Config, 'dataDir' | 'store'>): MessageReader {
  switch (cfg.store.kind) {
    case 'sqlite':
      return SqliteMessageReader.open(cfg.dataDir, INLINE_MAX);
  }
}
