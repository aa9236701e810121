// Processes and ports for benches: free loopback ports, waiting for a server, and memory
// figures read from /proc (Linux).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';

// A port below the ephemeral range, as the tests pick theirs: the benches open thousands of
// outgoing connections, whose source ports come from the range listen(0) draws from, so a port
// probed there could be taken before the server started later binds it ("letterbox exited at
// start" with EADDRINUSE in its log, seen twice in bench runs).
export { freePort } from '../../test/helpers/free-port.js';

/** Resolves once something on 127.0.0.1:port sends a line starting with `220`. */
export async function waitForGreeting(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.once('data', (d: Buffer) => done(d.subarray(0, 3).toString('latin1') === '220'));
      s.once('error', () => done(false));
      s.setTimeout(2000, () => done(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing answered 220 on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function statusField(pid: number, field: string, file = 'status'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/${file}`, 'latin1'),
    );
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Peak resident set size of one process (VmHWM), in bytes. */
export function peakRss(pid: number): number | undefined {
  return statusField(pid, 'VmHWM');
}

/**
 * Resets the peak RSS mark of a process so VmHWM covers what follows (writing 5 to clear_refs,
 * Linux 4.0+; needs the right to write there). Returns false when it could not.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The process `root` and all its descendants, from /proc/<pid>/stat. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      // The command name is in parentheses and may hold spaces: fields follow the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * Current memory of a process tree: the sum of RSS (shared pages count once per process) and
 * of PSS (each shared page split among the processes that map it: closer to what it costs).
 */
export function treeMemory(root: number): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of processTree(root)) {
    rss += statusField(pid, 'VmRSS') ?? 0;
    pss += statusField(pid, 'Pss', 'smaps_rollup') ?? 0;
  }
  return { rss, pss };
}

/** Samples the memory of a process tree every `everyMs` and keeps the largest sums seen. */
export class RssSampler {
  private timer: NodeJS.Timeout | null = null;
  private max = { rss: 0, pss: 0 };

  constructor(
    private readonly root: () => number | undefined,
    private readonly everyMs = 250,
  ) {}

  private sample(): void {
    const pid = this.root();
    if (pid === undefined) return;
    const now = treeMemory(pid);
    this.max = { rss: Math.max(this.max.rss, now.rss), pss: Math.max(this.max.pss, now.pss) };
  }

  start(): void {
    this.max = { rss: 0, pss: 0 };
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }

  /** Stops sampling; the largest sums seen, in bytes. */
  stop(): { rss: number; pss: number } {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    return this.max;
  }
}

/** Linux reports process CPU times in clock ticks of USER_HZ, 100 per second on every arch. */
const TICK_MS = 10;

/** CPU time (user + system, all threads) used so far by a process tree, in ms. */
export function treeCpuMs(root: number): number {
  const t = treeCpuTimes(root);
  return t.user + t.system;
}

/** User and system CPU time (all threads) used so far by a process tree, each in ms. */
export function treeCpuTimes(root: number): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const pid of processTree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      // Fields after the command name: state is field 3, utime 14 and stime 15 (proc(5)).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(f[11]);
      system += Number(f[12]);
    } catch {
      // The process ended while we looked.
    }
  }
  return { user: user * TICK_MS, system: system * TICK_MS };
}

/**
 * CPU time (ms) of one process's threads from /proc/PID/task: the main thread (tid = pid) and
 * all the others (libuv's pool, V8's, workers), and the same total split into user and system.
 */
export function threadCpuTimes(pid: number): {
  main: number;
  other: number;
  user: number;
  system: number;
} {
  let main = 0;
  let other = 0;
  let user = 0;
  let system = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const u = Number(f[11]) * TICK_MS;
      const s = Number(f[12]) * TICK_MS;
      user += u;
      system += s;
      if (Number(tid) === pid) main += u + s;
      else other += u + s;
    } catch {
      // The thread ended while we looked.
    }
  }
  return { main, other, user, system };
}

/**
 * Waits at least `minMs`, then until the process tree has used less than `busyMs` of CPU over
 * a whole `windowMs` (work a server put off, such as index maintenance after deletions, is
 * done), or `maxMs` in all. Returns how long it waited and whether the tree went quiet.
 */
export async function waitQuiet(
  root: number | undefined,
  opts: { minMs: number; windowMs?: number; busyMs?: number; maxMs?: number },
): Promise<{ waitedMs: number; quiet: boolean }> {
  const { minMs, windowMs = 500, busyMs = 20, maxMs = 60_000 } = opts;
  const start = performance.now();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(minMs);
  if (root === undefined) return { waitedMs: performance.now() - start, quiet: false };
  let before = treeCpuMs(root);
  while (performance.now() - start < maxMs) {
    await sleep(windowMs);
    const now = treeCpuMs(root);
    if (now - before < busyMs) return { waitedMs: performance.now() - start, quiet: true };
    before = now;
  }
  return { waitedMs: performance.now() - start, quiet: false };
}

/** Nanoseconds the calling thread has run (schedstat(5)'s first field). */
export function ownThreadNs(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]);
}

/** Nanoseconds this whole process has run, brought up to date for the calling thread. */
export function ownProcessNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}
