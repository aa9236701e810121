// Local domains: what `letterbox domain` and the admin API's /domains do.
import { z } from 'zod';
import { normalizeDomain } from '../store/names.js';
import type { AdminContext } from './context.js';
import { storeCall } from './errors.js';
import { domainName, parse } from './schemas.js';

export interface DomainView {
  name: string;
  accounts: number;
  aliases: number;
  createdAt: string;
}

export async function listDomains(ctx: AdminContext): Promise<DomainView[]> {
  const [domains, accounts, aliases] = await Promise.all([
    ctx.store.listDomains(),
    ctx.store.listAccounts(),
    ctx.store.listAliases(),
  ]);
  const count = (addresses: string[]) => {
    const n = new Map<string, number>();
    for (const a of addresses) {
      const d = a.slice(a.lastIndexOf('@') + 1);
      n.set(d, (n.get(d) ?? 0) + 1);
    }
    return n;
  };
  const perAccount = count(accounts.map((a) => a.address));
  const perAlias = count(aliases.map((a) => a.address));
  return domains.map((d) => ({
    name: d.name,
    accounts: perAccount.get(d.name) ?? 0,
    aliases: perAlias.get(d.name) ?? 0,
    createdAt: d.createdAt.toISOString(),
  }));
}

export const newDomainSchema = z.strictObject({ name: domainName });

export async function addDomain(ctx: AdminContext, input: unknown): Promise<{ name: string }> {
  const { name } = parse(newDomainSchema, input);
  const d = await storeCall(() => ctx.store.addDomain(name));
  return { name: d.name };
}

/** Refused (conflict) while it has accounts or aliases, unless `force`. */
export async function removeDomain(
  ctx: AdminContext,
  name: string,
  opts: { force?: boolean } = {},
): Promise<string> {
  const d = normalizeDomain(parse(domainName, name));
  await storeCall(() => ctx.store.removeDomain(d, { force: opts.force === true }));
  return d;
}
