// Counters and histograms for hot paths, exported through a prom-client Registry.
//
// prom-client's own metrics build a label string (and validate the labels) on every inc() or
// observe(), even through a bound child. These do that once, when a child is bound: a child is
// a few numbers, and recording into it is an add (a counter) or a short bucket scan (a
// histogram). The text is made only when /metrics is scraped.
import type { Metric, Registry } from 'prom-client';

/** One series of a counter family: the values of its labels, bound once. */
export class CounterChild {
  value = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}

  inc(n = 1): void {
    this.value += n;
  }
}

/** One series of a histogram family. `counts[i]` holds observations in bucket i only. */
export class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    if (i < b.length) this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }

  /** Adds another child's observations (a worker process's snapshot) to this one. */
  add(snapshot: HistogramSnapshot): void {
    for (let i = 0; i < this.counts.length && i < snapshot.counts.length; i++) {
      this.counts[i]! += snapshot.counts[i]!;
    }
    this.sum += snapshot.sum;
    this.count += snapshot.count;
  }
}

/** A histogram child as plain data, for crossing a process boundary. */
export interface HistogramSnapshot {
  labels: string[];
  counts: number[];
  sum: number;
  count: number;
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

abstract class Family<C extends { labels: Readonly<Record<string, string>> }> {
  protected readonly children = new Map<string, C>();
  /** Called before each export (scrape): to set values read from elsewhere. */
  collect?: () => void | Promise<void>;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected abstract make(labels: Record<string, string>): C;
  abstract readonly type: 'counter' | 'histogram';
  protected abstract valuesOf(child: C): MetricValue[];

  /** The series for these label values (in labelNames order), made on first use. */
  child(...values: string[]): C {
    const key = values.join('\u0000');
    let c = this.children.get(key);
    if (!c) {
      if (values.length !== this.labelNames.length) {
        throw new Error(`${this.name}: ${this.labelNames.length} label values expected`);
      }
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => {
        labels[n] = values[i]!;
      });
      c = this.make(labels);
      this.children.set(key, c);
    }
    return c;
  }

  /** What prom-client's Registry asks of a metric. */
  async get() {
    await this.collect?.();
    const values: MetricValue[] = [];
    for (const c of this.children.values()) values.push(...this.valuesOf(c));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }

  reset(): void {
    this.children.clear();
  }

  register(registry: Registry): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

export class CounterFamily extends Family<CounterChild> {
  readonly type = 'counter';

  protected make(labels: Record<string, string>): CounterChild {
    return new CounterChild(labels);
  }

  protected valuesOf(c: CounterChild): MetricValue[] {
    return [{ value: c.value, labels: { ...c.labels } }];
  }
}

/** Default buckets for command and commit latencies, in seconds. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

export class HistogramFamily extends Family<HistogramChild> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {
    super(name, help, labelNames);
  }

  protected make(labels: Record<string, string>): HistogramChild {
    return new HistogramChild(labels, this.buckets);
  }

  protected valuesOf(c: HistogramChild): MetricValue[] {
    const out: MetricValue[] = [];
    let acc = 0;
    const bucket = `${this.name}_bucket`;
    this.buckets.forEach((le, i) => {
      acc += c.counts[i]!;
      out.push({ value: acc, labels: { ...c.labels, le }, metricName: bucket });
    });
    out.push({ value: c.count, labels: { ...c.labels, le: '+Inf' }, metricName: bucket });
    out.push({ value: c.sum, labels: { ...c.labels }, metricName: `${this.name}_sum` });
    out.push({ value: c.count, labels: { ...c.labels }, metricName: `${this.name}_count` });
    return out;
  }

  /**
   * The series that recorded anything since the last drain, as plain data, and zeroes them
   * (a worker process sends these to the main one, which adds them up).
   */
  drain(): HistogramSnapshot[] {
    const out: HistogramSnapshot[] = [];
    for (const c of this.children.values()) {
      if (c.count === 0) continue;
      out.push({
        labels: this.labelNames.map((n) => c.labels[n]!),
        counts: [...c.counts],
        sum: c.sum,
        count: c.count,
      });
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
    return out;
  }
}
