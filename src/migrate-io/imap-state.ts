// What `letterbox import imap` remembers between runs, per source folder: its UIDVALIDITY,
// the highest UID up to which every message was copied (or failed, then listed to retry),
// the HIGHESTMODSEQ its flags were last read at (RFC 7162 §3.1.1), and which UID in the
// target each source UID became, as runs (source UIDs map to ascending target UIDs in long
// runs; with kept UIDs, one run). A file under data_dir/import-imap/, written whole and
// renamed into place, so that an interrupted run leaves the last complete state.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface FolderState {
  uidValidity: number;
  /** Every message with a UID up to this one was copied, or is in `failed`. */
  lastUid: number;
  /** RFC 7162 HIGHESTMODSEQ (a decimal string: it can pass 2^53) the flags are current at. */
  highestModseq?: string;
  /** Source UIDs that could not be copied: tried again on the next run. */
  failed: number[];
  /** [source UID, target UID, length] runs. */
  map: Array<[number, number, number]>;
}

interface StateFile {
  version: 1;
  source: string;
  account: string;
  folders: Record<string, FolderState>;
}

export function statePath(dataDir: string, account: string, source: string): string {
  const id = createHash('sha256').update(`${account}\0${source}`).digest('hex').slice(0, 32);
  return join(dataDir, 'import-imap', `${id}.json`);
}

/** Adds source -> target to the runs (extending the last run when it continues it). */
export function addMapping(map: FolderState['map'], src: number, dst: number): void {
  const last = map[map.length - 1];
  if (last && src === last[0] + last[2] && dst === last[1] + last[2]) last[2]++;
  else map.push([src, dst, 1]);
}

/**
 * A lookup of source UIDs in the runs. Runs overlap only where a rerun mapped a UID again
 * (to the same target, found by content), so the nearest run covering it answers.
 */
export function mappingLookup(map: FolderState['map']): (src: number) => number | undefined {
  const runs = [...map].sort((a, b) => a[0] - b[0]);
  return (src) => {
    let lo = 0;
    let hi = runs.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (runs[mid]![0] <= src) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let k = at; k >= 0 && k > at - 64; k--) {
      const r = runs[k]!;
      if (src < r[0] + r[2]) return r[1] + (src - r[0]);
    }
    return undefined;
  };
}

export class ImportState {
  private constructor(
    private readonly path: string,
    private readonly file: StateFile,
  ) {}

  static async load(path: string, source: string, account: string): Promise<ImportState> {
    let file: StateFile = { version: 1, source, account, folders: {} };
    try {
      const parsed = JSON.parse(await readFile(path, 'utf8')) as StateFile;
      if (parsed.version === 1 && typeof parsed.folders === 'object') file = parsed;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) {
        throw err;
      }
    }
    return new ImportState(path, file);
  }

  /** The folder's state for this UIDVALIDITY: a changed one starts afresh (RFC 9051 §2.3.1.1). */
  folder(path: string, uidValidity: number): FolderState {
    let f = this.file.folders[path];
    if (!f || f.uidValidity !== uidValidity) {
      f = { uidValidity, lastUid: 0, failed: [], map: [] };
      this.file.folders[path] = f;
    }
    return f;
  }

  private writing: Promise<void> = Promise.resolve();

  /** Writes the state (one write at a time, each of the state as it is then). */
  save(): Promise<void> {
    const next = this.writing.then(
      () => this.write(),
      () => this.write(),
    );
    this.writing = next;
    return next;
  }

  private async write(): Promise<void> {
    await mkdir(join(this.path, '..'), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, JSON.stringify(this.file), { mode: 0o600 });
    await rename(tmp, this.path);
  }
}
