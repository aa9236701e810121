// Giving back the heap a large cached mailbox held. When the record cache lets a large list go
// (record-cache.ts, after the last session that had the mailbox selected left), its rows are
// garbage in V8's old generation. V8 collects them only when allocation next reaches the
// limit it set while they were live: in a server that goes quiet after a big mailbox's
// session, that is late, and meanwhile every later allocation is measured against the larger
// heap (bench/imap's IDLE phase, after its big-mailbox phase, peaked higher than alone; issue
// 14 §4). So one full collection is asked for then: a pause of tens of milliseconds, at most
// once a minute, only after a list of more than LARGE_LIST rows went.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** At most one collection asked for in this long. */
const MIN_INTERVAL_MS = 60_000;

let collect: (() => void) | null | undefined;
let last = Number.NEGATIVE_INFINITY;

/** V8's gc(), made available to a context of its own (the process's flags are not changed for code already running). */
function collector(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    collect = typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    collect = null;
  }
  return collect;
}

/** A large cached list was dropped: one full collection, unless one was made recently. */
export function releaseHeap(now = Date.now()): boolean {
  if (now - last < MIN_INTERVAL_MS) return false;
  const gc = collector();
  if (!gc) return false;
  last = now;
  gc();
  return true;
}
