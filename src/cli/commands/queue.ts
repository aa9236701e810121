// `letterbox queue`: the outbound queue for the administrator. The ID is the `queueId` of the
// server's log lines. Changes are made in the store; a running server's worker sees them at
// its next look (within a second).
import type { Command } from 'commander';
import type { MailStore, OutboundItem } from '../../store/types.js';
import { type GlobalOptions, withStore } from '../context.js';
import { CliError, EXIT_FAILED, EXIT_USAGE } from '../errors.js';
import { stdout } from '../io.js';

function asJson(i: OutboundItem) {
  return {
    ...i,
    createdAt: i.createdAt.toISOString(),
    nextAttemptAt: i.nextAttemptAt.toISOString(),
    lastAttemptAt: i.lastAttemptAt?.toISOString() ?? null,
  };
}

function parseId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id <= 0)
    throw new CliError(`not a queue ID: ${text}`, EXIT_USAGE);
  return id;
}

async function existing(store: MailStore, text: string): Promise<OutboundItem> {
  const item = await store.getOutbound(parseId(text));
  if (!item) throw new CliError(`no queued message ${text}`, EXIT_FAILED);
  return item;
}

export function registerQueue(program: Command, globals: () => GlobalOptions): void {
  const queue = program.command('queue').description('inspect and manage the outbound queue');
  queue
    .command('list')
    .description('list queued messages and their recipients')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) =>
      withStore(globals(), async (store) => {
        const items = await store.listOutbound();
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
      withStore(globals(), async (store) => {
        const item = await existing(store, id);
        const raw = await store.readOutbound(item);
        const end = raw.indexOf('\r\n\r\n');
        const header = raw.subarray(0, end < 0 ? Math.min(raw.length, 64 * 1024) : end).toString();
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
      withStore(globals(), async (store) => {
        if (Boolean(o.all) === (id !== undefined))
          throw new CliError('give an ID or --all', EXIT_USAGE);
        if (id !== undefined) await existing(store, id);
        const n = await store.retryOutbound(o.all ? 'all' : parseId(id!));
        stdout.line(`${n} message${n === 1 ? '' : 's'} due now`);
      }),
    );
  queue
    .command('flush')
    .description('try every message not held again now (same as retry --all)')
    .action(() =>
      withStore(globals(), async (store) => {
        const n = await store.retryOutbound('all');
        stdout.line(`${n} message${n === 1 ? '' : 's'} due now`);
      }),
    );
  queue
    .command('hold <id>')
    .description('keep a message in the queue without attempting it')
    .action((id: string) =>
      withStore(globals(), async (store) => {
        await existing(store, id);
        await store.holdOutbound(parseId(id), true);
        stdout.line(`held ${id}`);
      }),
    );
  queue
    .command('release <id>')
    .description('attempt a held message again')
    .action((id: string) =>
      withStore(globals(), async (store) => {
        await existing(store, id);
        await store.holdOutbound(parseId(id), false);
        await store.retryOutbound(parseId(id));
        stdout.line(`released ${id}`);
      }),
    );
  queue
    .command('delete <id>')
    .description('remove a message from the queue, without a bounce')
    .action((id: string) =>
      withStore(globals(), async (store) => {
        if (!(await store.deleteOutbound(parseId(id)))) {
          throw new CliError(`no queued message ${id}`, EXIT_FAILED);
        }
        stdout.line(`deleted ${id}`);
      }),
    );
}
