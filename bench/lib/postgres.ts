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

/**
 * The settings docs/scaling.md ("PostgreSQL's settings") recommends to a deployment, with
 * what each was measured to do there; bench/scale runs its cluster with them unless told
 * `--pg-defaults`. None of them weakens durability: fsync, synchronous_commit and
 * full_page_writes keep their defaults (on).
 */
export const RECOMMENDED_SETTINGS: Record<string, string> = {
  // No statement of Letterbox's is costly enough for JIT to compile (pg_stat_statements'
  // jit_functions 0 over a mix); off, a misestimated plan cannot make a write pay for it.
  jit: 'off',
  // Fewer checkpoints, so fewer full-page images: a checkpoint every 30 s made the mix's WAL
  // 2,561 bytes per command against 2,037-2,075 with none in the window.
  checkpoint_timeout: '15min',
  max_wal_size: '4GB',
};

/** `--pg-conf name=value,name=value`: settings given on a bench's command line. */
export function parseSettings(list: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (list ?? '').split(',')) {
    if (!item.trim()) continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--pg-conf: "${item}" is not name=value`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

/** Settings that make the cluster count its statements (`statementCounts`). */
export const STATEMENT_STATS = {
  shared_preload_libraries: 'pg_stat_statements',
  'pg_stat_statements.track': 'all',
  // Planning apart from execution: a statement planned at each call shows its plan time.
  'pg_stat_statements.track_planning': 'on',
  // The WAL's writes and fsyncs timed (`walCounts`): what a write waits for at its flush.
  track_wal_io_timing: 'on',
};

/** The WAL's work since the last call (pg_stat_wal, reset here), with STATEMENT_STATS. */
export async function walCounts(url: string): Promise<{
  records: number;
  fullPages: number;
  bytes: number;
  syncs: number;
  syncMs: number;
  writes: number;
  writeMs: number;
  commits: number;
}> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<Record<string, string>>(
      `SELECT wal_records::text AS records, wal_fpi::text AS fpi, wal_bytes::text AS bytes,
         wal_sync::text AS syncs, wal_sync_time::text AS sync_ms, wal_write::text AS writes,
         wal_write_time::text AS write_ms,
         (SELECT sum(xact_commit)::text FROM pg_stat_database) AS commits
       FROM pg_stat_wal`,
    );
    // pg_stat_database has no reset of its own for every database: its commits are read as a
    // difference from the last call (lastCommits).
    await c.query("SELECT pg_stat_reset_shared('wal')");
    const x = r.rows[0]!;
    const commits = Number(x.commits) - lastCommits;
    lastCommits = Number(x.commits);
    return {
      records: Number(x.records),
      fullPages: Number(x.fpi),
      bytes: Number(x.bytes),
      syncs: Number(x.syncs),
      syncMs: Number(x.sync_ms),
      writes: Number(x.writes),
      writeMs: Number(x.write_ms),
      commits,
    };
  } finally {
    await c.end();
  }
}

let lastCommits = 0;

/**
 * Samples what the database's client backends are doing every few milliseconds until the
 * returned function is called; that gives, per sample, how many were running, idle, or
 * waiting and for what (pg_stat_activity's wait events: WALSync is a commit's flush, Lock a
 * row or object lock, ClientRead a backend waiting for the node).
 */
export async function sampleWaits(url: string, everyMs = 5): Promise<() => Promise<string>> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const pid = (await c.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;
  const counts = new Map<string, number>();
  let samples = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const r = await c.query<{ w: string }>(
        `SELECT CASE WHEN state = 'active' THEN COALESCE(wait_event_type || ':' || wait_event, 'running')
           ELSE COALESCE(state, '?') END AS w
         FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> $1
           AND datname = current_database()`,
        [pid],
      );
      samples++;
      for (const x of r.rows) counts.set(x.w, (counts.get(x.w) ?? 0) + 1);
      await new Promise((res) => setTimeout(res, everyMs));
    }
  })();
  return async () => {
    stop = true;
    await loop;
    await c.end();
    return [...counts]
      .sort((a, b) => b[1] - a[1])
      .map(([w, n]) => `${w} ${(n / Math.max(1, samples)).toFixed(2)}`)
      .join(', ');
  };
}

/**
 * The statements run since the last call (pg_stat_statements, reset here), by calls: what a
 * load costs the database in round trips and in time, per statement.
 */
export async function statementCounts(url: string): Promise<
  Array<{
    query: string;
    calls: number;
    totalMs: number;
    plans: number;
    planMs: number;
    /** Sent by a client (a round trip's statement), not run inside a function or trigger. */
    toplevel: boolean;
  }>
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
      toplevel: boolean;
    }>(
      `SELECT query, calls, total_exec_time AS total, plans, total_plan_time AS plan, toplevel
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
      toplevel: x.toplevel,
    }));
  } finally {
    await c.end();
  }
}

