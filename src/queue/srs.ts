// Sender Rewriting Scheme, in the format of Mail::SRS (Shevek's reference implementation),
// libsrs2 and postsrsd, so their addresses and ours verify each other with the same secret.
// Forwarding mail to an outside address under the original envelope sender fails SPF at the
// receiver (RFC 7208 §1.1.1: forwarding breaks it); the sender is rewritten into our domain
// in a form only we can reverse, so a bounce to it comes back here and goes on to the original.
//
//   SRS0=HHHH=TT=orig-domain=orig-local@our-domain
//   SRS1=HHHH=srs0-domain==HHHH=TT=orig-domain=orig-local@our-domain   (an SRS0 forwarded on)
//
// HHHH: the first 4 characters of base64(HMAC-SHA1(secret, fields lower-cased, concatenated)).
// TT: the day number mod 1024 in base32 (2 characters). Hashes are compared case-insensitively
// because some MTAs lower-case local parts in transit (the fields are hashed lower-cased).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdirPrivate, writePrivateFile } from '../private-files.js';

/** Addresses longer than this are neither rewritten nor reversed (RFC 5321 paths are 256). */
export const SRS_MAX_ADDRESS = 512;
/** Days a rewritten address stays reversible (postsrsd's default; Mail::SRS uses 49). */
export const SRS_DEFAULT_MAX_AGE_DAYS = 21;
/** The secret's file under data_dir. Its first line is the key, as postsrsd reads its own. */
export const SRS_KEY_FILE = 'srs.key';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const DAY_MS = 86_400_000;
/** 32 * 32: two base32 characters. */
const TICK_SLOTS = 1024;
const HASH_LENGTH = 4;
/** base64 of a 20-byte digest without padding: the longest hash another forwarder may use. */
const HASH_MAX = 27;
const SEP = '=';

export interface SrsOptions {
  maxAgeDays?: number;
  now?: () => Date;
}

export class Srs {
  private readonly secret: Buffer;
  private readonly maxAgeDays: number;
  private readonly now: () => Date;

