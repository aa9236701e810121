// A private instance of Debian's Postfix as a remote MX for the outbound tests: its own
// config_directory, queue_directory and data_directory in a temp dir, one smtpd on
// 127.0.0.1:<free port> with STARTTLS (a self-signed certificate), final destination for one
// domain through virtual(8), each mailbox a Maildir owned by `nobody`. No DNS anywhere
// (smtpd does no peer lookups, nothing is relayed). Started with `postfix -c DIR start`
// (Postfix needs root), stopped with `postfix -c DIR stop`, then whatever of its session is
// left is killed, so no process outlives the test.
//
// Postfix answers mail for a user not in the mailbox table with `550 5.1.1 ... User unknown
// in virtual mailbox table` at RCPT (smtpd_reject_unlisted_recipient, on by default).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { writeSelfSigned } from '../../src/net/selfsigned.js';
import { eventually } from './eventually.js';
import { freePort } from './free-port.js';

export interface PostfixMx {
  port: number;
  dir: string;
  hostname: string;
  /** The messages in a mailbox's Maildir/new, as Postfix wrote them (LF line ends). */
  delivered(localPart: string): Promise<Buffer[]>;
  /** The last lines of the instance's log, for failure messages. */
  logTail(lines?: number): string;
  /** Stops Postfix, kills whatever of it is left, removes the directory. Idempotent. */
  stop(): Promise<void>;
}

export interface PostfixMxOptions {
  /** The domain Postfix is the final destination for. */
  domain: string;
  /** Local parts that have a Maildir; any other user of the domain is unknown (550 5.1.1). */
  mailboxes: string[];
  /** myhostname, the name in the banner and in Received. Default `mx.<domain>`. */
  hostname?: string;
}

const PATH = `/usr/sbin:/usr/lib/postfix/sbin:${process.env['PATH'] ?? ''}`;

/** The postfix command, or a loud error naming the package. */
function postfixBinary(): string {
  const r = spawnSync('sh', ['-c', 'command -v postfix'], {
    encoding: 'utf8',
    env: { ...process.env, PATH },
  });
  const bin = r.status === 0 ? r.stdout.trim() : '';
  if (bin !== '' && existsSync(bin)) return bin;
  throw new Error(
    'postfix is not installed; this test needs it as a remote MX (apt-get install postfix; ' +
      '.ci/run installs it)',
  );
}

function run(bin: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, PATH } });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** True once something on the port greets with 220 (within 5 s per try). */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('data', (d: Buffer) => done(d.subarray(0, 4).toString('latin1') === '220 '));
    s.once('error', () => done(false));
    s.setTimeout(5000, () => done(false));
  });
}

