// /queue: the outbound queue (admin/queue.ts).
import { z } from 'zod';
import type { AdminContext } from '../../../admin/context.js';
import {
  deleteQueued,
  findQueued,
  holdQueued,
  listQueue,
  queuedHeader,
  queueItemView,
  releaseQueued,
  retryQueued,
} from '../../../admin/queue.js';
import type { ApiRoute } from '../router.js';
import * as v from '../views.js';
import { noContent, ok } from './reply.js';

type QueueAction = (ctx: AdminContext, id: string) => Promise<unknown>;

const action = (path: string, summary: string, run: QueueAction): ApiRoute => ({
  method: 'POST',
  path,
  summary,
  tag: 'queue',
  responses: { 204: { description: 'Done' } },
  async handle({ ctx, params }) {
    await run(ctx, params.id!);
    return noContent();
  },
});

export const queueRoutes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/queue',
    summary: 'The queued messages',
    tag: 'queue',
    responses: {
      200: { description: 'The items', schema: z.object({ items: z.array(v.queueItem) }) },
    },
    async handle({ ctx }) {
      const now = Date.now();
      return ok({ items: (await listQueue(ctx)).map((i) => queueItemView(i, now)) });
    },
  },
  {
    method: 'GET',
    path: '/queue/{id}',
    summary: 'One queued message',
    tag: 'queue',
    responses: {
      200: {
        description: 'The item, with its header',
        schema: v.queueItem.extend({ header: z.string() }),
      },
    },
    async handle({ ctx, params }) {
      const item = await findQueued(ctx, params.id!);
      return ok({ ...queueItemView(item), header: await queuedHeader(ctx, item) });
    },
  },
  {
    method: 'POST',
    path: '/queue/flush',
    summary: 'Try every message not held again now (letterbox queue flush)',
    tag: 'queue',
    responses: {
      200: { description: 'How many are due now', schema: z.object({ due: z.number().int() }) },
    },
    async handle({ ctx }) {
      return ok({ due: await retryQueued(ctx, 'all') });
    },
  },
  action('/queue/{id}/retry', 'Try it again now', retryQueued),
  action('/queue/{id}/hold', 'Keep it without attempting it', holdQueued),
  action('/queue/{id}/release', 'Attempt a held message again, now', releaseQueued),
  {
    method: 'DELETE',
    path: '/queue/{id}',
    summary: 'Remove it from the queue, without a bounce',
    tag: 'queue',
    responses: { 204: { description: 'Removed' } },
    async handle({ ctx, params }) {
      await deleteQueued(ctx, params.id!);
      return noContent();
    },
  },
];
