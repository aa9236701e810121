// Accounts: what `letterbox user` / `letterbox quota` and the admin API's /accounts do. The
// password is hashed here and never returned, logged or kept in the clear.
import { z } from 'zod';
import { hashPassword } from '../auth/password.js';
import { domainOf, normalizeAddress } from '../store/names.js';
import type { Account, Pop3Policy } from '../store/types.js';
import type { AdminContext } from './context.js';
import { AdminError, storeCall } from './errors.js';
import { accountAddress, domainName, parse, passwordSchema, pop3Policy, quota } from './schemas.js';

export interface AccountView {
  address: string;
  /** Bytes; null: unlimited. */
  quota: number | null;
  used: number;
  disabled: boolean;
  /** Logins locked out now by the throttle (only the running server knows; the CLI: false). */
  locked: boolean;
  admin: boolean;
  pop3Policy: Pop3Policy;
  createdAt: string;
}

export async function accountView(ctx: AdminContext, a: Account): Promise<AccountView> {
  return {
    address: a.address,
    quota: a.quotaBytes,
    used: a.usedBytes,
    disabled: a.disabled,
    locked: (await ctx.locked?.(a)) ?? false,
    admin: a.admin,
    pop3Policy: a.pop3Policy,
    createdAt: a.createdAt.toISOString(),
  };
}

/** The body of a new account (API) and the fields of `user add` (CLI). */
export function newAccountSchema(minPasswordLength: number) {
  return z.strictObject({
    address: accountAddress,
    password: passwordSchema(minPasswordLength),
    quota: quota.optional(),
    admin: z.boolean().optional(),
  });
}

/** What may change of an account; absent fields are left as they are. */
export function accountChangeSchema(minPasswordLength: number) {
  return z.strictObject({
    password: passwordSchema(minPasswordLength).optional(),
    quota: quota.optional(),
    disabled: z.boolean().optional(),
    admin: z.boolean().optional(),
    pop3Policy: pop3Policy.optional(),
  });
}

export type NewAccount = z.input<ReturnType<typeof newAccountSchema>>;
export type AccountChange = z.input<ReturnType<typeof accountChangeSchema>>;

export async function listAccounts(ctx: AdminContext, domain?: string): Promise<AccountView[]> {
  const d = domain === undefined ? undefined : parse(domainName, domain).toLowerCase();
  return Promise.all((await ctx.store.listAccounts(d)).map((a) => accountView(ctx, a)));
}

export async function findAccount(ctx: AdminContext, address: string): Promise<Account> {
  const a = await ctx.store.getAccount(normalizeAddress(parse(accountAddress, address)));
  if (!a) throw new AdminError('not_found', `no account ${address.toLowerCase()}`);
  return a;
}

export async function getAccount(ctx: AdminContext, address: string): Promise<AccountView> {
  return accountView(ctx, await findAccount(ctx, address));
}

/**
 * Refuses, before a password is asked for or hashed, an account that cannot be made: its
 * domain is not local, or the address is taken.
 */
export async function checkNewAddress(ctx: AdminContext, address: string): Promise<string> {
  const a = normalizeAddress(parse(accountAddress, address));
  if (!(await ctx.store.isLocalDomain(domainOf(a)))) {
    throw new AdminError(
      'not_found',
      `the domain of ${a} is not local: add it with \`letterbox domain add\``,
    );
  }
  if (await ctx.store.getAccount(a)) throw new AdminError('conflict', `account ${a} exists`);
  return a;
}

export async function createAccount(ctx: AdminContext, input: unknown): Promise<AccountView> {
  const v = parse(newAccountSchema(ctx.cfg.auth.min_password_length), input);
  const address = await checkNewAddress(ctx, v.address);
  const a = await storeCall(async () =>
    ctx.store.createAccount({
      address,
      passwordHash: await hashPassword(v.password),
      quotaBytes: v.quota ?? null,
      admin: v.admin === true,
    }),
  );
  return accountView(ctx, a);
}

/**
 * An account with a password hash made elsewhere (`user add --password-hash`: a hash from
 * another server, checked by auth/stored-hash.ts), the other fields validated as above.
 */
export async function createAccountWithHash(
  ctx: AdminContext,
  input: { address: string; quota?: number | string | null; admin?: boolean },
  passwordHash: string,
): Promise<AccountView> {
  const v = parse(newAccountSchema(1).omit({ password: true }), input);
  const address = await checkNewAddress(ctx, v.address);
  const a = await storeCall(() =>
    ctx.store.createAccount({
      address,
      passwordHash,
      quotaBytes: v.quota ?? null,
      admin: v.admin === true,
    }),
  );
  return accountView(ctx, a);
}

/** Sets a password hash made elsewhere (`user passwd --password-hash`). */
export async function setPasswordHash(
  ctx: AdminContext,
  address: string,
  passwordHash: string,
): Promise<void> {
  const a = (await findAccount(ctx, address)).address;
  await storeCall(() => ctx.store.setPassword(a, passwordHash));
}

/** Applies the given fields in turn; each is one store write. */
export async function changeAccount(
  ctx: AdminContext,
  address: string,
  input: unknown,
): Promise<AccountView> {
  const v = parse(accountChangeSchema(ctx.cfg.auth.min_password_length), input);
  const a = (await findAccount(ctx, address)).address;
  await storeCall(async () => {
    if (v.password !== undefined) await ctx.store.setPassword(a, await hashPassword(v.password));
    if (v.quota !== undefined) await ctx.store.setQuota(a, v.quota);
    if (v.disabled !== undefined) await ctx.store.setDisabled(a, v.disabled);
    if (v.admin !== undefined) await ctx.store.setAdmin(a, v.admin);
    if (v.pop3Policy !== undefined) await ctx.store.setPop3Policy(a, v.pop3Policy);
  });
  return getAccount(ctx, a);
}

/** Lifts the lockouts in force now; the server applies it at the account's next login. */
export async function unlockAccount(ctx: AdminContext, address: string): Promise<string> {
  const a = (await findAccount(ctx, address)).address;
  await storeCall(() => ctx.store.unlockAccount(a));
  return a;
}

export async function removeAccount(ctx: AdminContext, address: string): Promise<string> {
  const a = (await findAccount(ctx, address)).address;
  await storeCall(() => ctx.store.removeAccount(a));
  return a;
}
