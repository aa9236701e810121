// Password hashing with scrypt (node:crypto), stored as a self-describing string:
//
//   $scrypt$ln=15,r=8,p=1$<salt base64>$<hash base64>
//
// ln is log2(N). The parameters travel with each hash so they can be raised later: old hashes
// still verify, and needsRehash() tells the caller to store a fresh hash after a successful login.
//
// Passwords are hashed as the UTF-8 bytes the client sent, without SASLprep (RFC 4013).
// RFC 4616 §2 says the server SHOULD prepare the password with SASLprep before comparing; we
// do not, because Node has no stringprep and a hand-rolled one that disagrees with the one
// used when the password was set would lock users out. Comparing exact bytes is stricter, never
// looser: a client must send the password in the same normalization form it was set with.
//
// A password never contains NUL: RFC 4616 §2 SAFE excludes it and IMAP strings cannot carry
// it (RFC 9051 §4.3). We refuse it outright because scrypt's PBKDF2-HMAC zero-pads the key,
// so "pw" and "pw\0" would otherwise hash alike.
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  /** Block size. */
  r: number;
  /** Parallelization. */
  p: number;
}

/** ln=15 (N=32768, 32 MiB) takes ~60 ms on the reference 2-core machine. */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ ln: 15, r: 8, p: 1 });

/** Cheap parameters for unit tests only: never use them for stored passwords. */
export const TEST_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ ln: 4, r: 8, p: 1 });

const SALT_BYTES = 16;
const HASH_BYTES = 32;

// Bounds on parameters read back from a stored string. A corrupted or hostile hash must not
// make verification allocate gigabytes or spin for minutes: ln=20,r=16 is 2 GiB, so stop below.
const MAX_LN = 20;
const MAX_R = 16;
const MAX_P = 16;
const MAX_ENCODED_LENGTH = 512;

// Canonical (padded) base64: A-Z a-z 0-9 + /, length a multiple of 4.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function scryptAsync(password: Buffer, salt: Buffer, keylen: number, p: ScryptParams) {
  const N = 2 ** p.ln;
  // scrypt needs about 128 * N * r bytes (plus a little for p); Node's default maxmem of 32 MiB
  // is exactly 128 * 2^15 * 8, which Node rejects, so leave room explicitly.
  const opts: ScryptOptions = { N, r: p.r, p: p.p, maxmem: 128 * N * p.r * 2 + 1024 * 1024 };
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function validParams(p: ScryptParams): boolean {
  return (
    Number.isInteger(p.ln) &&
    Number.isInteger(p.r) &&
    Number.isInteger(p.p) &&
    p.ln >= 1 &&
    p.ln <= MAX_LN &&
    p.r >= 1 &&
    p.r <= MAX_R &&
    p.p >= 1 &&
    p.p <= MAX_P
  );
}

/** Hash a password with a fresh random salt. */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<string> {
  if (!validParams(params)) throw new RangeError('scrypt parameters out of range');
  if (password.includes('\0')) throw new RangeError('a password cannot contain NUL');
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(Buffer.from(password, 'utf8'), salt, HASH_BYTES, params);
  return (
    `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}` +
    `$${salt.toString('base64')}$${hash.toString('base64')}`
  );
}

/** Shared by every caller that parses the same text (parsedHashes): never changed. */
interface ParsedHash {
  readonly params: Readonly<ScryptParams>;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/**
 * Hashes parsed lately, by their text: each login parses its account's stored hash twice (is
 * it usable, does it need a rehash) and, when the verified cache misses, a third time to
 * check it, ~1.5 us each, again at every login of the same account (issue 19). A hash's text
 * always parses the same, so a kept result is never stale; bounded, emptied when full. Only
 * texts that are hashes are kept: one that is not may be a password (passwd-file.ts asks).
 */
const parsedHashes = new Map<string, ParsedHash>();
const PARSED_HASHES_MAX = 1024;

function parseDecimal(s: string | undefined): number {
  // Only plain decimal digits, no sign, no leading zeros tricks like "0x10" or "1e3".
  if (s === undefined || !/^[0-9]{1,3}$/.test(s)) return Number.NaN;
  return Number(s);
}

/** Parse an encoded hash; null when it is not one we produce (or could have produced). */
export function parseHash(encoded: string): ParsedHash | null {
  if (typeof encoded !== 'string' || encoded.length > MAX_ENCODED_LENGTH) return null;
  const kept = parsedHashes.get(encoded);
  if (kept !== undefined) return kept;
  const parsed = parseHashText(encoded);
  if (parsed === null) return null;
  if (parsedHashes.size >= PARSED_HASHES_MAX) parsedHashes.clear();
  parsedHashes.set(encoded, parsed);
  return parsed;
}

function parseHashText(encoded: string): ParsedHash | null {
  const parts = encoded.split('$');
  // ['', 'scrypt', 'ln=..,r=..,p=..', salt, hash]
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== 'scrypt') return null;
  const fields = new Map<string, string>();
  for (const kv of parts[2].split(',')) {
    const eq = kv.indexOf('=');
    if (eq <= 0 || fields.has(kv.slice(0, eq))) return null;
    fields.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  if (fields.size !== 3) return null;
  const params = {
    ln: parseDecimal(fields.get('ln')),
    r: parseDecimal(fields.get('r')),
    p: parseDecimal(fields.get('p')),
  };
  if (!validParams(params)) return null;
  const [saltB64, hashB64] = [parts[3], parts[4]];
  if (!BASE64.test(saltB64) || !BASE64.test(hashB64)) return null;
  const salt = Buffer.from(saltB64, 'base64');
  const hash = Buffer.from(hashB64, 'base64');
  // A short salt or hash would weaken the check; refuse rather than verify against it.
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) return null;
  return { params, salt, hash };
}

/**
 * Check a password against an encoded hash. Never throws: a malformed or unsupported encoding
 * simply does not match.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (parsed === null || typeof password !== 'string' || password.includes('\0')) return false;
  try {
    const candidate = await scryptAsync(
      Buffer.from(password, 'utf8'),
      parsed.salt,
      parsed.hash.length,
      parsed.params,
    );
    return timingSafeEqual(candidate, parsed.hash);
  } catch {
    return false;
  }
}

/**
 * True when the stored hash should be replaced after a successful login: it is malformed, or
 * its parameters differ from the current ones (raised for strength, or lowered on purpose).
 */
export function needsRehash(
  encoded: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): boolean {
  const parsed = parseHash(encoded);
  if (parsed === null) return true;
  const cur = parsed.params;
  return (
    cur.ln !== params.ln ||
    cur.r !== params.r ||
    cur.p !== params.p ||
    parsed.salt.length < SALT_BYTES ||
    parsed.hash.length !== HASH_BYTES
  );
}
