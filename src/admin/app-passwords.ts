// App passwords: per-device passwords of an account (auth/app-password.ts), for `letterbox
// user app-password` and the admin API. A new one is returned once and never kept in the clear.
import { z } from 'zod';
import { generateAppPassword } from '../auth/app-password.js';
import { isStoreError } from '../store/errors.js';
import { findAccount } from './accounts.js';
import type { AdminContext } from './context.js';
import { storeCall } from './errors.js';
import { appPasswordName, parse } from './schemas.js';

export const newAppPasswordSchema = z.strictObject({ name: appPasswordName });

export interface AppPasswordView {
  name: string;
  created: string;
  /** Last login with it, to the hour; null: never used. */
  lastUsed: string | null;
}

export async function listAppPasswords(
  ctx: AdminContext,
  address: string,
): Promise<AppPasswordView[]> {
  const a = await findAccount(ctx, address);
  return (await ctx.store.listAppPasswords(a.address)).map((p) => ({
    name: p.name,
    created: p.createdAt.toISOString(),
    lastUsed: p.lastUsedAt?.toISOString() ?? null,
  }));
}

/** Makes one; the password is in the answer only. */
export async function addAppPassword(
  ctx: AdminContext,
  address: string,
  input: unknown,
): Promise<{ address: string; name: string; password: string }> {
  const { name } = parse(newAppPasswordSchema, input);
  const a = await findAccount(ctx, address);
  // The id is random: a clash with one of the account's own is retried, not shown.
  for (let attempt = 0; ; attempt++) {
    const made = generateAppPassword();
    // Made long enough by construction; the check keeps the promise of the setting.
    if (made.password.length < ctx.cfg.auth.min_password_length) {
      throw new Error('[auth] min_password_length is above the app password length');
    }
    try {
      const p = await ctx.store.addAppPassword(a.address, {
        id: made.id,
        name,
        hash: made.hash,
      });
      return { address: a.address, name: p.name, password: made.password };
    } catch (e) {
      const idClash = isStoreError(e, 'EXISTS') && /id in use/.test(e.message);
      if (!idClash || attempt >= 3) return storeCall(() => Promise.reject(e));
    }
  }
}

export async function removeAppPassword(
  ctx: AdminContext,
  address: string,
  name: string,
): Promise<void> {
  const a = await findAccount(ctx, address);
  await storeCall(() => ctx.store.removeAppPassword(a.address, name));
}
