// The index worker's background catch-up (fts-worker.ts catchUpBehind) steps aside while the
// thread that serves connections is busy and kept waiting for a CPU, so that commands and
// their clients are served first and the index is background work. A catch-up of 20,000
// never-searched messages costs the worker ~2.5 s of CPU; on a machine of two CPUs the main
// thread's commands and their clients ran beside it slower (bench/imap's big phase: UID FETCH
// 1:* ~20 ms alone, 36-44 beside it, issue 19). A higher nice value for the worker's thread
// would do this in the kernel, but searches run on that thread too, and a process not
// running as root cannot lower it again once raised (measured, twentieth session).
//
// Between two slices of a chunk (CATCH_UP_SLICE texts, ~3 ms) and before each chunk, the
// worker reads how long the main thread ran and waited to run (schedstat(5): /proc's
// per-thread scheduler counters, ns, moved at the scheduler's ticks, so over WINDOW_MS at
// least). When it was busy (BUSY_SHARE) and waited for a CPU (CONTENDED_SHARE), the chunk ends
// there (its texts and mark committed) and the next chunk waits, asked again every STEP_MS by
// a timer (the worker's thread idle, its requests answered meanwhile), until the main thread
// is not busy or AWAY_MAX_MS have passed. Under a main thread busy for good the catch-up still
// goes on, a slice in AWAY_MAX_MS. Waiting costs no CPU; the work is the same, done later.
// Where /proc has no schedstat (not Linux), nothing changes.
import { readFileSync } from 'node:fs';

/** Share of the time passed that the main thread ran or waited to run that counts as busy. */
const BUSY_SHARE = 0.5;
/**
 * ...and that it waited for a CPU, for the catch-up to step aside: on a machine with a CPU to
 * spare for each, the main thread waits for none and the catch-up goes on beside it.
 */
const CONTENDED_SHARE = 0.1;
/** While aside, the catch-up looks again this often (ms): a timer, the worker's thread idle. */
export const STEP_MS = 2;
/**
 * A step aside lasts at most this long (ms); the next comes after a slice at the earliest, so
 * under a main thread kept busy for good the catch-up still goes on, a slice (~3 ms) in ~50.
 */
const AWAY_MAX_MS = 50;

/** Nanoseconds a thread has run and waited to run (schedstat(5)'s first two fields). */
function readSchedstat(file: string): { run: number; wait: number } | null {
  try {
    const f = readFileSync(file, 'latin1').split(' ');
    const run = Number(f[0]);
    const wait = Number(f[1]);
    return Number.isFinite(run) && Number.isFinite(wait) ? { run, wait } : null;
  } catch {
    return null;
  }
}

/** Of the wall time since the last sample, the shares a thread ran and waited to run. */
export interface Demand {
  run: number;
  wait: number;
}

/**
 * The counters move at the scheduler's ticks (4 ms at 250 Hz) for a thread that runs on: a
 * share is taken over this long at least, and stands until the next such window ends.
 */
const WINDOW_MS = 12;

/** How busy a thread of this process is, and how long it waited for a CPU: its counters. */
export class ThreadDemand {
  private readonly file: string | null;
  private baseRun = 0;
  private baseWait = 0;
  private baseAt = 0;
  private last: Demand = { run: 0, wait: 0 };

  /** `tid`: the thread's id; the main thread's is the process id. */
  constructor(tid: number = process.pid) {
    const file = `/proc/self/task/${tid}/schedstat`;
    this.file = readSchedstat(file) === null ? null : file;
    this.sample();
  }

  /** False where the counters cannot be read: `sample` then always answers null. */
  get known(): boolean {
    return this.file !== null;
  }

  /**
   * The shares (see Demand) over the last window of WINDOW_MS or more that has ended, the
   * next one begun where it ended; null when unknown.
   */
  sample(): Demand | null {
    if (this.file === null) return null;
    const at = performance.now();
    const ms = at - this.baseAt;
    if (ms < WINDOW_MS) return this.last;
    const ns = readSchedstat(this.file);
    if (ns === null) return null;
    this.last = {
      run: (ns.run - this.baseRun) / 1e6 / ms,
      wait: (ns.wait - this.baseWait) / 1e6 / ms,
    };
    this.baseRun = ns.run;
    this.baseWait = ns.wait;
    this.baseAt = at;
    return this.last;
  }
}

/**
 * When the catch-up steps aside for the main thread (see above); counts what it did
 * (monitoring, tests).
 */
export class StepAside {
  private readonly main = new ThreadDemand();
  /** When the step aside under way began, or null. */
  private awaySince: number | null = null;

  /**
   * `counts`: [steps aside, ms they lasted], written with Atomics so that another thread can
   * read them while this one runs (a test spinning the main thread).
   */
  constructor(private readonly counts: Int32Array | null = null) {}

  /**
   * Asked between two slices of a catch-up chunk and before each chunk: true while the
   * catch-up is to stay aside (the chunk ends there, the next waits STEP_MS and asks again).
   * A step aside begins when the main thread was busy and kept waiting for a CPU, and ends
   * once it is not busy or after AWAY_MAX_MS.
   */
  now(): boolean {
    const d = this.main.sample();
    const at = performance.now();
    if (this.awaySince !== null) {
      if (d !== null && d.run + d.wait >= BUSY_SHARE && at - this.awaySince < AWAY_MAX_MS) {
        return true;
      }
      if (this.counts !== null) Atomics.add(this.counts, 1, Math.round(at - this.awaySince));
      this.awaySince = null;
      return false;
    }
    if (d === null || d.wait < CONTENDED_SHARE || d.run + d.wait < BUSY_SHARE) return false;
    this.awaySince = at;
    if (this.counts !== null) Atomics.add(this.counts, 0, 1);
    return true;
  }
}
