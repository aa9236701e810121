// Self-signed certificate for a first run: `letterbox init` writes one so that STARTTLS and
// implicit TLS work before the operator installs a real certificate (RFC 8314 §3: offer TLS
// from the start). Clients will warn about it; that is the point of replacing it.
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { mkdirPrivate, writePrivateFile } from '../private-files.js';

export interface SelfSignedPem {
  cert: string;
  key: string;
}

const VALID_YEARS = 10;

/** RSA 2048 / SHA-256 certificate for `hostname`, also valid for localhost and 127.0.0.1. */
export async function generateSelfSigned(hostname: string): Promise<SelfSignedPem> {
  // Start a minute in the past so a client whose clock is slightly behind accepts it.
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(notBeforeDate);
  notAfterDate.setFullYear(notAfterDate.getFullYear() + VALID_YEARS);
  const altNames: { type: 2 | 7; value?: string; ip?: string }[] = [{ type: 2, value: hostname }];
  if (hostname !== 'localhost') altNames.push({ type: 2, value: 'localhost' });
  altNames.push({ type: 7, ip: '127.0.0.1' });
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      // RFC 6125 §6.4.4: clients match SAN dNSName, not the CN, when a SAN is present.
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/**
 * Generate a certificate and write `<dir>/tls/cert.pem` and `<dir>/tls/key.pem` (0600, in
 * a 0700 directory).
 * Each file is written to a temporary name and renamed, so a crash never leaves half a key.
 * Existing files are replaced: deciding whether to keep them is the caller's business.
 */
export async function writeSelfSigned(
  dir: string,
  hostname: string,
): Promise<{ certFile: string; keyFile: string }> {
  const { cert, key } = await generateSelfSigned(hostname);
  const tlsDir = join(dir, 'tls');
  await mkdirPrivate(tlsDir);
  const certFile = join(tlsDir, 'cert.pem');
  const keyFile = join(tlsDir, 'key.pem');
  // Both 0600, like everything under the data directory (the certificate is public, but
  // nothing else needs to read it there).
  await writeAtomic(keyFile, key);
  await writeAtomic(certFile, cert);
  return { certFile, keyFile };
}

async function writeAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await rm(tmp, { force: true }); // a leftover of a crash: writePrivateFile creates, never reuses
  await writePrivateFile(tmp, data);
  await rename(tmp, file);
}
