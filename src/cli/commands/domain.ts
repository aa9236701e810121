// `letterbox domain add|list|remove` (the operations: admin/domains.ts)
import type { Command } from 'commander';
import { addDomain, listDomains, removeDomain } from '../../admin/domains.js';
import { type GlobalOptions, withAdmin } from '../context.js';
import { stdout } from '../io.js';

export function registerDomain(program: Command, globals: () => GlobalOptions): void {
  const domain = program
    .command('domain')
    .description('manage the domains this server receives mail for');
  domain
    .command('add <name>')
    .description('add a local domain')
    .action((name: string) =>
      withAdmin(globals(), async (ctx) => {
        const d = await addDomain(ctx, { name });
        stdout.line(`added domain ${d.name}`);
      }),
    );
  domain
    .command('list')
    .description('list local domains')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) =>
      withAdmin(globals(), async (ctx) => {
        const domains = await listDomains(ctx);
        if (o.json) stdout.json(domains);
        else for (const d of domains) stdout.line(d.name);
      }),
    );
  domain
    .command('remove <name>')
    .description('remove a domain (refused while it has accounts or aliases, unless --force)')
    .option('--force', 'also remove its accounts (with their mail) and aliases')
    .action((name: string, o: { force?: boolean }) =>
      withAdmin(globals(), async (ctx) => {
        const d = await removeDomain(ctx, name, { force: o.force === true });
        stdout.line(`removed domain ${d}`);
      }),
    );
}
