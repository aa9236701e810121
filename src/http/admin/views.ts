// What the admin API answers, as zod schemas: the OpenAPI document's response bodies
// (openapi.ts). The values come from the shared operations (src/admin/*).
import { z } from 'zod';

export const errorBody = z
  .object({
    error: z.string().meta({ description: 'A stable code: unauthorized, not_found, ...' }),
    message: z.string().optional(),
    issues: z
      .array(
        z.object({
          path: z.string().meta({ description: "Field names joined by '.'; '' for the body" }),
          message: z.string(),
        }),
      )
      .optional(),
  })
  .meta({ id: 'Error' });

export const sessionBody = z
  .object({ session: z.string(), expires: z.string().meta({ format: 'date-time' }) })
  .meta({ id: 'Session' });

export const whoami = z
  .object({ kind: z.enum(['token', 'account']), username: z.string().optional() })
  .meta({ id: 'Whoami' });

export const domain = z
  .object({
    name: z.string(),
    accounts: z.number().int(),
    aliases: z.number().int(),
    createdAt: z.string(),
  })
  .meta({ id: 'Domain' });

export const account = z
  .object({
    address: z.string(),
    quota: z.number().int().nullable().meta({ description: 'Bytes; null: unlimited' }),
    used: z.number().int(),
    disabled: z.boolean(),
    locked: z.boolean().meta({ description: 'Logins locked out now by the login throttle' }),
    admin: z.boolean(),
    pop3Policy: z.enum(['delete', 'keep', 'trash']),
    createdAt: z.string(),
  })
  .meta({ id: 'Account' });

export const appPassword = z
  .object({ name: z.string(), created: z.string(), lastUsed: z.string().nullable() })
  .meta({ id: 'AppPassword' });

export const newAppPassword = z
  .object({ name: z.string(), password: z.string().meta({ description: 'Shown this once' }) })
  .meta({ id: 'NewAppPassword' });

export const alias = z
  .object({ address: z.string(), targets: z.array(z.string()) })
  .meta({ id: 'Alias' });

export const newAlias = z
  .object({ address: z.string(), targets: z.array(z.string()), warnings: z.array(z.string()) })
  .meta({ id: 'NewAlias' });

export const queueItem = z
  .object({
    id: z.number().int(),
    from: z.string().meta({ description: "The envelope sender; '' for <>" }),
    to: z.array(z.string()),
    state: z.enum(['pending', 'held', 'sent', 'failed']),
    attempts: z.number().int(),
    nextAttempt: z.string(),
    lastError: z.string().nullable(),
    size: z.number().int(),
    age: z.number().int().meta({ description: 'Seconds since it was queued' }),
    created: z.string(),
    lastAttempt: z.string().nullable(),
    recipients: z.array(
      z.object({
        address: z.string(),
        state: z.string(),
        status: z.string().nullable(),
        remoteMta: z.string().nullable(),
        lastError: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'QueueItem' });

export const dkimKey = z
  .object({
    selector: z.string(),
    algorithm: z.enum(['rsa', 'ed25519']),
    state: z.enum(['signing', 'retired']),
    created: z.string(),
    dnsName: z.string(),
    dnsValue: z.string(),
  })
  .meta({ id: 'DkimKey' });

export const dnsRecord = z
  .object({
    type: z.enum(['MX', 'TXT', 'SRV', 'CNAME']),
    name: z.string(),
    value: z.string().nullable(),
    purpose: z.string(),
    kind: z.string(),
    status: z.enum(['ok', 'missing', 'wrong', 'error', 'unchecked']),
    found: z.array(z.string()).optional(),
    note: z.string().optional(),
  })
  .meta({ id: 'DnsRecord' });
