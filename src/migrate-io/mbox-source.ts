// mbox files as folders to import: one file (into INBOX, or the mailbox named), or a
// directory of them, each file a folder named by its path below the directory. Thunderbird's
// and Mozilla's layout is understood: `Name.sbd/` holds the folders inside `Name`, `*.msf`
// are its indexes (skipped), and `Inbox` is INBOX.
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImportFailure, ImportFolder, ImportItem } from './import.js';
import { MboxSplitter, type MboxVariant, mboxState } from './mbox-format.js';

/** Files in a directory of mboxes that are not mailboxes. */
const NOT_MBOX = /(\.msf|\.lock|\.dat|\.json|\.html)$|^\./i;

function folderName(parts: string[]): string {
  const levels = parts.map((p) => p.replace(/\.(sbd|mbox|mbx)$/i, ''));
  if (levels.length >= 1 && levels[0]!.toUpperCase() === 'INBOX') levels[0] = 'INBOX';
  return levels.join('/');
}

/** The folders of a file (named `mailbox`) or a directory of mbox files. */
export async function mboxFolders(
  path: string,
  variant: MboxVariant,
  maxSize: number,
  mailbox = 'INBOX',
): Promise<Array<ImportFolder | ImportFailure>> {
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  if (st.isFile()) return [mboxFolder(path, mailbox, variant, maxSize)];
  if (!st.isDirectory()) throw new Error(`${path} is neither a file nor a directory`);
  const out: Array<ImportFolder | ImportFailure> = [];
  const walk = async (dir: string, parts: string[]) => {
    for (const e of (await readdir(dir)).sort()) {
      if (NOT_MBOX.test(e)) continue;
      const p = join(dir, e);
      const s = await lstat(p).catch(() => null);
      if (s?.isDirectory()) await walk(p, [...parts, e]);
      else if (s?.isFile()) out.push(mboxFolder(p, folderName([...parts, e]), variant, maxSize));
      else out.push({ source: p, reason: 'neither a file nor a directory' });
    }
  };
  await walk(path, []);
  return out;
}

function mboxFolder(
  file: string,
  name: string,
  variant: MboxVariant,
  maxSize: number,
): ImportFolder {
  return { name, source: file, items: () => mboxItems(file, variant, maxSize) };
}

/** The file's messages, one at a time: memory holds one message and one read chunk. */
async function* mboxItems(
  file: string,
  variant: MboxVariant,
  maxSize: number,
): AsyncGenerator<ImportItem | ImportFailure> {
  const ready: Array<ImportItem | ImportFailure> = [];
  const splitter = new MboxSplitter(
    variant,
    maxSize,
    (m) => {
      const source = `${file}:${m.line}`;
      if (m.tooBig) {
        ready.push({
          source,
          reason: `${m.size} bytes, over the limit of ${maxSize} ([limits] max_message_size)`,
        });
        return;
      }
      const state = mboxState(m.raw);
      // Dovecot's and UW's folder data, not a message.
      if (state.folderData) return;
      ready.push({
        source,
        flags: state.flags,
        internalDate: m.from.date,
        read: async () => state.raw,
      });
    },
    (j) => ready.push({ source: `${file}:${j.line}`, reason: j.reason }),
  );
  let stream: AsyncIterable<Buffer>;
  try {
    stream = createReadStream(file, { highWaterMark: 256 * 1024 });
    for await (const chunk of stream) {
      splitter.push(chunk);
      while (ready.length > 0) yield ready.shift()!;
    }
  } catch (err) {
    yield { source: file, reason: `cannot read: ${(err as Error).message}` };
    return;
  }
  splitter.end();
  while (ready.length > 0) yield ready.shift()!;
}