/** The pids of a session (Postfix's master calls setsid: every process of it is in its own). */
function sessionPids(sid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      // The command name is in parentheses and may hold spaces: fields follow the last ')'.
      // After it: state ppid pgrp session.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[3]) === sid && fields[0] !== 'Z') out.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

function uidGid(name: string): { uid: number; gid: number } {
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) throw new Error(`no user ${name} on this machine`);
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export async function startPostfixMx(opts: PostfixMxOptions): Promise<PostfixMx> {
  const bin = postfixBinary();
  if (userInfo().uid !== 0) {
    throw new Error('a private Postfix must be started as root (CI runs the tests as root)');
  }
  const hostname = opts.hostname ?? `mx.${opts.domain}`;
  const dir = await mkdtemp(join(tmpdir(), 'lb-postfix-'));
  const etc = join(dir, 'etc');
  const queue = join(dir, 'queue');
  const data = join(dir, 'data');
  const mail = join(dir, 'mail');
  const log = join(dir, 'maillog');
  // virtual(8) delivers as this user; virtual_minimum_uid (100) rules out system users.
  const vuser = uidGid('nobody');
  const postfixUser = uidGid('postfix');

  await Promise.all([etc, queue, data, mail].map((d) => mkdir(d, { recursive: true })));
  // Every directory down to the queue must be searchable by the postfix user, and
  // postfix-script wants the queue directory to belong to root.
  for (const d of [dir, etc, queue, mail]) await chmod(d, 0o755);
  await chown(data, postfixUser.uid, postfixUser.gid);
  await chmod(data, 0o700);
  const { certFile, keyFile } = await writeSelfSigned(dir, hostname);
  const table: string[] = [];
  for (const local of opts.mailboxes) {
    const md = join(mail, opts.domain, local);
    for (const sub of ['new', 'cur', 'tmp']) await mkdir(join(md, sub), { recursive: true });
    table.push(`${local}@${opts.domain} ${opts.domain}/${local}/`);
  }
  spawnSync('chown', ['-R', `${vuser.uid}:${vuser.gid}`, join(mail, opts.domain)]);
  await writeFile(join(etc, 'vmailbox'), `${table.join('\n')}\n`);

  const port = await freePort();
  await writeFile(
    join(etc, 'main.cf'),
    `# Private instance for Letterbox's outbound tests.
compatibility_level = 3.6
queue_directory = ${queue}
data_directory = ${data}
mail_owner = postfix
setgid_group = postdrop
myhostname = ${hostname}
mydomain = ${opts.domain}
myorigin = $myhostname
mydestination =
relay_domains =
local_recipient_maps =
inet_interfaces = loopback-only
inet_protocols = ipv4
# The client on 127.0.0.1 gets no privilege: it is an outside MTA to this MX.
mynetworks = 192.0.2.1/32
# No rewriting of the message's header fields: what arrives is what was sent.
local_header_rewrite_clients =
smtpd_banner = $myhostname ESMTP
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
virtual_mailbox_domains = ${opts.domain}
virtual_mailbox_base = ${mail}
virtual_mailbox_maps = texthash:${etc}/vmailbox
virtual_uid_maps = static:${vuser.uid}
virtual_gid_maps = static:${vuser.gid}
virtual_mailbox_limit = 0
# STARTTLS offered (RFC 3207); Received says "with ESMTPS" and which TLS was used.
smtpd_tls_security_level = may
smtpd_tls_cert_file = ${certFile}
smtpd_tls_key_file = ${keyFile}
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
maillog_file = ${log}
maillog_file_prefixes = ${dir}
biff = no
`,
  );
  // Only the services this flow needs; no chroot (column 5 "n"): the private queue directory
  // holds none of the files a chroot needs.
  await writeFile(
    join(etc, 'master.cf'),
    `127.0.0.1:${port} inet n - n - - smtpd
cleanup    unix n - n - 0 cleanup
qmgr       unix n - n 300 1 qmgr
tlsmgr     unix - - n 1000? 1 tlsmgr
rewrite    unix - - n - - trivial-rewrite
bounce     unix - - n - 0 bounce
defer      unix - - n - 0 bounce
trace      unix - - n - 0 bounce
verify     unix - - n - 1 verify
flush      unix n - n 1000? 0 flush
proxymap   unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
showq      unix n - n - - showq
error      unix - - n - - error
retry      unix - - n - - error
discard    unix - - n - - discard
virtual    unix - n n - - virtual
anvil      unix - - n - 1 anvil
scache     unix - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
`,
  );

  const logTail = (lines = 40) => {
    try {
      return readFileSync(log, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no Postfix log)';
    }
  };
  const masterPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(join(queue, 'pid', 'master.pid'), 'latin1').trim());
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  let stopped = false;
  let sid: number | undefined;
  const killSession = () => {
    if (sid === undefined) return;
    for (const pid of sessionPids(sid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
  };
  // Should the test process end without `after` (a runner's timeout sends SIGTERM), Postfix
  // goes with it rather than outliving the run.
  const onSignal = (signal: NodeJS.Signals) => {
    killSession();
    rmSync(dir, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  process.on('exit', killSession);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    sid ??= masterPid();
    run(bin, ['-c', etc, 'stop']);
    if (sid !== undefined) {
      const session = sid;
      // `postfix stop` signals the master and returns; the master takes its children down.
      try {
        await eventually(() => sessionPids(session).length === 0, 'Postfix to stop', 20_000);
      } catch {
        killSession();
        await eventually(() => sessionPids(session).length === 0, 'Postfix to die', 10_000);
      }
    }
    process.off('exit', killSession);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const check = run(bin, ['-c', etc, 'check']);
    if (check.status !== 0) throw new Error(`postfix -c ${etc} check failed: ${check.out}`);
    const start = run(bin, ['-c', etc, 'start']);
    if (start.status !== 0) throw new Error(`postfix -c ${etc} start failed: ${start.out}`);
    await eventually(() => masterPid() !== undefined, 'Postfix master.pid', 30_000);
    sid = masterPid();
    await eventually(() => greets(port), `Postfix to greet on port ${port}`, 30_000);
  } catch (err) {
    const tail = logTail();
    await stop();
    throw new Error(`${(err as Error).message}\nPostfix log:\n${tail}`);
  }

  return {
    port,
    dir,
    hostname,
    async delivered(localPart) {
      const newDir = join(mail, opts.domain, localPart, 'new');
      let names: string[];
      try {
        names = readdirSync(newDir).sort();
      } catch {
        return [];
      }
      return Promise.all(names.map((n) => readFile(join(newDir, n))));
    },
    logTail,
    stop,
  };
}
