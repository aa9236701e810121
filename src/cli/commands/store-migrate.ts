// `letterbox store migrate --to postgres URL` / `--to sqlite DIR`: the config's store
// (SQLite in data_dir, or the PostgreSQL database of [store]) copied whole into the other
// backend with the servers stopped, so that clients find the same UIDVALIDITY, UIDs, flags
// and modseqs and need no resync (store/migrate/). Resumable: a rerun into the same target
// goes on where an interrupted one stopped. Exit 0 once the copy is checked equal to the
// source; 1 when refused (a server running, a target holding other data, a source changed
// since the migration began) or when the check finds a difference.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { configPath, loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import {
  type MigrateListener,
  type MigrateSummary,
  migrateStore,
} from '../../store/migrate/copy.js';
import { type Endpoint, MigrateError } from '../../store/migrate/endpoint.js';
import { PostgresEndpoint } from '../../store/migrate/postgres-endpoint.js';
import { SqliteEndpoint } from '../../store/migrate/sqlite-endpoint.js';
import { postgresOptions } from '../../store/open.js';
import type { GlobalOptions } from '../context.js';
import { CliError, EXIT_FAILED, EXIT_USAGE } from '../errors.js';
import { stdout, warn } from '../io.js';
import { runningServerPid } from '../pid-file.js';
import { barMigrateProgress, jsonMigrateProgress } from './store-migrate-progress.js';

interface MigrateOptions {
  to: string;
  batch?: string;
  passwordFile?: string;
  passwordEnv?: string;
  json?: boolean;
}

/** The target database's password: from a file (one line) or the environment, never the URL. */
function targetPassword(o: MigrateOptions): string | undefined {
  if (o.passwordFile !== undefined) {
    return readFileSync(o.passwordFile, 'utf8').replace(/\r?\n$/, '');
  }
  if (o.passwordEnv !== undefined) {
    const v = process.env[o.passwordEnv];
    if (v === undefined)
      throw new CliError(`--password-env: the environment has no ${o.passwordEnv}`);
    return v;
  }
  return undefined;
}

function sqliteIdle(dir: string, role: string): void {
  const pid = runningServerPid(dir);
  if (pid !== null) {
    throw new CliError(
      `a server (pid ${pid}) is running on the ${role} ${dir}: stop it first`,
      EXIT_FAILED,
    );
  }
}

/** How long a node just stopped may still be listed (its backend exits after the client). */
const STOPPED_NODES_GRACE_MS = 10_000;

async function postgresIdle(e: PostgresEndpoint, role: string): Promise<void> {
  const until = Date.now() + STOPPED_NODES_GRACE_MS;
  let n = await e.otherClients();
  while (n > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    n = await e.otherClients();
  }
  if (n > 0) {
    throw new CliError(
      `the ${role} database has ${n} other connection(s): stop every Letterbox node on it first`,
      EXIT_FAILED,
    );
  }
}

async function openSource(cfg: Config): Promise<Endpoint> {
  if (cfg.store.kind === 'sqlite') {
    if (!existsSync(join(cfg.dataDir, 'letterbox.db'))) {
      throw new CliError(`no store in ${cfg.dataDir} (no letterbox.db)`, EXIT_FAILED);
    }
    sqliteIdle(cfg.dataDir, 'source');
    return SqliteEndpoint.open(cfg.dataDir, 'source');
  }
  const o = postgresOptions(cfg.store);
  const e = await PostgresEndpoint.open({
    connectionString: o.connectionString,
    password: o.password,
  });
  try {
    await postgresIdle(e, 'source');
  } catch (err) {
    await e.close();
    throw err;
  }
  return e;
}

async function openTarget(kind: 'sqlite' | 'postgres', where: string, o: MigrateOptions) {
  if (kind === 'sqlite') {
    const dir = resolve(where);
    sqliteIdle(dir, 'target');
    return SqliteEndpoint.open(dir, 'target');
  }
  let url: URL;
  try {
    url = new URL(where);
  } catch {
    throw new CliError(`not a postgres:// URL: ${where}`);
  }
  if (!/^postgres(ql)?:$/.test(url.protocol)) throw new CliError(`not a postgres:// URL: ${where}`);
  if (url.password !== '') {
    throw new CliError('the URL must not hold a password: use --password-file or --password-env');
  }
  const e = await PostgresEndpoint.open({ connectionString: where, password: targetPassword(o) });
  try {
    await postgresIdle(e, 'target');
  } catch (err) {
    await e.close();
    throw err;
  }
  return e;
}