/** One process's CPU (ms) and context switches, from /proc. */
interface ProcCounts {
  cpuMs: number;
  voluntary: number;
  involuntary: number;
}

function procCounts(pid: number): ProcCounts | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name: utime 14, stime 15 (proc(5)), in ticks of 10 ms.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    return {
      cpuMs: (Number(f[11]) + Number(f[12])) * 10,
      voluntary: Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0),
      involuntary: Number(/\nnonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0),
    };
  } catch {
    return null;
  }
}

/** The postmaster's own CPU and its reaped children's (ms). */
function reapedMs(postmaster: number): number {
  try {
    const stat = readFileSync(`/proc/${postmaster}/stat`, 'latin1');
    // utime 14, stime 15, cutime 16, cstime 17 (proc(5)).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
  } catch {
    return 0;
  }
}

function postmasterChildren(postmaster: number): number[] {
  try {
    const list = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'latin1');
    return list.trim() === '' ? [] : list.trim().split(/\s+/).map(Number);
  } catch {
    return [];
  }
}

/**
 * The cluster's processes by kind, for a load between the call and the returned function's:
 * each kind's CPU and its voluntary (a sleep: waiting for the client, a lock, a flush) and
 * involuntary (preempted) context switches, from /proc. Client backends are told apart by
 * Letterbox's application names (`letterbox events ...` the LISTEN connection, `letterbox
 * reads ...` the shared reads one; the others are the pool's), the rest by pg_stat_activity's
 * backend_type. A process that started during the load counts whole; those that ended
 * (autovacuum's workers, closed connections) are in "postmaster and ended", with the
 * postmaster's own time, from its reaped children's time.
 */
export async function sampleKinds(
  url: string,
  postmaster: number,
): Promise<() => Promise<Array<{ kind: string; procs: number } & ProcCounts>>> {
  const first = new Map<number, ProcCounts>();
  const reaped0 = reapedMs(postmaster);
  for (const pid of postmasterChildren(postmaster)) {
    const c = procCounts(pid);
    if (c) first.set(pid, c);
  }
  return async () => {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: url, application_name: 'bench kinds' });
    await c.connect();
    const kinds = new Map<number, string>();
    try {
      const r = await c.query<{ pid: number; backend_type: string; application_name: string }>(
        'SELECT pid, backend_type, application_name FROM pg_stat_activity',
      );
      for (const x of r.rows) {
        let kind = x.backend_type;
        if (kind === 'client backend') {
          if (x.application_name.startsWith('letterbox events')) kind = 'listen';
          else if (x.application_name.startsWith('letterbox reads')) kind = 'reads';
          else if (x.application_name === 'bench kinds') continue;
          else kind = 'pool';
        }
        kinds.set(x.pid, kind);
      }
    } finally {
      await c.end();
    }
    const out = new Map<string, { kind: string; procs: number } & ProcCounts>();
    const add = (kind: string, d: ProcCounts) => {
      const o = out.get(kind) ?? { kind, procs: 0, cpuMs: 0, voluntary: 0, involuntary: 0 };
      o.procs++;
      o.cpuMs += d.cpuMs;
      o.voluntary += d.voluntary;
      o.involuntary += d.involuntary;
      out.set(kind, o);
    };
    const now = postmasterChildren(postmaster);
    for (const pid of now) {
      const kind = kinds.get(pid);
      if (kind === undefined) continue;
      const b = procCounts(pid);
      if (!b) continue;
      const a = first.get(pid) ?? { cpuMs: 0, voluntary: 0, involuntary: 0 };
      add(kind, {
        cpuMs: b.cpuMs - a.cpuMs,
        voluntary: b.voluntary - a.voluntary,
        involuntary: b.involuntary - a.involuntary,
      });
    }
    // What ended processes used is in the postmaster's reaped children's time: all of it, so
    // the part used before the load is taken off for one that was alive then.
    const gone = [...first.keys()].filter((pid) => !now.includes(pid));
    const ended = gone.length;
    const before = gone.reduce((ms, pid) => ms + first.get(pid)!.cpuMs, 0);
    add('postmaster and ended', {
      cpuMs: reapedMs(postmaster) - reaped0 - before,
      voluntary: 0,
      involuntary: 0,
    });
    out.get('postmaster and ended')!.procs = ended + 1;
    return [...out.values()].sort((a, b) => b.cpuMs - a.cpuMs);
  };
}
