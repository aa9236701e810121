// `letterbox dkim generate|list|retire|remove`: the DKIM keys outbound mail is signed with
// (queue/dkim-keys.ts has the layout and the rotation procedure).
import type { Command } from 'commander';
import { generateKeys, listKeys, removeKey, retireKey } from '../../admin/dkim.js';
import { zoneLine } from '../../admin/dns-records.js';
import {
  DKIM_ALGORITHMS,
  type DkimAlgorithm,
  type DkimKeyInfo,
  keyRecordName,
  keyRecordValue,
  txtStrings,
} from '../../queue/dkim-keys.js';
import { type GlobalOptions, withAdmin } from '../context.js';
import { CliError } from '../errors.js';
import { stdout } from '../io.js';

function recordLine(k: DkimKeyInfo): string {
  return zoneLine({
    kind: 'dkim',
    name: keyRecordName(k.domain, k.selector),
    type: 'TXT',
    value: keyRecordValue(k),
    comment: '',
  });
}

function keyJson(k: DkimKeyInfo) {
  const value = keyRecordValue(k);
  return {
    domain: k.domain,
    selector: k.selector,
    algorithm: k.algorithm,
    retired: k.retired,
    createdAt: k.createdAt.toISOString(),
    file: k.file,
    record: {
      name: keyRecordName(k.domain, k.selector),
      type: 'TXT',
      value,
      strings: txtStrings(value),
    },
  };
}

export function registerDkim(program: Command, globals: () => GlobalOptions): void {
  const dkim = program
    .command('dkim')
    .description('manage the DKIM keys that sign mail sent from local domains');
  dkim
    .command('generate <domain>')
    .description(
      'make a key (by default one RSA-2048 and one Ed25519) and print its DNS record; ' +
        'it signs at once beside any other key of the domain',
    )
    .option('--selector <name>', 'the selector (default lb<yyyymm>-<algorithm>)')
    .option('--algorithm <alg>', 'rsa, ed25519 or both (default both)', 'both')
    .option('--json', 'machine-readable output')
    .action((domain: string, o: { selector?: string; algorithm: string; json?: boolean }) =>
      withAdmin(globals(), async (ctx) => {
        const algs: DkimAlgorithm[] =
          o.algorithm === 'both'
            ? [...DKIM_ALGORITHMS]
            : DKIM_ALGORITHMS.filter((a) => a === o.algorithm);
        if (algs.length === 0) {
          throw new CliError(`--algorithm must be rsa, ed25519 or both, not ${o.algorithm}`);
        }
        const made = await generateKeys(ctx, domain, { algorithms: algs, selector: o.selector });
        const d = made[0]!.domain;
        if (o.json) {
          stdout.json(made.map(keyJson));
          return;
        }
        for (const k of made) {
          stdout.line(`; generated ${k.algorithm} key ${k.selector} for ${k.domain}: ${k.file}`);
        }
        stdout.line(`; publish in the zone of ${d} (check: letterbox dns ${d} --check):`);
        for (const k of made) stdout.line(recordLine(k));
      }),
    );
  dkim
    .command('list [domain]')
    .description('list the DKIM keys (of one domain, or all) and their DNS records')
    .option('--json', 'machine-readable output')
    .action((domain: string | undefined, o: { json?: boolean }) =>
      withAdmin(globals(), async (ctx) => {
        const keys = await listKeys(ctx, domain);
        if (o.json) {
          stdout.json(keys.map(keyJson));
          return;
        }
        stdout.table([
          ['DOMAIN', 'SELECTOR', 'ALGORITHM', 'STATE', 'CREATED', 'RECORD'],
          ...keys.map((k) => [
            k.domain,
            k.selector,
            k.algorithm,
            k.retired ? 'retired' : 'signing',
            k.createdAt.toISOString(),
            `${keyRecordName(k.domain, k.selector)} TXT`,
          ]),
        ]);
      }),
    );
  dkim
    .command('retire <domain> <selector>')
    .description('stop signing with a key (keep its DNS record a few days, then remove it)')
    .action((domain: string, selector: string) =>
      withAdmin(globals(), async (ctx) => {
        const k = await retireKey(ctx, domain, selector);
        stdout.line(`retired ${k.selector} of ${k.domain}: it no longer signs`);
      }),
    );
  dkim
    .command('remove <domain> <selector>')
    .description('delete a retired key (then delete its DNS record)')
    .action((domain: string, selector: string) =>
      withAdmin(globals(), async (ctx) => {
        const k = await removeKey(ctx, domain, selector);
        stdout.line(
          `removed ${k.selector} of ${k.domain}: delete ${keyRecordName(k.domain, k.selector)} TXT`,
        );
      }),
    );
}
