// `letterbox user app-password add|list|remove`: per-device passwords (auth/app-password.ts;
// the operations: admin/app-passwords.ts).
import type { Command } from 'commander';
import { addAppPassword, listAppPasswords, removeAppPassword } from '../../admin/app-passwords.js';
import { type GlobalOptions, withAdmin } from '../context.js';
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
      withAdmin(globals(), async (ctx) => {
        const p = await addAppPassword(ctx, address, { name });
        if (o.json) {
          stdout.json(p);
          return;
        }
        stdout.line(`app password "${p.name}" for ${p.address}:`);
        stdout.line('');
        stdout.line(`  ${p.password}`);
        stdout.line('');
        stdout.line('It is shown only now: enter it in the device as its password.');
      }),
    );
  app
    .command('list <address>')
    .description('list the app passwords of an account (names and dates, never the passwords)')
    .option('--json', 'machine-readable output')
    .action((address: string, o: { json?: boolean }) =>
      withAdmin(globals(), async (ctx) => {
        const list = (await listAppPasswords(ctx, address)).map((p) => ({
          name: p.name,
          createdAt: p.created,
          lastUsedAt: p.lastUsed,
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
      withAdmin(globals(), async (ctx) => {
        await removeAppPassword(ctx, address, name);
        stdout.line(`removed app password "${name}" of ${address.toLowerCase()}`);
      }),
    );
}
