// Where the ACME state lives: data_dir/acme/, 0700, every file 0600 (src/private-files.ts).
// The certificate's key is new at each issuance; the account key is made once and kept.
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writePrivateFile } from '../private-files.js';

export function acmeDir(dataDir: string): string {
  return join(dataDir, 'acme');
}

/** The certificate chain and its key, as the TLS provider reads them. */
export function acmeFiles(dataDir: string): { cert: string; key: string } {
  const dir = acmeDir(dataDir);
  return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

/** The ACME account's private key (RFC 8555 §7.3): the account is the key. */
export function accountKeyFile(dataDir: string): string {
  return join(acmeDir(dataDir), 'account.pem');
}

/**
 * Replace `file` with `data` as one step: written 0600 beside it, then renamed over it, so a
 * reader sees the old file or the new one, never half of one.
 */
export async function replacePrivateFile(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.new`;
  await rm(tmp, { force: true });
  await writePrivateFile(tmp, data);
  await rename(tmp, file);
}
