// What an import or export tells while it runs: on a terminal a progress bar (cli-progress)
// with the rate and, when the total is known, the ETA; otherwise one JSON line per folder on
// stdout, for scripts and logs. Failures go to stderr as they happen in both cases.
import { SingleBar } from 'cli-progress';
import type { FolderResult, ImportFailure, ImportProgress } from './import.js';

export function jsonProgress(
  write: (line: string) => void = (l) => process.stdout.write(l),
): ImportProgress {
  return {
    folderStart() {},
    tick() {},
    failure(f: ImportFailure) {
      process.stderr.write(`letterbox: failed: ${f.source}: ${f.reason}\n`);
    },
    folderDone(r: FolderResult) {
      write(`${JSON.stringify(r)}\n`);
    },
  };
}

/** A bar over `total` messages (0: unknown, then only the count and the rate are shown). */
export function barProgress(total: number): ImportProgress & { stop(): void } {
  const started = Date.now();
  let done = 0;
  const format =
    total > 0
      ? '{bar} {percentage}% | {value}/{total} messages | {rate}/s | ETA {eta_formatted} | {folder}'
      : '{value} messages | {rate}/s | {folder}';
  const bar = new SingleBar({
    format,
    stream: process.stderr,
    hideCursor: true,
    etaBuffer: 500,
    fps: 5,
  });
  bar.start(total, 0, { folder: '', rate: 0 });
  const rate = () => Math.round(done / Math.max((Date.now() - started) / 1000, 0.001));
  return {
    folderStart(name: string) {
      bar.update({ folder: name });
    },
    tick() {
      done++;
      if (total > 0 && done > total) bar.setTotal(done);
      bar.update(done, { rate: rate() });
    },
    failure(f: ImportFailure) {
      // Above the bar, which redraws below it.
      process.stderr.write(`\r\x1b[Kletterbox: failed: ${f.source}: ${f.reason}\n`);
    },
    folderDone() {},
    stop() {
      bar.stop();
    },
  };
}
