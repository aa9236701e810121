// MTA-STS (RFC 8461) policy discovery and cache: the `_mta-sts.<domain>` TXT record says
// whether a domain has a policy and its id; the policy is fetched over HTTPS when the id is new
// or the cached one expired, and kept max_age seconds. Held in memory keyed by domain (a
// bounded map), and written to a small JSON file when one is given, so a restart neither
// refetches every policy nor forgets one (a forgotten enforce policy is a downgrade window).
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { type FetchOptions, fetchPolicyText } from './mta-sts-fetch.js';
import { type MtaStsPolicy, parsePolicy, parseStsRecord } from './mta-sts-policy.js';
import { lookup, type Resolver } from './resolver.js';

export type { MtaStsPolicy } from './mta-sts-policy.js';

interface Entry {
  id: string;
  policy: MtaStsPolicy;
  /** ms since the epoch. */
  expires: number;
}

export interface MtaStsOptions extends Omit<FetchOptions, 'resolver'> {
  resolver: Resolver;
  /** JSON file the cache is kept in across restarts (under data_dir); none: memory only. */
  file?: string;
  log?: Logger;
  /** Clock, for tests. */
  now?: () => number;
  /** Domains kept at most; the least recently stored are dropped first. */
  maxEntries?: number;
}

export const MTA_STS_MAX_ENTRIES = 10_000;
/**
 * After a failed fetch, the same policy id is not fetched again for this long: RFC 8461 §3.3
 * suggests five minutes or more per id, and each failed fetch may cost the whole timeout.
 */
export const FETCH_FAILURE_BACKOFF_MS = 5 * 60_000;

export class MtaStsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<MtaStsPolicy | null>>();
  /** Domain -> the id whose fetch failed and until when not to try it again. */
  private readonly failed = new Map<string, { id: string; until: number }>();
  private readonly now: () => number;
  private readonly max: number;
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(private readonly opts: MtaStsOptions) {
    this.now = opts.now ?? Date.now;
    this.max = opts.maxEntries ?? MTA_STS_MAX_ENTRIES;
    if (opts.file) this.load(opts.file);
  }

  /**
   * The policy to apply to mail for `domain`, or null when it has none (deliver as without
   * MTA-STS). Never throws: every DNS or HTTPS failure falls back to the cached policy if one
   * is still valid, else to none (RFC 8461 §3.3, §5.1).
   */
  async policy(domain: string): Promise<MtaStsPolicy | null> {
    const d = domain.toLowerCase().replace(/\.$/, '');
    const running = this.inflight.get(d);
    if (running) return running;
    const p = this.discover(d).finally(() => this.inflight.delete(d));
    this.inflight.set(d, p);
    return p;
  }

  private async discover(domain: string): Promise<MtaStsPolicy | null> {
    const cached = this.valid(domain);
    const txt = await lookup(() => this.opts.resolver.resolveTxt(`_mta-sts.${domain}`));
    const record = txt.ok ? parseStsRecord(txt.records) : null;
    // §3.1: no usable TXT record is not by itself a reason to drop a cached policy.
    if (!record) return cached?.policy ?? null;
    if (cached && cached.id === record.id) return cached.policy;
    const failed = this.failed.get(domain);
    if (failed && failed.id === record.id && failed.until > this.now()) {
      return cached?.policy ?? null;
    }
    try {
      const text = await fetchPolicyText(domain, this.opts);
      const policy = parsePolicy(text);
      if (typeof policy === 'string') throw new Error(`invalid policy: ${policy}`);
      this.failed.delete(domain);
      this.store(domain, { id: record.id, policy, expires: this.now() + policy.maxAge * 1000 });
      return policy;
    } catch (err) {
      this.failed.set(domain, { id: record.id, until: this.now() + FETCH_FAILURE_BACKOFF_MS });
      if (this.failed.size > this.max) this.failed.delete(this.failed.keys().next().value!);
      this.opts.log?.warn(
        { domain, id: record.id, err: (err as Error).message, cached: cached?.policy.mode },
        'MTA-STS policy fetch failed',
      );
      // §3.3: without a fetched policy, a valid cached one applies; else none.
      return cached?.policy ?? null;
    }
  }

  private valid(domain: string): Entry | undefined {
    const e = this.entries.get(domain);
    if (e && e.expires > this.now()) return e;
    if (e) {
      this.entries.delete(domain);
      this.dirty = true;
    }
    return undefined;
  }

  private store(domain: string, entry: Entry): void {
    this.entries.delete(domain);
    this.entries.set(domain, entry);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    this.dirty = true;
    this.scheduleSave();
  }

  /** Resolves when everything stored so far is on disk. */
  flush(): Promise<void> {
    if (this.dirty) this.scheduleSave();
    return this.saving;
  }

  private scheduleSave(): void {
    const file = this.opts.file;
    if (!file) return;
    this.saving = this.saving.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const data = Object.fromEntries(this.entries);
      const tmp = `${file}.tmp`;
      try {
        await writeFile(tmp, JSON.stringify({ version: 1, policies: data }), { mode: 0o600 });
        await rename(tmp, file);
      } catch (err) {
        this.opts.log?.warn({ file, err: (err as Error).message }, 'MTA-STS cache not saved');
      }
    });
  }

  private load(file: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.opts.log?.warn({ file, err: (err as Error).message }, 'MTA-STS cache unreadable');
      }
      return;
    }
    const policies = (raw as { policies?: Record<string, unknown> } | null)?.policies ?? {};
    const now = this.now();
    for (const [domain, e] of Object.entries(policies)) {
      if (isEntry(e) && e.expires > now) this.entries.set(domain, e);
    }
  }
}

function isEntry(e: unknown): e is Entry {
  const x = e as Entry | null;
  return (
    typeof x?.id === 'string' &&
    typeof x.expires === 'number' &&
    (x.policy?.mode === 'enforce' || x.policy?.mode === 'testing' || x.policy?.mode === 'none') &&
    Array.isArray(x.policy.mx) &&
    x.policy.mx.every((m) => typeof m === 'string') &&
    typeof x.policy.maxAge === 'number'
  );
}
