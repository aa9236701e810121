// Checks a backup before `restore` replaces anything with it: the manifest is there (the
// backup finished), every listed file has its size and SHA-256, every database passes
// `PRAGMA integrity_check`, every blob's content matches its name, and every blob the mail
// database refers to is present.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { blobPath, referencedBlobs } from './blob-refs.js';
import {
  MANIFEST_FILE,
  type Manifest,
  type ManifestFile,
  parseManifest,
  sha256File,
} from './manifest.js';

export type Verdict = { ok: true; manifest: Manifest } | { ok: false; problems: string[] };

async function checkFile(root: string, f: ManifestFile, problems: string[]): Promise<void> {
  const path = join(root, f.path);
  try {
    const st = await stat(path);
    if (st.size !== f.size)
      problems.push(`${f.path}: ${st.size} bytes, the manifest says ${f.size}`);
    else if ((await sha256File(path)) !== f.sha256) problems.push(`${f.path}: content changed`);
  } catch {
    problems.push(`${f.path}: missing`);
  }
}

async function* files(dir: string): AsyncGenerator<string> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.isDirectory()) yield* files(join(dir, e.name));
    else yield join(dir, e.name);
  }
}

export async function verifyBackup(dir: string): Promise<Verdict> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    return {
      ok: false,
      problems: [`no ${MANIFEST_FILE}: not a backup, or one that did not finish`],
    };
  }
  const manifest = parseManifest(text);
  if (typeof manifest === 'string') return { ok: false, problems: [manifest] };
  const problems: string[] = [];
  const data = join(dir, 'data');
  for (const f of [...manifest.databases, ...manifest.files]) await checkFile(data, f, problems);
  for (const f of manifest.external) await checkFile(dir, f, problems);

  for (const f of manifest.databases) {
    try {
      const db = new Database(join(data, f.path), { readonly: true, fileMustExist: true });
      try {
        const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
        const result = rows.map((r) => r.integrity_check);
        if (result.length !== 1 || result[0] !== 'ok') {
          problems.push(`${f.path}: integrity_check: ${result.slice(0, 3).join('; ')}`);
        }
        if (f.path === 'letterbox.db') {
          for (const h of referencedBlobs(db)) {
            try {
              await stat(join(data, blobPath(h)));
            } catch {
              problems.push(`${blobPath(h)}: missing (the mail database refers to it)`);
            }
          }
        }
      } finally {
        db.close();
      }
    } catch (err) {
      problems.push(`${f.path}: cannot be opened: ${(err as Error).message}`);
    }
  }

  // Whatever else lies in data/ would be restored unchecked: refuse it.
  const listed = new Set([...manifest.databases, ...manifest.files].map((f) => f.path));
  for await (const path of files(data)) {
    const rel = path.slice(data.length + 1);
    if (!rel.startsWith('blobs/') && !listed.has(rel)) problems.push(`${rel}: not in the manifest`);
  }

  let blobs = 0;
  for await (const path of files(join(data, 'blobs'))) {
    blobs++;
    if ((await sha256File(path)) !== basename(path)) {
      problems.push(`${path.slice(data.length + 1)}: content does not match its name`);
    }
  }
  if (blobs !== manifest.blobs) {
    problems.push(`data/blobs holds ${blobs} files, the manifest says ${manifest.blobs}`);
  }
  return problems.length === 0 ? { ok: true, manifest } : { ok: false, problems };
}
