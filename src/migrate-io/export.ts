// Exporting an account's mailboxes so that a user can leave: as a Maildir++ tree that Dovecot
// (and any Maildir program) reads with flags, keywords (dovecot-keywords), internal dates (file
// mtimes) and UIDs (dovecot-uidlist), or as a directory of mboxrd files with Status /
// X-Status / X-Keywords fields and the internal date on each From line. `letterbox import`
// reads both back to the same mailboxes, flags, dates and bytes.
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fieldNameIs, forEachField, headerBounds } from '../mime/header-scan.js';
import type { Account, Mailbox, MailStore, MessageRecord } from '../store/types.js';
import type { ImportFailure } from './import.js';
import { toLf } from './lines.js';
import {
  formatDovecotKeywords,
  formatUidlist,
  MAILDIRPP_SEPARATOR,
  maildirInfo,
  maildirppDir,
} from './maildir-format.js';
import { formatFromLine, formatMboxState, needsQuote } from './mbox-format.js';

export type ExportFormat = 'maildir' | 'mbox';

export interface ExportFolderResult {
  folder: string;
  path: string;
  exported: number;
  failed: number;
}

export interface ExportSummary {
  folders: ExportFolderResult[];
  exported: number;
  failed: number;
  failures: ImportFailure[];
}

export interface ExportProgress {
  folderStart(name: string): void;
  tick(): void;
  failure(f: ImportFailure): void;
  folderDone(r: ExportFolderResult): void;
}

/** Files of mail: readable by the owner only, like the store's. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export async function exportAccount(
  store: MailStore,
  account: Account,
  format: ExportFormat,
  root: string,
  progress?: ExportProgress,
): Promise<ExportSummary> {
  const summary: ExportSummary = { folders: [], exported: 0, failed: 0, failures: [] };
  await mkdir(root, { recursive: true, mode: DIR_MODE });
  for (const mb of await store.listMailboxes(account.id)) {
    const fail = (f: ImportFailure) => {
      summary.failed++;
      summary.failures.push(f);
      progress?.failure(f);
    };
    let r: ExportFolderResult | null;
    try {
      r =
        format === 'maildir'
          ? await exportMaildirFolder(store, mb, root, fail, progress)
          : await exportMboxFolder(store, mb, root, fail, progress);
    } catch (err) {
      fail({ source: mb.name, reason: (err as Error).message });
      continue;
    }
    if (!r) continue;
    summary.folders.push(r);
    summary.exported += r.exported;
    progress?.folderDone(r);
  }
  return summary;
}

/** Keywords of the mailbox's messages, by first use: the first 26 get letters a..z. */
function keywordLetters(records: readonly MessageRecord[]): string[] {
  const seen = new Map<string, string>();
  for (const r of records) {
    for (const f of r.flags) {
      if (f.startsWith('\\') || f.toLowerCase() === '$forwarded') continue;
      if (!seen.has(f.toLowerCase())) seen.set(f.toLowerCase(), f);
    }
  }
  return [...seen.values()];
}

async function exportMaildirFolder(
  store: MailStore,
  mb: Mailbox,
  root: string,
  fail: (f: ImportFailure) => void,
  progress?: ExportProgress,
): Promise<ExportFolderResult | null> {
  // Maildir++ writes hierarchy with dots: a level with a dot of its own cannot be written.
  if (mb.name.split('/').some((l) => l.includes(MAILDIRPP_SEPARATOR))) {
    fail({
      source: mb.name,
      reason: 'a "." in a level of the name cannot be written in Maildir++',
    });
    return null;
  }
  const dir = join(root, maildirppDir(mb.name));
  for (const sub of ['cur', 'new', 'tmp']) {
    await mkdir(join(dir, sub), { recursive: true, mode: DIR_MODE });
  }
  progress?.folderStart(mb.name);
  const records = await store.listMessages(mb.id);
  const keywords = keywordLetters(records);
  const letters = new Map(
    keywords.slice(0, 26).map((k, i) => [k.toLowerCase(), String.fromCharCode(97 + i)]),
  );
  if (keywords.length > 0) {
    await writeFile(join(dir, 'dovecot-keywords'), formatDovecotKeywords(keywords.slice(0, 26)), {
      mode: FILE_MODE,
    });
  }
  const result: ExportFolderResult = { folder: mb.name, path: dir, exported: 0, failed: 0 };
  const listed: Array<{ uid: number; name: string }> = [];
  for (const r of records) {
    try {
      const bytes = await store.readMessage(r.blobHash, r.size);
      const data = toLf(bytes);
      const secs = Math.floor(r.internalDate.getTime() / 1000);
      // Unique in the folder; S= and W= as Dovecot reads them (file size, RFC822.SIZE).
      const base = `${secs}.U${r.uid}V${mb.uidValidity}.letterbox,S=${data.length},W=${bytes.length}`;
      const name = base + maildirInfo(r.flags, (k) => letters.get(k.toLowerCase()) ?? null);
      // Written in tmp/ and moved into cur/, as Maildir delivers: never a partial file in cur/.
      const tmp = join(dir, 'tmp', base);
      await writeFile(tmp, data, { mode: FILE_MODE });
      await utimes(tmp, r.internalDate, r.internalDate);
      await rename(tmp, join(dir, 'cur', name));
      listed.push({ uid: r.uid, name: base });
      result.exported++;
      progress?.tick();
    } catch (err) {
      result.failed++;
      fail({ source: `${mb.name} UID ${r.uid}`, reason: (err as Error).message });
    }
  }
  await writeFile(join(dir, 'dovecot-uidlist'), formatUidlist(mb.uidValidity, mb.uidNext, listed), {
    mode: FILE_MODE,
  });
  return result;
}

