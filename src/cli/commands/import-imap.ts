// `letterbox import imap ACCOUNT --from imaps://user@host[:port]`: every folder of a live IMAP
// server (a hosted provider, Dovecot, another Letterbox) into an account, with flags,
// keywords and internal dates, special-use folders onto the account's own. Run it again to
// copy what arrived meanwhile and, where the source has CONDSTORE, the flags changed there
// (migrate-io/imap-source.ts). Exit codes as import maildir: 1 when something failed.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ImapSource } from '../../migrate-io/imap-source.js';
import { statePath } from '../../migrate-io/imap-state.js';
import { parseImapSourceUrl } from '../../migrate-io/imap-url.js';
import { type GlobalOptions, withStore } from '../context.js';
import { CliError, EXIT_FAILED, EXIT_USAGE } from '../errors.js';
import { promptSecret } from '../io.js';
import { IMPORT_STORE, run } from './import.js';

interface ImapOptions {
  from: string;
  passwordFile?: string;
  insecure?: boolean;
  caFile?: string;
}

export const PASSWORD_ENV = 'LETTERBOX_IMPORT_PASSWORD';

/** The source's password: from the file (its first line), the environment, or the terminal. */
async function sourcePassword(o: ImapOptions, user: string): Promise<string> {
  let pw: string | undefined;
  if (o.passwordFile !== undefined) {
    const text = await readFile(o.passwordFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new CliError(
        `cannot read --password-file ${o.passwordFile}: ${err.code ?? err.message}`,
      );
    });
    pw = text.split(/\r?\n/)[0];
  } else if (process.env[PASSWORD_ENV] !== undefined) {
    pw = process.env[PASSWORD_ENV];
  } else if (process.stdin.isTTY) {
    pw = await promptSecret(`Password of ${user} at the source: `);
  } else {
    throw new CliError(
      `no password for the source: give --password-file, set ${PASSWORD_ENV}, or run on a terminal`,
    );
  }
  if (!pw) throw new CliError('the password for the source is empty');
  return pw;
}

export function registerImportImap(imp: Command, globals: () => GlobalOptions): void {
  imp
    .command('imap <account>')
    .description(
      'copy every folder of an IMAP server into an account, with flags, keywords and internal ' +
        'dates; run again to copy new mail (and, with CONDSTORE, changed flags)',
    )
    .requiredOption(
      '--from <url>',
      'imaps://user@host[:port], or imap://... (STARTTLS required unless on loopback)',
    )
    .option('--password-file <path>', `the source's password (first line); else $${PASSWORD_ENV}`)
    .option('--insecure', 'accept any certificate from the source (test servers only)')
    .option('--ca-file <path>', "trust this CA (PEM) for the source's certificate")
    .action(async (address: string, o: ImapOptions) => {
      let url: ReturnType<typeof parseImapSourceUrl>;
      try {
        url = parseImapSourceUrl(o.from);
      } catch (err) {
        throw new CliError(`--from: ${(err as Error).message}`, EXIT_USAGE);
      }
      const ca =
        o.caFile === undefined
          ? undefined
          : await readFile(o.caFile).catch((err: NodeJS.ErrnoException) => {
              throw new CliError(`cannot read --ca-file ${o.caFile}: ${err.code ?? err.message}`);
            });
      const password = await sourcePassword(o, url.user);
      // The IMAP client is loaded for this command only (see serve.ts).
      const { ImapSource, ImapSourceError } = await import('../../migrate-io/imap-source.js');
      await withStore(
        globals(),
        async (store, cfg) => {
          const account = await store.getAccount(address);
          if (!account) throw new CliError(`no account ${address}`, EXIT_FAILED);
          let source: ImapSource | undefined;
          try {
            await run(store, cfg, address, async (maxMessageSize) => {
              source = await ImapSource.open({
                url,
                password,
                insecure: o.insecure === true,
                ...(ca ? { ca } : {}),
                store,
                account,
                maxMessageSize,
                statePath: statePath(cfg.dataDir, account.address, url.display),
              });
              return source.folders();
            });
          } catch (err) {
            if (err instanceof ImapSourceError) throw new CliError(err.message, EXIT_FAILED);
            throw err;
          } finally {
            if (source) {
              await source.saveState();
              await source.close();
              const s = source;
              if (s.flagsUpdated > 0) {
                process.stderr.write(
                  `letterbox: flags brought up to date from the source on ${s.flagsUpdated} message(s)\n`,
                );
              }
              for (const v of s.views) {
                process.stderr.write(
                  `letterbox: not copied: ${url.display}/${v} (a view of other folders' messages)\n`,
                );
              }
            }
          }
        },
        IMPORT_STORE,
      );
    });
}
