// Picks the MailStore implementation the config names.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { PgMessageReader } from './postgres/message-reader.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteMessageReader } from './sqlite/message-reader.js';
import { INLINE_MAX } from './sqlite/messages.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { MailStore, MessageReader } from './types.js';

type PostgresConfig = Extract<Config['store'], { kind: 'postgres' }>;

/** The password from its file (one line) or its environment variable; never logged. */
function postgresPassword(store: PostgresConfig): string | undefined {
  if (store.password_file !== undefined) {
    return readFileSync(store.password_file, 'utf8').replace(/\r?\n$/, '');
  }
  if (store.password_env !== undefined) {
    const v = process.env[store.password_env];
    if (v === undefined) {
      throw new Error(`[store] password_env: the environment has no ${store.password_env}`);
    }
    return v;
  }
  return undefined;
}

/** The connection the config's `[store] kind = "postgres"` names (`store migrate` too). */
export function postgresOptions(store: PostgresConfig) {
  return {
    connectionString: store.url,
    password: postgresPassword(store),
    max: store.pool_size,
    idleTimeoutMs: store.pool_idle_seconds * 1000,
    ...(store.node_id !== undefined ? { nodeId: store.node_id } : {}),
  };
}

export async function openStore(
  cfg: Pick<Config, 'dataDir' | 'store' | 'search'>,
  opts: {
    onListenerError?: (err: unknown) => void;
    onFtsError?: (err: unknown) => void;
    /** Each group commit: commits made durable together, seconds since the first asked. */
    onCommitGroup?: (commits: number, seconds: number) => void;
    /** Changes are made beside a running server, which must hear of them (`letterbox import`). */
    shareChanges?: boolean;
    /** Text (characters) handed to the full-text index worker ahead of it (sqlite/fts.ts). */
    ftsBacklogChars?: number;
    /** SQLite's page cache per connection, KiB (sqlite-store.ts). */
    cacheKiB?: number;
    /** The index worker's V8 young generation, MB (sqlite-store.ts). */
    ftsYoungGenerationMb?: number;
  } = {},
): Promise<MailStore> {
  // `[search] full_text_index`: each store indexes message texts when it says.
  const fullTextIndex = cfg.search.full_text_index;
  switch (cfg.store.kind) {
    case 'sqlite':
      return SqliteStore.open({ dir: cfg.dataDir, ...opts, fullTextIndex });
    case 'postgres':
      // No full-text worker and no group commit of ours: PostgreSQL commits each write.
      return PostgresStore.open({
        fullTextIndex,
        ...postgresOptions(cfg.store),
        queryTimeoutMs: cfg.store.query_timeout_seconds * 1000,
        ...(opts.onListenerError ? { onListenerError: opts.onListenerError } : {}),
        // "on-delivery": the start's catch-up of what "on-search" left (text-catch-up.ts).
        ...(opts.onFtsError ? { onTextError: opts.onFtsError } : {}),
      });
  }
}

/** A reader of the messages of the store the config names, for another process. */
export function openMessageReader(cfg: Pick<Config, 'dataDir' | 'store'>): MessageReader {
  switch (cfg.store.kind) {
    case 'sqlite':
      return SqliteMessageReader.open(cfg.dataDir, INLINE_MAX);
    case 'postgres':
      return new PgMessageReader({
        ...postgresOptions(cfg.store),
        queryTimeoutMs: cfg.store.query_timeout_seconds * 1000,
      });
  }
}
