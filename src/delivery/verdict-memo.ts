// Verdicts made from DNS answers, kept for the next message that asks the same question, for
// as long as every answer they were made from is still the one the resolver gives (dns.ts
// keeps each a few seconds). A verdict is a function of its inputs (the memo's key) and of
// those answers, so one reused within that time is the verdict a new check would reach: mail
// from one sender in a burst (a list, notifications, a busy peer) skips the SPF and DMARC
// evaluation (some 25 us of CPU per message) without using any answer longer than the
// resolver would.
import type { CachingResolveFn, ResolveFn } from './dns.js';

/** Verdicts kept at most; the oldest go first. */
const MAX_KEPT = 512;

interface Kept<T> {
  value: T;
  /** performance.now() after which the verdict is made again. */
  until: number;
}

export class VerdictMemo<T> {
  private readonly kept = new Map<string, Kept<T>>();

  constructor(private readonly resolver: CachingResolveFn) {}

  /**
   * The verdict kept under `key`, else make(resolve)'s, kept until the first of the answers
   * it asked for through `resolve` is due to be asked again. A make() that throws keeps
   * nothing.
   */
  async get(key: string, make: (resolve: ResolveFn) => Promise<T>): Promise<T> {
    const hit = this.peek(key);
    if (hit !== undefined) return hit;
    const asked: string[] = [];
    const resolver = this.resolver;
    const value = await make((name, rrtype) => {
      asked.push(name, rrtype);
      return resolver(name, rrtype);
    });
    let until = Infinity;
    for (let i = 0; i < asked.length; i += 2) {
      until = Math.min(until, resolver.keptUntil(asked[i]!, asked[i + 1]!));
    }
    // A verdict that asked nothing depends on its key alone; Infinity is still bounded by
    // the memo's size. One whose answers are gone or under way is not kept.
    if (until > performance.now()) {
      if (this.kept.size >= MAX_KEPT) this.kept.delete(this.kept.keys().next().value as string);
      this.kept.set(key, { value, until });
    }
    return value;
  }

  /**
   * The verdict kept under `key` while it is still the one a new check would reach, at once
   * (no promise): a caller can then skip the deadline a check runs under.
   */
  peek(key: string): T | undefined {
    const hit = this.kept.get(key);
    if (hit === undefined) return undefined;
    if (hit.until > performance.now()) return hit.value;
    this.kept.delete(key);
    return undefined;
  }

  /** Verdicts held (tests). */
  get size(): number {
    return this.kept.size;
  }
}
