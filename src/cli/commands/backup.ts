// `letterbox backup DIR`: an online snapshot of the data directory (backup/snapshot.ts); the
// server may go on running and receiving mail meanwhile.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { BackupError, createBackup } from '../../backup/snapshot.js';
import { configPath, loadConfig } from '../../config/load.js';
import type { GlobalOptions } from '../context.js';
import { CliError, EXIT_FAILED } from '../errors.js';
import { stdout } from '../io.js';

export function registerBackup(program: Command, globals: () => GlobalOptions): void {
  program
    .command('backup <dir>')
    .description(
      'copy the data directory (databases by SQLite online backup, mail files, keys, config) ' +
        'into DIR, new or empty, while the server runs',
    )
    .option('--copy', 'copy the mail files instead of hard-linking them (same file system)')
    .option('--json', 'machine-readable summary')
    .action(async (dir: string, o: { json?: boolean; copy?: boolean }) => {
      const cfg = loadConfig(configPath(globals().config));
      const dest = resolve(dir);
      let summary: Awaited<ReturnType<typeof createBackup>>;
      try {
        summary = await createBackup(cfg, dest, { copy: o.copy });
      } catch (err) {
        if (err instanceof BackupError) throw new CliError(err.message, EXIT_FAILED);
        throw err;
      }
      const m = summary.manifest;
      if (o.json === true) {
        stdout.json({ dir: dest, ...m });
        return;
      }
      stdout.line(
        `backup of ${m.dataDir} in ${dest}: ${m.databases.length} databases, ${m.blobs} mail ` +
          `files, ${m.files.length} other files` +
          (m.external.length > 0 ? `, ${m.external.length} from outside the data directory` : ''),
      );
    });
}
