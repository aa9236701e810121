// `letterbox alias add|list|remove`
import type { Command } from 'commander';
import { type GlobalOptions, withStore } from '../context.js';
import { CliError } from '../errors.js';
import { stdout, warn } from '../io.js';
import { aliasLoop, targetProblem } from './alias-check.js';

export function registerAlias(program: Command, globals: () => GlobalOptions): void {
  const alias = program
    .command('alias')
    .description('manage aliases: one address to several targets; @domain is the catch-all');
  alias
    .command('add <address> <targets...>')
    .description('add an alias (address "@example.com" makes a catch-all)')
    .action((address: string, targets: string[]) =>
      withStore(globals(), async (store) => {
        const local = new Set((await store.listDomains()).map((d) => d.name));
        for (const t of targets) {
          const problem = targetProblem(t, (d) => local.has(d));
          if (problem !== null) throw new CliError(`invalid target "${t}": ${problem}`);
        }
        const a = await store.addAlias(address, targets);
        stdout.line(`added alias ${a.address} -> ${a.targets.join(', ')}`);
        const loop = aliasLoop(a.address, await store.listAliases());
        if (loop !== null) {
          warn(
            `${loop.join(' -> ')} is a loop: mail to it reaches only the accounts and remote ` +
              'addresses on the way',
          );
        }
      }),
    );
  alias
    .command('list [domain]')
    .description('list aliases')
    .option('--json', 'machine-readable output')
    .action((domain: string | undefined, o: { json?: boolean }) =>
      withStore(globals(), async (store) => {
        const list = await store.listAliases(domain);
        if (o.json) stdout.json(list);
        else stdout.table(list.map((a) => [a.address, '->', a.targets.join(', ')]));
      }),
    );
  alias
    .command('remove <address>')
    .description('remove an alias')
    .action((address: string) =>
      withStore(globals(), async (store) => {
        await store.removeAlias(address);
        stdout.line(`removed alias ${address.toLowerCase()}`);
      }),
    );
}
