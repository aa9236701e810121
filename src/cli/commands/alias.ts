// `letterbox alias add|list|remove` (the operations: admin/aliases.ts)
import type { Command } from 'commander';
import { addAlias, listAliases, removeAlias } from '../../admin/aliases.js';
import { type GlobalOptions, withAdmin } from '../context.js';
import { stdout, warn } from '../io.js';

export function registerAlias(program: Command, globals: () => GlobalOptions): void {
  const alias = program
    .command('alias')
    .description('manage aliases: one address to several targets; @domain is the catch-all');
  alias
    .command('add <address> <targets...>')
    .description('add an alias (address "@example.com" makes a catch-all)')
    .action((address: string, targets: string[]) =>
      withAdmin(globals(), async (ctx) => {
        const a = await addAlias(ctx, { address, targets });
        stdout.line(`added alias ${a.address} -> ${a.targets.join(', ')}`);
        for (const w of a.warnings) warn(w);
      }),
    );
  alias
    .command('list [domain]')
    .description('list aliases')
    .option('--json', 'machine-readable output')
    .action((domain: string | undefined, o: { json?: boolean }) =>
      withAdmin(globals(), async (ctx) => {
        const list = await listAliases(ctx, domain);
        if (o.json) stdout.json(list);
        else stdout.table(list.map((a) => [a.address, '->', a.targets.join(', ')]));
      }),
    );
  alias
    .command('remove <address>')
    .description('remove an alias')
    .action((address: string) =>
      withAdmin(globals(), async (ctx) => {
        stdout.line(`removed alias ${await removeAlias(ctx, address)}`);
      }),
    );
}