  constructor(secret: Buffer | string, opts: SrsOptions = {}) {
    this.secret = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (this.secret.length === 0) throw new Error('SRS needs a non-empty secret');
    this.maxAgeDays = opts.maxAgeDays ?? SRS_DEFAULT_MAX_AGE_DAYS;
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * The envelope sender to use when forwarding mail from `sender` out of `localDomain`.
   * Returned unchanged when it must or cannot be rewritten: the null sender (bounces stay
   * bounces), a sender already in `localDomain`, no domain, a quoted local part (cannot sit
   * inside a dot-atom), or an address over SRS_MAX_ADDRESS.
   */
  forward(sender: string, localDomain: string): string {
    if (sender.length === 0 || sender.length > SRS_MAX_ADDRESS) return sender;
    const at = sender.lastIndexOf('@');
    if (at <= 0 || at === sender.length - 1) return sender;
    const local = sender.slice(0, at);
    const domain = sender.slice(at + 1);
    if (local.startsWith('"') || hasUnsafe(sender) || hasUnsafe(localDomain)) return sender;
    if (asciiLower(domain) === asciiLower(localDomain)) return sender;
    const tag = srsTag(local);
    if (tag === 1) {
      // Already SRS1: keep the first forwarder's host and SRS0 remainder, re-sign them with
      // our secret so that we can verify the bounce (Mail::SRS::Guarded::compile).
      const [, srsHost, srsUser] = splitN(local.slice(5), SEP, 3);
      if (srsHost && srsUser) {
        return `SRS1${SEP}${this.hash(srsHost, srsUser)}${SEP}${srsHost}${SEP}${srsUser}@${localDomain}`;
      }
    } else if (tag === 0) {
      // SRS0 from the forwarder before us: wrap it, keeping its separator, so the bounce
      // goes back to that forwarder, which alone can verify its hash.
      const srsUser = local.slice(4);
      return `SRS1${SEP}${this.hash(domain, srsUser)}${SEP}${domain}${SEP}${srsUser}@${localDomain}`;
    }
    const ts = this.timestamp();
    return `SRS0${SEP}${this.hash(ts, domain, local)}${SEP}${ts}${SEP}${domain}${SEP}${local}@${localDomain}`;
  }

  /**
   * The address a bounce to `address` goes on to: the original sender for SRS0, the previous
   * forwarder's SRS0 address for SRS1. Null unless the hash verifies with our secret and (for
   * SRS0) the timestamp is at most maxAgeDays old. Never throws.
   */
  reverse(address: string): string | null {
    if (typeof address !== 'string' || address.length > SRS_MAX_ADDRESS) return null;
    if (hasUnsafe(address)) return null;
    const at = address.lastIndexOf('@');
    const local = at < 0 ? address : address.slice(0, at);
    const tag = srsTag(local);
    if (tag === 0) {
      const [hash, ts, host, user] = splitN(local.slice(5), SEP, 4);
      if (!hash || !ts || !host || !user) return null;
      if (!this.verify(hash, ts, host, user) || !this.fresh(ts)) return null;
      return `${user}@${host}`;
    }
    if (tag === 1) {
      const [hash, host, user] = splitN(local.slice(5), SEP, 3);
      if (!hash || !host || !user) return null;
      if (!this.verify(hash, host, user)) return null;
      return `SRS0${user}@${host}`;
    }
    return null;
  }

  /** True when the local part has the SRS0 / SRS1 form (no verification). */
  isSrs(address: string): boolean {
    if (typeof address !== 'string') return false;
    const at = address.lastIndexOf('@');
    return srsTag(at < 0 ? address : address.slice(0, at)) !== null;
  }

  private hash(...fields: string[]): string {
    const h = createHmac('sha1', this.secret);
    for (const f of fields) h.update(asciiLower(f), 'utf8');
    return h.digest('base64').slice(0, HASH_LENGTH);
  }

  private verify(hash: string, ...fields: string[]): boolean {
    if (hash.length < HASH_LENGTH || hash.length > HASH_MAX) return false;
    const h = createHmac('sha1', this.secret);
    for (const f of fields) h.update(asciiLower(f), 'utf8');
    const want = Buffer.from(asciiLower(h.digest('base64').slice(0, hash.length)), 'latin1');
    const got = Buffer.from(asciiLower(hash), 'latin1');
    return want.length === got.length && timingSafeEqual(want, got);
  }

  private timestamp(): string {
    const days = Math.floor(this.now().getTime() / DAY_MS);
    return BASE32[(days >> 5) & 31]! + BASE32[days & 31]!;
  }

  /** Mail::SRS timestamp_check: the stamp is a day mod 1024, at most maxAgeDays ago. */
  private fresh(ts: string): boolean {
    if (ts.length !== 2) return false;
    const hi = BASE32.indexOf(ts[0]!.toUpperCase());
    const lo = BASE32.indexOf(ts[1]!.toUpperCase());
    if (hi < 0 || lo < 0) return false;
    const then = hi * 32 + lo;
    let now = Math.floor(this.now().getTime() / DAY_MS) % TICK_SLOTS;
    if (now < then) now += TICK_SLOTS;
    return now <= then + this.maxAgeDays;
  }
}

/** 0 for SRS0, 1 for SRS1 (tag case-insensitive, then one of the separators - + =). */
function srsTag(local: string): 0 | 1 | null {
  if (local.length < 5) return null;
  const c = local.charCodeAt(4);
  if (c !== 0x3d && c !== 0x2b && c !== 0x2d) return null;
  const tag = local.slice(0, 4).toUpperCase();
  return tag === 'SRS0' ? 0 : tag === 'SRS1' ? 1 : null;
}

/** Perl's split with a limit: at most `n` fields, the last one takes the rest. */
function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let pos = 0;
  while (out.length < n - 1) {
    const i = s.indexOf(sep, pos);
    if (i < 0) break;
    out.push(s.slice(pos, i));
    pos = i + sep.length;
  }
  out.push(s.slice(pos));
  return out;
}

/** Lower-cases A-Z only, as Mail::SRS's lc on bytes and libsrs2's tolower() in the C locale. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Control characters, space and angle brackets never belong in a path. */
function hasUnsafe(s: string): boolean {
  return /[\x00-\x20\x7f<>]/.test(s);
}

/**
 * The SRS secret kept in `<dataDir>/srs.key` (0600), made on first use: 32 random bytes in
 * base64 on one line. Creation is atomic (written aside, then linked into place), so processes
 * starting together agree on one key. A key file that is empty (a crash before its bytes
 * reached the disk) is replaced: no address can have been signed with it.
 */
export async function loadOrCreateSrsSecret(dataDir: string): Promise<Buffer> {
  await mkdirPrivate(dataDir);
  const file = join(dataDir, SRS_KEY_FILE);
  const found = await readKey(file);
  if (found !== null && found.length > 0) return found;
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writePrivateFile(tmp, `${randomBytes(32).toString('base64')}\n`);
  try {
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (found === null) {
      try {
        await link(tmp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    } else {
      await rename(tmp, file);
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
  const key = await readKey(file);
  if (key === null || key.length === 0) throw new Error(`${file}: no SRS key could be written`);
  return key;
}

/** The key (first line, trimmed), an empty Buffer for an empty file, null when missing. */
async function readKey(file: string): Promise<Buffer | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const mode = (await stat(file)).mode & 0o777;
  if ((mode & 0o077) !== 0) await chmod(file, mode & 0o700);
  const nl = text.indexOf('\n');
  return Buffer.from((nl < 0 ? text : text.slice(0, nl)).trim(), 'utf8');
}
