// DKIM signing of outbound mail (RFC 6376; Ed25519 per RFC 8463) with mailauth's signer: one
// DKIM-Signature per key of the domain that is not retired (see dkim-keys.ts), prepended to
// the message. relaxed/relaxed canonicalization (RFC 6376 §3.4.2, §3.4.4: survives the
// re-folding and whitespace changes of relays), SHA-256 (RFC 8301 §3.1 forbids SHA-1).
// From is oversigned (listed once more than it occurs, RFC 6376 §5.4.2 and §8.15): a From
// added in transit breaks the signature instead of being shown beside a valid one.
//
// d= is the domain given: the caller passes the RFC 5322 From domain, so that the signature is
// aligned for DMARC (RFC 7489 §3.1.1). Keys are read once and cached per domain directory; a
// change of the directory's mtime (a key generated, retired or removed) or a minute passing
// reloads them, so `letterbox dkim` takes effect in a running server without a restart.
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';
import {
  DkimKeyError,
  dkimDomainDir,
  loadSigningKeys,
  normalizeDomain,
  type SigningKey,
} from './dkim-keys.js';

/**
 * RFC 6376 §5.4.1: the fields whose change alters the meaning for the reader. List-Unsubscribe
 * and List-Unsubscribe-Post must be signed for one-click unsubscribe (RFC 8058 §4).
 */
export const SIGNED_HEADERS = [
  'From',
  'To',
  'Cc',
  'Subject',
  'Date',
  'Message-ID',
  'In-Reply-To',
  'References',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Reply-To',
  'Sender',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
] as const;

/** Fields listed in h= once more than they occur (RFC 6376 §5.4.2). */
const OVERSIGNED = new Set(['from']);

/** How long loaded keys are trusted without a change of the directory's mtime. */
const CACHE_MS = 60_000;
/**
 * File times come from a coarse clock (a jiffy on Linux, seconds on some filesystems): a
 * change made soon after the keys were read may leave the mtime as it was. Keys read within
 * this long of the directory's mtime are not trusted again (git's "racy" index entries).
 */
const RACY_MS = 2_000;

/** The message could not be signed (a key that does not sign): a temporary failure. */
export class DkimSignError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DkimSignError';
  }
}

// mailauth's signer class (lib/dkim/dkim-signer.js; the package has no exports map, and its
// public dkimSign() cannot oversign). Only the hook and results used here are typed.
interface ParsedHeader {
  key: string | null;
  casedKey?: string;
  line: Buffer;
}
interface SignerBase extends Writable {
  errors: Array<{ selector?: string; err?: Error }>;
  signatureHeaders: string[];
  messageHeaders(headers: { parsed: ParsedHeader[] }): Promise<void>;
}
const require = createRequire(import.meta.url);
const { DkimSigner } = require('mailauth/lib/dkim/dkim-signer.js') as {
  DkimSigner: new (opts: object) => SignerBase;
};

/**
 * mailauth builds h= from the fields present, bottom-up (each name once per occurrence), and
 * hashes each listed field's line. A verifier takes h= names bottom-up too, and a name with no
 * field left contributes nothing (RFC 6376 §5.4.2). So one more `From` in h=, right after the
 * topmost From's entry, oversigns without changing what is hashed: it is written into that
 * field's name as h= spells it.
 */
class OversigningSigner extends DkimSigner {
  override async messageHeaders(headers: { parsed: ParsedHeader[] }): Promise<void> {
    for (const key of OVERSIGNED) {
      const top = headers.parsed.find((h) => h.key === key);
      if (top?.casedKey !== undefined) top.casedKey = `${top.casedKey}: ${top.casedKey}`;
    }
    return super.messageHeaders(headers);
  }
}

interface CacheEntry {
  mtimeMs: number;
  loadedAt: number;
  /** Read too close to the mtime to be sure a later change would move it. */
  racy: boolean;
  keys: Promise<SigningKey[]>;
}
const cache = new Map<string, CacheEntry>();

