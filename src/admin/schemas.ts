// The fields an administrator gives, validated once for both front ends: the `letterbox` CLI
// (src/cli/commands/) and the JSON admin API (src/http/admin/). Each schema is zod, so the API's
// OpenAPI document is generated from the same definitions (src/http/admin/openapi.ts).
import { z } from 'zod';
import { DKIM_ALGORITHMS } from '../queue/dkim-keys.js';
import { normalizeAddress, normalizeAliasAddress, normalizeDomain } from '../store/names.js';
import { AdminError, type Issue } from './errors.js';

const valid = (fn: (s: string) => unknown) => (s: string) => {
  try {
    fn(s);
    return true;
  } catch {
    return false;
  }
};

/** A domain name (RFC 1035 labels), compared in lower case. */
export const domainName = z
  .string()
  .min(1)
  .max(253)
  .refine(valid(normalizeDomain), 'not a domain name')
  .meta({ description: 'A domain name, e.g. example.com', example: 'example.com' });

/** An account's address: its login name (RFC 5321 §4.5.3.1.1: local part at most 64 octets). */
export const accountAddress = z
  .string()
  .min(3)
  .max(64 + 1 + 253)
  .refine(valid(normalizeAddress), 'not an address (user@domain)')
  .meta({ description: 'The account address, also its login name', example: 'alice@example.com' });

/** An alias: an address, or `@domain` for the domain's catch-all. */
export const aliasAddress = z
  .string()
  .min(2)
  .max(64 + 1 + 253)
  .refine(valid(normalizeAliasAddress), 'not an address (user@domain) nor a catch-all (@domain)')
  .meta({ description: 'An address, or @domain for the catch-all', example: 'info@example.com' });

/** One alias target: an address (alias-check.ts's targetProblem, run by the operation, which
 * knows the local domains). */
export const aliasTarget = z
  .string()
  .min(1)
  .max(64 + 1 + 253)
  .meta({ description: 'A local or remote address', example: 'alice@example.com' });

/** Longest password taken: a hash's input, not storage, bounds it; this bounds the work. */
export const MAX_PASSWORD_LENGTH = 1024;

/** Why a password is refused, or null; counted in characters (code points), as users count. */
export function passwordProblem(pw: string, minLength: number): string | null {
  if (pw.length === 0) return 'empty password';
  const length = [...pw].length;
  if (length < minLength) {
    return `the password is ${length} characters; at least ${minLength} are needed ([auth] min_password_length)`;
  }
  if (length > MAX_PASSWORD_LENGTH) {
    return `the password is ${length} characters; at most ${MAX_PASSWORD_LENGTH} are taken`;
  }
  return null;
}

/** A new password, at least `minLength` characters (`[auth] min_password_length`). */
export function passwordSchema(minLength: number) {
  return z
    .string()
    .superRefine((pw, ctx) => {
      const problem = passwordProblem(pw, minLength);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    })
    .meta({ description: `At least ${minLength} characters; never shown again`, writeOnly: true });
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `unlimited`, `0` (also unlimited), or a size like `500M`, `2G`, `1048576`; null: unlimited. */
export function parseQuota(s: string): number | null {
  if (/^(unlimited|none|0)$/i.test(s.trim())) return null;
  const m = /^(\d+)\s*([KMGT]?)(i?B)?$/i.exec(s.trim());
  if (!m) throw new Error('expected a size such as 500M, 2G or "unlimited"');
  const n = Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(n)) throw new Error('too large a size');
  return n;
}

/** A quota: bytes, a size text (`2G`, `unlimited`), or null; 0 means unlimited, as in the CLI. */
export const quota = z
  .union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().max(32), z.null()])
  .transform((v, ctx): number | null => {
    if (v === null || v === 0) return null;
    if (typeof v === 'number') return v;
    try {
      return parseQuota(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  })
  .meta({
    description: 'Bytes, a size such as "500M" or "2G", or null / "unlimited" / 0 for no quota',
    examples: ['2G', 1073741824, null],
  });

/** An app password's name: the device or client it is for (1 to 64 printable characters). */
export const appPasswordName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[^\p{Cc}]+$/u, 'printable characters only')
  .meta({ description: 'The device or client it is for', example: 'phone' });

export const dkimAlgorithm = z.enum(DKIM_ALGORITHMS);

/** What POP3 DELE does: delete (RFC 1939), keep (hidden from POP3 only), or move to Trash. */
export const pop3Policy = z.enum(['delete', 'keep', 'trash']).meta({
  description: 'What POP3 DELE does: delete (RFC 1939), keep (hide from POP3 only), trash',
});

/** A queue item's id: the `queueId` of the server's log lines. */
export const queueId = z
  .string()
  .regex(/^[1-9]\d{0,15}$/, 'not a queue ID')
  .transform(Number)
  .refine(Number.isSafeInteger, 'not a queue ID');

/**
 * Validates `value` with `schema`, or throws AdminError('invalid') listing every issue (the
 * API answers them as `issues`, the CLI prints the first).
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues: Issue[] = r.error.issues.map((i) => ({
    path: i.path.map(String).join('.'),
    message: i.message.replace(/^Invalid input: /, ''),
  }));
  const first = issues[0]!;
  throw new AdminError(
    'invalid',
    first.path === '' ? first.message : `${first.path}: ${first.message}`,
    issues,
  );
}
