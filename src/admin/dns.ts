// The DNS records a local domain needs (dns-records.ts) and, when asked, what DNS says of each
// (dns-check.ts): `letterbox dns` and the admin API's /domains/{name}/dns.
import { listDkimKeys } from '../queue/dkim-keys.js';
import type { AdminContext } from './context.js';
import { localDomain } from './dkim.js';
import { checkRecord, createLookup, type Lookup, type Verdict } from './dns-check.js';
import { type DomainRecords, domainRecords } from './dns-records.js';

export async function recordsOf(ctx: AdminContext, domain: string): Promise<DomainRecords> {
  const d = await localDomain(ctx, domain);
  return domainRecords(ctx.cfg, d, await listDkimKeys(ctx.cfg.dataDir, d));
}

/** Asks DNS (the config's [dns] servers) about each record; never throws for a lookup. */
export async function checkRecords(
  ctx: AdminContext,
  dr: DomainRecords,
  lookup: Lookup = createLookup({
    servers: ctx.cfg.dns.servers,
    timeoutMs: ctx.cfg.dns.timeout_ms,
  }),
): Promise<Verdict[]> {
  const c = { domain: dr.domain, hostname: dr.hostname };
  return Promise.all(dr.records.map((r) => checkRecord(lookup, r, c)));
}

export interface DnsRecordView {
  type: string;
  name: string;
  /** The data (TXT unquoted, as DNS providers take it); null for a DKIM key not made yet. */
  value: string | null;
  purpose: string;
  kind: string;
  /** unchecked unless a check was asked for; error: the lookup failed. */
  status: 'ok' | 'missing' | 'wrong' | 'error' | 'unchecked';
  found?: string[];
  note?: string;
}

export function dnsRecordViews(dr: DomainRecords, verdicts?: Verdict[]): DnsRecordView[] {
  return dr.records.map((r, i) => {
    const v = verdicts?.[i];
    return {
      type: r.type,
      name: r.name,
      value: r.value,
      purpose: r.comment,
      kind: r.kind,
      status: v?.status ?? 'unchecked',
      ...(v ? { found: v.found } : {}),
      ...(v?.note ? { note: v.note } : {}),
    };
  });
}
