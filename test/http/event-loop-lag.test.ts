// nodejs_eventloop_lag_*: the loop's delay is sampled only while /metrics is scraped (no timer
// waking an idle server otherwise), the figures prom-client's default metrics had are all
// there, and sampling stops once the scrapes stop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { EventLoopLag } from '../../src/http/event-loop-lag.js';
import { ServerMetrics } from '../../src/http/metrics.js';
import { eventually } from '../helpers/eventually.js';
import { sample } from '../helpers/prom-sample.js';

const NAMES = ['', '_min', '_max', '_mean', '_stddev', '_p50', '_p90', '_p99'].map(
  (s) => `nodejs_eventloop_lag${s}_seconds`,
);

test('a server that is not scraped does not sample the loop; a scrape starts it', async () => {
  const m = new ServerMetrics();
  try {
    assert.equal(m.lag.sampling, false);
    const first = await m.text();
    assert.equal(m.lag.sampling, true);
    for (const n of NAMES) assert.equal(sample(first, n), 0, n);
    // The other default metrics are still exported, once each.
    for (const n of [
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
      'nodejs_version_info',
    ]) {
      assert.equal(first.split('\n').filter((l) => l.startsWith(`# TYPE ${n} `)).length, 1, n);
    }
    for (const n of NAMES) {
      assert.equal(first.split('\n').filter((l) => l.startsWith(`# TYPE ${n} `)).length, 1, n);
    }
    // Samples taken between two scrapes: the second one reads them.
    const until = Date.now() + 400;
    while (Date.now() < until) await new Promise((r) => setImmediate(r));
    await eventually(
      async () => (sample(await m.text(), 'nodejs_eventloop_lag_max_seconds') ?? 0) > 0,
      'samples',
      10_000,
    );
    assert.ok((sample(await m.text(), 'nodejs_eventloop_lag_seconds') ?? 0) > 0);
  } finally {
    m.close();
  }
  assert.equal(m.lag.sampling, false);
});

test('sampling stops when no scrape has come for a while', async () => {
  const r = new Registry();
  const lag = new EventLoopLag(r, 100, 10);
  try {
    await r.metrics();
    assert.equal(lag.sampling, true);
    await eventually(() => !lag.sampling, 'sampling stopped', 10_000);
    await r.metrics();
    assert.equal(lag.sampling, true);
  } finally {
    lag.stop();
  }
});
