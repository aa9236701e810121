// A Maildir++ tree (Dovecot's default layout, Courier's) as folders to import: the root is
// INBOX, each `.name` directory with a cur/ or new/ a folder. Per folder: dovecot-keywords
// for keyword letters, dovecot-uidlist for UIDVALIDITY and UIDs, each file's mtime as its
// internal date (Dovecot's INTERNALDATE, RFC 9051 §2.3.3), flags from the file name.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImportFailure, ImportFolder, ImportItem } from './import.js';
import {
  maildirppFolderName,
  parseDovecotKeywords,
  parseMaildirName,
  parseSubscriptions,
  parseUidlist,
  parseUidlistHeader,
  type UidlistHeader,
} from './maildir-format.js';

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `dir` holds a Maildir folder (cur/ or new/). */
async function isMaildir(dir: string): Promise<boolean> {
  return (await isDir(join(dir, 'cur'))) || (await isDir(join(dir, 'new')));
}

/**
 * The folders of a Maildir++ root, INBOX first, then by name. A path that is no Maildir at
 * all is an error (the whole import is wrong); a folder that cannot be read is a failure.
 */
export async function maildirFolders(root: string): Promise<Array<ImportFolder | ImportFailure>> {
  if (!(await isDir(root))) throw new Error(`${root} is not a directory`);
  const out: Array<ImportFolder | ImportFailure> = [];
  const rootIsMaildir = await isMaildir(root);
  const entries = (await readdir(root)).sort();
  const subs: string[] = [];
  for (const e of entries) {
    if (maildirppFolderName(e) === null) continue;
    if (await isMaildir(join(root, e))) subs.push(e);
  }
  if (!rootIsMaildir && subs.length === 0) {
    throw new Error(`${root} is not a Maildir (no cur/ or new/, no .folder directories)`);
  }
  if (rootIsMaildir) out.push(await maildirFolder(root, 'INBOX'));
  for (const e of subs) out.push(await maildirFolder(join(root, e), maildirppFolderName(e)!));
  // Dovecot's subscriptions: a folder it lists is subscribed, one it does not list is left.
  const subscriptions = await readOptional(join(root, 'subscriptions')).catch(() => null);
  if (subscriptions !== null) {
    const listed = new Set(parseSubscriptions(subscriptions).map((n) => n.normalize('NFC')));
    for (const f of out) {
      if ('items' in f) f.subscribed = f.name === 'INBOX' || listed.has(f.name.normalize('NFC'));
    }
  }
  return out;
}

/** One Maildir folder: its control files read now, its messages when iterated. */
export async function maildirFolder(
  dir: string,
  name: string,
): Promise<ImportFolder | ImportFailure> {
  let keywords: string[];
  // The uidlist's text is kept, its UIDs parsed when the folder is listed (maildirItems): a
  // map of 90,000 names took 10 MB, for the whole import when made here.
  let uidlistText: string | null;
  let uidlist: UidlistHeader | null;
  try {
    keywords = parseDovecotKeywords((await readOptional(join(dir, 'dovecot-keywords'))) ?? '');
    uidlistText = await readOptional(join(dir, 'dovecot-uidlist'));
    uidlist = uidlistText === null ? null : parseUidlistHeader(uidlistText);
  } catch (err) {
    return {
      source: dir,
      reason: `cannot read the folder's Dovecot files: ${(err as Error).message}`,
    };
  }
  return {
    name,
    source: dir,
    ...(uidlist ? { uidValidity: uidlist.uidValidity, uidNext: uidlist.uidNext } : {}),
    items: () => maildirItems(dir, keywords, uidlist ? uidlistText : null),
    count: async () => {
      let n = 0;
      for (const sub of ['cur', 'new']) {
        const names = await readdir(join(dir, sub)).catch(() => [] as string[]);
        n += names.filter((f) => !f.startsWith('.')).length;
      }
      return n;
    },
  };
}

