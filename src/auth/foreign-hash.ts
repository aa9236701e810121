// Password hashes made by other servers, kept as Dovecot writes them: `{SCHEME}value`
// (Dovecot's password schemes; the scheme name is case-insensitive). They let accounts move
// in without a password reset: a login verifies against the foreign hash, and the
// authenticator then stores the server's own scrypt hash in its place (authenticator.ts).
//
// Every accepted form is checked here once, at import and before each verification, so a
// corrupted or hostile hash can neither crash a login nor make it spin: costs above the
// bounds below are refused like a malformed hash. Unsupported schemes are refused with a
// reason the import command shows (MD5-CRYPT and DES CRYPT: no maintained library here).
import { createHash, timingSafeEqual } from 'node:crypto';
import { parseOptions as parseArgon2, verify as verifyArgon2 } from '@node-rs/argon2';
import { verify as verifyBcrypt } from '@node-rs/bcrypt';
import { verifyShaCrypt } from './crypt-thread.js';

export type ForeignKind = 'sha-crypt' | 'bcrypt' | 'argon2' | 'ssha512' | 'plain';

export interface ForeignHash {
  /** The scheme as stored, upper-cased, with its encoding suffix: `SHA512-CRYPT`, `PLAIN.B64`. */
  scheme: string;
  kind: ForeignKind;
  /** What follows the `{SCHEME}` prefix. */
  value: string;
}

export type ForeignParse = { ok: true; hash: ForeignHash } | { ok: false; reason: string };

// Bounds on the cost read from a hash (Dovecot's defaults are far below them): SHA-crypt runs
// in JavaScript at ~7 µs a round, bcrypt doubles with each cost step, argon2 allocates m KiB.
export const MAX_CRYPT_ROUNDS = 500_000;
export const MAX_BCRYPT_COST = 15;
export const MAX_ARGON2_MEMORY_KIB = 256 * 1024;
export const MAX_ARGON2_TIME = 16;
export const MAX_ARGON2_PARALLELISM = 16;
const MAX_LENGTH = 512;

// Drepper's SHA-crypt: $5$ (SHA-256, 43 characters of hash) or $6$ (SHA-512, 86), an optional
// rounds=N, a salt of at most 16 characters of the crypt alphabet.
const SHA_CRYPT =
  /^\$([56])\$(?:rounds=([1-9][0-9]{0,8})\$)?[./0-9A-Za-z]{0,16}\$([./0-9A-Za-z]+)$/;
// bcrypt: 2a, 2b and 2y (Dovecot and PHP write 2y) compute the same; 2x (the old buggy
// implementation's marker) would need its bug reproduced, so it is refused.
const BCRYPT = /^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;

/** @node-rs/argon2's Algorithm (a const enum, which type-only imports cannot read). */
const ARGON2I = 1;
const ARGON2ID = 2;

/** True when the stored text has the `{SCHEME}` form (valid or not). */
export function isForeignForm(stored: string): boolean {
  return /^\{[A-Za-z0-9.-]{1,32}\}/.test(stored);
}

/** Reads `{SCHEME}value`; never throws. */
export function parseForeignHash(stored: string): ForeignParse {
  if (typeof stored !== 'string') return { ok: false, reason: 'not a string' };
  if (stored.length > MAX_LENGTH) return { ok: false, reason: 'longer than 512 characters' };
  const m = /^\{([A-Za-z0-9.-]{1,32})\}(.*)$/s.exec(stored);
  if (m === null) return { ok: false, reason: 'not of the form {SCHEME}hash' };
  const scheme = m[1]!.toUpperCase();
  const value = m[2]!;
  const [name, encoding = ''] = scheme.split('.', 2) as [string, string?];
  const kind = kindOf(name, value);
  if (typeof kind !== 'string') return { ok: false, reason: kind.reason };
  if (encoding !== '' && kind !== 'plain' && kind !== 'ssha512') {
    return { ok: false, reason: `{${scheme}}: no encoding suffix is accepted for ${name}` };
  }
  if (encoding !== '' && !['B64', 'BASE64', 'HEX'].includes(encoding)) {
    return { ok: false, reason: `{${scheme}}: unknown encoding .${encoding}` };
  }
  const bad = checkValue(kind, name, encoding, value);
  if (bad !== null) return { ok: false, reason: `{${scheme}}: ${bad}` };
  return { ok: true, hash: { scheme, kind, value } };
}

function kindOf(name: string, value: string): ForeignKind | { reason: string } {
  switch (name) {
    case 'SHA512-CRYPT':
    case 'SHA256-CRYPT':
      return 'sha-crypt';
    case 'BLF-CRYPT':
      return 'bcrypt';
    case 'ARGON2ID':
    case 'ARGON2I':
      return 'argon2';
    case 'SSHA512':
      return 'ssha512';
    case 'PLAIN':
    case 'CLEAR':
    case 'CLEARTEXT':
      return 'plain';
    case 'CRYPT':
      // Dovecot's CRYPT is the system's crypt(3): the prefix names the algorithm.
      if (/^\$[56]\$/.test(value)) return 'sha-crypt';
      if (/^\$2[abxy]\$/.test(value)) return 'bcrypt';
      return {
        reason:
          '{CRYPT} is accepted only with $5$, $6$ (SHA-crypt) or $2y$ (bcrypt) values: ' +
          'DES and MD5 crypt cannot be verified here; reset the password instead',
      };
    case 'MD5-CRYPT':
      return {
        reason:
          '{MD5-CRYPT} cannot be verified here (no maintained library): reset the ' +
          'password with `letterbox user passwd`',
      };
    default:
      return {
        reason:
          `unknown scheme {${name}}: accepted are SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, ` +
          'ARGON2ID, ARGON2I, SSHA512, PLAIN and CRYPT ($5$, $6$, $2y$)',
      };
  }
}

