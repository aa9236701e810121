// `letterbox import users FILE`: accounts from a Dovecot passwd-file, with their password
// hashes as they are (auth/passwd-file.ts, auth/foreign-hash.ts); each is replaced by the
// server's own hash at the account's first login. The whole file is checked first: every
// line that cannot be imported is reported with its number and reason, the others are
// imported, and the exit code is 1 when any line failed. Existing accounts are left alone
// (skipped), so a rerun after fixing the file imports only what was missing.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { type PasswdEntry, parsePasswdFile } from '../../auth/passwd-file.js';
import { type GlobalOptions, withStore } from '../context.js';
import { CliError, EXIT_FAILED } from '../errors.js';
import { stdout, warn } from '../io.js';

interface ImportUsersOptions {
  domain?: string;
  scheme?: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerImportUsers(parent: Command, globals: () => GlobalOptions): void {
  parent
    .command('users <file>')
    .description(
      'create accounts from a Dovecot passwd-file (user:{SCHEME}hash:uid:gid:gecos:home:shell:' +
        'extra); hashes are kept and replaced by the server’s own at each first login',
    )
    .option('--domain <domain>', 'domain for users written without one')
    .option('--scheme <scheme>', 'scheme of hashes without a {SCHEME} prefix, e.g. SHA512-CRYPT')
    .option('--dry-run', 'check the file and report, create nothing')
    .option('--json', 'machine-readable summary')
    .action((file: string, o: ImportUsersOptions) =>
      withStore(globals(), async (store) => {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (e) {
          throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code}`, 1);
        }
        const { entries, problems } = parsePasswdFile(text, {
          domain: o.domain,
          defaultScheme: o.scheme?.toUpperCase(),
        });
        const failed = problems.map((p) => ({ line: p.line, reason: p.reason }));
        const imported: string[] = [];
        const skipped: Array<{ line: number; address: string; reason: string }> = [];
        const toCreate: PasswdEntry[] = [];
        for (const e of entries) {
          const domain = e.address.slice(e.address.lastIndexOf('@') + 1);
          if (!(await store.isLocalDomain(domain))) {
            failed.push({
              line: e.line,
              reason: `${e.address}: ${domain} is not a local domain (letterbox domain add ${domain})`,
            });
          } else if (await store.getAccount(e.address)) {
            skipped.push({ line: e.line, address: e.address, reason: 'exists' });
          } else {
            toCreate.push(e);
          }
        }
        for (const e of toCreate) {
          if (e.ignored.length > 0) {
            warn(`${file}:${e.line}: ${e.address}: not carried over: ${e.ignored.join(', ')}`);
          }
          if (o.dryRun === true) {
            imported.push(e.address);
            continue;
          }
          await store.createAccount({
            address: e.address,
            passwordHash: e.passwordHash,
            quotaBytes: e.quotaBytes ?? null,
          });
          // passdb's nologin: created, then closed to logins before anyone learns it exists.
          if (e.disabled) await store.setDisabled(e.address, true);
          imported.push(e.address);
        }
        failed.sort((a, b) => a.line - b.line);
        for (const f of failed) warn(`${file}:${f.line}: ${f.reason}`);
        if (o.json === true) {
          stdout.json({ dryRun: o.dryRun === true, imported, skipped, failed });
        } else {
          const verb = o.dryRun === true ? 'would import' : 'imported';
          stdout.line(
            `${verb} ${imported.length} accounts, skipped ${skipped.length} (exist), ` +
              `failed ${failed.length}`,
          );
        }
        if (failed.length > 0) {
          throw new CliError(
            `${failed.length} lines of ${file} not imported (see above)`,
            EXIT_FAILED,
          );
        }
      }),
    );
}
