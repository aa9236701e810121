// prom-client's default metrics (process CPU, memory, handles, heap, GC, version) without its
// event loop delay, which event-loop-lag.ts samples only while /metrics is scraped.
// collectDefaultMetrics registers all of them and gives no way to leave one out or to stop
// the delay's sampling timer, so each collector is loaded by the name prom-client lists
// (`collectDefaultMetrics.metricsList`, one file each under lib/metrics in 15.x).
import { createRequire } from 'node:module';
import { collectDefaultMetrics, type Registry } from 'prom-client';

const require = createRequire(import.meta.url);

type Collector = (registry: Registry, config: Record<string, unknown>) => void;

/** The default collectors but the event loop delay's, registered into `registry`. */
export function registerDefaultMetrics(registry: Registry): void {
  for (const name of collectDefaultMetrics.metricsList) {
    if (name === 'eventLoopLag') continue;
    (require(`prom-client/lib/metrics/${name}`) as Collector)(registry, {});
  }
}