/** `a/b/c` -> `a.sbd/b.sbd/c` (Thunderbird's layout: a folder and its subfolders side by side). */
export function mboxPath(name: string): string[] {
  const levels = name.split('/');
  return [...levels.slice(0, -1).map((l) => `${l}.sbd`), levels[levels.length - 1]!];
}

/** The envelope sender to put on the From line: the message's Return-Path, else none. */
function returnPath(raw: Buffer): string {
  const { fieldsEnd } = headerBounds(raw);
  let sender = '';
  forEachField(raw, 0, fieldsEnd, (start, colon, valueEnd) => {
    if (!fieldNameIs(raw, start, colon, 'return-path')) return false;
    const m = /<([^<>\s]*)>/.exec(raw.subarray(colon + 1, valueEnd).toString('latin1'));
    sender = m?.[1] ?? '';
    return true;
  });
  return sender;
}

async function write(out: WriteStream, data: Buffer | string): Promise<void> {
  if (!out.write(data)) await new Promise<void>((r) => out.once('drain', () => r()));
}

/** One message as mboxrd: From line, the header with the state fields, quoted lines, LF. */
export function mboxMessage(
  r: Pick<MessageRecord, 'flags' | 'internalDate'>,
  bytes: Buffer,
): Buffer {
  const data = toLf(bytes);
  const { fieldsEnd } = headerBounds(data);
  const parts: Buffer[] = [Buffer.from(`${formatFromLine(returnPath(bytes), r.internalDate)}\n`)];
  const state = Buffer.from(formatMboxState(r.flags));
  const gt = Buffer.from('>');
  const lf = Buffer.from('\n');
  let pos = 0;
  let stateWritten = false;
  while (pos < data.length) {
    if (!stateWritten && pos >= fieldsEnd) {
      parts.push(state);
      stateWritten = true;
    }
    let nl = data.indexOf(0x0a, pos);
    if (nl < 0) nl = data.length;
    const line = data.subarray(pos, nl);
    if (needsQuote(line)) parts.push(gt);
    parts.push(line, lf);
    pos = nl + 1;
  }
  if (!stateWritten) parts.push(state);
  // RFC 4155 §2: an empty line ends each message.
  parts.push(lf);
  return Buffer.concat(parts);
}

async function exportMboxFolder(
  store: MailStore,
  mb: Mailbox,
  root: string,
  fail: (f: ImportFailure) => void,
  progress?: ExportProgress,
): Promise<ExportFolderResult> {
  const parts = mboxPath(mb.name);
  const file = join(root, ...parts);
  await mkdir(join(root, ...parts.slice(0, -1)), { recursive: true, mode: DIR_MODE });
  progress?.folderStart(mb.name);
  const result: ExportFolderResult = { folder: mb.name, path: file, exported: 0, failed: 0 };
  const out = createWriteStream(file, { mode: FILE_MODE, flags: 'wx' });
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  try {
    for (const r of await store.listMessages(mb.id)) {
      let bytes: Buffer;
      try {
        bytes = await store.readMessage(r.blobHash, r.size);
      } catch (err) {
        result.failed++;
        fail({ source: `${mb.name} UID ${r.uid}`, reason: (err as Error).message });
        continue;
      }
      await write(out, mboxMessage(r, bytes));
      result.exported++;
      progress?.tick();
    }
  } finally {
    out.end();
    await closed;
  }
  return result;
}
