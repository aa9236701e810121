// The Dovecot side of the IMAP and POP3 benches: a private instance (its own config, base and
// state directories, passwd-file users, Maildirs under a temp dir) written by setup-dovecot.sh,
// started with `dovecot -c FILE` and stopped with `doveadm -c FILE stop` (or by killing its
// master), also when the bench fails.
import { spawnSync } from 'node:child_process';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './proc.js';

export interface DovecotSide {
  imapPort: number;
  pop3Port: number;
  configFile: string;
  version: string;
  masterPid(): number | undefined;
  maildir(user: string): string;
  /**
   * Writes messages straight into the user's Maildir/cur, as Dovecot's own delivery names them
   * (S= stored size, W= size with CRLF), then lets Dovecot index the mailbox (not timed).
   */
  fill(user: string, count: number, message: (n: number) => Buffer): Promise<void>;
  /** `doveadm` with this instance's config. */
  doveadm(args: string[], input?: Buffer): { status: number | null; stdout: string };
  stop(): void;
  logTail(lines: number): string;
}

const PATH = `/usr/sbin:/usr/bin:${process.env['PATH'] ?? ''}`;

function run(cmd: string, args: string[], input?: Buffer) {
  return spawnSync(cmd, args, {
    encoding: 'utf8',
    input,
    env: { ...process.env, PATH },
    maxBuffer: 64 << 20,
  });
}

/** Waits until something on 127.0.0.1:port sends a line starting with `prefix`. */
export async function waitForBanner(port: number, prefix: string, timeoutMs: number) {
  const { connect } = await import('node:net');
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.once('data', (d: Buffer) => done(d.toString('latin1').startsWith(prefix)));
      s.once('error', () => done(false));
      s.setTimeout(2000, () => done(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing answered "${prefix}" on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startDovecot(opts: {
  script: string;
  dir: string;
  users: string[];
  password: string;
  /** Connections per imap process (Dovecot's default is 1). */
  imapClientLimit?: number;
}): Promise<DovecotSide> {
  const imapPort = await freePort();
  const pop3Port = await freePort();
  const setup = spawnSync(
    'bash',
    [
      opts.script,
      opts.dir,
      String(imapPort),
      String(pop3Port),
      opts.password,
      String(opts.imapClientLimit ?? 1),
      ...opts.users,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (setup.status !== 0) throw new Error(`setup-dovecot.sh failed (exit ${setup.status})`);
  const mailRoot = setup.stdout.trim().split('\n').pop()!;
  const configFile = join(opts.dir, 'dovecot.conf');
  // uid and gid of the mail files, from the passwd-file the script wrote.
  const ids = new Map<string, [number, number]>();
  for (const line of readFileSync(join(opts.dir, 'users'), 'utf8').split('\n')) {
    const f = line.split(':');
    if (f.length > 3) ids.set(f[0]!, [Number(f[2]), Number(f[3])]);
  }
  const version = run('dovecot', ['--version']).stdout.trim();
  // The master daemonizes and its children would hold a stdout pipe open (spawnSync would wait
  // for it to close): its output goes to the log file instead.
  const started = spawnSync('dovecot', ['-c', configFile], {
    env: { ...process.env, PATH },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  if (started.status !== 0) {
    throw new Error(`dovecot -c ${configFile} failed (${started.status}); see its log`);
  }
  let running = true;
  const side: DovecotSide = {
    imapPort,
    pop3Port,
    configFile,
    version,
    masterPid() {
      try {
        return Number(readFileSync(join(opts.dir, 'run', 'master.pid'), 'latin1').trim());
      } catch {
        return undefined;
      }
    },
    maildir: (user) => join(mailRoot, user, 'Maildir'),
    async fill(user, count, message) {
      const cur = join(side.maildir(user), 'cur');
      const [uid, gid] = ids.get(user)!;
      const stamp = Math.floor(Date.now() / 1000) - count;
      for (let n = 0; n < count; n++) {
        const crlf = message(n);
        // Dovecot keeps Maildir files with LF line ends (mail_save_crlf = no by default).
        const lf = Buffer.from(crlf.toString('latin1').replaceAll('\r\n', '\n'), 'latin1');
        const name = `${stamp + n}.M${n}P${process.pid}.bench,S=${lf.length},W=${crlf.length}:2,`;
        const file = join(cur, name);
        writeFileSync(file, lf);
        chownSync(file, uid, gid);
        if (n % 2000 === 1999) await new Promise((r) => setImmediate(r));
      }
      // Dovecot builds its index at the first access: do that now, outside the timings.
      const r = side.doveadm(['mailbox', 'status', '-u', user, 'messages', 'INBOX']);
      if (r.status !== 0) throw new Error(`doveadm mailbox status failed for ${user}`);
      const got = Number(/messages=(\d+)/.exec(r.stdout)?.[1]);
      if (got !== count) throw new Error(`Dovecot sees ${got} messages for ${user}, not ${count}`);
    },
    doveadm(args, input) {
      const r = run('doveadm', ['-c', configFile, ...args], input);
      return { status: r.status, stdout: r.stdout };
    },
    stop() {
      if (!running) return;
      running = false;
      const pid = side.masterPid();
      const r = run('doveadm', ['-c', configFile, 'stop']);
      if (r.status !== 0 && pid) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    },
    logTail(lines) {
      try {
        return readFileSync(join(opts.dir, 'dovecot.log'), 'utf8')
          .split('\n')
          .slice(-lines)
          .join('\n');
      } catch {
        return '(no log)';
      }
    },
  };
  try {
    await waitForBanner(imapPort, '* OK', 30_000);
    await waitForBanner(pop3Port, '+OK', 30_000);
  } catch (err) {
    side.stop();
    throw err;
  }
  return side;
}
