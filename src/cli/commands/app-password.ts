// `letterbox user app-password add|list|remove`: per-device passwords (auth/app-password.ts).
import type { Command } from 'commander';
import { generateAppPassword } from '../../auth/app-password.js';
import { isStoreError } from '../../store/errors.js';
import { type GlobalOptions, withStore } from '../context.js';
import { CliError } from '../errors.js';
import { stdout } from '../io.js';

export function registerAppPassword(user: Command, globals: () => GlobalOptions): void {
  const app = user
    .command('app-password')
    .description(
      'per-device passwords: each revocable on its own, for IMAP, POP3 and SMTP; the main ' +
        'password keeps working',
    );
  app
    .command('add <address> <name>')
    .description('make an app password for a device or client; it is shown once, here')
    .option('--json', 'machine-readable output')
    .action((address: string, name: string, o: { json?: boolean }) =>
      withStore(globals(), async (store, cfg) => {
        // The id is random: a clash with one of the account's own is retried, not shown.
        for (let attempt = 0; ; attempt++) {
          const made = generateAppPassword();
          // Made long enough by construction; the check keeps the promise of the setting.
          if (made.password.length < cfg.auth.min_password_length) {
            throw new CliError('[auth] min_password_length is above the app password length', 2);
          }
          try {
            const p = await store.addAppPassword(address, {
              id: made.id,
              name,
              hash: made.hash,
            });
            if (o.json) {
              stdout.json({
                address: address.toLowerCase(),
                name: p.name,
                password: made.password,
              });
            } else {
              stdout.line(`app password "${p.name}" for ${address.toLowerCase()}:`);
              stdout.line('');
              stdout.line(`  ${made.password}`);
              stdout.line('');
              stdout.line('It is shown only now: enter it in the device as its password.');
            }
            return;
          } catch (e) {
            const idClash = isStoreError(e, 'EXISTS') && /id in use/.test(e.message);
            if (!idClash || attempt >= 3) throw e;
          }
        }
      }),
    );
  app
    .command('list <address>')
    .description('list the app passwords of an account (names and dates, never the passwords)')
    .option('--json', 'machine-readable output')
    .action((address: string, o: { json?: boolean }) =>
      withStore(globals(), async (store) => {
        const list = (await store.listAppPasswords(address)).map((p) => ({
          name: p.name,
          createdAt: p.createdAt.toISOString(),
          lastUsedAt: p.lastUsedAt?.toISOString() ?? null,
        }));
        if (o.json) {
          stdout.json(list);
          return;
        }
        if (list.length === 0) {
          stdout.line(`no app passwords for ${address.toLowerCase()}`);
          return;
        }
        stdout.table([
          ['NAME', 'CREATED', 'LAST USED'],
          ...list.map((p) => [p.name, p.createdAt, p.lastUsedAt ?? 'never']),
        ]);
      }),
    );
  app
    .command('remove <address> <name>')
    .description('revoke an app password: logins with it fail from now on')
    .action((address: string, name: string) =>
      withStore(globals(), async (store) => {
        await store.removeAppPassword(address, name);
        stdout.line(`removed app password "${name}" of ${address.toLowerCase()}`);
      }),
    );
}
