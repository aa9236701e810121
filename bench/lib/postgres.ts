import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { binDir, initCluster, pgRun } from '../../test/helpers/postgres.js';
import { freePort } from './proc.js';

export interface BenchPostgres {
  /** postgres://letterbox@127.0.0.1:PORT/letterbox (no password: trust on loopback). */
  url: string;
  version: string;
  /** The postmaster: every backend and PostgreSQL's own workers are its children. */
  postmasterPid(): number | undefined;
  stop(): void;
}

/**
 * Starts the cluster in `dir` (created, and owned by `postgres` when we are root) with a
 * database `letterbox` owned by the superuser `letterbox`.
 */
export async function startPostgres(
  dir: string,
  settings: Record<string, string> = {},
): Promise<BenchPostgres> {
  const bin = binDir();
  mkdirSync(dir, { recursive: true });
  const data = initCluster(dir);
  const port = await freePort();
  const conf: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: dir,
    max_connections: '200',
    ...settings,
  };
  const opts = Object.entries(conf)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  pgRun(join(bin, 'pg_ctl'), ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']);
  let running = true;
  const side: BenchPostgres = {
    url: `postgres://letterbox@127.0.0.1:${port}/letterbox`,
    version: pgRun(join(bin, 'postgres'), ['--version']).trim(),
    postmasterPid() {
      try {
        return Number(readFileSync(join(data, 'postmaster.pid'), 'latin1').split('\n')[0]);
      } catch {
        return undefined;
      }
    },
    stop() {
      if (!running) return;
      running = false;
      try {
        pgRun(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      } catch {
        // Already stopped.
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  try {
    pgRun(join(bin, 'createdb'), [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'letterbox',
      'letterbox',
    ]);
  } catch (err) {
    side.stop();
    throw err;
  }
  return side;
}

/** Settings that make the cluster count its statements (`statementCounts`). */
export const STATEMENT_STATS = {
  shared_preload_libraries: 'pg_stat_statements',
  'pg_stat_statements.track': 'all',
  // Planning apart from execution: a statement planned at each call shows its plan time.
  'pg_stat_statements.track_planning': 'on',
};

/**
 * The statements run since the last call (pg_stat_statements, reset here), by calls: what a
 * load costs the database in round trips and in time, per statement.
 */
export async function statementCounts(
  url: string,
): Promise<
  Array<{ query: string; calls: number; totalMs: number; plans: number; planMs: number }>
> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const r = await c.query<{
      query: string;
      calls: string;
      total: number;
      plans: string;
      plan: number;
    }>(
      `SELECT query, calls, total_exec_time AS total, plans, total_plan_time AS plan
       FROM pg_stat_statements
       WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC`,
    );
    await c.query('SELECT pg_stat_statements_reset()');
    return r.rows.map((x) => ({
      query: x.query,
      calls: Number(x.calls),
      totalMs: x.total,
      plans: Number(x.plans),
      planMs: x.plan,
    }));
  } finally {
    await c.end();
  }
}
