// `letterbox restore DIR`: a backup made by `letterbox backup` back as the data directory,
// with the server stopped (backup/restore.ts). `--check` only verifies the backup.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { RestoreError, restoreBackup } from '../../backup/restore.js';
import { verifyBackup } from '../../backup/verify.js';
import { configPath, loadConfig } from '../../config/load.js';
import type { GlobalOptions } from '../context.js';
import { CliError, EXIT_FAILED } from '../errors.js';
import { stdout, warn } from '../io.js';

interface RestoreOptions {
  dataDir?: string;
  force?: boolean;
  check?: boolean;
}

export function registerRestore(program: Command, globals: () => GlobalOptions): void {
  program
    .command('restore <dir>')
    .description(
      'check a backup made by `letterbox backup` and restore it as the data directory ' +
        '(the config’s, or --data-dir); the server must be stopped',
    )
    .option('--data-dir <path>', 'restore here instead of the config’s data directory')
    .option('--force', 'replace what the target directory holds (it must be empty otherwise)')
    .option('--check', 'only verify the backup')
    .action(async (dir: string, o: RestoreOptions) => {
      const from = resolve(dir);
      if (o.check === true) {
        const v = await verifyBackup(from);
        if (!v.ok) fail(`${from} is not a sound backup`, v.problems);
        stdout.line(`${from}: sound backup`);
        return;
      }
      let target: string;
      if (o.dataDir !== undefined) target = resolve(o.dataDir);
      else {
        const file = configPath(globals().config);
        if (!existsSync(file)) {
          throw new CliError(`no config at ${file}: give the target with --data-dir`);
        }
        target = loadConfig(file).dataDir;
      }
      let m: Awaited<ReturnType<typeof restoreBackup>>;
      try {
        m = await restoreBackup(from, target, { force: o.force });
      } catch (err) {
        if (err instanceof RestoreError) fail(err.message, err.problems);
        throw err;
      }
      stdout.line(
        `restored ${m.dataDir} as of ${m.createdAt} into ${target}: ${m.databases.length} ` +
          `databases, ${m.blobs} mail files, ${m.files.length} other files`,
      );
      for (const e of m.external) {
        warn(`${e.original} was outside the data directory: its copy is ${resolve(from, e.path)}`);
      }
    });
}

function fail(message: string, problems: string[]): never {
  for (const p of problems.slice(0, 50)) warn(p);
  if (problems.length > 50) warn(`... and ${problems.length - 50} more`);
  throw new CliError(message, EXIT_FAILED);
}
