// DKIM keys of a local domain (queue/dkim-keys.ts keeps them): `letterbox dkim` and the admin
// API's /domains/{name}/dkim. Key store refusals become AdminErrors here.
import { z } from 'zod';
import {
  type DkimAlgorithm,
  DkimKeyError,
  type DkimKeyInfo,
  generateDkimKey,
  keyRecordName,
  keyRecordValue,
  listDkimKeys,
  normalizeDomain,
  normalizeSelector,
  removeDkimKey,
  retireDkimKey,
} from '../queue/dkim-keys.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { dkimAlgorithm, parse } from './schemas.js';

export const newDkimKeySchema = z.strictObject({
  algorithm: dkimAlgorithm.optional().meta({ description: 'Default rsa (2048 bits)' }),
  selector: z.string().min(1).max(63).optional(),
});

export interface DkimKeyView {
  selector: string;
  algorithm: DkimAlgorithm;
  /** signing: signs outbound mail; retired: no longer signs, its record still published. */
  state: 'signing' | 'retired';
  created: string;
  /** The TXT record to publish: its owner name and its value. */
  dnsName: string;
  dnsValue: string;
}

export function dkimKeyView(k: DkimKeyInfo): DkimKeyView {
  return {
    selector: k.selector,
    algorithm: k.algorithm,
    state: k.retired ? 'retired' : 'signing',
    created: k.createdAt.toISOString(),
    dnsName: keyRecordName(k.domain, k.selector),
    dnsValue: keyRecordValue(k),
  };
}

/** Key store errors: a bad name is invalid, a missing key not_found, the rest conflicts. */
async function keyStore<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DkimKeyError) {
      const code = err.invalid
        ? 'invalid'
        : /^no DKIM key /.test(err.message)
          ? 'not_found'
          : 'conflict';
      throw new AdminError(code, err.message);
    }
    throw err;
  }
}

/** The domain, normalized, once it is known to be local. */
export async function localDomain(ctx: AdminContext, domain: string): Promise<string> {
  const d = await keyStore(async () => normalizeDomain(domain));
  if (!(await ctx.store.isLocalDomain(d))) {
    throw new AdminError('not_found', `${d} is not a local domain (letterbox domain add ${d})`);
  }
  return d;
}

/** Every key, or those of one domain (any domain name: keys may outlive their domain). */
export async function listKeys(ctx: AdminContext, domain?: string): Promise<DkimKeyInfo[]> {
  return keyStore(() => listDkimKeys(ctx.cfg.dataDir, domain));
}

/** Makes one key per algorithm; it signs at once beside the domain's other keys. */
export async function generateKeys(
  ctx: AdminContext,
  domain: string,
  opts: { algorithms: readonly DkimAlgorithm[]; selector?: string },
): Promise<DkimKeyInfo[]> {
  if (opts.selector !== undefined && opts.algorithms.length > 1) {
    throw new AdminError(
      'invalid',
      'a selector holds one key: with --selector give --algorithm too',
    );
  }
  const d = await localDomain(ctx, domain);
  const made: DkimKeyInfo[] = [];
  for (const algorithm of opts.algorithms) {
    made.push(
      await keyStore(() =>
        generateDkimKey(ctx.cfg.dataDir, d, { algorithm, selector: opts.selector }),
      ),
    );
  }
  return made;
}

/** The API's POST: one key, RSA unless asked (the algorithm every verifier knows). */
export async function generateKey(
  ctx: AdminContext,
  domain: string,
  input: unknown,
): Promise<DkimKeyInfo> {
  const v = parse(newDkimKeySchema, input ?? {});
  const [k] = await generateKeys(ctx, domain, {
    algorithms: [v.algorithm ?? 'rsa'],
    selector: v.selector,
  });
  return k!;
}

export async function retireKey(
  ctx: AdminContext,
  domain: string,
  selector: string,
): Promise<DkimKeyInfo> {
  return keyStore(() => retireDkimKey(ctx.cfg.dataDir, domain, selector));
}

/** Deletes a retired key; a signing one is refused (conflict): retire it first. */
export async function removeKey(
  ctx: AdminContext,
  domain: string,
  selector: string,
): Promise<DkimKeyInfo> {
  return keyStore(async () => {
    normalizeSelector(selector);
    return removeDkimKey(ctx.cfg.dataDir, domain, selector);
  });
}
