// /aliases (admin/aliases.ts): a loop is stored, with a warning in the answer.
import { z } from 'zod';
import { addAlias, listAliases, newAliasSchema, removeAlias } from '../../../admin/aliases.js';
import type { ApiRoute } from '../router.js';
import * as v from '../views.js';
import { created, noContent, ok } from './reply.js';

export const aliasRoutes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/aliases',
    summary: 'List the aliases, or those of ?domain=',
    tag: 'aliases',
    query: { domain: { schema: z.string(), description: 'Only the aliases of this domain' } },
    responses: {
      200: { description: 'The aliases', schema: z.object({ aliases: z.array(v.alias) }) },
    },
    async handle({ ctx, query }) {
      return ok({ aliases: await listAliases(ctx, query.get('domain') || undefined) });
    },
  },
  {
    method: 'POST',
    path: '/aliases',
    summary: 'Add an alias (address @domain: the catch-all)',
    tag: 'aliases',
    body: newAliasSchema,
    responses: { 201: { description: 'Added', schema: v.newAlias } },
    async handle({ ctx, body }) {
      return created(await addAlias(ctx, body));
    },
  },
  {
    method: 'DELETE',
    path: '/aliases/{address}',
    summary: 'Remove an alias',
    tag: 'aliases',
    responses: { 204: { description: 'Removed' } },
    async handle({ ctx, params }) {
      await removeAlias(ctx, params.address!);
      return noContent();
    },
  },
];
