// Aliases: what `letterbox alias` and the admin API's /aliases do. A target is checked as an
// address (alias-check.ts); a loop is stored but warned about.
import { z } from 'zod';
import { normalizeAliasAddress } from '../store/names.js';
import type { Alias } from '../store/types.js';
import { aliasLoop, targetProblem } from './alias-check.js';
import type { AdminContext } from './context.js';
import { AdminError, storeCall } from './errors.js';
import { aliasAddress, aliasTarget, domainName, parse } from './schemas.js';

/** Targets of one alias at most: a mailing list is not an alias. */
export const MAX_ALIAS_TARGETS = 1000;

export const newAliasSchema = z.strictObject({
  address: aliasAddress,
  targets: z.array(aliasTarget).min(1).max(MAX_ALIAS_TARGETS),
});

export interface AliasView {
  address: string;
  targets: string[];
}

export async function listAliases(ctx: AdminContext, domain?: string): Promise<AliasView[]> {
  const d = domain === undefined ? undefined : parse(domainName, domain).toLowerCase();
  return (await ctx.store.listAliases(d)).map((a: Alias) => ({
    address: a.address,
    targets: a.targets,
  }));
}

/** The alias stored, and warnings (a loop through other aliases). */
export async function addAlias(
  ctx: AdminContext,
  input: unknown,
): Promise<AliasView & { warnings: string[] }> {
  const v = parse(newAliasSchema, input);
  const local = new Set((await ctx.store.listDomains()).map((d) => d.name));
  v.targets.forEach((t, i) => {
    const problem = targetProblem(t, (d) => local.has(d));
    if (problem !== null) {
      throw new AdminError('invalid', `invalid target "${t}": ${problem}`, [
        { path: `targets.${i}`, message: problem },
      ]);
    }
  });
  const a = await storeCall(() => ctx.store.addAlias(v.address, v.targets));
  const warnings: string[] = [];
  const loop = aliasLoop(a.address, await ctx.store.listAliases());
  if (loop !== null) {
    warnings.push(
      `${loop.join(' -> ')} is a loop: mail to it reaches only the accounts and remote ` +
        'addresses on the way',
    );
  }
  return { address: a.address, targets: a.targets, warnings };
}

export async function removeAlias(ctx: AdminContext, address: string): Promise<string> {
  const a = normalizeAliasAddress(parse(aliasAddress, address));
  await storeCall(() => ctx.store.removeAlias(a));
  return a;
}
