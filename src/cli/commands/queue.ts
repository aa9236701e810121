// `letterbox queue list`: what waits in the outbound queue (remote recipients of submitted or
// forwarded mail), with each recipient's state and DSN parameters.
import type { Command } from 'commander';
import { type GlobalOptions, withStore } from '../context.js';
import { stdout } from '../io.js';

export function registerQueue(program: Command, globals: () => GlobalOptions): void {
  const queue = program.command('queue').description('inspect the outbound queue');
  queue
    .command('list')
    .description('list queued messages and their recipients')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) =>
      withStore(globals(), async (store) => {
        const items = await store.listOutbound();
        if (o.json) {
          stdout.json(
            items.map((i) => ({
              ...i,
              createdAt: i.createdAt.toISOString(),
              nextAttemptAt: i.nextAttemptAt.toISOString(),
            })),
          );
          return;
        }
        stdout.table([
          ['ID', 'QUEUED', 'SIZE', 'SENDER', 'RECIPIENT', 'STATE', 'LAST ERROR'],
          ...items.flatMap((i) =>
            i.recipients.map((r) => [
              String(i.id),
              i.createdAt.toISOString(),
              String(i.size),
              i.sender || '<>',
              r.address,
              r.state,
              r.lastError ?? '',
            ]),
          ),
        ]);
      }),
    );
}
