// The outbound queue for the administrator: `letterbox queue` and the admin API's /queue.
// Changes are made in the store, which wakes the worker (queue/worker.ts pollMs: this process
// calls its listeners, another process or node is heard through the store).
import type { OutboundItem } from '../store/types.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { queueId } from './schemas.js';

export interface QueueItemView {
  id: number;
  /** The envelope sender; '' for the null sender `<>`. */
  from: string;
  to: string[];
  /** held, or: pending while a recipient is, else failed if one failed, else sent. */
  state: 'pending' | 'held' | 'sent' | 'failed';
  attempts: number;
  nextAttempt: string;
  lastError: string | null;
  size: number;
  /** Seconds since it was queued. */
  age: number;
  created: string;
  lastAttempt: string | null;
  recipients: Array<{
    address: string;
    state: string;
    status: string | null;
    remoteMta: string | null;
    lastError: string | null;
  }>;
}

export function queueItemView(i: OutboundItem, now = Date.now()): QueueItemView {
  const pending = i.recipients.some((r) => r.state === 'pending');
  const failed = i.recipients.some((r) => r.state === 'failed');
  const lastError = i.recipients.map((r) => r.lastError).find((e) => e) ?? null;
  return {
    id: i.id,
    from: i.sender,
    to: i.recipients.map((r) => r.address),
    state: pending ? (i.held ? 'held' : 'pending') : failed ? 'failed' : 'sent',
    attempts: i.attempts,
    nextAttempt: i.nextAttemptAt.toISOString(),
    lastError,
    size: i.size,
    age: Math.max(0, Math.round((now - i.createdAt.getTime()) / 1000)),
    created: i.createdAt.toISOString(),
    lastAttempt: i.lastAttemptAt?.toISOString() ?? null,
    recipients: i.recipients.map((r) => ({
      address: r.address,
      state: r.state,
      status: r.status ?? null,
      remoteMta: r.remoteMta ?? null,
      lastError: r.lastError ?? null,
    })),
  };
}

/** The id in `text`, or invalid. */
export function queueIdOf(text: string): number {
  const r = queueId.safeParse(text);
  if (!r.success) throw new AdminError('invalid', `not a queue ID: ${text}`);
  return r.data;
}

/** The item of that id (text, as typed or in a URL), or not_found. */
export async function findQueued(ctx: AdminContext, id: string): Promise<OutboundItem> {
  const item = await ctx.store.getOutbound(queueIdOf(id));
  if (!item) throw new AdminError('not_found', `no queued message ${id}`);
  return item;
}

export async function listQueue(ctx: AdminContext): Promise<OutboundItem[]> {
  return ctx.store.listOutbound();
}

/** The message's header as text (at most 64 KiB when it has no end), for a look at it. */
export async function queuedHeader(ctx: AdminContext, item: OutboundItem): Promise<string> {
  const raw = await ctx.store.readOutbound(item);
  const end = raw.indexOf('\r\n\r\n');
  return raw.subarray(0, end < 0 ? Math.min(raw.length, 64 * 1024) : end).toString();
}

/** Due now; returns how many messages were made due. */
export async function retryQueued(ctx: AdminContext, id: string | 'all'): Promise<number> {
  if (id === 'all') return ctx.store.retryOutbound('all');
  const item = await findQueued(ctx, id);
  return ctx.store.retryOutbound(item.id);
}

export async function holdQueued(ctx: AdminContext, id: string): Promise<void> {
  const item = await findQueued(ctx, id);
  await ctx.store.holdOutbound(item.id, true);
}

/** Released and due now. */
export async function releaseQueued(ctx: AdminContext, id: string): Promise<void> {
  const item = await findQueued(ctx, id);
  await ctx.store.holdOutbound(item.id, false);
  await ctx.store.retryOutbound(item.id);
}

/** Removed without a bounce. */
export async function deleteQueued(ctx: AdminContext, id: string): Promise<void> {
  if (!(await ctx.store.deleteOutbound(queueIdOf(id)))) {
    throw new AdminError('not_found', `no queued message ${id}`);
  }
}
