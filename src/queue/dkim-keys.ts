// The DKIM key store: one private key per selector, on disk under the data directory.
//
//   <data_dir>/dkim/<domain>/<selector>.<rsa|ed25519>.key   PKCS#8 PEM, 0600, dirs 0700
//   <data_dir>/dkim/<domain>/<selector>.retired             empty marker: no longer signs
//
// A selector names one key record in DNS (`<selector>._domainkey.<domain>`, RFC 6376 §3.6.2.1),
// so it holds one key of one algorithm. Every key of a domain that is not retired signs: with
// an RSA and an Ed25519 key a message carries two signatures (RFC 8463 §6: old and new
// algorithms side by side, each under its own selector, while Ed25519 support spreads).
//
// Rotation: generate a new key (it signs beside the old one at once: until its record is in
// DNS its signature does not verify, but the old one still passes, and DMARC needs one valid
// aligned signature, RFC 7489 §4.2), publish its record, retire the old selector (it stops
// signing; keep its record published a few days for mail still in queues), then remove it
// and its record.
//
// Default selectors are `lb<yyyymm>-rsa` / `lb<yyyymm>-ed25519` (the month of generation:
// a new one each rotation, and the record name tells the algorithm); a second key of the
// same algorithm in the same month gets `lb<yyyymm>b-rsa`, then `c`, ...
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { link, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mkdirPrivate, writePrivateFile } from '../private-files.js';

export const DKIM_ALGORITHMS = ['rsa', 'ed25519'] as const;
export type DkimAlgorithm = (typeof DKIM_ALGORITHMS)[number];

/** RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits, SHOULD use 2048. */
export const RSA_BITS = 2048;

export class DkimKeyError extends Error {
  constructor(
    message: string,
    /** A malformed domain or selector (bad usage), not a refusal of the store. */
    readonly invalid = false,
  ) {
    super(message);
    this.name = 'DkimKeyError';
  }
}

export interface DkimKeyInfo {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  /** Retired keys stay listed (their record stays published) but no longer sign. */
  retired: boolean;
  file: string;
  /** When the key file was written. */
  createdAt: Date;
  /** The p= value of the key record (RFC 6376 §3.6.1; RFC 8463 §4.2 for Ed25519). */
  publicKey: string;
}

export interface SigningKey {
  selector: string;
  algorithm: DkimAlgorithm;
  /** PEM, checked to parse as a key of `algorithm` (mailauth's signer takes PEM). */
  privateKey: Buffer;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A domain name as the key store spells it (lower case), or an error: it names a directory. */
export function normalizeDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  if (d.length === 0 || d.length > 253 || !d.split('.').every((l) => LABEL.test(l))) {
    throw new DkimKeyError(`not a domain name: ${JSON.stringify(domain)}`, true);
  }
  return d;
}

/** RFC 6376 §3.1: a selector is DNS labels; Letterbox takes one label (it names a file). */
export function normalizeSelector(selector: string): string {
  const s = selector.trim().toLowerCase();
  if (!LABEL.test(s)) {
    throw new DkimKeyError(
      `not a selector: ${JSON.stringify(selector)} (letters, digits and '-', at most 63)`,
      true,
    );
  }
  return s;
}

export function dkimDomainDir(dataDir: string, domain: string): string {
  return join(dataDir, 'dkim', normalizeDomain(domain));
}

interface KeyFile {
  selector: string;
  algorithm: DkimAlgorithm;
  file: string;
}

/** The key files and retired markers of a domain directory ([] when it does not exist). */
async function scanDomain(dir: string): Promise<{ keys: KeyFile[]; retired: Set<string> }> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { keys: [], retired: new Set() };
    throw err;
  }
  const keys: KeyFile[] = [];
  const retired = new Set<string>();
  for (const name of names) {
    if (name.endsWith('.retired')) {
      retired.add(name.slice(0, -'.retired'.length));
      continue;
    }
    for (const algorithm of DKIM_ALGORITHMS) {
      const suffix = `.${algorithm}.key`;
      if (!name.endsWith(suffix)) continue;
      const selector = name.slice(0, -suffix.length);
      if (LABEL.test(selector)) keys.push({ selector, algorithm, file: join(dir, name) });
    }
  }
  return { keys, retired };
}

