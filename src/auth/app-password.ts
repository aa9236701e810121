// App passwords: per-device passwords an account can have besides its main one (`letterbox
// user app-password add|list|remove`), each revocable on its own, usable for IMAP, POP3 and
// SMTP.
//
//   lb-<id>-<secret>      e.g. lb-k3x7qm2a-4fj2kq7zr5w3nb6yt2ea6m5c
//
// The id (8 characters) says which of the account's app passwords to check, so a login costs
// one check whatever their number; the secret (24 characters of base32, 120 random bits) is
// made here and shown once. Because the secret is random and long, guessing it offline from a
// stolen hash is out of reach, so a plain SHA-256 is a sufficient hash and costs microseconds:
// no scrypt, no place in the hash pool, no verified-cache entry. Letters are lower-case
// base32 (RFC 4648 §6 alphabet, no 0/1/8/9 to misread); what a client sends is lower-cased
// first, so a phone that capitalised the first letter still logs in.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const ID_CHARS = 8;
const SECRET_CHARS = 24;
const FORMAT = /^lb-([a-z2-7]{8})-([a-z2-7]{24})$/;
const HASH_PREFIX = '$sha256$';

function randomBase32(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  // 256 is a multiple of 32: every letter is equally likely.
  for (const b of bytes) out += ALPHABET[b % 32];
  return out;
}

function digest(password: string): Buffer {
  return createHash('sha256').update(password.toLowerCase(), 'utf8').digest();
}

export interface NewAppPassword {
  id: string;
  /** The whole app password, to show once; never stored. */
  password: string;
  /** What the store keeps. */
  hash: string;
}

export function generateAppPassword(): NewAppPassword {
  const id = randomBase32(ID_CHARS);
  const password = `lb-${id}-${randomBase32(SECRET_CHARS)}`;
  return { id, password, hash: HASH_PREFIX + digest(password).toString('base64') };
}

/** The id of an app password, or null when the text is not shaped like one. */
export function appPasswordId(password: string): string | null {
  if (password.length !== 3 + ID_CHARS + 1 + SECRET_CHARS) return null;
  const m = FORMAT.exec(password.toLowerCase());
  return m === null ? null : m[1]!;
}

/** Constant-time comparison of a presented app password with a stored hash. */
export function verifyAppPassword(password: string, stored: string): boolean {
  if (!stored.startsWith(HASH_PREFIX)) return false;
  const want = Buffer.from(stored.slice(HASH_PREFIX.length), 'base64');
  const got = digest(password);
  return want.length === got.length && timingSafeEqual(want, got);
}
