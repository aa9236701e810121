// The event loop's delay for /metrics (nodejs_eventloop_lag_*), sampled only while /metrics is
// being scraped.
//
// prom-client's default metrics sample it with perf_hooks' monitorEventLoopDelay from the
// moment they are registered: a libuv timer that fires every `resolution` ms for as long as
// the process runs, whether anyone reads the figures or not. At 100 ms that is ten wake-ups a
// second of an idle server's main thread (~1-1.5 ms of CPU a second on the bench machine, most
// of what an idle node spends). The figures are computed from the samples since the previous
// scrape (the histogram is reset at each one), so samples taken while nobody scrapes are never
// read: here the histogram is enabled at a scrape and disabled once no scrape has come for
// IDLE_AFTER_MS. What the gauges mean is unchanged for a scraper (the delays measured since
// its previous scrape), except that the first scrape after a start or a long pause has no
// samples yet: its min / max / mean / percentiles are 0; the next scrape's cover the interval
// between the two.
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/**
 * How often the delay is sampled while sampling (monitorEventLoopDelay's resolution). A stall
 * of the loop delays the next sample by as much as it lasts. (prom-client's default, 10 ms,
 * costs ~4.5 ms of CPU a second a process here.)
 */
export const LAG_SAMPLE_MS = 100;

/** Sampling stops when no scrape has come for this long (Prometheus scrapes every 15-60 s). */
export const LAG_IDLE_AFTER_MS = 10 * 60 * 1000;

/** The names and help of prom-client's eventLoopLag metrics (15.x), kept for dashboards. */
const STATS: ReadonlyArray<[string, string, (h: IntervalHistogram) => number]> = [
  ['min', 'The minimum recorded event loop delay.', (h) => h.min],
  ['max', 'The maximum recorded event loop delay.', (h) => h.max],
  ['mean', 'The mean of the recorded event loop delays.', (h) => h.mean],
  ['stddev', 'The standard deviation of the recorded event loop delays.', (h) => h.stddev],
  ['p50', 'The 50th percentile of the recorded event loop delays.', (h) => h.percentile(50)],
  ['p90', 'The 90th percentile of the recorded event loop delays.', (h) => h.percentile(90)],
  ['p99', 'The 99th percentile of the recorded event loop delays.', (h) => h.percentile(99)],
];

export class EventLoopLag {
  private histogram: IntervalHistogram | null = null;
  private stopTimer: NodeJS.Timeout | null = null;

  constructor(
    registry: Registry,
    private readonly idleAfterMs = LAG_IDLE_AFTER_MS,
    private readonly sampleMs = LAG_SAMPLE_MS,
  ) {
    const stats = STATS.map(
      ([name, help, read]) =>
        [
          new Gauge({ name: `nodejs_eventloop_lag_${name}_seconds`, help, registers: [registry] }),
          read,
        ] as const,
    );
    const lag: Gauge = new Gauge({
      name: 'nodejs_eventloop_lag_seconds',
      help: 'Lag of event loop in seconds.',
      registers: [registry],
      // One collect sets them all, as prom-client's does.
      collect: () => {
        // The time to the next turn of the loop, seen by the scrape after this one.
        const start = process.hrtime.bigint();
        // unguarded: the process's gauge, not a connection's; a number set cannot throw
        setImmediate(() => lag.set(Number(process.hrtime.bigint() - start) / 1e9));
        const h = this.scraped();
        // Just enabled, nothing sampled yet: 0, not what the last scrape before a pause read.
        for (const [gauge, read] of stats) gauge.set(h.count === 0 ? 0 : read(h) / 1e9);
        h.reset();
      },
    });
  }

  /** Whether the loop's delay is being sampled now (a scrape came within idleAfterMs). */
  get sampling(): boolean {
    return this.histogram !== null;
  }

  /** A scrape: sampling on (if it was not), and its end pushed back. */
  private scraped(): IntervalHistogram {
    if (!this.histogram) {
      this.histogram = monitorEventLoopDelay({ resolution: this.sampleMs });
      this.histogram.enable();
    }
    if (this.stopTimer) this.stopTimer.refresh();
    else {
      // unguarded: the process's sampling, not a connection's; stop() does not throw
      this.stopTimer = setTimeout(() => this.stop(), this.idleAfterMs);
      this.stopTimer.unref();
    }
    return this.histogram;
  }

  /** No scrape for a while, or the server stops. */
  stop(): void {
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.stopTimer = null;
    this.histogram?.disable();
    this.histogram = null;
  }
}