/** The signing keys of a domain, from the cache while its directory is unchanged. */
async function signingKeys(dataDir: string, domain: string): Promise<SigningKey[]> {
  const dir = dkimDomainDir(dataDir, domain);
  // A synchronous stat of a local directory is one system call on a cached inode (about a
  // microsecond); the promise version went through the thread pool, queued behind the WAL
  // fsyncs, and cost ~8% of a bench/outbound drain, with an exception per domain without keys.
  const st = statSync(dir, { throwIfNoEntry: false });
  if (st === undefined) {
    cache.delete(dir);
    return [];
  }
  const mtimeMs = st.mtimeMs;
  const now = Date.now();
  const hit = cache.get(dir);
  if (hit && !hit.racy && hit.mtimeMs === mtimeMs && now - hit.loadedAt < CACHE_MS) {
    return hit.keys;
  }
  const entry: CacheEntry = {
    mtimeMs,
    loadedAt: now,
    racy: now - mtimeMs < RACY_MS,
    keys: loadSigningKeys(dataDir, domain),
  };
  cache.set(dir, entry);
  entry.keys.catch(() => {
    if (cache.get(dir) === entry) cache.delete(dir); // a bad key is read again next time
  });
  return entry.keys;
}

/** Forget every loaded key (tests; a running server notices changes by itself). */
export function clearDkimKeyCache(): void {
  cache.clear();
}

const CRLF = Buffer.from('\r\n');

/** True when the header section ends with an empty line (a body, maybe empty, follows). */
function hasHeaderEnd(message: Buffer): boolean {
  return message.indexOf('\r\n\r\n') >= 0 || message.indexOf('\n\n') >= 0;
}

function feed(signer: Writable, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    signer.once('finish', resolve);
    signer.once('error', reject);
    signer.end(data);
  });
}

/**
 * Signs `message` for `domain` with each of its keys that is not retired: the message with a
 * DKIM-Signature field per key prepended (RSA first), or unchanged when the domain has none.
 * Throws DkimSignError when a key cannot be read or sign (treat as a temporary failure, as
 * OpenDKIM's On-InternalError=tempfail: sending it unsigned could fail DMARC).
 */
export async function dkimSign(
  message: Buffer,
  opts: { dataDir: string; domain: string; now?: Date },
): Promise<Buffer> {
  let domain: string;
  try {
    domain = normalizeDomain(opts.domain);
  } catch {
    return message; // not a name any key could be stored under
  }
  let keys: SigningKey[];
  try {
    keys = await signingKeys(opts.dataDir, domain);
  } catch (err) {
    const why = err instanceof DkimKeyError ? err.message : `reading keys: ${String(err)}`;
    throw new DkimSignError(`DKIM keys of ${domain}: ${why}`);
  }
  if (keys.length === 0) return message;
  const signer = new OversigningSigner({
    canonicalization: 'relaxed/relaxed',
    headerList: SIGNED_HEADERS.join(':'),
    signTime: opts.now ?? new Date(),
    signatureData: keys.map((k) => ({
      signingDomain: domain,
      selector: k.selector,
      privateKey: k.privateKey,
      algorithm: `${k.algorithm}-sha256`,
      canonicalization: 'relaxed/relaxed',
    })),
  });
  // mailauth signs only once it has seen the end of the header section: give a message
  // without a body its empty line (the relaxed body hash of "" and of CRLF is the same).
  await feed(signer, hasHeaderEnd(message) ? message : Buffer.concat([message, CRLF]));
  const failed = signer.errors[0];
  if (failed || signer.signatureHeaders.length !== keys.length) {
    const why = failed?.err?.message ?? 'no signature made';
    throw new DkimSignError(`DKIM signing for ${domain} (${failed?.selector ?? '?'}): ${why}`);
  }
  return Buffer.concat([Buffer.from(`${signer.signatureHeaders.join('\r\n')}\r\n`), message]);
}