/**
 * A folder's files as found, one column each rather than one object per message: a listing
 * of 100,000 files is held for the whole folder's import, and one object with its joined path
 * per file kept about 15 MB of it alive (issue 18, bench/import). Paths are joined as
 * each item is given out.
 */
class Listing {
  readonly names: string[] = [];
  /** 0: cur/, 1: new/. */
  readonly subs: number[] = [];
  /** dovecot-uidlist's UID, or 0 when it has none. */
  readonly uids: number[] = [];
  readonly mtimes: number[] = [];
  /** -1 when unknown (a symbolic link: read it to know). */
  readonly sizes: number[] = [];

  add(name: string, sub: number, uid: number | undefined, mtimeMs: number, size: number): void {
    this.names.push(name);
    this.subs.push(sub);
    this.uids.push(uid ?? 0);
    this.mtimes.push(mtimeMs);
    this.sizes.push(size);
  }

  /**
   * Indexes in import order: known UIDs ascending, then the files Dovecot had not numbered
   * yet, oldest first (as Dovecot would number them).
   */
  order(): Uint32Array {
    const { names, uids, mtimes } = this;
    const order = new Uint32Array(names.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    return order.sort((a, b) => {
      const ua = uids[a]!;
      const ub = uids[b]!;
      if (ua !== 0 && ub !== 0) return ua - ub;
      if (ua !== 0) return -1;
      if (ub !== 0) return 1;
      const na = names[a]!;
      const nb = names[b]!;
      return mtimes[a]! - mtimes[b]! || (na < nb ? -1 : na > nb ? 1 : 0);
    });
  }
}

const SUBS = ['cur', 'new'] as const;

async function* maildirItems(
  dir: string,
  keywords: string[],
  uidlistText: string | null,
): AsyncGenerator<ImportItem | ImportFailure> {
  let uids = uidlistText === null ? undefined : parseUidlist(uidlistText)?.uids;
  const found = new Listing();
  for (let s = 0; s < SUBS.length; s++) {
    const sub = SUBS[s]!;
    let names: string[];
    try {
      names = await readdir(join(dir, sub));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      yield { source: join(dir, sub), reason: `cannot list: ${(err as Error).message}` };
      continue;
    }
    const files = names.filter((n) => !n.startsWith('.'));
    // Stats in parallel batches: one after another, 100,000 of them took seconds.
    for (let i = 0; i < files.length; i += 64) {
      const batch = files.slice(i, i + 64);
      const stats = await Promise.allSettled(batch.map((n) => lstat(join(dir, sub, n))));
      for (let j = 0; j < batch.length; j++) {
        const name = batch[j]!;
        const st = stats[j]!;
        if (st.status === 'rejected') {
          const path = join(dir, sub, name);
          yield { source: path, reason: `cannot stat: ${(st.reason as Error).message}` };
          continue;
        }
        if (st.value.isDirectory()) {
          yield { source: join(dir, sub, name), reason: 'a directory, not a message file' };
          continue;
        }
        found.add(
          name,
          s,
          uids?.get(parseMaildirName(name).base),
          st.value.mtimeMs,
          // A symbolic link's own size says nothing of the message's: read it to know.
          st.value.isFile() ? st.value.size : -1,
        );
      }
    }
  }
  // The listing has each file's UID: the map goes before the messages are read.
  uids = undefined;
  for (const i of found.order()) {
    const name = found.names[i]!;
    const path = join(dir, SUBS[found.subs[i]!]!, name);
    const uid = found.uids[i]!;
    const size = found.sizes[i]!;
    const parsed = parseMaildirName(name, keywords);
    const item: ImportItem = {
      source: path,
      flags: parsed.flags,
      internalDate: new Date(Math.floor(found.mtimes[i]! / 1000) * 1000),
      ...(uid !== 0 ? { uid } : {}),
      ...(size >= 0 ? { size } : {}),
      read: () => readFile(path),
    };
    yield item;
  }
}
