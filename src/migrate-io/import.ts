// Importing folders of messages (from maildir-source.ts or mbox-source.ts) into an account:
// each message through the delivery stage (delivery/mailbox.ts: parsed once, stored in one
// transaction, so a message is in the mailbox whole or not at all), with its flags, keywords
// and internal date, and its source UID where the source has one and the mailbox is new.
// A rerun skips what is there already: a message whose bytes (SHA-256, the store's content
// address, which covers the Message-ID and everything else) are in the target mailbox as
// often as the source has them so far.
import { createHash } from 'node:crypto';
import { deliverToMailbox } from '../delivery/mailbox.js';
import { isStoreError } from '../store/errors.js';
import { normalizeMailboxName } from '../store/names.js';
import { INLINE_MAX } from '../store/sqlite/messages.js';
import type { Account, MailStore } from '../store/types.js';
import { toCrlf } from './lines.js';

/** One message of a source folder. */
export interface ImportItem {
  /** Where it is, for the report: a file, or `file:line`. */
  source: string;
  flags: string[];
  internalDate: Date;
  /** The UID it had in the source (dovecot-uidlist). */
  uid?: number;
  /** Its size in the source, when known before reading (a Maildir file's). */
  size?: number;
  /** Its bytes as found (line ends as they are: made CRLF here). */
  read(): Promise<Buffer>;
  /**
   * Told once what became of it, with its UID in the target mailbox when it is there
   * (imported, or skipped as already there): for a source that keeps its own state.
   */
  settled?(result: 'imported' | 'skipped' | 'failed', uid?: number): void;
}

/** A message or folder that could not be imported, and why. */
export interface ImportFailure {
  source: string;
  reason: string;
}

export interface ImportFolder {
  /** The mailbox name, `/`-separated (validated here). */
  name: string;
  /** The folder's path, for the report. */
  source: string;
  /** The source's UIDVALIDITY when its UIDs are known (dovecot-uidlist). */
  uidValidity?: number;
  /** With uidValidity: the source's UIDNEXT, the least UID a message it had not numbered gets. */
  uidNext?: number;
  /** Messages in the order they are to be stored (ascending source UID first), or failures. */
  items(): AsyncIterable<ImportItem | ImportFailure>;
  /**
   * Whether the source has the folder subscribed (Dovecot's `subscriptions`); when it does
   * not say, a folder the import creates is subscribed, so that clients showing only
   * subscribed folders show it. An import never unsubscribes.
   */
  subscribed?: boolean;
  /** How many messages items() will give, when that is cheap to know (for progress). */
  count?(): Promise<number>;
}

export interface FolderResult {
  folder: string;
  source: string;
  imported: number;
  skipped: number;
  failed: number;
  /** The source's UIDs and UIDVALIDITY were kept. */
  uidsKept: boolean;
  seconds: number;
}

export interface ImportSummary {
  folders: FolderResult[];
  imported: number;
  skipped: number;
  failed: number;
  failures: ImportFailure[];
}

export interface ImportProgress {
  folderStart(name: string, source: string): void;
  /** After each message (imported, skipped or failed). */
  tick(result: 'imported' | 'skipped' | 'failed'): void;
  failure(f: ImportFailure): void;
  folderDone(r: FolderResult): void;
}

export interface ImportOptions {
  /** Bytes; larger messages fail (the server's `[limits] max_message_size`). */
  maxMessageSize: number;
  progress?: ImportProgress;
  /** Appends in flight at once, so that one WAL fsync commits many (the store's group commit). */
  window?: number;
}

export function isFailure<T extends object>(x: T | ImportFailure): x is ImportFailure {
  return 'reason' in x;
}

