// The description of a backup (`manifest.json` at its root), written last: a backup without
// one is incomplete. It lists every file but the blobs with its size, SHA-256 and mode, so
// that `restore` can tell a damaged or partial copy before it replaces anything; blobs are
// named by their SHA-256 and checked against it.
//
//   DIR/manifest.json
//   DIR/data/...       the data directory: databases (online snapshots), blobs, keys, config
//   DIR/external/...   files the config names outside the data directory (the config file
//                      itself, TLS certificates and keys), each with its original path
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'letterbox-backup';
export const MANIFEST_VERSION = 1;

export interface ManifestFile {
  /** Relative to the backup's data/ (or, for external files, to the backup's root). */
  path: string;
  size: number;
  sha256: string;
  /** Permission bits, restored as they were (keys and databases are 0600). */
  mode: number;
}

export interface ExternalFile extends ManifestFile {
  /** Where it was: restore leaves it to the operator to put back outside the data dir. */
  original: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  createdAt: string;
  letterbox: string;
  /** The data directory the backup was taken of. */
  dataDir: string;
  databases: ManifestFile[];
  files: ManifestFile[];
  /** Blob files under data/blobs/ (content-addressed). */
  blobs: number;
  external: ExternalFile[];
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Reads a manifest, or says why it is not one. */
export function parseManifest(text: string): Manifest | string {
  let m: Partial<Manifest>;
  try {
    m = JSON.parse(text) as Partial<Manifest>;
  } catch {
    return 'manifest.json is not JSON';
  }
  if (m.format !== MANIFEST_FORMAT) return 'manifest.json is not a Letterbox backup manifest';
  if (m.version !== MANIFEST_VERSION) return `unsupported backup version ${String(m.version)}`;
  const lists = [m.databases, m.files, m.external];
  if (!lists.every(Array.isArray) || typeof m.blobs !== 'number') {
    return 'manifest.json is incomplete';
  }
  for (const f of [...m.databases!, ...m.files!, ...m.external!]) {
    // Paths stay inside the backup and the target: no absolute paths, no '..'.
    if (typeof f.path !== 'string' || f.path.startsWith('/') || f.path.split('/').includes('..')) {
      return `manifest.json names an unsafe path: ${String(f.path)}`;
    }
  }
  return m as Manifest;
}