function parsePrivateKey(pem: Buffer, file: string, algorithm: DkimAlgorithm): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new DkimKeyError(`${file}: not a private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== algorithm) {
    throw new DkimKeyError(`${file}: holds a ${key.asymmetricKeyType} key, not ${algorithm}`);
  }
  return key;
}

/** The p= value: RSA as DER SubjectPublicKeyInfo, Ed25519 as the raw 32 bytes (RFC 8463 §4.2). */
export function publicKeyValue(privateKey: KeyObject): string {
  const pub = createPublicKey(privateKey);
  if (pub.asymmetricKeyType === 'ed25519') {
    const jwk = pub.export({ format: 'jwk' });
    return Buffer.from(jwk.x ?? '', 'base64url').toString('base64');
  }
  return pub.export({ type: 'spki', format: 'der' }).toString('base64');
}

/** The key record's text (RFC 6376 §3.6.1). */
export function keyRecordValue(key: Pick<DkimKeyInfo, 'algorithm' | 'publicKey'>): string {
  return `v=DKIM1; k=${key.algorithm}; p=${key.publicKey}`;
}

/** RFC 1035 §3.3.14: a TXT character-string holds at most 255 octets. */
export function txtStrings(value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out.length > 0 ? out : [''];
}

export function keyRecordName(domain: string, selector: string): string {
  return `${selector}._domainkey.${domain}`;
}

/** Every key of a domain, or of all domains, oldest first. */
export async function listDkimKeys(dataDir: string, domain?: string): Promise<DkimKeyInfo[]> {
  let domains: string[];
  if (domain !== undefined) domains = [normalizeDomain(domain)];
  else {
    try {
      domains = (await readdir(join(dataDir, 'dkim'))).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
  const out: DkimKeyInfo[] = [];
  for (const d of domains) {
    const { keys, retired } = await scanDomain(join(dataDir, 'dkim', d));
    const infos: DkimKeyInfo[] = [];
    for (const k of keys) {
      const [pem, st] = await Promise.all([readFile(k.file), stat(k.file)]);
      const privateKey = parsePrivateKey(pem, k.file, k.algorithm);
      infos.push({
        domain: d,
        selector: k.selector,
        algorithm: k.algorithm,
        retired: retired.has(k.selector),
        file: k.file,
        createdAt: st.mtime,
        publicKey: publicKeyValue(privateKey),
      });
    }
    // Oldest first. File times have the kernel's coarse clock (a few ms): keys made in one
    // command (RSA, then Ed25519) can share one, so ties go in the signing order (RSA first,
    // then by selector), not by name alone.
    infos.sort(
      (a, b) =>
        a.createdAt.getTime() - b.createdAt.getTime() ||
        algorithmRank(a.algorithm) - algorithmRank(b.algorithm) ||
        a.selector.localeCompare(b.selector),
    );
    out.push(...infos);
  }
  return out;
}

/** The keys that sign for a domain (not retired), parsed; [] when it has none. */
export async function loadSigningKeys(dataDir: string, domain: string): Promise<SigningKey[]> {
  const { keys, retired } = await scanDomain(dkimDomainDir(dataDir, domain));
  const out: SigningKey[] = [];
  for (const k of keys) {
    if (retired.has(k.selector)) continue;
    const pem = await readFile(k.file);
    parsePrivateKey(pem, k.file, k.algorithm);
    out.push({ selector: k.selector, algorithm: k.algorithm, privateKey: pem });
  }
  // A stable order (RSA first, then by selector): the signatures come out the same each time.
  return out.sort(
    (a, b) =>
      algorithmRank(a.algorithm) - algorithmRank(b.algorithm) ||
      a.selector.localeCompare(b.selector),
  );
}

/** RSA before Ed25519: the order keys sign in, and list in when made at once. */
function algorithmRank(algorithm: DkimAlgorithm): number {
  return algorithm === 'rsa' ? 0 : 1;
}

/** `lb<yyyymm>-<algorithm>`, with a letter after the month when that one is taken. */
export function defaultSelector(algorithm: DkimAlgorithm, now: Date, taken: Set<string>): string {
  const month = `${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
  for (const letter of ['', ...'bcdefghijklmnopqrstuvwxyz']) {
    const s = `lb${month}${letter}-${algorithm}`;
    if (!taken.has(s)) return s;
  }
  throw new DkimKeyError('every default selector of this month is taken: give --selector');
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** Makes a new key for a domain and writes it (0600). Refuses a selector already in use. */
export async function generateDkimKey(
  dataDir: string,
  domain: string,
  opts: { algorithm: DkimAlgorithm; selector?: string; now?: Date },
): Promise<DkimKeyInfo> {
  const d = normalizeDomain(domain);
  const dir = dkimDomainDir(dataDir, d);
  const { keys, retired } = await scanDomain(dir);
  const taken = new Set([...keys.map((k) => k.selector), ...retired]);
  const selector =
    opts.selector !== undefined
      ? normalizeSelector(opts.selector)
      : defaultSelector(opts.algorithm, opts.now ?? new Date(), taken);
  if (taken.has(selector)) {
    throw new DkimKeyError(`selector ${selector} of ${d} is in use: choose another one`);
  }
  const { privateKey } =
    opts.algorithm === 'rsa'
      ? await generateKeyPairAsync('rsa', { modulusLength: RSA_BITS })
      : await generateKeyPairAsync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  await mkdirPrivate(dir);
  const file = join(dir, `${selector}.${opts.algorithm}.key`);
  // Written aside, then linked into place: a signer scanning the directory meanwhile never
  // reads a half-written key, and link() refuses to replace a key that appeared since.
  const tmp = `${file}.${process.pid}.tmp`;
  await writePrivateFile(tmp, pem);
  try {
    await link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new DkimKeyError(`selector ${selector} of ${d} is in use: choose another one`);
    }
    throw err;
  } finally {
    await unlink(tmp);
  }
  return {
    domain: d,
    selector,
    algorithm: opts.algorithm,
    retired: false,
    file,
    createdAt: (await stat(file)).mtime,
    publicKey: publicKeyValue(privateKey),
  };
}

async function findKey(dataDir: string, domain: string, selector: string): Promise<DkimKeyInfo> {
  const s = normalizeSelector(selector);
  const key = (await listDkimKeys(dataDir, domain)).find((k) => k.selector === s);
  if (!key) throw new DkimKeyError(`no DKIM key ${s} for ${normalizeDomain(domain)}`);
  return key;
}

/** Stops a selector signing; its record should stay published a while. */
export async function retireDkimKey(
  dataDir: string,
  domain: string,
  selector: string,
): Promise<DkimKeyInfo> {
  const key = await findKey(dataDir, domain, selector);
  if (!key.retired) {
    await writePrivateFile(join(dkimDomainDir(dataDir, domain), `${key.selector}.retired`), '');
  }
  return { ...key, retired: true };
}

/** Deletes a retired key (a signing one must be retired first). */
export async function removeDkimKey(
  dataDir: string,
  domain: string,
  selector: string,
): Promise<DkimKeyInfo> {
  const key = await findKey(dataDir, domain, selector);
  if (!key.retired) {
    throw new DkimKeyError(
      `${key.selector} of ${key.domain} still signs: retire it first, and remove it once its ` +
        'record has been published beside the new one for a few days',
    );
  }
  await unlink(key.file);
  await unlink(join(dkimDomainDir(dataDir, domain), `${key.selector}.retired`));
  return key;
}