function contentHash(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

export async function importFolders(
  store: MailStore,
  account: Account,
  folders: Iterable<ImportFolder | ImportFailure> | AsyncIterable<ImportFolder | ImportFailure>,
  opts: ImportOptions,
): Promise<ImportSummary> {
  const summary: ImportSummary = { folders: [], imported: 0, skipped: 0, failed: 0, failures: [] };
  const fail = (f: ImportFailure) => {
    summary.failed++;
    summary.failures.push(f);
    opts.progress?.failure(f);
  };
  for await (const folder of folders) {
    if (isFailure(folder)) {
      fail(folder);
      continue;
    }
    const r = await importFolder(store, account, folder, opts, fail);
    if (!r) continue;
    summary.folders.push(r);
    summary.imported += r.imported;
    summary.skipped += r.skipped;
    opts.progress?.folderDone(r);
  }
  return summary;
}

async function importFolder(
  store: MailStore,
  account: Account,
  folder: ImportFolder,
  opts: ImportOptions,
  fail: (f: ImportFailure) => void,
): Promise<FolderResult | null> {
  const started = Date.now();
  let name: string;
  try {
    name = normalizeMailboxName(folder.name);
  } catch (err) {
    fail({ source: folder.source, reason: `not a valid mailbox name: ${(err as Error).message}` });
    return null;
  }
  let mailbox = await store.getMailbox(account.id, name);
  const created = mailbox === null;
  try {
    mailbox ??= await store.createMailbox(account.id, name);
    if (folder.subscribed ?? created) await store.setSubscribed(account.id, name, true);
  } catch (err) {
    fail({
      source: folder.source,
      reason: `cannot create mailbox ${name}: ${(err as Error).message}`,
    });
    return null;
  }
  opts.progress?.folderStart(name, folder.source);
  // RFC 9051 §2.3.1.1: the source's UIDs stay valid only with its UIDVALIDITY, which a
  // mailbox can take only while it never held a message (or took it on an earlier run).
  let uidsKept = false;
  if (folder.uidValidity !== undefined && store.adoptUidValidity) {
    if (mailbox.uidValidity === folder.uidValidity) uidsKept = true;
    else if (mailbox.uidNext === 1)
      uidsKept = await store.adoptUidValidity(mailbox.id, folder.uidValidity);
  }
  let uidNext = (await store.getMailboxById(mailbox.id))?.uidNext ?? mailbox.uidNext;
  // What is there: content hash -> the UID (or UIDs, for copies of the same bytes) not yet
  // matched by a source message. A bare number for the usual single copy: a large mailbox
  // holds one entry per message.
  const there = new Map<string, number | number[]>();
  for (const rec of await store.listMessages(mailbox.id)) {
    const had = there.get(rec.blobHash);
    if (had === undefined) there.set(rec.blobHash, rec.uid);
    else if (typeof had === 'number') there.set(rec.blobHash, [had, rec.uid]);
    else had.push(rec.uid);
  }
  const result: FolderResult = {
    folder: name,
    source: folder.source,
    imported: 0,
    skipped: 0,
    failed: 0,
    uidsKept,
    seconds: 0,
  };
  const failed = (f: ImportFailure, item?: ImportItem) => {
    result.failed++;
    fail(f);
    opts.progress?.tick('failed');
    item?.settled?.('failed');
  };
  const window = opts.window ?? WINDOW;
  const inflight = new Set<Promise<void>>();
  const settle = async () => {
    while (inflight.size > 0) await Promise.race(inflight);
  };
  const mailboxId = mailbox.id;
  let quotaFull = false;
  for await (const next of readAhead(folder.items(), opts.maxMessageSize)) {
    if (isFailure(next)) {
      failed(next);
      continue;
    }
    const { item, data } = next;
    let raw: Buffer;
    try {
      raw = toCrlf(await data);
    } catch (err) {
      failed({ source: item.source, reason: readReason(err, opts.maxMessageSize) }, item);
      continue;
    }
    if (raw.length === 0) {
      failed({ source: item.source, reason: 'empty message' }, item);
      continue;
    }
    if (raw.length > opts.maxMessageSize) {
      failed(
        {
          source: item.source,
          reason: `${raw.length} bytes, over the limit of ${opts.maxMessageSize} ([limits] max_message_size)`,
        },
        item,
      );
      continue;
    }
    // Nothing there (a new mailbox, or every copy matched): no hash to compare.
    const hash = there.size === 0 ? '' : contentHash(raw);
    const copies = there.get(hash);
    if (copies !== undefined) {
      let uid: number | undefined;
      if (typeof copies === 'number') {
        uid = copies;
        there.delete(hash);
      } else {
        uid = copies.shift();
        if (copies.length === 0) there.delete(hash);
      }
      result.skipped++;
      opts.progress?.tick('skipped');
      item.settled?.('skipped', uid);
      continue;
    }
    if (quotaFull) {
      failed({ source: item.source, reason: 'over quota' }, item);
      continue;
    }
    // A kept UID must be above every UID given so far (a rerun after new mail, or a uidlist
    // naming a UID twice, gets a new one). A message the source had not numbered yet gets
    // one from the source's UIDNEXT on: a UID below may have been seen by a client already,
    // for a message since expunged (RFC 9051 §2.3.1.1: UIDs are never reused).
    let uid: number | undefined;
    if (uidsKept) {
      if (item.uid !== undefined && item.uid >= uidNext) uid = item.uid;
      else if (item.uid === undefined) uid = Math.max(uidNext, folder.uidNext ?? 0);
    }
    const large = raw.length > INLINE_MAX;
    // Appends reach the store's commit queue in call order, except a large message, whose
    // file is written first: the ones before it are let finish, and it is awaited, so that
    // UIDs follow the source's order.
    if (large) await settle();
    const p = storeOne(store, mailboxId, raw, item, uid).then(
      (outcome) => {
        if (typeof outcome === 'number') {
          result.imported++;
          opts.progress?.tick('imported');
          item.settled?.('imported', outcome);
          return;
        }
        if (outcome === 'over quota') quotaFull = true;
        failed({ source: item.source, reason: outcome }, item);
      },
      (err) => failed({ source: item.source, reason: errorText(err) }, item),
    );
    if (uid !== undefined) uidNext = uid + 1;
    else uidNext++;
    const tracked = p.finally(() => inflight.delete(tracked));
    inflight.add(tracked);
    if (large) await settle();
    while (inflight.size >= window) await Promise.race(inflight);
  }
  await settle();
  // The first start after the import then loads the mailbox's columns through the copy
  // (issue 18 item 6): part of the import's work, not of the first client's.
  if (result.imported > 0) await store.keepColumns?.(mailboxId);
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

/**
 * Appends in flight at once by default. Each holds its message parsed until its batch commits,
 * long enough for the garbage collector to move it to the old generation: 128 in flight let a
 * 100,000-message import peak at 576 MiB (most of it garbage waiting for a full collection),
 * 16 at 328 MiB, at 80% of the rate (issue 18, bench/import; Dovecot's is a tenth of it).
 * With the rest of the import's memory cut too, 16 still peaked at 276 to 335 MiB from run to
 * run (when V8's full collections come), 8 with 4 reads ahead at 253 MiB.
 */
const WINDOW = 8;

/** Reads in flight at once, and the bytes they may hold: files are read while others are stored. */
const READ_AHEAD = 4;
const READ_AHEAD_BYTES = 4 * 1024 * 1024;

class TooBig extends Error {}

/**
 * The folder's items with their reads started up to READ_AHEAD ahead (one read after another
 * spent most of an import waiting for the file system). A source that knows a message's size
 * skips reading one over the limit.
 */
async function* readAhead(
  items: AsyncIterable<ImportItem | ImportFailure>,
  maxSize: number,
): AsyncGenerator<ImportFailure | { item: ImportItem; data: Promise<Buffer> }> {
  const queue: Array<ImportFailure | { item: ImportItem; data: Promise<Buffer>; size: number }> =
    [];
  let bytes = 0;
  const take = () => {
    const next = queue.shift()!;
    if (!isFailure(next)) bytes -= next.size;
    return next;
  };
  for await (const item of items) {
    if (isFailure(item)) queue.push(item);
    else {
      const size = item.size ?? 64 * 1024;
      const data =
        item.size !== undefined && item.size > maxSize
          ? Promise.reject(new TooBig(`${item.size} bytes`))
          : item.read();
      // Handled when its turn comes; not an unhandled rejection meanwhile.
      data.catch(() => {});
      queue.push({ item, data, size });
      bytes += size;
    }
    while (queue.length >= READ_AHEAD || (bytes > READ_AHEAD_BYTES && queue.length > 1)) {
      yield take();
    }
  }
  while (queue.length > 0) yield take();
}

/** Stores one message: its UID in the mailbox, or why not. */
async function storeOne(
  store: MailStore,
  mailboxId: number,
  raw: Buffer,
  item: ImportItem,
  uid: number | undefined,
): Promise<number | string> {
  const outcome = await deliverToMailbox({ store }, mailboxId, [
    { raw, flags: item.flags, internalDate: item.internalDate, uid },
  ]);
  if (outcome.status === 'accepted') return outcome.stored[0]!.uid;
  if (outcome.status === 'refused') {
    return outcome.refusal.reason === 'over-quota' ? 'over quota' : outcome.text;
  }
  // Mail delivered meanwhile (a running server) took the UID: the message gets a new one.
  if (uid !== undefined && isStoreError(outcome.error, 'INVALID')) {
    return storeOne(store, mailboxId, raw, item, undefined);
  }
  return errorText(outcome.error);
}

function readReason(err: unknown, maxSize?: number): string {
  if (err instanceof TooBig) {
    return `${err.message}, over the limit of ${maxSize} ([limits] max_message_size)`;
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EACCES') return 'cannot read the file: permission denied';
  if (e?.code === 'ENOENT') return 'the file is gone (or a broken link)';
  if (e?.code === 'EISDIR') return 'a directory, not a message file';
  return `cannot read: ${errorText(err)}`;
}

function errorText(err: unknown): string {
  if (isStoreError(err)) return err.message;
  return err instanceof Error ? err.message : String(err);
}
