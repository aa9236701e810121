// A bounded queue in front of password hashing. scrypt runs on libuv's threadpool (4 threads
// by default), which file I/O and DNS lookups share, and each verification is ~60 ms of CPU:
// without a bound, 60 wrong logins at once took every thread and made a real login wait 4.9 s
// behind them. Here at most `concurrency` hashes run at a time, attempts from (account, source)
// pairs that logged in before go first, the queue has a length past which attempts are refused
// (a temporary failure, not an ever longer wait), and one source cannot take the whole queue:
// a source's jobs past maxPerSource wait in that source's own lane and enter the queue one by
// one as its earlier jobs finish, so 50 clients of one office (or one NAT, or a benchmark on
// loopback) logging in at once all get in, in turn, while other sources never wait behind
// more than maxPerSource of its jobs. Only past maxWaitingPerSource is a source refused.
//
// Credentials in the verified cache (verified-cache.ts) never come here: they need no hash.
import { availableParallelism } from 'node:os';

export type HashPriority = 'high' | 'normal';

export interface HashPoolOptions {
  /** Hashes running at once; default defaultHashConcurrency(). */
  concurrency?: number;
  /** Waiting jobs kept per priority; past it, submit() refuses. */
  maxQueued?: number;
  /** Jobs queued or running per source; past it, that source's jobs wait in its lane. */
  maxPerSource?: number;
  /** Jobs waiting in one source's lane; past it, submit() refuses that source. */
  maxWaitingPerSource?: number;
}

export const DEFAULT_MAX_QUEUED_HASHES = 128;
export const DEFAULT_MAX_HASHES_PER_SOURCE = 8;
export const DEFAULT_MAX_WAITING_PER_SOURCE = 256;

/**
 * Half of libuv's threadpool (UV_THREADPOOL_SIZE, default 4), so that file I/O and DNS always
 * have threads left, and no more than the CPUs, beyond which running more gains nothing.
 */
export function defaultHashConcurrency(
  env: NodeJS.ProcessEnv = process.env,
  cpus = availableParallelism(),
): number {
  const uv = Number.parseInt(env.UV_THREADPOOL_SIZE ?? '', 10);
  const threads = Number.isInteger(uv) && uv > 0 ? uv : 4;
  return Math.max(1, Math.min(cpus, Math.floor(threads / 2)));
}

export class HashPool {
  readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly maxPerSource: number;
  private readonly maxWaitingPerSource: number;
  private running = 0;
  private readonly queues: Record<HashPriority, Array<() => void>> = { high: [], normal: [] };
  /** Heads of the queues (arrays used as FIFOs without shift()'s copying). */
  private readonly heads: Record<HashPriority, number> = { high: 0, normal: 0 };
  private readonly perSource = new Map<string, number>();
  /** Per source, jobs past maxPerSource, in arrival order, with their priority. */
  private readonly lanes = new Map<string, Array<{ run: () => void; priority: HashPriority }>>();

  constructor(opts: HashPoolOptions = {}) {
    this.concurrency = opts.concurrency ?? defaultHashConcurrency();
    this.maxQueued = opts.maxQueued ?? DEFAULT_MAX_QUEUED_HASHES;
    this.maxPerSource = opts.maxPerSource ?? DEFAULT_MAX_HASHES_PER_SOURCE;
    this.maxWaitingPerSource = opts.maxWaitingPerSource ?? DEFAULT_MAX_WAITING_PER_SOURCE;
    for (const [k, v] of Object.entries({
      concurrency: this.concurrency,
      maxQueued: this.maxQueued,
      maxPerSource: this.maxPerSource,
      maxWaitingPerSource: this.maxWaitingPerSource,
    })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`HashPool: ${k} must be >= 1`);
    }
  }

  /**
   * Run `task` when a slot is free, high priority first, then in arrival order; a source's
   * jobs past maxPerSource first wait in its lane. Returns null at once, without running it,
   * when the queue for this priority is full or the source's lane is full: the caller answers
   * with a temporary failure.
   */
  submit<T>(task: () => Promise<T>, priority: HashPriority, source: string): Promise<T> | null {
    const held = this.perSource.get(source) ?? 0;
    const lane = this.lanes.get(source);
    const toLane = held >= this.maxPerSource;
    if (toLane && (lane?.length ?? 0) >= this.maxWaitingPerSource) return null;
    const mustWait = this.running >= this.concurrency;
    if (!toLane && mustWait && this.waiting(priority) >= this.maxQueued) return null;
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        this.running++;
        let p: Promise<T>;
        try {
          p = task();
        } catch (err) {
          p = Promise.reject(err);
        }
        // The slot is free before the caller resumes, so what it submits next finds it free.
        p.then(
          (v) => {
            this.done(source);
            resolve(v);
          },
          (err: unknown) => {
            this.done(source);
            reject(err);
          },
        );
      };
      if (toLane) {
        if (lane === undefined) this.lanes.set(source, [{ run, priority }]);
        else lane.push({ run, priority });
        return;
      }
      this.perSource.set(source, held + 1);
      this.enqueue(run, priority);
    });
  }

  private enqueue(run: () => void, priority: HashPriority): void {
    if (this.running >= this.concurrency) this.queues[priority].push(run);
    else run();
  }

  /** Jobs running and waiting, for metrics and tests. */
  get size(): { running: number; high: number; normal: number; inLanes: number } {
    let inLanes = 0;
    for (const lane of this.lanes.values()) inLanes += lane.length;
    return {
      running: this.running,
      high: this.waiting('high'),
      normal: this.waiting('normal'),
      inLanes,
    };
  }

  private waiting(priority: HashPriority): number {
    return this.queues[priority].length - this.heads[priority];
  }

  private done(source: string): void {
    this.running--;
    const lane = this.lanes.get(source);
    const promoted = lane?.shift();
    if (lane !== undefined && lane.length === 0) this.lanes.delete(source);
    if (promoted === undefined) {
      // The source's count drops only when no job of its lane takes the freed place.
      const held = (this.perSource.get(source) ?? 1) - 1;
      if (held <= 0) this.perSource.delete(source);
      else this.perSource.set(source, held);
    }
    const next = this.take('high') ?? this.take('normal');
    next?.();
    // Behind what already waited in the queue: the lane gives no head start.
    if (promoted !== undefined) this.enqueue(promoted.run, promoted.priority);
  }

  private take(priority: HashPriority): (() => void) | undefined {
    const q = this.queues[priority];
    if (this.heads[priority] >= q.length) return undefined;
    const job = q[this.heads[priority]];
    this.heads[priority]++;
    // Compact once the consumed head is large, so the array does not grow for good.
    if (this.heads[priority] >= 1024 || this.heads[priority] === q.length) {
      q.splice(0, this.heads[priority]);
      this.heads[priority] = 0;
    }
    return job;
  }
}
