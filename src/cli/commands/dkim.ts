// `letterbox dkim generate|list|retire|remove`: the DKIM keys outbound mail is signed with
// (queue/dkim-keys.ts has the layout and the rotation procedure).
import type { Command } from 'commander';
import {
  DKIM_ALGORITHMS,
  type DkimAlgorithm,
  DkimKeyError,
  type DkimKeyInfo,
  generateDkimKey,
  keyRecordName,
  keyRecordValue,
  listDkimKeys,
  normalizeDomain,
  removeDkimKey,
  retireDkimKey,
  txtStrings,
} from '../../queue/dkim-keys.js';
import { type GlobalOptions, withStore } from '../context.js';
import { CliError, EXIT_FAILED, EXIT_USAGE } from '../errors.js';
import { stdout } from '../io.js';
import { zoneLine } from './dns-records.js';

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

/** Key store errors are the operator's to fix (exit 1); a bad name is bad usage (exit 2). */
async function keyStore<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DkimKeyError) {
      throw new CliError(err.message, err.invalid ? EXIT_USAGE : EXIT_FAILED);
    }
    throw err;
  }
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
      withStore(globals(), async (store, cfg) => {
        const algs: DkimAlgorithm[] =
          o.algorithm === 'both'
            ? [...DKIM_ALGORITHMS]
            : DKIM_ALGORITHMS.filter((a) => a === o.algorithm);
        if (algs.length === 0) {
          throw new CliError(`--algorithm must be rsa, ed25519 or both, not ${o.algorithm}`);
        }
        if (o.selector !== undefined && algs.length > 1) {
          throw new CliError('a selector holds one key: with --selector give --algorithm too');
        }
        const d = await keyStore(async () => normalizeDomain(domain));
        if (!(await store.isLocalDomain(d))) {
          throw new CliError(`${d} is not a local domain (letterbox domain add ${d})`, EXIT_FAILED);
        }
        const made: DkimKeyInfo[] = [];
        for (const algorithm of algs) {
          made.push(
            await keyStore(() =>
              generateDkimKey(cfg.dataDir, d, { algorithm, selector: o.selector }),
            ),
          );
        }
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
      withStore(globals(), async (_store, cfg) => {
        const keys = await keyStore(() => listDkimKeys(cfg.dataDir, domain));
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
      withStore(globals(), async (_store, cfg) => {
        const k = await keyStore(() => retireDkimKey(cfg.dataDir, domain, selector));
        stdout.line(`retired ${k.selector} of ${k.domain}: it no longer signs`);
      }),
    );
  dkim
    .command('remove <domain> <selector>')
    .description('delete a retired key (then delete its DNS record)')
    .action((domain: string, selector: string) =>
      withStore(globals(), async (_store, cfg) => {
        const k = await keyStore(() => removeDkimKey(cfg.dataDir, domain, selector));
        stdout.line(
          `removed ${k.selector} of ${k.domain}: delete ${keyRecordName(k.domain, k.selector)} TXT`,
        );
      }),
    );
}
