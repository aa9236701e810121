// `letterbox domain add|list|remove`
import type { Command } from 'commander';
import { type GlobalOptions, withStore } from '../context.js';
import { stdout } from '../io.js';

export function registerDomain(program: Command, globals: () => GlobalOptions): void {
  const domain = program
    .command('domain')
    .description('manage the domains this server receives mail for');
  domain
    .command('add <name>')
    .description('add a local domain')
    .action((name: string) =>
      withStore(globals(), async (store) => {
        const d = await store.addDomain(name);
        stdout.line(`added domain ${d.name}`);
      }),
    );
  domain
    .command('list')
    .description('list local domains')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) =>
      withStore(globals(), async (store) => {
        const domains = await store.listDomains();
        if (o.json)
          stdout.json(domains.map((d) => ({ name: d.name, createdAt: d.createdAt.toISOString() })));
        else for (const d of domains) stdout.line(d.name);
      }),
    );
  domain
    .command('remove <name>')
    .description('remove a domain (refused while it has accounts or aliases, unless --force)')
    .option('--force', 'also remove its accounts (with their mail) and aliases')
    .action((name: string, o: { force?: boolean }) =>
      withStore(globals(), async (store) => {
        await store.removeDomain(name, { force: o.force === true });
        stdout.line(`removed domain ${name.toLowerCase()}`);
      }),
    );
}
