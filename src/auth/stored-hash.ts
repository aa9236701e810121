// What an account's stored password hash is: the server's own scrypt string (password.ts) or
// a foreign `{SCHEME}` hash brought in by `user add --password-hash` or `import users`
// (foreign-hash.ts). The authenticator verifies through here; only scrypt hashes with the
// current parameters are left alone after a login (needsRehash), every foreign one is replaced.
import { parseForeignHash, verifyForeign } from './foreign-hash.js';
import { parseHash, verifyPassword } from './password.js';

/** True when the stored text can be verified against (ours, or a foreign hash we accept). */
export function isUsableStoredHash(stored: string): boolean {
  return parseHash(stored) !== null || parseForeignHash(stored).ok;
}

/** Checks a password against a stored hash of either kind; never throws. */
export async function verifyStoredHash(password: string, stored: string): Promise<boolean> {
  if (parseHash(stored) !== null) return verifyPassword(password, stored);
  const foreign = parseForeignHash(stored);
  return foreign.ok ? verifyForeign(password, foreign.hash) : false;
}

/**
 * Why a hash given by an administrator (`user add --password-hash`, `import users`) cannot be
 * stored, or null when it can: the server's own form, or a foreign one foreign-hash.ts accepts.
 */
export function refuseImportedHash(stored: string): string | null {
  if (parseHash(stored) !== null) return null;
  const foreign = parseForeignHash(stored);
  return foreign.ok ? null : foreign.reason;
}
