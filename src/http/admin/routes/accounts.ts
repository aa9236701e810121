// /accounts and their app passwords (admin/accounts.ts, app-passwords.ts). A password is taken,
// never answered; a new app password is answered once.
import { z } from 'zod';
import {
  accountChangeSchema,
  changeAccount,
  createAccount,
  getAccount,
  listAccounts,
  newAccountSchema,
  removeAccount,
  unlockAccount,
} from '../../../admin/accounts.js';
import {
  addAppPassword,
  listAppPasswords,
  newAppPasswordSchema,
  removeAppPassword,
} from '../../../admin/app-passwords.js';
import type { ApiRoute } from '../router.js';
import * as v from '../views.js';
import { created, noContent, ok } from './reply.js';

/** For the document: the real minimum is `[auth] min_password_length`, checked per request. */
const DOC_MIN_PASSWORD = 1;

export const accountRoutes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/accounts',
    summary: 'List the accounts, or those of ?domain=',
    tag: 'accounts',
    query: { domain: { schema: z.string(), description: 'Only the accounts of this domain' } },
    responses: {
      200: { description: 'The accounts', schema: z.object({ accounts: z.array(v.account) }) },
    },
    async handle({ ctx, query }) {
      return ok({ accounts: await listAccounts(ctx, query.get('domain') || undefined) });
    },
  },
  {
    method: 'POST',
    path: '/accounts',
    summary: 'Create an account with its default mailboxes',
    tag: 'accounts',
    body: newAccountSchema(DOC_MIN_PASSWORD),
    responses: { 201: { description: 'Created', schema: v.account } },
    async handle({ ctx, body }) {
      return created(await createAccount(ctx, body));
    },
  },
  {
    method: 'GET',
    path: '/accounts/{address}',
    summary: 'One account',
    tag: 'accounts',
    responses: { 200: { description: 'The account', schema: v.account } },
    async handle({ ctx, params }) {
      return ok(await getAccount(ctx, params.address!));
    },
  },
  {
    method: 'PATCH',
    path: '/accounts/{address}',
    summary: 'Change the password, quota, disabled state, admin role or POP3 policy',
    tag: 'accounts',
    body: accountChangeSchema(DOC_MIN_PASSWORD),
    responses: { 200: { description: 'The account as it is now', schema: v.account } },
    async handle({ ctx, params, body }) {
      return ok(await changeAccount(ctx, params.address!, body ?? {}));
    },
  },
  {
    method: 'POST',
    path: '/accounts/{address}/unlock',
    summary: 'Lift the login lockouts of the account in force now',
    tag: 'accounts',
    responses: { 204: { description: 'Lifted' } },
    async handle({ ctx, params }) {
      await unlockAccount(ctx, params.address!);
      return noContent();
    },
  },
  {
    method: 'DELETE',
    path: '/accounts/{address}',
    summary: 'Remove an account and all its mail',
    tag: 'accounts',
    responses: { 204: { description: 'Removed' } },
    async handle({ ctx, params }) {
      await removeAccount(ctx, params.address!);
      return noContent();
    },
  },
  {
    method: 'GET',
    path: '/accounts/{address}/app-passwords',
    summary: "The account's app passwords (names and dates, never the passwords)",
    tag: 'app-passwords',
    responses: {
      200: {
        description: 'The app passwords',
        schema: z.object({ appPasswords: z.array(v.appPassword) }),
      },
    },
    async handle({ ctx, params }) {
      return ok({ appPasswords: await listAppPasswords(ctx, params.address!) });
    },
  },
  {
    method: 'POST',
    path: '/accounts/{address}/app-passwords',
    summary: 'Make an app password; it is in this answer only',
    tag: 'app-passwords',
    body: newAppPasswordSchema,
    responses: { 201: { description: 'Made', schema: v.newAppPassword } },
    async handle({ ctx, params, body }) {
      const p = await addAppPassword(ctx, params.address!, body);
      return created({ name: p.name, password: p.password });
    },
  },
  {
    method: 'DELETE',
    path: '/accounts/{address}/app-passwords/{name}',
    summary: 'Revoke an app password',
    tag: 'app-passwords',
    responses: { 204: { description: 'Revoked' } },
    async handle({ ctx, params }) {
      await removeAppPassword(ctx, params.address!, params.name!);
      return noContent();
    },
  },
];
