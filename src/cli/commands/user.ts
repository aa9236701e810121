// `letterbox user add|list|passwd|remove|admin|pop3-policy` and `letterbox quota set` (the
// operations and their validation: admin/accounts.ts, shared with the admin API)
import { type Command, InvalidArgumentError } from 'commander';
import {
  type AccountView,
  changeAccount,
  checkNewAddress,
  createAccount,
  createAccountWithHash,
  findAccount,
  removeAccount,
  setPasswordHash,
  unlockAccount,
} from '../../admin/accounts.js';
import type { AdminContext } from '../../admin/context.js';
import { parseQuota as parseSize, pop3Policy } from '../../admin/schemas.js';
import { refuseImportedHash } from '../../auth/stored-hash.js';
import type { MailStore, Pop3Policy } from '../../store/types.js';
import { type GlobalOptions, withAdmin, withStore } from '../context.js';
import { CliError } from '../errors.js';
import { confirm, getPassword, readPasswordFromStdin, stdout } from '../io.js';
import { registerAppPassword } from './app-password.js';

/** `unlimited`, `0` (also unlimited), or a size like `500M`, `2G`, `1048576`. */
export function parseQuota(s: string): number | null {
  try {
    return parseSize(s);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

async function describeAccounts(store: MailStore, domain?: string) {
  const accounts = await store.listAccounts(domain);
  return Promise.all(
    accounts.map(async (a) => ({
      address: a.address,
      quotaBytes: a.quotaBytes,
      usedBytes: a.usedBytes,
      pop3Policy: a.pop3Policy,
      disabled: a.disabled,
      admin: a.admin,
      createdAt: a.createdAt.toISOString(),
      mailboxes: await Promise.all(
        (await store.listMailboxes(a.id)).map(async (m) => ({
          name: m.name,
          specialUse: m.specialUse,
          messages: (await store.mailboxStatus(m.id)).messages,
        })),
      ),
    })),
  );
}

const PASSWORD_HASH_HELP =
  "a hash from another server instead of a password, as Dovecot writes it: '{SHA512-CRYPT}$6$...' " +
  '(also SHA256-CRYPT, BLF-CRYPT, ARGON2ID, ARGON2I, SSHA512, PLAIN); "-" reads it from ' +
  'standard input. Replaced by the server’s own hash at the first login';

/** The hash given with --password-hash (checked), or null when a password is to be asked. */
async function importedHash(o: {
  passwordStdin?: boolean;
  passwordHash?: string;
}): Promise<string | null> {
  if (o.passwordHash === undefined) return null;
  if (o.passwordStdin === true) {
    throw new CliError('give either --password-stdin or --password-hash, not both');
  }
  const given = o.passwordHash === '-' ? await readPasswordFromStdin() : o.passwordHash;
  const refused = refuseImportedHash(given.trim());
  if (refused !== null) throw new CliError(`--password-hash: ${refused}`);
  return given.trim();
}

/** The password from stdin or the terminal (the schema checks it again in the operation). */
function askPassword(ctx: AdminContext, o: { passwordStdin?: boolean }): Promise<string> {
  return getPassword(o, ctx.cfg.auth.min_password_length).catch((e: Error) => {
    throw new CliError(e.message);
  });
}

function formatBytes(n: number | null): string {
  if (n === null) return 'unlimited';
  for (const [u, f] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (n >= f) return `${(n / f).toFixed(1)}${u}`;
  }
  return `${n}B`;
}

export function registerUser(program: Command, globals: () => GlobalOptions): void {
  const user = program.command('user').description('manage accounts (the login is the address)');
  user
    .command('add <address>')
    .description('create an account with INBOX, Drafts, Sent, Trash, Junk and Archive')
    .option('--password-stdin', 'read the password from standard input instead of prompting')
    .option('--password-hash <hash>', PASSWORD_HASH_HELP)
    .option('--quota <size>', 'storage quota, e.g. 2G (default unlimited)', parseQuota)
    .option('--admin', 'may sign in to the admin API and the web admin')
    .action(
      (
        address: string,
        o: {
          passwordStdin?: boolean;
          passwordHash?: string;
          quota?: number | null;
          admin?: boolean;
        },
      ) =>
        withAdmin(globals(), async (ctx) => {
          // Checked before asking for a password, to fail fast with a helpful hint.
          await checkNewAddress(ctx, address);
          const fields = { address, quota: o.quota ?? null, admin: o.admin === true };
          const hash = await importedHash(o);
          let a: AccountView;
          if (hash !== null) a = await createAccountWithHash(ctx, fields, hash);
          else a = await createAccount(ctx, { ...fields, password: await askPassword(ctx, o) });
          stdout.line(`added user ${a.address}${a.admin ? ' (admin)' : ''}`);
        }),
    );
  user
    .command('list [domain]')
    .description('list accounts, optionally of one domain')
    .option('--json', 'machine-readable output, with each account’s mailboxes')
    .action((domain: string | undefined, o: { json?: boolean }) =>
      withStore(globals(), async (store) => {
        const list = await describeAccounts(store, domain);
        if (o.json) {
          stdout.json(list);
          return;
        }
        stdout.table([
          ['ADDRESS', 'USED', 'QUOTA', 'POP3', 'MAILBOXES', 'STATE'],
          ...list.map((a) => [
            a.address,
            formatBytes(a.usedBytes),
            formatBytes(a.quotaBytes),
            a.pop3Policy,
            String(a.mailboxes.length),
            [a.disabled ? 'disabled' : '', a.admin ? 'admin' : ''].filter(Boolean).join(', '),
          ]),
        ]);
      }),
    );
  user
    .command('passwd <address>')
    .description('set a new password')
    .option('--password-stdin', 'read the password from standard input instead of prompting')
    .option('--password-hash <hash>', PASSWORD_HASH_HELP)
    .action((address: string, o: { passwordStdin?: boolean; passwordHash?: string }) =>
      withAdmin(globals(), async (ctx) => {
        const a = await findAccount(ctx, address);
        const hash = await importedHash(o);
        if (hash !== null) await setPasswordHash(ctx, a.address, hash);
        else await changeAccount(ctx, a.address, { password: await askPassword(ctx, o) });
        stdout.line(`password changed for ${a.address}`);
      }),
    );
  user
    .command('remove <address>')
    .description('remove an account and all its mail (asks first unless --yes)')
    .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
    .action((address: string, o: { yes?: boolean }) =>
      withAdmin(globals(), async (ctx) => {
        const { store } = ctx;
        const account = await findAccount(ctx, address);
        if (o.yes !== true) {
          let messages = 0;
          for (const m of await store.listMailboxes(account.id)) {
            messages += (await store.mailboxStatus(m.id)).messages;
          }
          const sure = await confirm(
            `Remove ${account.address} and all its mail (${messages} messages, ` +
              `${formatBytes(account.usedBytes)})? This cannot be undone.`,
            'run with --yes to remove without asking',
          ).catch((e: Error) => {
            throw new CliError(e.message);
          });
          if (!sure) throw new CliError(`not removed: ${account.address}`, 1);
        }
        await removeAccount(ctx, account.address);
        stdout.line(`removed user ${account.address}`);
      }),
    );
  user
    .command('disable <address>')
    .description('refuse every login of the account (its mail is kept and still received)')
    .action((address: string) =>
      withAdmin(
        globals(),
        async (ctx) => {
          const a = await changeAccount(ctx, address, { disabled: true });
          stdout.line(
            `disabled user ${a.address} (new logins are refused; a running server ends its IMAP and POP3 sessions)`,
          );
        },
        // The store event that ends the account's sessions reaches a running server through
        // change_log (store/sqlite/change-log.ts).
        { shareChanges: true },
      ),
    );
  user
    .command('enable <address>')
    .description('allow logins of a disabled account again')
    .action((address: string) =>
      withAdmin(globals(), async (ctx) => {
        const a = await changeAccount(ctx, address, { disabled: false });
        stdout.line(`enabled user ${a.address}`);
      }),
    );
  user
    .command('admin <address> <on|off>')
    .description('give or take the admin role: signing in to the admin API and the web admin')
    .action((address: string, onOff: string) =>
      withAdmin(globals(), async (ctx) => {
        if (onOff !== 'on' && onOff !== 'off') {
          throw new CliError(`expected on or off, not "${onOff}"`);
        }
        const a = await changeAccount(ctx, address, { admin: onOff === 'on' });
        stdout.line(`${a.address} is ${a.admin ? 'now' : 'no longer'} an administrator`);
      }),
    );
  user
    .command('unlock <address>')
    .description(
      'lift the login lockouts of the account in force now (the running server sees it at ' +
        'the next login attempt)',
    )
    .action((address: string) =>
      withAdmin(globals(), async (ctx) => {
        stdout.line(`unlocked user ${await unlockAccount(ctx, address)}`);
      }),
    );
  registerAppPassword(user, globals);
  user
    .command('pop3-policy <address> <policy>')
    .description('what POP3 DELE does: delete (RFC 1939), keep (hide from POP3 only), trash')
    .action((address: string, policy: string) =>
      withAdmin(globals(), async (ctx) => {
        if (!pop3Policy.safeParse(policy).success) {
          throw new CliError(`invalid policy "${policy}": expected delete, keep or trash`);
        }
        const a = await changeAccount(ctx, address, { pop3Policy: policy as Pop3Policy });
        stdout.line(`POP3 policy of ${a.address} is now ${a.pop3Policy}`);
      }),
    );

  const quota = program.command('quota').description('manage storage quotas');
  quota
    .command('set <address> <size>')
    .description('set the quota: a size such as 500M or 2G, or "unlimited"')
    .action((address: string, size: string) =>
      withAdmin(globals(), async (ctx) => {
        let bytes: number | null;
        try {
          bytes = parseSize(size);
        } catch (e) {
          throw new CliError(`invalid size "${size}": ${(e as Error).message}`);
        }
        const a = await changeAccount(ctx, address, { quota: bytes });
        stdout.line(`quota of ${a.address} is now ${formatBytes(bytes)}`);
      }),
    );
}