function checkValue(kind: ForeignKind, name: string, encoding: string, value: string) {
  switch (kind) {
    case 'sha-crypt': {
      const m = SHA_CRYPT.exec(value);
      if (m === null) return 'not a SHA-crypt string ($5$ or $6$, salt, hash)';
      const want = name === 'SHA256-CRYPT' ? '5' : name === 'SHA512-CRYPT' ? '6' : m[1];
      if (m[1] !== want) return `a $${m[1]}$ value under the wrong scheme`;
      if (m[3]!.length !== (m[1] === '5' ? 43 : 86)) return 'the hash part has the wrong length';
      if (m[2] !== undefined && Number(m[2]) > MAX_CRYPT_ROUNDS) {
        return `rounds=${m[2]} is above the limit of ${MAX_CRYPT_ROUNDS}`;
      }
      return null;
    }
    case 'bcrypt': {
      const m = BCRYPT.exec(value);
      if (m === null) return 'not a bcrypt string ($2y$, $2b$ or $2a$, cost, 53 characters)';
      const cost = Number(m[1]);
      if (cost < 4 || cost > MAX_BCRYPT_COST) {
        return `cost ${cost} is outside 4..${MAX_BCRYPT_COST}`;
      }
      return null;
    }
    case 'argon2': {
      let o: ReturnType<typeof parseArgon2>;
      try {
        o = parseArgon2(value);
      } catch {
        return 'not an argon2 PHC string ($argon2id$v=19$m=..,t=..,p=..$salt$hash)';
      }
      if (o.algorithm !== (name === 'ARGON2I' ? ARGON2I : ARGON2ID)) {
        return 'the value names another argon2 variant than the scheme';
      }
      if (o.memoryCost > MAX_ARGON2_MEMORY_KIB) return `m=${o.memoryCost} is above the limit`;
      if (o.timeCost > MAX_ARGON2_TIME) return `t=${o.timeCost} is above the limit`;
      if (o.parallelism > MAX_ARGON2_PARALLELISM) return `p=${o.parallelism} is above the limit`;
      if (o.saltLen < 8 || o.outputLen < 16) return 'the salt or hash is too short';
      return null;
    }
    case 'ssha512': {
      const raw = decode(encoding === '' ? 'B64' : encoding, value);
      if (raw === null) return 'not valid base64 (or hex with .HEX)';
      // A SHA-512 digest (64 bytes) followed by the salt.
      if (raw.length <= 64) return 'too short to hold a digest and a salt';
      return null;
    }
    case 'plain': {
      if (encoding !== '' && decode(encoding, value) === null) return `not valid ${encoding}`;
      const pw = encoding === '' ? Buffer.from(value, 'utf8') : decode(encoding, value)!;
      if (pw.length === 0) return 'an empty password';
      if (pw.includes(0)) return 'a password cannot contain NUL';
      return null;
    }
  }
}

function decode(encoding: string, value: string): Buffer | null {
  if (encoding === 'HEX') return HEX.test(value) ? Buffer.from(value, 'hex') : null;
  return BASE64.test(value) && value.length > 0 ? Buffer.from(value, 'base64') : null;
}

/** Bytes compared in constant time whatever their lengths (digests of both sides). */
function sameBytes(a: Buffer, b: Buffer): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

/**
 * Checks a password against a parsed foreign hash. SHA-crypt runs in a worker thread
 * (crypt-thread.ts), bcrypt and argon2 in libuv's threadpool (napi async tasks); SSHA512 and
 * PLAIN are one digest. Never throws: anything unusable does not match.
 */
export async function verifyForeign(password: string, h: ForeignHash): Promise<boolean> {
  if (typeof password !== 'string' || password.includes('\0')) return false;
  const encoding = h.scheme.includes('.') ? h.scheme.slice(h.scheme.indexOf('.') + 1) : '';
  try {
    switch (h.kind) {
      case 'sha-crypt':
        return await verifyShaCrypt(password, h.value);
      case 'bcrypt':
        return await verifyBcrypt(Buffer.from(password, 'utf8'), h.value);
      case 'argon2':
        return await verifyArgon2(h.value, Buffer.from(password, 'utf8'));
      case 'ssha512': {
        const raw = decode(encoding === '' ? 'B64' : encoding, h.value);
        if (raw === null || raw.length <= 64) return false;
        const salt = raw.subarray(64);
        const digest = createHash('sha512').update(password, 'utf8').update(salt).digest();
        return timingSafeEqual(digest, raw.subarray(0, 64));
      }
      case 'plain': {
        const stored = encoding === '' ? Buffer.from(h.value, 'utf8') : decode(encoding, h.value);
        return stored !== null && sameBytes(Buffer.from(password, 'utf8'), stored);
      }
    }
  } catch {
    return false;
  }
}
