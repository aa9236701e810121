// The sessions to tell when their listener shuts down: one 'abort' listener per listener's
// signal and a Set entry per session, instead of an EventTarget listener (and its closure)
// added and removed by every connection (1-2% of the main thread in the login mix, issue 19;
// IMAP and SMTP sessions).

export interface ShutdownTarget {
  /** Called once when the signal aborts; must not throw. */
  shutDown(): void;
}

const watched = new WeakMap<AbortSignal, Set<ShutdownTarget>>();

/** Tells `target` when `signal` aborts (at once if it has already). */
export function watchShutdown(signal: AbortSignal, target: ShutdownTarget): void {
  if (signal.aborted) {
    target.shutDown();
    return;
  }
  let targets = watched.get(signal);
  if (!targets) {
    const set = new Set<ShutdownTarget>();
    targets = set;
    watched.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        watched.delete(signal);
        for (const t of set) t.shutDown();
        set.clear();
      },
      { once: true },
    );
  }
  targets.add(target);
}

/** Stops telling `target` (a session that ended). */
export function unwatchShutdown(signal: AbortSignal, target: ShutdownTarget): void {
  watched.get(signal)?.delete(target);
}
