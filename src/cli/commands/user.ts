// `letterbox user add|list|passwd|remove|pop3-policy` and `letterbox quota set`
import { type Command, InvalidArgumentError } from 'commander';
import { hashPassword } from '../../auth/password.js';
import { refuseImportedHash } from '../../auth/stored-hash.js';
import type { MailStore, Pop3Policy } from '../../store/types.js';
import { type GlobalOptions, withStore } from '../context.js';
import { CliError } from '../errors.js';
import { confirm, getPassword, readPasswordFromStdin, stdout } from '../io.js';
import { registerAppPassword } from './app-password.js';

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `unlimited`, `0` (also unlimited), or a size like `500M`, `2G`, `1048576`. */
export function parseQuota(s: string): number | null {
  if (/^(unlimited|none|0)$/i.test(s)) return null;
  const m = /^(\d+)\s*([KMGT]?)(i?B)?$/i.exec(s.trim());
  if (!m) throw new InvalidArgumentError('expected a size such as 500M, 2G or "unlimited"');
  return Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
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

/** The password hash to store: the one given with --password-hash, or a new one of a password. */
async function passwordHashFrom(
  o: { passwordStdin?: boolean; passwordHash?: string },
  minLength: number,
): Promise<string> {
  if (o.passwordHash !== undefined) {
    if (o.passwordStdin === true) {
      throw new CliError('give either --password-stdin or --password-hash, not both');
    }
    const given = o.passwordHash === '-' ? await readPasswordFromStdin() : o.passwordHash;
    const refused = refuseImportedHash(given.trim());
    if (refused !== null) throw new CliError(`--password-hash: ${refused}`);
    return given.trim();
  }
  const password = await getPassword(o, minLength).catch((e: Error) => {
    throw new CliError(e.message);
  });
  return hashPassword(password);
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
    .action(
      (
        address: string,
        o: { passwordStdin?: boolean; passwordHash?: string; quota?: number | null },
      ) =>
        withStore(globals(), async (store, cfg) => {
          if (!(await store.isLocalDomain(address.slice(address.lastIndexOf('@') + 1)))) {
            // Checked before asking for a password, to fail fast with a helpful hint.
            throw new CliError(
              `the domain of ${address} is not local: add it with \`letterbox domain add\``,
              1,
            );
          }
          if (await store.getAccount(address)) {
            throw new CliError(`account ${address.toLowerCase()} exists`, 1);
          }
          const passwordHash = await passwordHashFrom(o, cfg.auth.min_password_length);
          const a = await store.createAccount({
            address,
            passwordHash,
            quotaBytes: o.quota ?? null,
          });
          stdout.line(`added user ${a.address}`);
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
            a.disabled ? 'disabled' : '',
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
      withStore(globals(), async (store, cfg) => {
        if (!(await store.getAccount(address))) throw new CliError(`no account ${address}`, 1);
        const passwordHash = await passwordHashFrom(o, cfg.auth.min_password_length);
        await store.setPassword(address, passwordHash);
        stdout.line(`password changed for ${address.toLowerCase()}`);
      }),
    );
  user
    .command('remove <address>')
    .description('remove an account and all its mail (asks first unless --yes)')
    .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
    .action((address: string, o: { yes?: boolean }) =>
      withStore(globals(), async (store) => {
        const account = await store.getAccount(address);
        if (!account) throw new CliError(`no account ${address.toLowerCase()}`, 1);
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
        await store.removeAccount(account.address);
        stdout.line(`removed user ${account.address}`);
      }),
    );
  user
    .command('disable <address>')
    .description('refuse every login of the account (its mail is kept and still received)')
    .action((address: string) =>
      withStore(globals(), async (store) => {
        await store.setDisabled(address, true);
        stdout.line(
          `disabled user ${address.toLowerCase()} (new logins are refused; open sessions ` +
            'end when they close)',
        );
      }),
    );
  user
    .command('enable <address>')
    .description('allow logins of a disabled account again')
    .action((address: string) =>
      withStore(globals(), async (store) => {
        await store.setDisabled(address, false);
        stdout.line(`enabled user ${address.toLowerCase()}`);
      }),
    );
  user
    .command('unlock <address>')
    .description(
      'lift the login lockouts of the account in force now (the running server sees it at ' +
        'the next login attempt)',
    )
    .action((address: string) =>
      withStore(globals(), async (store) => {
        await store.unlockAccount(address);
        stdout.line(`unlocked user ${address.toLowerCase()}`);
      }),
    );
  registerAppPassword(user, globals);
  user
    .command('pop3-policy <address> <policy>')
    .description('what POP3 DELE does: delete (RFC 1939), keep (hide from POP3 only), trash')
    .action((address: string, policy: string) =>
      withStore(globals(), async (store) => {
        if (!['delete', 'keep', 'trash'].includes(policy)) {
          throw new CliError(`invalid policy "${policy}": expected delete, keep or trash`);
        }
        await store.setPop3Policy(address, policy as Pop3Policy);
        stdout.line(`POP3 policy of ${address.toLowerCase()} is now ${policy}`);
      }),
    );

  const quota = program.command('quota').description('manage storage quotas');
  quota
    .command('set <address> <size>')
    .description('set the quota: a size such as 500M or 2G, or "unlimited"')
    .action((address: string, size: string) =>
      withStore(globals(), async (store) => {
        let bytes: number | null;
        try {
          bytes = parseQuota(size);
        } catch (e) {
          throw new CliError(`invalid size "${size}": ${(e as Error).message}`);
        }
        await store.setQuota(address, bytes);
        stdout.line(`quota of ${address.toLowerCase()} is now ${formatBytes(bytes)}`);
      }),
    );
}
