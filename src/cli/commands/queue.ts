// `letterbox queue`: the outbound queue for the administrator. The ID is the `queueId` of the
// server's log lines. Changes are made in the store; a running server hears them (SQLite's
// data_version, PostgreSQL's queue channel) and its worker looks at once.
import type { Command } from 'commander';
import {
  deleteQueued,
  findQueued,
  holdQueued,
  listQueue,
  queuedHeader,
  releaseQueued,
  retryQueued,
} from '../../admin/queue.js';
import type { OutboundItem } from '../../store/types.js';
import { type GlobalOptions, withAdmin } from '../context.js';
import { CliError, EXIT_USAGE } from '../errors.js';
import { stdout } from '../io.js';

function asJson(i: OutboundItem) {
  return {
    ...i,
    createdAt: i.createdAt.toISOString(),
    nextAttemptAt: i.nextAttemptAt.toISOString(),
    lastAttemptAt: i.lastAttemptAt?.toISOString() ?? null,
  };
}

export function registerQueue(program: Command, globals: () => GlobalOptions): void {
  const queue = program.command('queue').description('inspect and manage the outbound queue');
  queue
    .command('list')
    .description('list queued messages and their recipients')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) =>
      withAdmin(globals(), async (ctx) => {
        const items = await listQueue(ctx);
        if (o.json) {
          stdout.json(items.map(asJson));
          return;
        }
        stdout.table([
          ['ID', 'QUEUED', 'SIZE', 'SENDER', 'RECIPIENT', 'STATE', 'NEXT', 'LAST ERROR'],
          ...items.flatMap((i) =>
            i.recipients.map((r) => [
              String(i.id),
              i.createdAt.toISOString(),
              String(i.size),
              i.sender || '<>',
              r.address,
              i.held && r.state === 'pending' ? 'held' : r.state,
              r.state === 'pending' ? i.nextAttemptAt.toISOString() : '',
              r.lastError ?? '',
            ]),
          ),
        ]);
      }),
    );
  queue
    .command('show <id>')
    .description('one queued message: envelope, attempts, each recipient, the header')
    .option('--json', 'machine-readable output')
    .action((id: string, o: { json?: boolean }) =>
      withAdmin(globals(), async (ctx) => {
        const item = await findQueued(ctx, id);
        const header = await queuedHeader(ctx, item);
        if (o.json) {
          stdout.json({ ...asJson(item), header });
          return;
        }
        stdout.line(`ID:           ${item.id}${item.held ? ' (held)' : ''}`);
        stdout.line(`Sender:       ${item.sender || '<>'}`);
        stdout.line(`Size:         ${item.size}`);
        stdout.line(`Queued:       ${item.createdAt.toISOString()}`);
        stdout.line(`Attempts:     ${item.attempts}`);
        stdout.line(`Last attempt: ${item.lastAttemptAt?.toISOString() ?? '-'}`);
        stdout.line(`Next attempt: ${item.nextAttemptAt.toISOString()}`);
        if (item.envid) stdout.line(`ENVID:        ${item.envid}`);
        if (item.ret) stdout.line(`RET:          ${item.ret}`);
        for (const r of item.recipients) {
          const extra = [r.status, r.remoteMta, r.lastError].filter(Boolean).join('  ');
          stdout.line(`Recipient:    ${r.address}  ${r.state}${extra ? `  ${extra}` : ''}`);
        }
        stdout.line('');
        stdout.line(header);
      }),
    );
  queue
    .command('retry [id]')
    .description('try a message (or, with --all, every message) again now')
    .option('--all', 'every message not held')
    .action((id: string | undefined, o: { all?: boolean }) =>
      withAdmin(globals(), async (ctx) => {
        if (Boolean(o.all) === (id !== undefined))
          throw new CliError('give an ID or --all', EXIT_USAGE);
        const n = await retryQueued(ctx, o.all ? 'all' : id!);
        stdout.line(`${n} message${n === 1 ? '' : 's'} due now`);
      }),
    );
  queue
    .command('flush')
    .description('try every message not held again now (same as retry --all)')
    .action(() =>
      withAdmin(globals(), async (ctx) => {
        const n = await retryQueued(ctx, 'all');
        stdout.line(`${n} message${n === 1 ? '' : 's'} due now`);
      }),
    );
  queue
    .command('hold <id>')
    .description('keep a message in the queue without attempting it')
    .action((id: string) =>
      withAdmin(globals(), async (ctx) => {
        await holdQueued(ctx, id);
        stdout.line(`held ${id}`);
      }),
    );
  queue
    .command('release <id>')
    .description('attempt a held message again')
    .action((id: string) =>
      withAdmin(globals(), async (ctx) => {
        await releaseQueued(ctx, id);
        stdout.line(`released ${id}`);
      }),
    );
  queue
    .command('delete <id>')
    .description('remove a message from the queue, without a bounce')
    .action((id: string) =>
      withAdmin(globals(), async (ctx) => {
        await deleteQueued(ctx, id);
        stdout.line(`deleted ${id}`);
      }),
    );
}
