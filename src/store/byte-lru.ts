// A map from blob hash to something held in memory, bounded by the bytes its entries cost: the
// least recently used go first. Both stores keep recently read message bytes this way (the
// SQLite store's header blocks, the PostgreSQL store's whole messages); what an entry costs and
// when it is stale are theirs to say.

export class ByteLru<V> {
  /** In use order: the least recently used first (a Map keeps insertion order). */
  private readonly entries = new Map<string, V>();
  private bytes = 0;

  /** `cost(value)` must give the same figure each time for the same value. */
  constructor(
    private readonly maxBytes: number,
    private readonly cost: (value: V) => number,
  ) {}

  /** The entry of `key`, if kept; it becomes the most recent. */
  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  /**
   * Keeps `value` as the most recent entry of `key` (replacing one kept) and drops the least
   * recently used until the total fits. An entry that alone costs more than the bound is not
   * kept; false then.
   */
  set(key: string, value: V): boolean {
    this.delete(key);
    const cost = this.cost(value);
    if (cost > this.maxBytes) return false;
    this.entries.set(key, value);
    this.bytes += cost;
    for (const [oldest, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= this.cost(v);
    }
    return true;
  }

  delete(key: string): void {
    const value = this.entries.get(key);
    if (value === undefined) return;
    this.entries.delete(key);
    this.bytes -= this.cost(value);
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  /** The cost of what is kept. */
  get size(): number {
    return this.bytes;
  }
}
