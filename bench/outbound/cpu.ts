// CPU time of a server that forks short-lived workers. Postfix's smtp(8) processes exit after
// max_use deliveries and are reaped by master(8): their time then moves to master's cutime and
// cstime. Summing utime + stime + cutime + cstime over the live tree therefore never loses the
// time of a worker that ended, and counts each once (a live process's cutime holds only its
// reaped children).
import { readdirSync, readFileSync } from 'node:fs';
import { processTree } from '../lib/proc.js';

/** Linux reports CPU times in USER_HZ ticks, 100 per second on every architecture. */
const TICK_MS = 10;

/** CPU time (user + system, all threads, reaped children included) of a process tree, in ms. */
export function treeCpuWithChildrenMs(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      // Fields after the command name: utime 14, stime 15, cutime 16, cstime 17 (proc(5)).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // The process ended while we looked (its time is in its parent's cutime now).
    }
  }
  return ticks * TICK_MS;
}

/**
 * The name V8 gives the thread of its CPU profiler (node --cpu-prof), which samples the main
 * thread every millisecond for as long as the process lives.
 */
const PROFILER_THREAD = 'v8:ProfEvntProc';

/**
 * CPU time of the tree's CPU profiler threads, in ms (0 without --cpu-prof). Together with the
 * main thread's share of the sampling, a profiled server never used less than ~20 ms of CPU
 * per 500 ms even when idle, so waitIdle only ever ended at its maxMs (two minutes per wait).
 */
export function profilerCpuMs(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim() !== PROFILER_THREAD)
          continue;
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(f[11]) + Number(f[12]);
      } catch {
        // The thread ended while we looked.
      }
    }
  }
  return ticks * TICK_MS;
}

/**
 * Waits at least `minMs`, then until the tree used under `busyMs` of CPU over `windowMs`, or
 * `maxMs` in all (as bench/lib/proc.ts waitQuiet, with reaped children counted). A CPU
 * profiler's own thread is not counted as work (profilerCpuMs); what is counted as the run's
 * CPU elsewhere (treeCpuWithChildrenMs) still holds it.
 */
export async function waitIdle(
  root: number,
  opts: { minMs: number; windowMs?: number; busyMs?: number; maxMs?: number },
): Promise<boolean> {
  const { minMs, windowMs = 500, busyMs = 20, maxMs = 120_000 } = opts;
  const start = performance.now();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(minMs);
  const busy = () => treeCpuWithChildrenMs(root) - profilerCpuMs(root);
  let before = busy();
  while (performance.now() - start < maxMs) {
    await sleep(windowMs);
    const now = busy();
    if (now - before < busyMs) return true;
    before = now;
  }
  return false;
}
