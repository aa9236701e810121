// What `letterbox store migrate` tells while it runs: on a terminal one progress bar
// (cli-progress) over all rows with the table being copied, the rate and the ETA; otherwise
// JSON lines on stdout, for scripts and logs: each table's first batch, its progress at most
// once a second, and its end; then each table of the final check.
import { SingleBar } from 'cli-progress';
import type { MigrateListener } from '../../store/migrate/copy.js';

export function jsonMigrateProgress(
  write: (line: string) => void = (l) => process.stdout.write(l),
  now: () => number = Date.now,
): MigrateListener {
  let last = 0;
  let current = '';
  return {
    begin(tables, resumed) {
      write(`${JSON.stringify({ event: 'begin', resumed, tables })}\n`);
    },
    copied(table, done, total) {
      const t = now();
      // A table's first batch and its last, and every second between.
      if (t - last < 1000 && done < total && table === current) return;
      last = t;
      current = table;
      write(`${JSON.stringify({ event: 'copied', table, done, total })}\n`);
    },
    verifying(table) {
      write(`${JSON.stringify({ event: 'verifying', table })}\n`);
    },
  };
}

export function barMigrateProgress(): MigrateListener & { stop(): void } {
  const bar = new SingleBar({
    format: '{bar} {percentage}% | {value}/{total} rows | {rate}/s | ETA {eta_formatted} | {table}',
    stream: process.stderr,
    hideCursor: true,
    etaBuffer: 200,
    fps: 5,
  });
  const before = new Map<string, number>();
  let base = 0;
  let started = Date.now();
  let copiedNow = 0;
  let running = false;
  const rate = () => Math.round(copiedNow / Math.max((Date.now() - started) / 1000, 0.001));
  return {
    begin(tables) {
      // Each table's offset: the rows of the tables before it.
      let total = 0;
      let done = 0;
      for (const t of tables) {
        before.set(t.name, total);
        total += t.total;
        done += t.done;
      }
      base = done;
      started = Date.now();
      bar.start(Math.max(total, 1), done, { table: '', rate: 0 });
      running = true;
    },
    copied(table, done) {
      const value = (before.get(table) ?? 0) + done;
      copiedNow = value - base;
      bar.update(value, { table, rate: rate() });
    },
    verifying(table) {
      bar.update({ table: `checking ${table}` });
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}
