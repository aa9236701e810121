// `letterbox dns --check`: asks DNS (the config's [dns] servers) for each record the domain
// needs and says ok / missing / wrong (with what was found) / error (the lookup failed).
// Records the operator may reasonably write another way (SPF, DMARC, MTA-STS id) are judged by
// what they must say, not compared character by character.
import { promises as dns } from 'node:dns';
import type { ExpectedRecord } from './dns-records.js';

export type Status = 'ok' | 'missing' | 'wrong' | 'error';

export interface Verdict {
  status: Status;
  /** What DNS answered, as zone-file data (TXT unquoted, strings joined). */
  found: string[];
  /** Why it is wrong, or the lookup error. */
  note?: string;
}

/** The lookups the check makes; node's Resolver, or a fake in tests. */
export interface Lookup {
  mx(name: string): Promise<Array<{ priority: number; exchange: string }>>;
  txt(name: string): Promise<string[][]>;
  srv(
    name: string,
  ): Promise<Array<{ priority: number; weight: number; port: number; name: string }>>;
  addresses(name: string): Promise<string[]>;
  /** The CNAME of a name ([] when it has none). */
  cname(name: string): Promise<string[]>;
}

export function createLookup(opts: { servers: readonly string[]; timeoutMs: number }): Lookup {
  const r = new dns.Resolver({ timeout: opts.timeoutMs, tries: 2 });
  if (opts.servers.length > 0) r.setServers([...opts.servers]);
  return {
    mx: (n) => r.resolveMx(n),
    txt: (n) => r.resolveTxt(n),
    srv: (n) => r.resolveSrv(n),
    async addresses(n) {
      const [a, aaaa] = await Promise.all([orEmpty(r.resolve4(n)), orEmpty(r.resolve6(n))]);
      return [...a, ...aaaa];
    },
    cname: (n) => orEmpty(r.resolveCname(n)),
  };
}

/** NXDOMAIN and NODATA: the record is not there. Anything else is a failed lookup. */
function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === dns.NOTFOUND || code === dns.NODATA;
}

/** The answer, or [] when the name or the type is absent; other failures pass. */
async function orEmpty<T>(p: Promise<T[]>): Promise<T[]> {
  try {
    return await p;
  } catch (err) {
    if (isAbsent(err)) return [];
    throw err;
  }
}

const host = (s: string) => s.toLowerCase().replace(/\.$/, '');

/** `tag=value` pairs of a tag-list record (DKIM, DMARC, MTA-STS, TLS-RPT), names lower case. */
function tags(record: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}

/** The TXT records of a name that start with `v=<version>` (RFC 7208 §4.5 style selection). */
function versioned(found: string[], version: string): string[] {
  const v = version.toLowerCase();
  return found.filter((t) => {
    const s = t.trimStart().toLowerCase();
    return s === v || s.startsWith(`${v};`) || s.startsWith(`${v} `);
  });
}

function judgeMx(r: ExpectedRecord, found: string[], mxs: Array<{ exchange: string }>): Verdict {
  if (mxs.length === 0) return { status: 'missing', found };
  if (!mxs.some((m) => host(m.exchange) === r.mx!.exchange)) {
    return { status: 'wrong', found, note: `no MX points to ${r.mx!.exchange}` };
  }
  return { status: 'ok', found };
}

function judgeSpf(r: ExpectedRecord, txt: string[], domain: string, hostname: string): Verdict {
  const spf = versioned(txt, 'v=spf1');
  if (spf.length === 0) return { status: 'missing', found: txt };
  if (spf.length > 1) {
    return {
      status: 'wrong',
      found: spf,
      note: 'several SPF records: a permerror (RFC 7208 §4.5)',
    };
  }
  const terms = spf[0]!.toLowerCase().split(/\s+/).slice(1);
  const names = (t: string) =>
    t === 'mx' ||
    t === '+mx' ||
    t.startsWith('mx/') ||
    t.replace(/^\+/, '').startsWith(`mx:${domain}`) ||
    t.replace(/^\+/, '') === `a:${hostname}`;
  if (spf[0]!.trim().toLowerCase() === r.value || terms.some(names))
    return { status: 'ok', found: spf };
  return {
    status: 'wrong',
    found: spf,
    note: `does not authorize the MX hosts (mx) or ${hostname}`,
  };
}

function judgeDkim(r: ExpectedRecord, txt: string[]): Verdict {
  if (r.dkim === undefined) return { status: 'missing', found: [], note: 'no DKIM key generated' };
  const keys = txt.filter((t) => tags(t).has('p'));
  if (keys.length === 0) return { status: 'missing', found: txt };
  if (keys.length > 1) {
    return { status: 'wrong', found: keys, note: 'several key records (RFC 6376 §3.6.2.2)' };
  }
  const t = tags(keys[0]!);
  const p = (t.get('p') ?? '').replace(/\s+/g, '');
  const k = (t.get('k') ?? 'rsa').toLowerCase(); // RFC 6376 §3.6.1: k= defaults to rsa
  if (p !== r.dkim.publicKey) return { status: 'wrong', found: keys, note: 'another public key' };
  if (k !== r.dkim.algorithm) return { status: 'wrong', found: keys, note: `k=${k}` };
  return { status: 'ok', found: keys };
}

