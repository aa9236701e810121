// A private Dovecot (Debian's dovecot-imapd) on loopback for tests: run as root with a
// temporary config (its own base_dir, state_dir and log), cleartext IMAP on a free port,
// Maildir mail owned by nobody, users from a passwd-file with {PLAIN} passwords. Options
// choose the hierarchy separator and special-use folders under names of our choosing.
// CI installs dovecot-imapd; without it a test using this FAILS (it says what to install).
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { eventually } from './eventually.js';
import { freePort } from './free-port.js';

const run = promisify(execFile);

export interface Dovecot {
  dir: string;
  port: number;
  /** A logged-in imapflow client for the user. */
  connect(user: string, pass: string): Promise<ImapFlow>;
  /** A user's Maildir root. */
  maildir(user: string): string;
  /** Stops the process and keeps its files (config, mail); resume() starts it again. */
  halt(): Promise<void>;
  /** Starts the process again after halt() (nothing when it runs). */
  resume(): void;
  /** Stops the process and removes its files. */
  stop(): Promise<void>;
}

export interface DovecotOptions {
  users: Array<[string, string]>;
  /** The namespace's hierarchy separator (default "/"). */
  separator?: string;
  /** Mailboxes made on first login with these RFC 6154 attributes: name -> \Sent etc. */
  specialUse?: Record<string, string>;
}

export async function startDovecot(opts: DovecotOptions): Promise<Dovecot> {
  try {
    await run('dovecot', ['--version']);
  } catch {
    assert.fail('dovecot is not installed: apt-get install dovecot-imapd (CI installs it)');
  }
  const dir = await mkdtemp(join(tmpdir(), 'lb-dovecot-'));
  // Dovecot drops to `nobody` for the mail: it must reach the directories.
  await chmod(dir, 0o755);
  for (const d of ['mail', 'home']) {
    await mkdir(join(dir, d));
    await chown(join(dir, d), 65534, 65534);
  }
  const port = await freePort();
  await writeFile(
    join(dir, 'passwd'),
    opts.users.map(([u, p]) => `${u}:{PLAIN}${p}::::::\n`).join(''),
  );
  const mailboxes = Object.entries(opts.specialUse ?? {})
    .map(
      ([name, use]) =>
        `  mailbox "${name}" {\n    auto = subscribe\n    special_use = ${use}\n  }\n`,
    )
    .join('');
  await writeFile(
    join(dir, 'dovecot.conf'),
    `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
listen = 127.0.0.1
protocols = imap
first_valid_uid = 1
mail_location = maildir:${dir}/mail/%n
namespace inbox {
  inbox = yes
  separator = ${opts.separator ?? '/'}
${mailboxes}}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=${dir}/home/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
`,
  );
  let proc: ChildProcess | null = null;
  const resume = () => {
    proc ??= spawn('dovecot', ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: 'ignore' });
  };
  const halt = async () => {
    if (!proc) return;
    const p = proc;
    proc = null;
    p.kill('SIGTERM');
    if (p.exitCode === null) await new Promise((r) => p.once('exit', r));
  };
  resume();
  const client = (user: string, pass: string) =>
    new ImapFlow({
      host: '127.0.0.1',
      port,
      secure: false,
      auth: { user, pass },
      logger: false,
    });
  const connect = async (user: string, pass: string) => {
    let flow = client(user, pass);
    await eventually(
      async () => {
        try {
          await flow.connect();
          return true;
        } catch {
          flow = client(user, pass);
          return false;
        }
      },
      'dovecot to listen',
      20_000,
    );
    return flow;
  };
  return {
    dir,
    port,
    connect,
    maildir: (user) => join(dir, 'mail', user.replace(/@.*/, '')),
    halt,
    resume,
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
