// /domains: local domains, their DNS records and DKIM keys (admin/domains.ts, dkim.ts, dns.ts).
import { z } from 'zod';
import {
  dkimKeyView,
  generateKey,
  listKeys,
  localDomain,
  newDkimKeySchema,
  removeKey,
  retireKey,
} from '../../../admin/dkim.js';
import { checkRecords, dnsRecordViews, recordsOf } from '../../../admin/dns.js';
import { addDomain, listDomains, newDomainSchema, removeDomain } from '../../../admin/domains.js';
import type { ApiRoute } from '../router.js';
import * as v from '../views.js';
import { created, noContent, ok } from './reply.js';

const flag = (q: URLSearchParams, name: string) => /^(1|true|yes)$/i.test(q.get(name) ?? '');

export const domainRoutes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/domains',
    summary: 'List the local domains',
    tag: 'domains',
    responses: {
      200: { description: 'The domains', schema: z.object({ domains: z.array(v.domain) }) },
    },
    async handle({ ctx }) {
      return ok({ domains: await listDomains(ctx) });
    },
  },
  {
    method: 'POST',
    path: '/domains',
    summary: 'Add a local domain',
    tag: 'domains',
    body: newDomainSchema,
    responses: { 201: { description: 'Added', schema: z.object({ name: z.string() }) } },
    async handle({ ctx, body }) {
      return created(await addDomain(ctx, body));
    },
  },
  {
    method: 'DELETE',
    path: '/domains/{name}',
    summary: 'Remove a domain (409 while it has accounts or aliases, unless ?force=true)',
    tag: 'domains',
    query: {
      force: {
        schema: z.boolean(),
        description: 'Also remove its accounts (with their mail) and aliases',
      },
    },
    responses: { 204: { description: 'Removed' } },
    async handle({ ctx, params, query }) {
      await removeDomain(ctx, params.name!, { force: flag(query, 'force') });
      return noContent();
    },
  },
  {
    method: 'GET',
    path: '/domains/{name}/dns',
    summary: 'The DNS records the domain needs; with ?check=true, what DNS says of each',
    tag: 'dns',
    query: {
      check: { schema: z.boolean(), description: "Query DNS (the config's [dns] servers)" },
    },
    responses: {
      200: { description: 'The records', schema: z.object({ records: z.array(v.dnsRecord) }) },
    },
    async handle({ ctx, params, query }) {
      const dr = await recordsOf(ctx, params.name!);
      const verdicts = flag(query, 'check') ? await checkRecords(ctx, dr) : undefined;
      return ok({ records: dnsRecordViews(dr, verdicts) });
    },
  },
  {
    method: 'GET',
    path: '/domains/{name}/dkim',
    summary: "The domain's DKIM keys and their DNS records",
    tag: 'dkim',
    responses: { 200: { description: 'The keys', schema: z.object({ keys: z.array(v.dkimKey) }) } },
    async handle({ ctx, params }) {
      const d = await localDomain(ctx, params.name!);
      return ok({ keys: (await listKeys(ctx, d)).map(dkimKeyView) });
    },
  },
  {
    method: 'POST',
    path: '/domains/{name}/dkim',
    summary: 'Make a DKIM key (RSA-2048 unless asked); it signs at once',
    tag: 'dkim',
    body: newDkimKeySchema,
    responses: { 201: { description: 'Made', schema: v.dkimKey } },
    async handle({ ctx, params, body }) {
      return created(dkimKeyView(await generateKey(ctx, params.name!, body)));
    },
  },
  {
    method: 'POST',
    path: '/domains/{name}/dkim/{selector}/retire',
    summary: 'Stop signing with a key (keep its DNS record a few days, then delete the key)',
    tag: 'dkim',
    responses: { 200: { description: 'Retired', schema: v.dkimKey } },
    async handle({ ctx, params }) {
      const d = await localDomain(ctx, params.name!);
      return ok(dkimKeyView(await retireKey(ctx, d, params.selector!)));
    },
  },
  {
    method: 'DELETE',
    path: '/domains/{name}/dkim/{selector}',
    summary: 'Delete a retired key (409 while it still signs: retire it first)',
    tag: 'dkim',
    responses: { 204: { description: 'Deleted' } },
    async handle({ ctx, params }) {
      const d = await localDomain(ctx, params.name!);
      await removeKey(ctx, d, params.selector!);
      return noContent();
    },
  },
];
