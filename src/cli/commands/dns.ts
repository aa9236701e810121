// `letterbox dns DOMAIN [--json] [--check]`: every DNS record a local domain needs (MX, SPF,
// DKIM per selector, DMARC, MTA-STS and its policy text, TLS-RPT, RFC 6186 SRV, the clients'
// autoconfig hosts), as zone-file lines; --check asks DNS and says for each whether it is
// there and right (exit 1 if not all).
import type { Command } from 'commander';
import { checkRecords, recordsOf } from '../../admin/dns.js';
import type { Verdict } from '../../admin/dns-check.js';
import { type DomainRecords, zoneData, zoneLine } from '../../admin/dns-records.js';
import { type GlobalOptions, withAdmin } from '../context.js';
import { CliError, EXIT_FAILED } from '../errors.js';
import { stdout } from '../io.js';

function printZone(dr: DomainRecords): void {
  stdout.line(`; DNS records for ${dr.domain} (letterbox dns ${dr.domain})`);
  for (const r of dr.records) {
    stdout.line(`; ${r.comment}`);
    if (r.kind === 'mta-sts') {
      stdout.line(`; Serve this text at ${dr.mtaSts.url}`);
      stdout.line(`; (mta-sts.${dr.domain} needs an address and a certificate for that name):`);
      for (const l of dr.mtaSts.policy.trimEnd().split('\n')) stdout.line(`;   ${l}`);
    }
    stdout.line(zoneLine(r));
  }
}

function printVerdicts(dr: DomainRecords, verdicts: Verdict[]): void {
  dr.records.forEach((r, i) => {
    const v = verdicts[i]!;
    stdout.line(`${v.status.padEnd(7)}  ${r.type.padEnd(3)}  ${r.name}.`);
    if (v.status === 'ok') return;
    if (r.value !== null) stdout.line(`         expected: ${zoneData(r)}`);
    for (const f of v.found)
      stdout.line(`         found:    ${r.type === 'TXT' ? JSON.stringify(f) : f}`);
    if (v.note) stdout.line(`         ${v.note}`);
  });
}

export function registerDns(program: Command, globals: () => GlobalOptions): void {
  program
    .command('dns <domain>')
    .description('print the DNS records a local domain needs (MX, SPF, DKIM, DMARC, MTA-STS, ...)')
    .option('--json', 'machine-readable output')
    .option('--check', "query DNS (the config's [dns] servers) and say which are missing or wrong")
    .action((domain: string, o: { json?: boolean; check?: boolean }) =>
      withAdmin(globals(), async (ctx) => {
        const dr = await recordsOf(ctx, domain);
        const d = dr.domain;
        if (!o.check) {
          if (o.json) stdout.json(dr);
          else printZone(dr);
          return;
        }
        const verdicts = await checkRecords(ctx, dr);
        if (o.json) {
          stdout.json({ ...dr, records: dr.records.map((r, i) => ({ ...r, ...verdicts[i] })) });
        } else printVerdicts(dr, verdicts);
        const bad = verdicts.filter((v) => v.status !== 'ok').length;
        if (bad > 0) {
          throw new CliError(
            `${bad} of ${verdicts.length} DNS records of ${d} are missing or wrong`,
            EXIT_FAILED,
          );
        }
        if (!o.json) stdout.line(`all ${verdicts.length} DNS records of ${d} are ok`);
      }),
    );
}
