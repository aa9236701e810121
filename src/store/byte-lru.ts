// A map from blob hash to something held in memory, bounded by the bytes its entries cost: the
// least recently used go first. Both stores keep recently read message bytes this way (the
// SQLite store's header blocks, the PostgreSQL store's whole messages); what an entry costs and
// when it is stale are theirs to say.

/** An entry, in a list from the least recently used (`older` null) to the most recent. */
interface Node<V> {
  readonly key: string;
  value: V;
  older: Node<V> | null;
  newer: Node<V> | null;
}

export class ByteLru<V> {
  /**
   * The entries by key, each a node of the use-order list: a hit moves its node to the newest
   * end, the map untouched. Deleting and setting the key again on every hit (a Map's own
   * order) left a hole in the map's table each time and rehashed it every few hundred hits: a
   * FETCH of a mailbox's header fields hits once per message (issue 19).
   */
  private readonly entries = new Map<string, Node<V>>();
  private oldest: Node<V> | null = null;
  private newest: Node<V> | null = null;
  private bytes = 0;

  /** `cost(value)` must give the same figure each time for the same value. */
  constructor(
    private readonly maxBytes: number,
    private readonly cost: (value: V) => number,
  ) {}

  /** The entry of `key`, if kept; it becomes the most recent. */
  get(key: string): V | undefined {
    const node = this.entries.get(key);
    if (node === undefined) return undefined;
    if (node !== this.newest) {
      this.unlink(node);
      this.append(node);
    }
    return node.value;
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
    const node: Node<V> = { key, value, older: null, newer: null };
    this.entries.set(key, node);
    this.append(node);
    this.bytes += cost;
    while (this.bytes > this.maxBytes && this.oldest !== null) this.remove(this.oldest);
    return true;
  }

  delete(key: string): void {
    const node = this.entries.get(key);
    if (node !== undefined) this.remove(node);
  }

  clear(): void {
    this.entries.clear();
    this.oldest = null;
    this.newest = null;
    this.bytes = 0;
  }

  /** The cost of what is kept. */
  get size(): number {
    return this.bytes;
  }

  private remove(node: Node<V>): void {
    this.entries.delete(node.key);
    this.unlink(node);
    this.bytes -= this.cost(node.value);
  }

  private unlink(node: Node<V>): void {
    if (node.older) node.older.newer = node.newer;
    else this.oldest = node.newer;
    if (node.newer) node.newer.older = node.older;
    else this.newest = node.older;
    node.older = null;
    node.newer = null;
  }

  private append(node: Node<V>): void {
    node.older = this.newest;
    if (this.newest) this.newest.newer = node;
    else this.oldest = node;
    this.newest = node;
  }
}
