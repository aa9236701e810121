// A real PostgreSQL for the store tests: Debian's postgresql (15) started in a temporary
// directory, listening on a unix socket only, with one database per store a test opens.
// LETTERBOX_TEST_PG_URL (a superuser's URL) uses a server that is already running instead.
// As root (CI), the cluster runs as the `postgres` user through runuser, since PostgreSQL
// refuses to run as root. fsync is off: these tests check behaviour, not crash safety.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  /** A new empty database; its URL. */
  createDatabase(): Promise<string>;
  dropDatabase(url: string): Promise<void>;
  /** Stops the server (fast shutdown: sessions are cut), as a restart or a crash would. */
  halt(): void;
  /**
   * Ends the server's processes at once (immediate shutdown), as a crash of PostgreSQL would:
   * what only its shared memory held (WAL not yet written among it) is lost, and the next
   * start recovers from the WAL on disk.
   */
  crash(): void;
  /** Starts it again on the same data. */
  resume(): void;
  stop(): Promise<void>;
}

/** The bin directory of the newest PostgreSQL Debian installed (the benches use it too). */
export function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error('PostgreSQL is not installed (Debian package postgresql): no initdb');
  }
  return join(root, versions[0]!, 'bin');
}

/** Runs a PostgreSQL program, as the postgres user when we are root; its standard output. */
export function pgRun(bin: string, args: string[]): string {
  const asRoot = process.getuid?.() === 0;
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(`${bin} ${args.join(' ')} failed: ${r.stderr || r.stdout || r.error}`);
  }
  return r.stdout;
}

/**
 * Makes a cluster in `dir/data` (`dir` given to the `postgres` user when we are root) whose
 * superuser is `letterbox`, trusted, UTF-8 with the C locale; its data directory.
 */
export function initCluster(dir: string, extra: string[] = []): string {
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  pgRun(join(binDir(), 'initdb'), [
    '-D',
    data,
    '-U',
    'letterbox',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C',
    ...extra,
  ]);
  return data;
}

let counter = 0;

export async function startPostgres(): Promise<TestPostgres> {
  const external = process.env.LETTERBOX_TEST_PG_URL;
  const cluster = external ? null : startCluster();
  const adminUrl = external ?? cluster!.url('postgres');
  const urlOf = (db: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${db}`;
    return u.toString();
  };
  const admin = new pg.Pool({ connectionString: adminUrl, max: 2 });
  admin.on('error', () => {});
  return {
    async createDatabase() {
      const name = `lb_test_${process.pid}_${++counter}_${Date.now() % 100000}`;
      await admin.query(`CREATE DATABASE ${name}`);
      return cluster ? cluster.url(name) : urlOf(name);
    },
    async dropDatabase(url) {
      const name = decodeURIComponent(new URL(url).pathname.slice(1));
      if (!/^lb_test_\w+$/.test(name)) throw new Error(`not a test database: ${name}`);
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
    halt() {
      if (!cluster) throw new Error('LETTERBOX_TEST_PG_URL: not ours to stop');
      cluster.halt();
    },
    crash() {
      if (!cluster) throw new Error('LETTERBOX_TEST_PG_URL: not ours to stop');
      cluster.crash();
    },
    resume() {
      if (!cluster) throw new Error('LETTERBOX_TEST_PG_URL: not ours to start');
      cluster.resume();
    },
    async stop() {
      await admin.end();
      cluster?.stop();
    },
  };
}

function startCluster(): {
  url(db: string): string;
  halt(): void;
  crash(): void;
  resume(): void;
  stop(): void;
} {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'lb-pg-'));
  const data = initCluster(dir, ['--no-sync']);
  // The socket's name carries the port; in a directory of its own any port is free.
  const port = 5432;
  const opts = `-k ${dir} -p ${port} -c listen_addresses= -c fsync=off -c full_page_writes=off -c max_connections=200`;
  const start = () =>
    pgRun(join(bin, 'pg_ctl'), ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']);
  start();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      pgRun(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // Not running (a test halted it).
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // A test process that ends without stop() (a failure, a timeout) leaves no server behind;
  // nor does one ended by a signal (the test runner ends a file past its timeout with
  // SIGTERM), whose default action skips 'exit': the server is stopped, then the signal
  // raised again with no listener left, so the process still ends by it.
  process.once('exit', stop);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stop();
      process.kill(process.pid, signal);
    });
  }
  return {
    url: (db) => `postgres://letterbox@${encodeURIComponent(dir)}:${port}/${db}`,
    halt: () => pgRun(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']),
    crash: () => pgRun(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']),
    resume: start,
    stop,
  };
}
