// Open-file limits for benches that hold thousands of connections. Node cannot call
// setrlimit(2), so a process that needs more re-executes itself once under `ulimit -n HARD`;
// the servers it starts inherit the raised limit.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Soft and hard RLIMIT_NOFILE of this process, from /proc/self/limits (Linux). */
export function fdLimits(): { soft: number; hard: number } {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
    readFileSync('/proc/self/limits', 'latin1'),
  );
  const n = (s: string | undefined) => (s === undefined || s === 'unlimited' ? 1 << 20 : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

const GUARD = 'LETTERBOX_BENCH_FD_RAISED';

/**
 * When the soft limit is below `wanted` and the hard limit allows more, runs this same command
 * again under a raised soft limit and exits with its status (never returns then).
 */
export function raiseFdLimitOrReexec(wanted: number): void {
  const { soft, hard } = fdLimits();
  if (soft >= wanted || soft >= hard || process.env[GUARD]) return;
  const limit = Math.min(hard, Math.max(wanted, soft));
  process.stderr.write(`raising the open-file limit from ${soft} to ${limit} (hard ${hard})\n`);
  const r = spawnSync(
    'bash',
    [
      '-c',
      `ulimit -n ${limit} && exec "$0" "$@"`,
      process.execPath,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, [GUARD]: '1' } },
  );
  process.exit(r.status ?? 1);
}
