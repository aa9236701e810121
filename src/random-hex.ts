// Random hex strings for ids (delivery ids, RFC 8474 object ids, Message-IDs), from the
// CSPRNG in blocks: one randomBytes call per id cost 3-10 us at delivery, a block of them
// about as much as one.
import { randomBytes } from 'node:crypto';

const BLOCK = 4096;
let pool = Buffer.alloc(0);
let at = 0;

/** `bytes` random bytes (at most BLOCK) as 2 * bytes lowercase hex digits. */
export function randomHex(bytes: number): string {
  if (at + bytes > pool.length) {
    pool = randomBytes(BLOCK);
    at = 0;
  }
  at += bytes;
  return pool.toString('hex', at - bytes, at);
}
