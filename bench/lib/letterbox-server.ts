// The Letterbox side of the IMAP and POP3 benches: a fresh `letterbox init` with free loopback
// ports, plaintext LOGIN allowed (loopback only), the bench users made through the CLI, and
// `letterbox serve` as a child process. Mailboxes are filled through the store API while the
// server is stopped: the fast path for 100,000 messages (same parse and index as delivery).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse, stringify } from 'smol-toml';
import type { MailStore } from '../../src/store/types.js';
import { waitForBanner } from './dovecot.js';
import { freePort } from './proc.js';

export interface LetterboxPorts {
  imap: number;
  pop3: number;
  smtp: number;
}

export interface LetterboxSetup {
  root: string;
  dir: string;
  dataDir: string;
  configFile: string;
  ports: LetterboxPorts;
}

export interface LetterboxServer extends ServeProcess {
  /** Which of IMAP and POP3 answered (a listener without a registered protocol does not). */
  imap: boolean;
  pop3: boolean;
}

export function cli(root: string, args: string[], input?: string): string {
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

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ when it is missing or older than src/: the bench runs the compiled server, as
 * users do, and fills the store with the same compiled code (a stale build would not open a
 * store written by a newer schema).
 */
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

export function ensureFreshBuild(root: string): void {
  const main = join(root, 'dist', 'src', 'cli', 'main.js');
  let stale = false;
  try {
    stale = newestMtime(join(root, 'src')) > statSync(main).mtimeMs;
  } catch {
    stale = true;
  }
  if (stale) {
    process.stderr.write('dist/ is older than src/: running npm run build\n');
    // tsc emits even when another file has a type error; what matters is the output.
    spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  }
  ensureBuilt(root);
}

/** `letterbox init`, tuned config, domain and users. Nothing runs yet. */
export async function setupLetterbox(opts: {
  root: string;
  dir: string;
  users: string[];
  password: string;
  maxConnectionsPerIp: number;
  /** Config sections to set, merged over the generated ones (e.g. `{ pop3: { workers: 0 } }`). */
  config?: Record<string, Record<string, unknown>>;
}): Promise<LetterboxSetup> {
  ensureFreshBuild(opts.root);
  const dataDir = join(opts.dir, 'data');
  const file = join(dataDir, 'letterbox.toml');
  cli(opts.root, ['init', '--dir', dataDir, '--hostname', 'letterbox-bench.localdomain']);
  const cfg = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
  const listeners = cfg['listeners'] as Record<string, Record<string, unknown>>;
  for (const l of Object.values(listeners)) {
    l['address'] = '127.0.0.1';
    l['port'] = await freePort();
  }
  cfg['smtp'] = { ...cfg['smtp'], greet_delay_ms: 0 };
  // Nothing listens on port 1: SPF/DKIM/DMARC lookups fail at once, as on a machine without
  // network, instead of waiting for a resolver.
  cfg['dns'] = { ...cfg['dns'], servers: ['127.0.0.1:1'] };
  cfg['log'] = { ...cfg['log'], level: process.env.BENCH_LOG_LEVEL ?? 'warn' };
  // LOGIN / USER without TLS, on 127.0.0.1 only: the bench measures the protocol, not TLS.
  cfg['auth'] = { ...cfg['auth'], allow_plaintext: true };
  cfg['limits'] = {
    ...cfg['limits'],
    max_connections_per_ip: opts.maxConnectionsPerIp,
    max_connections: Math.max(10_000, opts.maxConnectionsPerIp),
  };
  for (const [section, values] of Object.entries(opts.config ?? {}))
    cfg[section] = { ...cfg[section], ...values };
  writeFileSync(file, stringify(cfg));
  const domains = new Set(opts.users.map((u) => u.slice(u.indexOf('@') + 1)));
  for (const d of domains) cli(opts.root, ['--config', file, 'domain', 'add', d]);
  for (const u of opts.users) {
    cli(opts.root, ['--config', file, 'user', 'add', u, '--password-stdin'], `${opts.password}\n`);
  }
  return {
    root: opts.root,
    dir: opts.dir,
    dataDir,
    configFile: file,
    ports: {
      imap: listeners['imap']!['port'] as number,
      pop3: listeners['pop3']!['port'] as number,
      smtp: listeners['smtp']!['port'] as number,
    },
  };
}

/** The log of the setup's server (spawnServe writes it in its directory), or ''. */
function serveLog(setup: LetterboxSetup): string {
  try {
    return readFileSync(join(setup.dir, 'letterbox.log'), 'utf8');
  } catch {
    return '';
  }
}

/** Free ports for the setup's listeners, written to its config and to `setup.ports`. */
async function choosePorts(setup: LetterboxSetup): Promise<void> {
  const cfg = parse(readFileSync(setup.configFile, 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
  const listeners = cfg['listeners'] as Record<string, Record<string, unknown>>;
  for (const l of Object.values(listeners)) l['port'] = await freePort();
  writeFileSync(setup.configFile, stringify(cfg));
  setup.ports.imap = listeners['imap']!['port'] as number;
  setup.ports.pop3 = listeners['pop3']!['port'] as number;
  setup.ports.smtp = listeners['smtp']!['port'] as number;
}

/**
 * Appends `count` messages to the user's INBOX through the store (server stopped), `window`
 * at a time so the store's group commit batches them as it batches concurrent deliveries.
 */
export async function fillLetterbox(
  setup: LetterboxSetup,
  address: string,
  count: number,
  message: (n: number) => Buffer,
  window = 256,
): Promise<void> {
  // The compiled store and indexer, the code the server runs (see ensureFreshBuild).
  const dist = (rel: string) => pathToFileURL(join(setup.root, 'dist', rel)).href;
  const { indexMessage } = (await import(
    dist('src/delivery/local.js')
  )) as typeof import('../../src/delivery/local.js');
  const store = await openBenchStore(setup);
  try {
    const account = await store.getAccount(address);
    if (!account) throw new Error(`no account ${address}`);
    const inbox = await store.getMailbox(account.id, 'INBOX');
    if (!inbox) throw new Error(`${address} has no INBOX`);
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const raw = message(next++);
        await store.append({ raw, index: indexMessage(raw) }, [{ mailboxId: inbox.id }]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  } finally {
    await store.close();
  }
}

/** The store the setup's config names: SQLite under its data dir, or its PostgreSQL. */
async function openBenchStore(setup: LetterboxSetup): Promise<MailStore> {
  const dist = (rel: string) => pathToFileURL(join(setup.root, 'dist', rel)).href;
  const cfg = parse(readFileSync(setup.configFile, 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
  // The mode the server will run in: what the fill stores is indexed (or not) as it would be.
  const mode = cfg['search']?.['full_text_index'];
  const fullText =
    mode === 'on-search' || mode === 'on-delivery' ? { fullTextIndex: mode as typeof mode } : {};
  const pgStore = cfg['store']?.['kind'] === 'postgres' ? cfg['store'] : undefined;
  if (pgStore) {
    const { PostgresStore } = (await import(
      dist('src/store/postgres/postgres-store.js')
    )) as typeof import('../../src/store/postgres/postgres-store.js');
    return PostgresStore.open({ connectionString: String(pgStore['url']), max: 10, ...fullText });
  }
  const { SqliteStore } = (await import(
    dist('src/store/sqlite/sqlite-store.js')
  )) as typeof import('../../src/store/sqlite/sqlite-store.js');
  return SqliteStore.open({ dir: setup.dataDir, ...fullText });
}

async function answers(port: number, prefix: string): Promise<boolean> {
  try {
    await waitForBanner(port, prefix, 1500);
    return true;
  } catch {
    return false;
  }
}

/** The running `letterbox serve` child: its pid and log, and how to stop it. */
export interface ServeProcess {
  pid: number;
  logFile: string;
  /** SIGTERM, then SIGKILL if it has not exited within the grace time. */
  stop(): Promise<void>;
  /** Synchronous last resort for process exit handlers. */
  kill(): void;
}

/**
 * Starts `letterbox --config FILE serve` with its output in DIR/letterbox.log and waits for
 * `ready` (or fails if the process exits first). Shared by every bench.
 */
export async function spawnServe(opts: {
  root: string;
  dir: string;
  configFile: string;
  nodeArgs: string[];
  ready: () => Promise<unknown>;
}): Promise<ServeProcess> {
  const logFile = join(opts.dir, 'letterbox.log');
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...opts.nodeArgs,
      join(opts.root, 'bin', 'letterbox.js'),
      '--config',
      opts.configFile,
      'serve',
    ],
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
      opts.ready(),
      exit.then(() => {
        throw new Error(`letterbox exited at start; see ${logFile}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    pid: child.pid!,
    logFile,
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

export async function serveLetterbox(
  setup: LetterboxSetup,
  nodeArgs: string[] = [],
): Promise<LetterboxServer> {
  const spawnIt = () =>
    spawnServe({
      root: setup.root,
      dir: setup.dir,
      configFile: setup.configFile,
      nodeArgs,
      ready: () => waitForBanner(setup.ports.smtp, '220', 30_000),
    });
  let proc: ServeProcess;
  for (let attempt = 1; ; attempt++) {
    try {
      proc = await spawnIt();
      break;
    } catch (err) {
      // The ports were free when setupLetterbox chose them, maybe minutes ago (bench/scale's
      // third node): another process on the machine may have taken one since. New ones.
      if (attempt >= 3 || !/address already in use/.test(serveLog(setup))) throw err;
      await choosePorts(setup);
    }
  }
  return {
    ...proc,
    imap: await answers(setup.ports.imap, '* OK'),
    pop3: await answers(setup.ports.pop3, '+OK'),
  };
}