function report(s: MigrateSummary, json: boolean): void {
  if (json) {
    stdout.line(
      JSON.stringify({
        event: 'done',
        resumed: s.resumed,
        tables: Object.fromEntries(s.tables.map((t) => [t.name, t.rows])),
        verified: s.verify.ok,
        mailboxes: s.verify.mailboxes,
        problems: s.verify.problems,
      }),
    );
    return;
  }
  stdout.table([['TABLE', 'ROWS'], ...s.tables.map((t) => [t.name, String(t.rows)])]);
  if (s.verify.ok) {
    stdout.line(
      `checked: every table and each of ${s.verify.mailboxes} mailboxes have the same rows and hashes on both sides`,
    );
  }
}

function nextSteps(kind: 'sqlite' | 'postgres', where: string, cfgFile: string): void {
  if (kind === 'postgres') {
    stdout.line(
      `done: now set in ${cfgFile}\n  [store]\n  kind = "postgres"\n  url = ${JSON.stringify(where)}\n` +
        '  (and password_file or password_env), then start the server(s)',
    );
  } else {
    stdout.line(
      `done: ${resolve(where)} holds the store (letterbox.db, blobs/); use it as data_dir (with ` +
        `the keys and certificates of the old one) and remove [store] from ${cfgFile}, then start the server`,
    );
  }
}

export function registerStoreMigrate(store: Command, globals: () => GlobalOptions): void {
  store
    .command('migrate <target>')
    .description(
      'copy the whole store (directory, mailboxes with their UIDs, flags and modseqs, messages, ' +
        'queue) into PostgreSQL (--to postgres URL) or SQLite (--to sqlite DIR), servers ' +
        'stopped; a rerun resumes an interrupted copy',
    )
    .requiredOption('--to <kind>', 'the backend to copy into: postgres or sqlite')
    .option('--password-file <file>', 'the target database password, from this file')
    .option('--password-env <name>', 'the target database password, from this variable')
    .option('--json', 'JSON lines on stdout even on a terminal')
    .option('--batch <rows>', 'rows per batch at most (default: 500 messages, 1000-4000 others)')
    .action(async (where: string, o: MigrateOptions) => {
      if (o.to !== 'postgres' && o.to !== 'sqlite') {
        throw new CliError(`--to: postgres or sqlite, not ${o.to}`, EXIT_USAGE);
      }
      const kind = o.to;
      const page = o.batch === undefined ? undefined : Number(o.batch);
      if (page !== undefined && !(Number.isInteger(page) && page >= 1 && page <= 10_000)) {
        throw new CliError(`--batch: a number of rows from 1 to 10000, not ${o.batch}`, EXIT_USAGE);
      }
      const cfgFile = configPath(globals().config);
      const cfg = loadConfig(cfgFile);
      if (cfg.store.kind === kind) {
        throw new CliError(`the config's store is ${kind} already: nothing to migrate`, EXIT_USAGE);
      }
      const source = await openSource(cfg);
      let target: Endpoint | undefined;
      const json = o.json === true || !(process.stderr.isTTY && process.stdout.isTTY);
      let listener: MigrateListener;
      let stop = () => {};
      if (json) listener = jsonMigrateProgress();
      else {
        const bar = barMigrateProgress();
        listener = bar;
        stop = () => bar.stop();
      }
      // Interrupted, the batch under way is rolled back (its transaction never commits) and
      // every batch before it stays: the same command goes on from there.
      const interrupted = () => {
        stop();
        warn('interrupted: what was copied stays; run the same command again to go on');
        process.exit(130);
      };
      process.once('SIGINT', interrupted);
      process.once('SIGTERM', interrupted);
      let summary: MigrateSummary;
      try {
        target = await openTarget(kind, where, o);
        summary = await migrateStore(source, target, listener, page === undefined ? {} : { page });
      } catch (err) {
        if (err instanceof MigrateError) throw new CliError(err.message, EXIT_FAILED);
        throw err;
      } finally {
        process.off('SIGINT', interrupted);
        process.off('SIGTERM', interrupted);
        stop();
        await target?.close();
        await source.close();
      }
      report(summary, json);
      if (!summary.verify.ok) {
        for (const p of summary.verify.problems.slice(0, 50)) warn(p);
        throw new CliError(
          'the copy differs from the source (named above): do not switch; start again with an empty target',
          EXIT_FAILED,
        );
      }
      if (!json) nextSteps(kind, where, cfgFile);
    });
}
