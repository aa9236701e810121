// How far V8 lets the server's heaps grow past what a full collection kept. V8 sets a heap's
// next limit at the live size times a factor it derives from how fast it collects against how
// fast the program allocates (1.1 to 4). A server that promotes a steady stream of short-lived
// objects (each delivery's parse and statements outlive a young collection while the group
// commit waits) reaches a ~33 MB live heap where that factor left ~23 MB of room: V8 then
// starts marking again at once, and made a full collection every ~250 ms for seconds at a
// time, 13 to 37 a run of 10,500 deliveries on a PostgreSQL node against 3 or 4 with a fixed
// factor of 3 (docs/design-notes.md, seventeenth and eighteenth sessions, issue 17).
// The flag is the process's: V8 reads it whenever it sets a heap's next limit, in every
// isolate (the main thread and the full-text index worker alike), so setting it at the start
// of `serve` is enough. An operator who gives Node the flag (`node --heap-growing-percent=N
// bin/letterbox.js serve`) keeps theirs. `letterbox import` sets its own (cli/commands/import.ts).
import { setFlagsFromString } from 'node:v8';

/** Growth past the live heap before the next full collection, in percent: a factor of 3. */
export const SERVE_HEAP_GROWING_PERCENT = 200;

/** Whether Node's own command line already sets the factor (V8 accepts - and _ alike). */
export function heapGrowingGiven(execArgv: readonly string[]): boolean {
  return execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
}

/** Sets the server's factor unless the operator gave Node one. */
export function setServeHeapGrowing(execArgv: readonly string[] = process.execArgv): void {
  if (heapGrowingGiven(execArgv)) return;
  setFlagsFromString(`--heap-growing-percent=${SERVE_HEAP_GROWING_PERCENT}`);
}
