// The DNS records a local domain needs, from the config and the DKIM key store: what
// `letterbox dns DOMAIN` prints and `--check` compares with what DNS answers.
import { createHash } from 'node:crypto';
import type { Config, ListenerName } from '../config/schema.js';
import { type DkimKeyInfo, keyRecordName, keyRecordValue, txtStrings } from '../queue/dkim-keys.js';

export type RecordKind =
  | 'mx'
  | 'spf'
  | 'dkim'
  | 'dmarc'
  | 'mta-sts'
  | 'tls-rpt'
  | 'srv'
  | 'autoconfig';

export interface ExpectedRecord {
  kind: RecordKind;
  /** Owner name, fully qualified, lower case, without the final dot. */
  name: string;
  type: 'MX' | 'TXT' | 'SRV' | 'CNAME';
  /** The data as in a zone file, TXT unquoted; null for a DKIM key not generated yet. */
  value: string | null;
  /** One line saying what the record is for, printed above it. */
  comment: string;
  /** MX and SRV parts, for the check. */
  mx?: { priority: number; exchange: string };
  srv?: { priority: number; weight: number; port: number; target: string };
  /** CNAME: the name it must lead to (an A/AAAA record with the same addresses also does). */
  cname?: string;
  /** DKIM: the key this record publishes. */
  dkim?: Pick<DkimKeyInfo, 'selector' | 'algorithm' | 'publicKey' | 'retired'>;
}

export interface DomainRecords {
  domain: string;
  hostname: string;
  records: ExpectedRecord[];
  mtaSts: { url: string; policy: string };
}

/** RFC 8461 §3.2 max_age: a week, as the RFC's examples suggest (renewed on each fetch). */
const MTA_STS_MAX_AGE = 604_800;

/**
 * RFC 6186 §3 service labels, RFC 8314 §5.1 for the implicit-TLS ones. The priority orders
 * the services of one kind (RFC 6186 §3.4): implicit TLS first (RFC 8314 §5.1), then STARTTLS.
 */
const SRV_SERVICES: Array<{ label: string; listener: ListenerName; priority: number }> = [
  { label: '_submissions._tcp', listener: 'submissions', priority: 0 },
  { label: '_submission._tcp', listener: 'submission', priority: 10 },
  { label: '_imaps._tcp', listener: 'imaps', priority: 0 },
  { label: '_imap._tcp', listener: 'imap', priority: 10 },
  { label: '_pop3s._tcp', listener: 'pop3s', priority: 0 },
  { label: '_pop3._tcp', listener: 'pop3', priority: 10 },
];

/**
 * The policy text to serve at https://mta-sts.DOMAIN/.well-known/mta-sts.txt (RFC 8461 §3.2).
 * `testing`: senders report failures (TLS-RPT) but still deliver; switch to `enforce` once the
 * reports are clean and the certificate is from a CA senders trust.
 */
export function mtaStsPolicy(hostname: string): string {
  return `version: STSv1\nmode: testing\nmx: ${hostname}\nmax_age: ${MTA_STS_MAX_AGE}\n`;
}

/** RFC 8461 §3.1: id changes whenever the policy does; derived from it, so it always does. */
export function mtaStsId(policy: string): string {
  return createHash('sha256').update(policy).digest('hex').slice(0, 20);
}

