// `letterbox import maildir|mbox ACCOUNT PATH`: mail from Dovecot, Courier or any Maildir++
// program, or from mbox files (mutt, Thunderbird, an mbox export), into an account, with
// flags, keywords, internal dates and (Maildir with dovecot-uidlist) UIDs. Rerunning skips
// what is there (see migrate-io/import.ts). Exit 0 when everything was imported or skipped,
// 1 when something failed (each failure is named on stderr with its path and reason).
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import type { Config } from '../../config/schema.js';
import {
  type ImportFailure,
  type ImportFolder,
  type ImportProgress,
  type ImportSummary,
  importFolders,
  isFailure,
} from '../../migrate-io/import.js';
import { maildirFolders } from '../../migrate-io/maildir-source.js';
import { mboxFolders } from '../../migrate-io/mbox-source.js';
import { barProgress, jsonProgress } from '../../migrate-io/progress.js';
import type { MailStore } from '../../store/types.js';
import { type GlobalOptions, withStore } from '../context.js';
import { CliError, EXIT_FAILED } from '../errors.js';
import { stdout } from '../io.js';
import { registerImportImap } from './import-imap.js';
import { registerImportUsers } from './import-users.js';

/**
 * The import's store: its changes reach a running server (change-log.ts), the text it hands
 * the full-text index worker ahead of it is kept to 4 M characters (the server's 32 M let a
 * 100,000-message import peak at 516 MiB; beyond the budget the worker reads the stored
 * message itself, so nothing goes unindexed), SQLite's page cache to 2 MB a connection
 * (of the three, 16 MB each, about 80 MiB of the import's peak was malloc'd memory; a
 * writer appending rows at the end of its tables reads little back), and the index worker's
 * V8 young generation to 6 MB (V8's default let it commit up to 57 MB; what it keeps from
 * one message to the next is a few MB). Nothing in the import's process FETCHes, so no header
 * block is kept at append (the cache would fill to its 4 MiB bound: test/migrate-io/import-memory).
 */
export const IMPORT_STORE = {
  shareChanges: true,
  ftsBacklogChars: 4 << 20,
  cacheKiB: 2000,
  ftsYoungGenerationMb: 6,
  keepNewHeaders: false,
};

/**
 * How far V8 lets a heap grow past what its last full collection kept, for an import: 10%
 * (V8's own factor is 1.1 to 4, by how fast it collects against how fast the program
 * allocates). Each message's parse and
 * the appends in flight leave garbage that outlives a young-generation collection; with V8's
 * factor it piled up in the old generation until a full collection came, whenever that was,
 * and the peak varied from 253 to 335 MiB between runs of one build (issue 18, bench/import).
 * Growth past the live heap by a tenth brings a full collection every 15 to 30 s in the main
 * thread (45 MB live) and every few seconds in the index worker's (5 to 15 MB), 1 to 40 ms
 * each; the flag is the process's, and V8 reads it whenever it sets a heap's next limit. The
 * CLI process runs one command: the server never runs with it.
 */
const IMPORT_HEAP_GROWING_PERCENT = 10;

function boundImportHeap(): void {
  setFlagsFromString(`--heap-growing-percent=${IMPORT_HEAP_GROWING_PERCENT}`);
}

export async function run(
  store: MailStore,
  cfg: Config,
  address: string,
  list: (maxSize: number) => Promise<Array<ImportFolder | ImportFailure>>,
): Promise<void> {
  boundImportHeap();
  const account = await store.getAccount(address);
  if (!account) throw new CliError(`no account ${address}`, EXIT_FAILED);
  const maxMessageSize = cfg.limits.max_message_size;
  const folders = await list(maxMessageSize).catch((err: Error) => {
    throw new CliError(err.message, EXIT_FAILED);
  });
  const tty = process.stderr.isTTY === true && process.stdout.isTTY === true;
  let progress: ImportProgress;
  let stop = () => {};
  if (tty) {
    // The total is known when every folder can count its messages (Maildir), for the ETA.
    let total = 0;
    for (const f of folders) {
      if (isFailure(f)) continue;
      if (!f.count) {
        total = 0;
        break;
      }
      total += await f.count();
    }
    const bar = barProgress(total);
    progress = bar;
    stop = () => bar.stop();
  } else progress = jsonProgress();
  let summary: ImportSummary;
  try {
    summary = await importFolders(store, account, folders, { maxMessageSize, progress });
  } finally {
    stop();
  }
  report(summary, tty);
  if (summary.failed > 0) {
    throw new CliError(
      `${summary.failed} message(s) or folder(s) could not be imported (named above)`,
      EXIT_FAILED,
    );
  }
}

function report(s: ImportSummary, tty: boolean): void {
  if (!tty) {
    stdout.line(
      JSON.stringify({
        imported: s.imported,
        skipped: s.skipped,
        failed: s.failed,
        failures: s.failures,
      }),
    );
    return;
  }
  stdout.table([
    ['FOLDER', 'IMPORTED', 'SKIPPED', 'FAILED', 'UIDS'],
    ...s.folders.map((f) => [
      f.folder,
      String(f.imported),
      String(f.skipped),
      String(f.failed),
      f.uidsKept ? 'kept' : 'new',
    ]),
  ]);
  stdout.line(`imported ${s.imported}, skipped ${s.skipped} (already there), failed ${s.failed}`);
  for (const f of s.failures) stdout.line(`failed: ${f.source}: ${f.reason}`);
}

export function registerImport(program: Command, globals: () => GlobalOptions): void {
  const imp = program
    .command('import')
    .description(
      'bring mail into an account (from a Maildir, mbox files or an IMAP server), or accounts from a passwd-file',
    );
  imp
    .command('maildir <account> <path>')
    .description(
      'import a Maildir++ tree (Dovecot, Courier): INBOX and its .folders, with flags, ' +
        'dovecot-keywords, file dates as internal dates, and dovecot-uidlist UIDs into new mailboxes',
    )
    .action((address: string, path: string) =>
      withStore(
        globals(),
        (store, cfg) => run(store, cfg, address, () => maildirFolders(path)),
        IMPORT_STORE,
      ),
    );
  imp
    .command('mbox <account> <path>')
    .description(
      'import an mbox file (into INBOX or --mailbox) or a directory of them (one folder each), ' +
        'with Status / X-Status / X-Keywords flags and the From line date as internal date',
    )
    .option('--mailbox <name>', 'the mailbox a single file goes into', 'INBOX')
    .option('--mboxo', 'the file is mboxo: only ">From " lines were quoted (default mboxrd)')
    .action((address: string, path: string, o: { mailbox: string; mboxo?: boolean }) =>
      withStore(
        globals(),
        (store, cfg) =>
          run(store, cfg, address, (max) =>
            mboxFolders(path, o.mboxo ? 'mboxo' : 'mboxrd', max, o.mailbox),
          ),
        IMPORT_STORE,
      ),
    );
  registerImportImap(imp, globals);
  registerImportUsers(imp, globals);
}
