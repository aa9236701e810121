// `letterbox export ACCOUNT maildir|mbox PATH`: every mailbox of the account, with flags,
// keywords, internal dates (and for Maildir the UIDs), into a new directory, so that a user
// can leave (see migrate-io/export.ts). Reads only: safe while the server runs.
import { readdir } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { type ExportFormat, type ExportProgress, exportAccount } from '../../migrate-io/export.js';
import { type GlobalOptions, withStore } from '../context.js';
import { CliError, EXIT_FAILED } from '../errors.js';
import { stdout } from '../io.js';

function parseFormat(s: string): ExportFormat {
  if (s !== 'maildir' && s !== 'mbox') throw new InvalidArgumentError('maildir or mbox');
  return s;
}

/** A directory that does not exist yet, or is empty: an export never mixes with other files. */
async function checkTarget(path: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw new CliError(`cannot use ${path}: ${(err as Error).message}`, EXIT_FAILED);
  }
  if (entries.length > 0) throw new CliError(`${path} is not empty`, EXIT_FAILED);
}

export function registerExport(program: Command, globals: () => GlobalOptions): void {
  program
    .command('export <account> <format> <path>')
    .description(
      'write every mailbox of the account into PATH (new or empty) as a Maildir++ tree ' +
        '(flags, dovecot-keywords, dates, dovecot-uidlist UIDs) or as mbox files (Status / ' +
        'X-Status / X-Keywords, the date on the From line)',
    )
    .action((address: string, formatText: string, path: string) =>
      withStore(globals(), async (store) => {
        const format = (() => {
          try {
            return parseFormat(formatText);
          } catch {
            throw new CliError(`unknown format ${formatText}: maildir or mbox`);
          }
        })();
        const account = await store.getAccount(address);
        if (!account) throw new CliError(`no account ${address}`, EXIT_FAILED);
        await checkTarget(path);
        const progress: ExportProgress = {
          folderStart() {},
          tick() {},
          failure(f) {
            process.stderr.write(`letterbox: failed: ${f.source}: ${f.reason}\n`);
          },
          folderDone(r) {
            stdout.line(JSON.stringify(r));
          },
        };
        const s = await exportAccount(store, account, format, path, progress);
        stdout.line(
          JSON.stringify({ exported: s.exported, failed: s.failed, failures: s.failures }),
        );
        if (s.failed > 0) {
          throw new CliError(
            `${s.failed} message(s) or folder(s) could not be exported`,
            EXIT_FAILED,
          );
        }
      }),
    );
}
