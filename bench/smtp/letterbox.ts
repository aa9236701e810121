// The Letterbox side of the SMTP bench: the real server as a child process (`letterbox serve`)
// from a fresh `letterbox init`, with one domain and one account made through the CLI.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'smol-toml';
import { freePort, waitForGreeting } from '../lib/proc.js';

export interface LetterboxSide {
  port: number;
  pid: number;
  logFile: string;
  configFile: string;
  /** SIGTERM, then SIGKILL if it has not exited within the grace time. */
  stop(): Promise<void>;
  /** Synchronous last resort for process exit handlers. */
  kill(): void;
}

/** Builds dist/ when it is missing: the bench runs the compiled server, as users do. */
export function ensureBuilt(root: string): void {
  const main = join(root, 'dist', 'src', 'cli', 'main.js');
  if (existsSync(main)) return;
  process.stderr.write('dist/ is missing: running npm run build\n');
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  // tsc emits even when some other file has a type error; what matters here is the output.
  if (!existsSync(main))
    throw new Error(`npm run build did not produce ${main} (exit ${r.status})`);
}

function cli(root: string, args: string[], input?: string): string {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'letterbox.js'), ...args], {
    cwd: root,
    input: input ?? '',
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new Error(`letterbox ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Messages in all mailboxes of `address`, read through the CLI (`user list --json`). */
export function storedMessages(root: string, configFile: string, address: string): number {
  const accounts = JSON.parse(cli(root, ['--config', configFile, 'user', 'list', '--json'])) as {
    address: string;
    mailboxes: { messages: number }[];
  }[];
  const a = accounts.find((x) => x.address === address);
  return a ? a.mailboxes.reduce((n, m) => n + m.messages, 0) : 0;
}

/** Rewrites the config `init` wrote: free loopback ports, no greet delay, fast-failing DNS. */
async function tuneConfig(file: string): Promise<number> {
  const cfg = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
  const listeners = cfg['listeners'] as Record<string, Record<string, unknown>>;
  for (const l of Object.values(listeners)) {
    l['address'] = '127.0.0.1';
    l['port'] = await freePort();
  }
  cfg['smtp'] = { ...cfg['smtp'], greet_delay_ms: 0 };
  // Nothing listens on port 1: every SPF/DKIM/DMARC lookup fails at once, as on a machine
  // without network, and the checks end as temperror/none within auth_checks_timeout_seconds.
  cfg['dns'] = { ...cfg['dns'], servers: ['127.0.0.1:1'] };
  cfg['log'] = { ...cfg['log'], level: 'warn' };
  // 50 bench sessions come from one address; the default per-IP limit is exactly 50.
  cfg['limits'] = { ...cfg['limits'], max_connections_per_ip: 1000 };
  writeFileSync(file, stringify(cfg));
  return listeners['smtp']!['port'] as number;
}

export async function startLetterbox(opts: {
  root: string;
  dir: string;
  recipient: string;
  /** Extra node flags for the server process, e.g. --cpu-prof. */
  nodeArgs: string[];
}): Promise<LetterboxSide> {
  ensureBuilt(opts.root);
  const dataDir = join(opts.dir, 'data');
  const file = join(dataDir, 'letterbox.toml');
  cli(opts.root, ['init', '--dir', dataDir, '--hostname', 'letterbox-bench.localdomain']);
  const port = await tuneConfig(file);
  const domain = opts.recipient.slice(opts.recipient.indexOf('@') + 1);
  cli(opts.root, ['--config', file, 'domain', 'add', domain]);
  cli(
    opts.root,
    ['--config', file, 'user', 'add', opts.recipient, '--password-stdin'],
    'bench-password\n',
  );

  const logFile = join(opts.dir, 'letterbox.log');
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    [...opts.nodeArgs, join(opts.root, 'bin', 'letterbox.js'), '--config', file, 'serve'],
    { cwd: opts.dir, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  try {
    await Promise.race([
      waitForGreeting(port, 30_000),
      exit.then(() => {
        throw new Error(`letterbox exited at start; see ${logFile}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    port,
    pid: child.pid!,
    logFile,
    configFile: file,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(timer);
    },
    kill() {
      if (!exited) child.kill('SIGKILL');
    },
  };
}