export function domainRecords(cfg: Config, domain: string, keys: DkimKeyInfo[]): DomainRecords {
  const d = domain.toLowerCase();
  const host = cfg.hostname.toLowerCase().replace(/\.$/, '');
  const postmaster = `postmaster@${d}`;
  const records: ExpectedRecord[] = [
    {
      kind: 'mx',
      name: d,
      type: 'MX',
      value: `10 ${host}.`,
      mx: { priority: 10, exchange: host },
      comment: `Mail for ${d} goes to ${host} (which needs A/AAAA records: RFC 5321 §5.1)`,
    },
    {
      kind: 'spf',
      name: d,
      type: 'TXT',
      value: 'v=spf1 mx -all',
      comment: `SPF (RFC 7208): only the MX hosts of ${d} send its mail`,
    },
  ];
  for (const k of keys) {
    records.push({
      kind: 'dkim',
      name: keyRecordName(d, k.selector),
      type: 'TXT',
      value: keyRecordValue(k),
      dkim: k,
      comment: k.retired
        ? `DKIM key ${k.selector} (${k.algorithm}), retired: keep it until mail it signed is delivered`
        : `DKIM key ${k.selector} (${k.algorithm}, RFC 6376 §3.6): signs mail from ${d}`,
    });
  }
  if (keys.length === 0) {
    records.push({
      kind: 'dkim',
      name: `*._domainkey.${d}`,
      type: 'TXT',
      value: null,
      comment: `DKIM: ${d} has no key yet: run \`letterbox dkim generate ${d}\``,
    });
  }
  const policy = mtaStsPolicy(host);
  records.push(
    {
      kind: 'dmarc',
      name: `_dmarc.${d}`,
      type: 'TXT',
      value: `v=DMARC1; p=quarantine; rua=mailto:${postmaster}`,
      comment: 'DMARC (RFC 7489): mail failing SPF and DKIM alignment goes to spam; reports to rua',
    },
    {
      kind: 'mta-sts',
      name: `_mta-sts.${d}`,
      type: 'TXT',
      value: `v=STSv1; id=${mtaStsId(policy)}`,
      comment: 'MTA-STS (RFC 8461): senders use TLS, with a valid certificate, to the MX hosts',
    },
    {
      kind: 'tls-rpt',
      name: `_smtp._tls.${d}`,
      type: 'TXT',
      value: `v=TLSRPTv1; rua=mailto:${postmaster}`,
      comment: 'TLS-RPT (RFC 8460): senders report TLS failures delivering to this server',
    },
  );
  for (const s of SRV_SERVICES) {
    const l = cfg.listeners[s.listener];
    // RFC 2782: target "." says the service is decidedly not available at this domain.
    const srv = l.enabled
      ? { priority: s.priority, weight: 1, port: l.port, target: host }
      : { priority: 0, weight: 0, port: 0, target: '' };
    records.push({
      kind: 'srv',
      name: `${s.label}.${d}`,
      type: 'SRV',
      value: `${srv.priority} ${srv.weight} ${srv.port} ${srv.target}.`,
      srv,
      comment: l.enabled
        ? `RFC 6186: mail clients find ${s.listener} on ${host} port ${l.port}`
        : `RFC 6186: no ${s.listener} service (listener disabled)`,
    });
  }
  // Mail clients' autoconfiguration hosts (src/http/autoconfig/): Thunderbird asks
  // https://autoconfig.DOMAIN/mail/config-v1.1.xml, Outlook https://autodiscover.DOMAIN/
  // autodiscover/autodiscover.xml. Only when the http listener is on.
  if (cfg.listeners.http.enabled) {
    for (const [label, client] of [
      ['autoconfig', 'Thunderbird autoconfig'],
      ['autodiscover', 'Outlook Autodiscover'],
    ] as const) {
      records.push({
        kind: 'autoconfig',
        name: `${label}.${d}`,
        type: 'CNAME',
        value: `${host}.`,
        cname: host,
        comment: `${client}: HTTPS on port 443 of ${host} to the http listener (a TLS proxy)`,
      });
    }
  }
  return {
    domain: d,
    hostname: host,
    records,
    mtaSts: { url: `https://mta-sts.${d}/.well-known/mta-sts.txt`, policy },
  };
}

/** The record data in zone-file syntax: TXT as quoted strings of at most 255 octets. */
export function zoneData(r: ExpectedRecord): string {
  if (r.value === null) return '';
  if (r.type !== 'TXT') return r.value;
  return txtStrings(r.value)
    .map((s) => `"${s.replace(/["\\]/g, '\\$&')}"`)
    .join(' ');
}

/** One zone-file line (absolute owner name), or a comment for a record without data. */
export function zoneLine(r: ExpectedRecord): string {
  if (r.value === null) return `; ${r.name}.\tIN\t${r.type}\t(none yet)`;
  return `${r.name}.\tIN\t${r.type}\t${zoneData(r)}`;
}
