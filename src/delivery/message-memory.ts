// Memory for received messages, used again by the next message. A 1 MB message arrives as
// socket chunks and is assembled into one Buffer (headroom.ts); allocating that Buffer fresh
// for every message adds a megabyte of external memory per message, and V8 answers external
// growth with full garbage collections (measured: about 10% more throughput at 10 sessions x
// 1 MB when the memory is reused). A Buffer goes back only when the session knows nothing
// holds it any more (after delivery answered), and a few are kept, for a while.

/** Largest Buffer kept for reuse; bigger messages get their own memory, freed by GC. */
const KEEP_MAX = 4 << 20;
/** Total kept, over all sessions. */
const KEEP_TOTAL = 16 << 20;
/** Kept memory is dropped after this long without a delivery. */
const KEEP_IDLE_MS = 30_000;

const spare: Buffer[] = [];
let spareBytes = 0;
let idleTimer: NodeJS.Timeout | undefined;
/** Memory handed out by take() and not given back yet: only that may come back, once. */
const lent = new WeakSet<ArrayBufferLike>();
/** Memory handed out by take() that must not come back (see pin). */
const pinned = new WeakSet<ArrayBufferLike>();

/**
 * `n` bytes of memory no other Buffer shares (never a pooled slab), uninitialized: a spare
 * one that fits (and is not more than twice too big), else a new one.
 */
export function take(n: number): Buffer {
  for (let i = 0; i < spare.length; i++) {
    const b = spare[i]!;
    if (b.length >= n && b.length <= 2 * n) {
      spare.splice(i, 1);
      spareBytes -= b.length;
      lent.add(b.buffer);
      return b.subarray(0, n);
    }
  }
  const b = Buffer.allocUnsafeSlow(n);
  lent.add(b.buffer);
  return b;
}

/**
 * Something may still read this memory after the session is done with it (a check that
 * timed out and runs on in the background): give() will not reuse it.
 */
export function pin(view: Buffer): void {
  pinned.add(view.buffer);
}

/**
 * Hands back the memory under `view` (from take()) for a later message. The caller
 * guarantees that nothing reads or writes it any more.
 */
export function give(view: Buffer): void {
  const memory = view.buffer;
  // Memory not from take(), or given back already, never goes on the spare list (twice).
  if (!lent.delete(memory)) return;
  if (pinned.has(memory) || memory.byteLength > KEEP_MAX) return;
  if (spareBytes + memory.byteLength > KEEP_TOTAL) return;
  spare.push(Buffer.from(memory));
  spareBytes += memory.byteLength;
  if (idleTimer) idleTimer.refresh();
  else {
    idleTimer = setTimeout(() => {
      spare.length = 0;
      spareBytes = 0;
      idleTimer = undefined;
    }, KEEP_IDLE_MS);
    idleTimer.unref();
  }
}
