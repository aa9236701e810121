// Answers kept in memory under one generation of the mail database's commits (wal-changes.ts):
// the directory's RCPT look-ups and LOGIN accounts, and the mailboxes' keys. A read asks `now()`
// before it reads the database; when the generation has moved since (a commit by anyone but
// this process's write batches), everything kept before is dropped first. A commit between that
// check and the read makes the answer newer than the count it is kept under, never older.
import type { WalChanges, WalMoment } from './wal-changes.js';

export class KeptGeneration {
  private generation = -1;

  /** `maps`: what is kept under the generation, cleared together when it moves. */
  constructor(
    private readonly changes: WalChanges | null,
    private readonly maps: ReadonlyArray<{ clear(): void }>,
  ) {}

  /** The moment a read made now belongs to; null: read the database and keep nothing. */
  now(): WalMoment | null {
    const now = this.changes?.now() ?? null;
    if (now !== null && now.generation !== this.generation) {
      for (const m of this.maps) m.clear();
      this.generation = now.generation;
    }
    return now;
  }
}

/** Keeps `value` under `key`, the map started over empty once it holds `max` entries. */
export function keepBounded<K, V>(map: Map<K, V>, max: number, key: K, value: V): void {
  if (map.size >= max) map.clear();
  map.set(key, value);
}