function judgeOne(
  txt: string[],
  version: string,
  rfc: string,
  valid: (t: Map<string, string>) => string | null,
): Verdict {
  const recs = versioned(txt, version);
  if (recs.length === 0) return { status: 'missing', found: txt };
  if (recs.length > 1) {
    return { status: 'wrong', found: recs, note: `several ${version} records (${rfc})` };
  }
  const why = valid(tags(recs[0]!));
  return why === null ? { status: 'ok', found: recs } : { status: 'wrong', found: recs, note: why };
}

function judgeSrv(
  r: ExpectedRecord,
  found: string[],
  srvs: Array<{ port: number; name: string }>,
): Verdict {
  if (srvs.length === 0) return { status: 'missing', found };
  const want = r.srv!;
  if (
    srvs.some((s) => host(s.name) === want.target && (want.target === '' || s.port === want.port))
  ) {
    return { status: 'ok', found };
  }
  return { status: 'wrong', found, note: `expected ${want.target || '.'} port ${want.port}` };
}

/**
 * A name that must reach the hostname: a CNAME to it, or A/AAAA records with one of its
 * addresses (an operator may publish those instead; clients only need the address).
 */
async function judgeCname(lookup: Lookup, r: ExpectedRecord, hostname: string): Promise<Verdict> {
  const cnames = (await lookup.cname(r.name)).map(host);
  const found = cnames.map((c) => `${c}.`);
  if (cnames.includes(r.cname!)) return { status: 'ok', found };
  const [mine, theirs] = await Promise.all([lookup.addresses(r.name), lookup.addresses(hostname)]);
  const all = [...found, ...mine];
  if (all.length === 0) return { status: 'missing', found: all };
  if (mine.some((a) => theirs.includes(a))) return { status: 'ok', found: all };
  return { status: 'wrong', found: all, note: `does not lead to ${r.cname} or its addresses` };
}

/** Checks one record against DNS. Never throws: a failed lookup is status 'error'. */
export async function checkRecord(
  lookup: Lookup,
  r: ExpectedRecord,
  ctx: { domain: string; hostname: string },
): Promise<Verdict> {
  try {
    if (r.type === 'MX') {
      const mxs = await orEmpty(lookup.mx(r.name));
      const found = mxs.map((m) => `${m.priority} ${host(m.exchange)}.`);
      const v = judgeMx(r, found, mxs);
      if (v.status !== 'ok') return v;
      const addrs = await lookup.addresses(ctx.hostname);
      if (addrs.length === 0) {
        return { status: 'wrong', found, note: `${ctx.hostname} has no A or AAAA record` };
      }
      return v;
    }
    if (r.type === 'SRV') {
      const srvs = await orEmpty(lookup.srv(r.name));
      const found = srvs.map((s) => `${s.priority} ${s.weight} ${s.port} ${host(s.name)}.`);
      return judgeSrv(r, found, srvs);
    }
    if (r.type === 'CNAME') return await judgeCname(lookup, r, ctx.hostname);
    if (r.kind === 'dkim' && r.dkim === undefined) {
      return { status: 'missing', found: [], note: 'no DKIM key generated' };
    }
    const txt = (await orEmpty(lookup.txt(r.name))).map((strings) => strings.join(''));
    switch (r.kind) {
      case 'spf':
        return judgeSpf(r, txt, ctx.domain, ctx.hostname);
      case 'dkim':
        return judgeDkim(r, txt);
      case 'dmarc':
        return judgeOne(txt, 'v=DMARC1', 'RFC 7489 §6.6.3', (t) =>
          ['none', 'quarantine', 'reject'].includes((t.get('p') ?? '').toLowerCase())
            ? null
            : 'p= must be none, quarantine or reject',
        );
      case 'mta-sts':
        return judgeOne(txt, 'v=STSv1', 'RFC 8461 §3.1', (t) =>
          /^[A-Za-z0-9]{1,32}$/.test(t.get('id') ?? '') ? null : 'id= must be 1-32 letters/digits',
        );
      case 'tls-rpt':
        return judgeOne(txt, 'v=TLSRPTv1', 'RFC 8460 §3', (t) =>
          t.has('rua') ? null : 'no rua= (where reports go)',
        );
      default:
        return { status: 'error', found: txt, note: `cannot check ${r.kind}` };
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { status: 'error', found: [], note: `lookup failed: ${e.code ?? e.message}` };
  }
}
