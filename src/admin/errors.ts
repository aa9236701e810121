// What an admin operation refuses, as a value both front ends map to their own answer: the CLI
// to an exit code (invalid 2, the others 1), the admin API to an HTTP status (400, 404, 409).
import { isStoreError } from '../store/errors.js';

export type AdminErrorCode = 'invalid' | 'not_found' | 'conflict';

/** One problem of a request: where (field names joined by '.', '' for the whole) and what. */
export interface Issue {
  path: string;
  message: string;
}

export class AdminError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    readonly issues: readonly Issue[] = [],
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/** A store refusal as an AdminError; anything else (the store is down, a bug) unchanged. */
export function adminErrorOf(err: unknown): unknown {
  if (!isStoreError(err)) return err;
  switch (err.code) {
    case 'NOT_FOUND':
      return new AdminError('not_found', err.message);
    case 'EXISTS':
    case 'IN_USE':
    case 'NOT_ALLOWED':
      return new AdminError('conflict', err.message);
    case 'UNAVAILABLE':
      return err;
    default:
      return new AdminError('invalid', err.message);
  }
}

/** Runs a store call with its refusals turned into AdminErrors. */
export async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw adminErrorOf(err);
  }
}
