// The full-text index database (`fts.db`), used only by the index worker (fts-worker.ts).
// It is derived data: rebuilt from the message blobs whenever it is missing, stale or broken,
// so its writes are not synced (a rollback journal, synchronous=OFF: fts-marks.ts says why a
// process crash loses nothing and how an index a machine crash may have torn is dropped); the
// startup reconciliation puts back what a lost index lacks. The mail database is attached read-only in spirit (never
// written here) so a search joins the index with `mailbox_messages` as committed right now.
import { readFileSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { parseTextCut } from '../../mime/index.js';
import { preparePrivateFileSync } from '../../private-files.js';
import { hasSorted } from '../../sorted.js';
import { FileBlobStore } from '../blobs/file-blobs.js';
import { searchFold } from '../search-fold.js';
import { FTS_TEXT_MAX, type FullTextIndexMode } from '../types.js';
import { readTx, sqliteCompanions } from './db.js';
import { MailboxKept } from './fts-kept.js';
import { currentBootId, markOpen, type OpenMark } from './fts-marks.js';
import { notPlainPattern } from './fts-plain.js';
import {
  type EndsQuery,
  indexText,
  planSearch,
  type SeqPhrase,
  SequenceBytes,
} from './fts-query.js';
import { signatureBytes } from './fts-signatures.js';
import { BYTES_OF_HASH_ATTACHED } from './message-bytes.js';

/** Every character is ASCII. */
const ASCII = /^[\x00-\x7f]*$/;
/**
 * U+0130 (capital I with dot above) as searchFold lower-cases it: "i" and U+0307. SQLite's
 * tokenizers keep U+0130 as it is (trigram's and unicode61's case folding leave it), so a
 * text's "İ" would not be the "i" and dot its decomposed form or an ASCII needle's "i" are
 * in the checks' fold ("ingi" is in "meetingİstanbul"). Texts are indexed, and needles looked
 * up, with it expanded (FTS_SCHEMA 7).
 */
function expandDottedI(s: string): string {
  return s.includes('\u0130') ? s.replaceAll('\u0130', 'i\u0307') : s;
}

/** A stored message to index; without text the worker reads and parses its blob. */
export interface IndexItem {
  id: number;
  hash: string;
  text?: string;
  /** `text` is the first FTS_TEXT_MAX characters of a longer one (cut before posting). */
  truncated?: boolean;
}

/** The text to index, and whether it was cut. */
export function indexable(text: string): { text: string; truncated: boolean } {
  return text.length > FTS_TEXT_MAX
    ? { text: text.slice(0, FTS_TEXT_MAX), truncated: true }
    : { text, truncated: false };
}

export interface DocRef {
  id: number;
  hash: string;
}

/** Main thread -> worker, handled in order. */
export type FtsRequest =
  | { t: 'index'; items: IndexItem[] }
  | { t: 'delete'; docs: DocRef[] }
  | { t: 'search'; q: number; mailboxId: number; needle: string }
  | { t: 'close' };

/** Worker -> main thread. */
export type FtsReply =
  | { t: 'result'; q: number; uids: number[] }
  | { t: 'failed'; q: number; message: string }
  | { t: 'indexed'; chars: number; messages: number }
  | { t: 'warn'; message: string };

export interface FtsPaths {
  /** The index database file. */
  ftsFile: string;
  /** The mail database (letterbox.db), attached for the joins and for reconciliation. */
  mailFile: string;
  /** Root of the blob store, to index messages from their bytes. */
  blobRoot: string;
  /** SQLite's page cache, KiB, for the index (and the attached mail database's, unless set). */
  cacheKiB?: number;
  /** SQLite's page cache, KiB, for the attached mail database. */
  mailCacheKiB?: number;
  /**
   * `on-delivery` (the default here): messages are posted as they are stored, and the start
   * indexes what the index lacks (reconcileStep). `on-search`: nothing is posted, the start
   * only drops stale entries, and a search first indexes its mailbox's new messages (catchUp).
   */
  fullTextIndex?: FullTextIndexMode;
  /**
   * `on-search`: a search of a mailbox with more than this many messages past its mark reads
   * those from their bytes (FtsDb.search's `readPast`) instead of indexing them first, and the
   * worker indexes them after answering (READ_PAST by default; tests lower it).
   */
  readPast?: number;
  /** Characters of text a read-past search keeps (KEPT_CHARS by default; tests lower it). */
  keptChars?: number;
  /** Bytes of its texts' trigram signatures (SIGNED_BYTES by default; tests lower it). */
  signedBytes?: number;
}

/**
 * A mailbox's first search indexes up to this many new messages before it answers (one
 * catch-up chunk: ~30-75 ms of the worker); with more, it reads them (about a tenth of the
 * CPU) and the worker indexes them after, a chunk per turn.
 */
export const READ_PAST = 256;
/**
 * Characters of the texts a search read past a mailbox's mark kept for its catch-up and its
 * next searches (FtsDb.kept), over all mailboxes: as much as fts.ts BACKLOG_CHARS lets
 * on-delivery's posts hold in the worker. Each is kept folded too (fts-kept.ts), about as
 * large again.
 */
const KEPT_CHARS = 32 << 20;
/**
 * Bytes of the trigram signatures of the texts such a search read and found no room to keep
 * (fts-signatures.ts), over all mailboxes: a later search reads only those that may hold its
 * needle. A signature takes about an eighth of its text's characters: this covers ~250 M
 * characters of text past the marks (100,000 texts of 2 KB take 26 MB).
 */
const SIGNED_BYTES = 32 << 20;
/**
 * A later search checks this many hits in the kept texts or fewer one by one against the
 * mailbox's rows (is the message still there?), more against all its UIDs past the mark.
 */
const KEPT_HITS_LOOKED_UP = 256;

/**
 * SQLite's answer when another connection's lock outlasted busy_timeout. With a rollback
 * journal a reader blocks the index's writes (a backup's copy of fts.db, another process's
 * search): the worker keeps such a write and tries again (fts-worker.ts).
 */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** Where this boot cannot be told (not Linux), the index keeps a WAL synced at checkpoints. */
const BOOT_ID = currentBootId();

// Bump to rebuild every index from scratch (a changed tokenizer or layout).
// 3: contentless index with tombstone deletes, the text in its own table.
// 4: the distinct words as trigrams and the words in order, not the text's trigrams.
// 5: docs.plain false for the letters unicode61 splits at or folds to ASCII (fts-plain.ts).
// 6: a word's end looked up in word_ends (a key per word), not in the trigrams of a copy of
//    every word less its first character (word_grams' tails).
// 7: U+0130 indexed as "i" and U+0307, as searchFold lower-cases it (expandDottedI).
const FTS_SCHEMA = 7;
const RECONCILE_CHUNK = 50;
/**
 * Messages a search's catch-up (on-search) indexes per transaction: each commit writes its
 * mailbox's mark with them, so a long catch-up keeps what it did, and a held transaction's
 * pages (kept in memory: cache_spill off) stay bounded, as fts-worker.ts HOLD_TEXTS bounds them.
 */
const CATCH_UP_CHUNK = 256;
/**
 * A catch-up chunk may end after every this many texts written, when a request waits
 * (catchUp's `yieldNow`, in the one savepoint of its texts): a search then waits for these
 * (~3 ms of 2 KB texts), not for the rest of a chunk (27 ms, up to 70 under load: issue 19).
 * A search of the mailbox being caught up is answered there without ending the chunk
 * (searchInChunk).
 */
const CATCH_UP_SLICE = 32;
/** Page size of a new index file, and the room an FTS5 leaf leaves for the page's header. */
const PAGE_SIZE = 8192;
const LEAF_SLACK = 92;

export class FtsDb {
  private readonly db: Database.Database;
  private readonly blobs: FileBlobStore;
  private readonly stmts = new Map<string, Database.Statement>();
  /** What makes a text not plain to the linked SQLite (asked once per process). */
  private readonly notPlain = notPlainPattern();
  /** The word sequence of ASCII texts as UTF-8, bound at once (fts-query.ts scanText). */
  private readonly sequenceBytes = new SequenceBytes();
  /** Next message id the reconciliation looks at; null once it has finished. */
  private cursor: number | null = 0;
  /** This opener's mark (fts-marks.ts), released at a clean close; null with a synced WAL. */
  private readonly mark: OpenMark | null;
  /** Texts written in the transaction `index` left open (see `held`), and when it began. */
  private heldTexts = 0;
  private heldSince = 0;
  /** Texts this opener indexed (monitoring, tests). */
  private written = 0;
  /** The mailbox whose catch-up chunk is being written (catchUp's writeTexts), else null. */
  private chunkOf: number | null = null;
  /**
   * The open write transaction read the mail database (searchInChunk): that snapshot stands
   * until the commit, so a later search in it would not see what was committed since.
   */
  private mailRead = false;
  /**
   * Texts a search read past a mailbox's mark (searchReadingPast), by mailbox and UID, kept
   * until the catch-up indexes them: it then parses no bytes, and a search before it (a
   * client searching again) tests them without reading either. Only whole texts that the
   * index takes whole (FTS_TEXT_MAX at most), KEPT_CHARS in all. By UID, for the mailbox of
   * one UIDVALIDITY and MAILBOXID (markOf's `mb`): a UID names one message for good (RFC 9051
   * §2.3.1.1), so a search finds a kept text with the mailbox's UIDs alone, without a lookup
   * of every message's row for its bytes' hash (that lookup was most of a second search's
   * time: issue 19). Their folds are joined many to a string, where a search looks for its
   * needle at once (fts-kept.ts).
   */
  private readonly kept = new Map<number, MailboxKept>();
  private keptChars = 0;
  /** Bytes of the signatures of the kept mailboxes' texts not kept (MailboxKept.signed). */
  private signedBytes = 0;
  /** Message texts read from their bytes by this opener (tests). */
  private textsReadCount = 0;
  /** SIGNED_BYTES, lower in tests. */
  private readonly signedMax: number;
  /** KEPT_CHARS, lower in tests. */
  private readonly keptMax: number;

  constructor(paths: FtsPaths) {
    if (paths.fullTextIndex === 'on-search') this.cursor = null;
    this.keptMax = paths.keptChars ?? KEPT_CHARS;
    this.signedMax = paths.signedBytes ?? SIGNED_BYTES;
    this.blobs = new FileBlobStore(paths.blobRoot);
    this.mark = BOOT_ID === null ? null : markOpen(paths.ftsFile, BOOT_ID);
    const unsynced = this.mark !== null;
    try {
      this.db = openIndex(paths.ftsFile, unsynced);
    } catch (err) {
      // Another process writing it (its lock held past busy_timeout) is no reason to delete it.
      if (isBusy(err)) throw err;
      // A corrupt or foreign file: it is only derived data, start over.
      for (const suffix of ['', ...sqliteCompanions('')]) {
        rmSync(paths.ftsFile + suffix, { force: true });
      }
      this.db = openIndex(paths.ftsFile, unsynced);
    }
    this.db.prepare('ATTACH DATABASE ? AS mail').run(paths.mailFile);
    const pages = (kib: number) => -Math.max(64, Math.floor(kib));
    if (paths.cacheKiB !== undefined) this.db.pragma(`main.cache_size = ${pages(paths.cacheKiB)}`);
    const mailKiB = paths.mailCacheKiB ?? paths.cacheKiB;
    if (mailKiB !== undefined) this.db.pragma(`mail.cache_size = ${pages(mailKiB)}`);
    // Stale entries: messages deleted, or their id reused by another message (`messages.id`
    // is a plain rowid, so SQLite reuses the highest id after it is deleted), while no
    // worker was running to hear of it. Cheap: one pass over two rowid tables.
    const stale = this.db
      .prepare(
        `SELECT d.id, d.hash FROM docs d LEFT JOIN mail.messages m ON m.id = d.id
         WHERE m.id IS NULL OR m.blob_hash <> d.hash`,
      )
      .all() as DocRef[];
    // Before any search (a reused id's entry would answer for the new message): waits out a
    // reader that holds the file (a backup's copy of it) however long it takes. A busy commit
    // leaves the transaction open, and the deletions are tried again inside it. With them go
    // the marks of mailboxes deleted meanwhile (one row per mailbox searched; a mailbox made
    // since under the same id has another UIDVALIDITY and MAILBOXID, which catchUp checks).
    for (;;) {
      try {
        this.write(() =>
          this.stmt(
            'DELETE FROM indexed_upto WHERE mailbox_id NOT IN (SELECT id FROM mail.mailboxes)',
          ).run(),
        );
        this.remove(stale);
        break;
      } catch (err) {
        if (!isBusy(err)) throw err;
      }
    }
  }

  get reconciling(): boolean {
    return this.cursor !== null;
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /**
   * Indexes one chunk of the messages the mail database has and the index lacks; returns
   * false when there are no more. Each chunk reads the mail database as it is now: a message
   * committed or deleted after that read has its own index or delete request queued behind,
   * so the last word on every id is right.
   */
  reconcileStep(): boolean {
    if (this.cursor === null) return false;
    // Its read of the mail database must not pin a snapshot in a held transaction.
    this.commit();
    const rows = this.stmt(
      `SELECT m.id, m.blob_hash AS hash FROM mail.messages m
       WHERE m.id >= ? AND NOT EXISTS (SELECT 1 FROM docs d WHERE d.id = m.id)
       ORDER BY m.id LIMIT ${RECONCILE_CHUNK}`,
    ).all(this.cursor) as DocRef[];
    this.index(rows);
    if (rows.length < RECONCILE_CHUNK) {
      this.cursor = null;
      return false;
    }
    this.cursor = rows[rows.length - 1]!.id + 1;
    return true;
  }

  /**
   * `on-search`: indexes the messages of the mailbox past its mark (`indexed_upto`: every
   * message with a UID up to it is indexed), reading and parsing their bytes, and moves the
   * mark, both committed together a chunk at a time; then a search of the mailbox answers
   * from the index alone. A mailbox's UIDs only grow (RFC 9051 §2.3.1.1; an import's kept
   * UIDs are at least UIDNEXT), and its new rows commit in UID order (one writer), so what
   * arrived since the last search is the range past the mark: looked up in the rows' primary
   * key, not a walk of the mailbox. A copy of a message already indexed (the same stored
   * message id and bytes, COPY and MOVE) is not indexed again (`index`). The mark belongs to
   * one mailbox incarnation (UIDVALIDITY and MAILBOXID: a deleted mailbox's id may be reused).
   * Returns the stored message ids it went over (the worker voids their waiting deletions:
   * an id in a mailbox now is a live message, whatever was deleted under it before), and
   * whether the mailbox is caught up: at most `chunks` chunks are done per call, so that the
   * worker can answer other requests between the chunks of a long catch-up (fts-worker.ts).
   */
  catchUp(
    mailboxId: number,
    chunks = Number.POSITIVE_INFINITY,
    /**
     * Asked between slices of a chunk (CATCH_UP_SLICE texts): true ends the chunk there, its
     * mark at the last message indexed, so that a request waiting (a search) is not held up
     * by the rest of the chunk (fts-worker.ts catchUpBehind).
     */
    yieldNow?: () => boolean,
    /**
     * Asked there too, in a chunk whose every text was kept (none read from its bytes, which
     * a cut would read again in the next chunk): true ends the chunk there as well, for the
     * catch-up to step aside (fts-step-aside.ts).
     */
    stepAside?: () => boolean,
  ): { seen: number[]; done: boolean } {
    const seen: number[] = [];
    for (let n = 0; ; n++) {
      if (n >= chunks) return { seen, done: false };
      // Its reads of the mail database must not pin a snapshot in a held transaction.
      this.commit();
      const chunk = readTx(this.db, () => {
        const at = this.markOf(mailboxId);
        if (at === null) return null;
        const { mb, from } = at;
        const rows = this.stmt(
          `SELECT mm.uid, mm.message_id AS id, m.blob_hash AS hash
           FROM mail.mailbox_messages mm JOIN mail.messages m ON m.id = mm.message_id
           WHERE mm.mailbox_id = ? AND mm.uid > ? ORDER BY mm.uid LIMIT ${CATCH_UP_CHUNK}`,
        ).all(mailboxId, from) as { uid: number; id: number; hash: string }[];
        return { mb, rows };
      });
      if (chunk === null || chunk.rows.length === 0) {
        this.dropKept(mailboxId);
        return { seen, done: true };
      }
      const { mb } = chunk;
      let { rows } = chunk;
      const kept = this.keptOf(mailboxId, mb);
      const items = rows.map((r): IndexItem => {
        const k = kept?.get(r.uid);
        return k?.hash === r.hash ? { id: r.id, hash: r.hash, text: k.text } : r;
      });
      // The texts not kept are read before anything is written (readTexts commits first: its
      // reads of the mail database must not pin a snapshot in the write transaction).
      const texts = this.readTexts(items);
      const allKept = items.every((it) => it.text !== undefined);
      const cutHere =
        stepAside !== undefined && allKept ? () => yieldNow?.() === true || stepAside() : yieldNow;
      let written: number;
      this.chunkOf = mailboxId;
      try {
        written = this.writeTexts(items, texts, cutHere);
      } finally {
        this.chunkOf = null;
      }
      const cut = written < items.length;
      if (cut) rows = rows.slice(0, written);
      // As kept now: a search between the slices (searchInChunk) may have kept more, or
      // dropped what was kept.
      const keptNow = this.keptOf(mailboxId, mb);
      if (keptNow !== undefined) {
        for (const r of rows) this.keptChars -= keptNow.remove(r.uid);
        this.signedBytes -= keptNow.signed.dropUpTo(rows[rows.length - 1]!.uid);
        // Kept while signatures are left: the next search reads only what they let through.
        if (keptNow.size === 0 && keptNow.signed.size === 0) this.kept.delete(mailboxId);
      }
      this.write(() => {
        // Another process's catch-up of the same mailbox may have gone further meanwhile.
        this.stmt(
          `INSERT INTO indexed_upto (mailbox_id, uid_validity, object_id, uid) VALUES (?, ?, ?, ?)
           ON CONFLICT (mailbox_id) DO UPDATE SET
             uid = CASE WHEN uid_validity = excluded.uid_validity
                         AND object_id IS excluded.object_id
                    THEN max(uid, excluded.uid) ELSE excluded.uid END,
             uid_validity = excluded.uid_validity, object_id = excluded.object_id`,
        ).run(mailboxId, mb.uv, mb.oid, rows[rows.length - 1]!.uid);
      });
      this.commit();
      for (const r of rows) seen.push(r.id);
      if (cut) return { seen, done: false };
      if (rows.length < CATCH_UP_CHUNK) {
        this.dropKept(mailboxId);
        return { seen, done: true };
      }
    }
  }

  /**
   * The mailbox (its UIDVALIDITY and MAILBOXID) and the UID up to which its messages are
   * indexed (0: none, or the mark of an earlier mailbox under its id); null if it is gone.
   */
  private markOf(
    mailboxId: number,
  ): { mb: { uv: number; oid: string | null }; from: number } | null {
    const mb = this.stmt(
      'SELECT uid_validity AS uv, object_id AS oid FROM mail.mailboxes WHERE id = ?',
    ).get(mailboxId) as { uv: number; oid: string | null } | undefined;
    if (mb === undefined) return null;
    const mark = this.stmt(
      'SELECT uid_validity AS uv, object_id AS oid, uid FROM indexed_upto WHERE mailbox_id = ?',
    ).get(mailboxId) as { uv: number; oid: string | null; uid: number } | undefined;
    const from = mark !== undefined && mark.uv === mb.uv && mark.oid === mb.oid ? mark.uid : 0;
    return { mb, from };
  }

  /**
   * The texts kept of the mailbox by UID, if kept for this incarnation of it; what was kept
   * for an earlier mailbox under its id is dropped.
   */
  private keptOf(
    mailboxId: number,
    mb: { uv: number; oid: string | null },
  ): MailboxKept | undefined {
    const kept = this.kept.get(mailboxId);
    if (kept === undefined) return undefined;
    if (kept.uv === mb.uv && kept.oid === mb.oid) return kept;
    this.dropKept(mailboxId);
    return undefined;
  }

  /** Drops what is kept of the mailbox (caught up, or gone). */
  private dropKept(mailboxId: number): void {
    const kept = this.kept.get(mailboxId);
    if (kept === undefined) return;
    this.keptChars -= kept.chars();
    this.signedBytes -= kept.signed.bytes;
    this.kept.delete(mailboxId);
  }

  /** Characters of text kept for catch-ups (tests). */
  get keptText(): number {
    return this.keptChars;
  }

  /** Bytes of the signatures of texts not kept (tests). */
  get signedText(): number {
    return this.signedBytes;
  }

  /** Message texts this opener read from their bytes (tests). */
  get textsRead(): number {
    return this.textsReadCount;
  }

  /**
   * `on-search`: how many of the mailbox's messages lie past its mark (not known to be
   * indexed), counted up to `limit`.
   */
  behind(mailboxId: number, limit: number): number {
    this.commit();
    return readTx(this.db, () => {
      const at = this.markOf(mailboxId);
      if (at === null) return 0;
      return this.stmt(
        `SELECT count(*) FROM (SELECT 1 FROM mail.mailbox_messages
         WHERE mailbox_id = ? AND uid > ? LIMIT ?)`,
      )
        .pluck()
        .get(mailboxId, at.from, limit) as number;
    });
  }

  /**
   * Indexes the items; returns the characters of text it was handed. The write transaction is
   * left open (`held`): the next calls add to it until `commit`, so that posts that arrive a
   * few at a time share one transaction (see fts-worker.ts HOLD_MS).
   */
  index(items: IndexItem[]): number {
    let chars = 0;
    for (const it of items) chars += it.text?.length ?? 0;
    this.writeTexts(items, this.readTexts(items));
    return chars;
  }

  /**
   * index's first half: each item's text to index, read and parsed from its blob where the
   * item brings none; undefined where the blob is gone or the index has the message already.
   */
  private readTexts(items: IndexItem[]): ({ text: string; truncated: boolean } | undefined)[] {
    const texts = items.map((it) =>
      it.text === undefined ? undefined : { text: it.text, truncated: it.truncated === true },
    );
    // Items without their text (reconciliation, a backlog) are parsed from their blobs before
    // the write transaction, those already indexed left out (looked up in one read
    // transaction: with fts.db's rollback journal each statement outside one takes and drops
    // the file's lock and looks for a hot journal, several system calls).
    const unread = items.flatMap((it, i) => (it.text === undefined ? [i] : []));
    if (unread.length > 0) {
      // The blobs are read from the mail database: not in a held transaction, whose first
      // read of it would pin that snapshot until the commit.
      this.commit();
      const known = readTx(this.db, () => unread.map((i) => this.hashOf(items[i]!.id)));
      unread.forEach((i, k) => {
        const it = items[i]!;
        if (known[k] === it.hash) return;
        // One character past what is indexed tells that there is more (indexable).
        const read = this.textCutFromBlob(it.hash, FTS_TEXT_MAX + 1);
        // A text whose bytes were cut is marked cut however short: a search reads it whole.
        if (read !== null) {
          texts[i] = read.cut
            ? { text: read.text.slice(0, FTS_TEXT_MAX), truncated: true }
            : indexable(read.text);
        }
      });
    }
    return texts;
  }

  /**
   * index's second half: writes the texts readTexts gave in the open write transaction, in
   * one savepoint (FTS5 flushes its pending terms to new segments at each: fts-worker.ts says
   * what more, smaller batches cost). `yieldNow` is asked after every CATCH_UP_SLICE items and
   * ends the writing there when true. Returns how many items it went through.
   */
  private writeTexts(
    items: IndexItem[],
    texts: ({ text: string; truncated: boolean } | undefined)[],
    yieldNow?: () => boolean,
  ): number {
    let done = items.length;
    this.write(() => {
      for (let i = 0; i < items.length; i++) {
        if (i > 0 && i % CATCH_UP_SLICE === 0 && yieldNow?.() === true) {
          done = i;
          return;
        }
        const it = items[i]!;
        const t = texts[i];
        if (t === undefined) continue;
        // Inside the transaction, one lookup: an entry of the same bytes is kept (the
        // reconciliation may have indexed the message first), one of other bytes (a reused id)
        // replaced.
        const had = this.hashOf(it.id);
        if (had === it.hash) continue;
        if (had !== undefined) this.dropEntry(it.id);
        const ix = indexText(expandDottedI(t.text), this.notPlain, this.sequenceBytes);
        this.stmt('INSERT INTO word_grams (rowid, words) VALUES (?, ?)').run(it.id, ix.words);
        this.stmt('INSERT INTO word_ends (rowid, ends) VALUES (?, ?)').run(it.id, ix.ends);
        this.stmt('INSERT INTO word_seq (rowid, text) VALUES (?, ?)').run(it.id, ix.sequence);
        this.stmt('INSERT INTO doc_text (id, text) VALUES (?, ?)').run(it.id, t.text);
        this.stmt('INSERT INTO docs (id, hash, truncated, plain) VALUES (?, ?, ?, ?)').run(
          it.id,
          it.hash,
          t.truncated ? 1 : 0,
          ix.plain ? 1 : 0,
        );
        this.heldTexts++;
        this.written++;
      }
    });
    return done;
  }

  /** Removes entries, only where the id still holds the same message; commits. */
  remove(docs: DocRef[]): void {
    this.write(() => {
      for (const d of docs) if (this.hashOf(d.id) === d.hash) this.dropEntry(d.id);
    });
    this.commit();
  }

  /** Texts indexed since this opener began (a savepoint rolled back still counts its own). */
  get textsIndexed(): number {
    return this.written;
  }

  /** The write transaction `index` left open: the texts it holds and when it began. */
  get held(): { texts: number; since: number } | null {
    return this.db.inTransaction ? { texts: this.heldTexts, since: this.heldSince } : null;
  }

  /**
   * Commits the transaction `index` left open, if any. SQLITE_BUSY (a reader held fts.db past
   * busy_timeout) leaves it open with everything in it, to be committed again later: SQLite
   * keeps a transaction whose COMMIT was busy (lang_transaction.html).
   */
  commit(): void {
    if (!this.db.inTransaction) return;
    this.stmt('COMMIT').run();
    this.heldTexts = 0;
    this.mailRead = false;
  }

  /**
   * Runs `fn` in the open write transaction, or in one begun for it (left open: see `index`)
   * that takes fts.db's write lock before anything else: with a
   * rollback journal, two processes' transactions that read and then write (a CLI command's
   * worker beside the server's) would make SQLite answer one of them SQLITE_BUSY at once
   * instead of waiting. Not BEGIN IMMEDIATE: that takes the write lock of every attached
   * database too, and the mail database's (WAL) would hold off the server's own commits
   * for as long as the worker indexes. A delete that matches nothing takes fts.db's alone.
   */
  private write(fn: () => void): void {
    if (!this.db.inTransaction) {
      this.stmt('BEGIN').run();
      try {
        this.stmt('DELETE FROM docs WHERE id = -1').run();
      } catch (err) {
        this.stmt('ROLLBACK').run();
        throw err;
      }
      this.heldTexts = 0;
      this.heldSince = Date.now();
      this.mailRead = false;
    }
    // A savepoint in the open transaction (readTx: the database's one transaction runner,
    // db.ts): a call that fails leaves what the transaction held before it.
    readTx(this.db, fn);
  }

  /**
   * UIDs of the mailbox's messages whose text contains the needle, case-insensitively.
   * `readPast` (on-search, a mailbox far behind its mark): the index answers for the messages
   * up to the mailbox's mark, and those past it are read from their bytes and tested here,
   * as a search reads a text longer than what is indexed, without indexing them (a 2 KB
   * message costs ~16 us so, ~120 us to index; a 10 KB one ~24 against ~290: issue 19).
   */
  search(mailboxId: number, needle: string, readPast = false): number[] {
    // Its reads of the mailbox rows see them as committed now, not as a held transaction's
    // first read of the mail database found them (the worker commits first: a busy commit
    // makes the search wait there, not fail).
    this.commit();
    if (readPast) return readTx(this.db, () => this.searchReadingPast(mailboxId, needle));
    const uids = new Set(this.indexedMatches(mailboxId, needle));
    // Messages whose whole text is read instead: texts longer than what was indexed (the
    // needle may be past the indexed part), and, while the index is being rebuilt, the
    // messages it has not reached yet, so a search never waits for a whole rebuild.
    // From the few truncated docs to their rows: SQLite, left to choose, walked every row of
    // the mailbox and looked each up in docs (a million lookups per search, issue 18 item 6).
    const unread = this.stmt(
      `SELECT mm.uid, d.hash FROM docs d INDEXED BY docs_truncated
       CROSS JOIN mail.mailbox_messages mm ON mm.message_id = d.id
       WHERE mm.mailbox_id = ? AND d.truncated = 1`,
    ).all(mailboxId) as { uid: number; hash: string }[];
    if (this.reconciling) {
      const pending = this.stmt(
        `SELECT mm.uid, m.blob_hash AS hash FROM mail.mailbox_messages mm
         JOIN mail.messages m ON m.id = mm.message_id
         WHERE mm.mailbox_id = ? AND NOT EXISTS (SELECT 1 FROM docs d WHERE d.id = m.id)`,
      ).all(mailboxId) as { uid: number; hash: string }[];
      unread.push(...pending);
    }
    if (unread.length === 0) return [...uids].sort((a, b) => a - b);
    const folded = searchFold(needle);
    for (const u of unread) {
      if (uids.has(u.uid)) continue;
      const text = this.textFromBlob(u.hash);
      if (text !== null && searchFold(text).includes(folded)) uids.add(u.uid);
    }
    return [...uids].sort((a, b) => a - b);
  }

  /**
   * A search of the mailbox whose catch-up chunk is being written, asked between two of its
   * slices (catchUp's `yieldNow`): answered there, in the chunk's open write transaction, as
   * search's `readPast` answers (the mark and the kept texts are as they were before the
   * chunk: its texts and mark are not taken for indexed until it ends). Without it the chunk
   * ended at once for the search, and the search waited for its end: the mark's savepoint
   * and the commit, where FTS5 writes the chunk's pending terms out (1-35 ms of bench/imap's
   * big phase, issue 19). The chunk's transaction had read only fts.db, so the search's first
   * read of the mail database sees it as committed now; that snapshot then stands until the
   * commit, so once per transaction: null when it cannot be answered here (another mailbox,
   * no chunk being written, the mail database read already), and the chunk ends for it.
   */
  searchInChunk(mailboxId: number, needle: string): number[] | null {
    if (this.chunkOf !== mailboxId || this.mailRead || !this.db.inTransaction) return null;
    this.mailRead = true;
    // No savepoint of its own: its reads are one transaction's already, and a savepoint
    // would make FTS5 write out its pending terms, the wait this saves.
    return this.searchReadingPast(mailboxId, needle);
  }

  /**
   * search's `readPast`, in one read transaction: the mark and the rows as of one moment.
   * Every message up to the mark is indexed (catchUp); past it an entry may be missing or
   * be a reused id's earlier message (its deletion still waiting), so the index's answers
   * there are left out and every message past the mark is read.
   */
  private searchReadingPast(mailboxId: number, needle: string): number[] {
    const at = this.markOf(mailboxId);
    if (at === null) return [];
    const uids = new Set<number>();
    for (const uid of this.indexedMatches(mailboxId, needle)) if (uid <= at.from) uids.add(uid);
    const unread = this.stmt(
      `SELECT mm.uid, d.hash FROM docs d INDEXED BY docs_truncated
       CROSS JOIN mail.mailbox_messages mm ON mm.message_id = d.id
       WHERE mm.mailbox_id = ? AND d.truncated = 1 AND mm.uid <= ?`,
    ).all(mailboxId, at.from) as { uid: number; hash: string }[];
    const folded = searchFold(needle);
    for (const u of unread) {
      if (uids.has(u.uid)) continue;
      const text = this.textFromBlob(u.hash);
      if (text !== null && searchFold(text).includes(folded)) uids.add(u.uid);
    }
    const known = this.keptOf(mailboxId, at.mb);
    const kept = known ?? new MailboxKept(at.mb.uv, at.mb.oid);
    /**
     * UIDs read and neither kept nor signed (cut, too long, no room, bytes gone): the next
     * search reads them.
     */
    const notKept: number[] = [];
    /**
     * Reads the message's text and tests it; keeps it when whole and there is room, else
     * (`sign`: UIDs past those signed so far, which stay ascending) keeps its signature.
     */
    const read = (uid: number, hash: string | undefined, sign: boolean): void => {
      const r = hash === undefined ? null : this.textCutFromBlob(hash);
      if (r === null) {
        notKept.push(uid);
        return;
      }
      const f = searchFold(r.text);
      if (
        !r.cut &&
        r.text.length <= FTS_TEXT_MAX &&
        this.keptChars + r.text.length <= this.keptMax
      ) {
        kept.add(uid, hash!, r.text, f);
        this.keptChars += r.text.length;
      } else {
        // A cut text's signature would lack the trigrams past the cut: it is read each time.
        const bytes = sign && !r.cut ? signatureBytes(f.length) : 0;
        if (bytes > 0 && this.signedBytes + bytes <= this.signedMax) {
          kept.signed.add(uid, f);
          this.signedBytes += bytes;
        } else notKept.push(uid);
      }
      if (f.includes(folded)) uids.add(uid);
    };
    /** The rows past `from` with their bytes' hash, in UID order. */
    const rowsPast = (from: number) =>
      this.stmt(
        `SELECT mm.uid, m.blob_hash AS hash FROM mail.mailbox_messages mm
         JOIN mail.messages m ON m.id = mm.message_id
         WHERE mm.mailbox_id = ? AND mm.uid > ? ORDER BY mm.uid`,
      ).all(mailboxId, from) as { uid: number; hash: string }[];
    let seen = at.from;
    let done = false;
    try {
      if (known === undefined) {
        for (const u of rowsPast(at.from)) {
          read(u.uid, u.hash, true);
          seen = u.uid;
        }
      } else {
        // Which UIDs past the mark lack a kept text is known without a walk of the mailbox's
        // rows (plucking the 20,000 UIDs of the big phase's mailbox cost 2-8 ms a search,
        // issue 19): a mailbox's rows commit in UID order (catchUp), so every UID up to the
        // last one an earlier search went over was seen by it, and was kept or noted not kept.
        seen = Math.max(at.from, known.seenUpTo);
        const hashOfUid = this.stmt(
          `SELECT m.blob_hash FROM mail.mailbox_messages mm
           JOIN mail.messages m ON m.id = mm.message_id WHERE mm.mailbox_id = ? AND mm.uid = ?`,
        ).pluck();
        // The kept texts' hits, of messages still in the mailbox (an expunged one's text stays
        // kept until the catch-up passes its UID): a few looked up, many against every UID.
        const hits = known.matches(folded).filter((uid) => uid > at.from);
        if (hits.length <= KEPT_HITS_LOOKED_UP) {
          const has = this.stmt(
            'SELECT 1 FROM mail.mailbox_messages WHERE mailbox_id = ? AND uid = ?',
          ).pluck();
          for (const uid of hits) if (has.get(mailboxId, uid) !== undefined) uids.add(uid);
        } else {
          const past = this.stmt(
            `SELECT uid FROM mail.mailbox_messages WHERE mailbox_id = ? AND uid > ? ORDER BY uid`,
          )
            .pluck()
            .all(mailboxId, at.from) as number[];
          for (const uid of hits) if (hasSorted(past, uid)) uids.add(uid);
        }
        for (const uid of known.notKept) {
          if (uid <= at.from) continue;
          const hash = hashOfUid.get(mailboxId, uid) as string | undefined;
          // Gone from the mailbox (expunged): not read, not noted again.
          if (hash !== undefined) read(uid, hash, false);
        }
        // The texts signed: only those whose signature has every trigram of the needle are
        // read and tested (fts-signatures.ts); their signatures stay as they are.
        known.signed.candidates(folded, at.from, (uid) => {
          const hash = hashOfUid.get(mailboxId, uid) as string | undefined;
          if (hash === undefined) return; // expunged since
          const text = this.textFromBlob(hash);
          if (text !== null && searchFold(text).includes(folded)) uids.add(uid);
        });
        for (const u of rowsPast(seen)) {
          read(u.uid, u.hash, true);
          seen = u.uid;
        }
      }
      done = true;
    } finally {
      kept.seal();
      kept.signed.seal();
      if (done) {
        kept.notKept = notKept;
        kept.seenUpTo = seen;
        if (known === undefined && (kept.size > 0 || kept.signed.size > 0)) {
          this.kept.set(mailboxId, kept);
        }
      } else if (known === undefined) {
        this.keptChars -= kept.chars();
        this.signedBytes -= kept.signed.bytes;
      } else {
        // Which UIDs lack a kept text is not known for sure now: the next search reads all.
        this.dropKept(mailboxId);
      }
    }
    return [...uids].sort((a, b) => a - b);
  }

  /** The indexed (not truncated) messages of the mailbox that contain the needle. */
  private indexedMatches(mailboxId: number, given: string): number[] {
    const needle = expandDottedI(given);
    const plan = planSearch(needle);
    if (plan.kind === 'word') {
      return this.stmt(
        `SELECT mm.uid FROM word_grams g
         JOIN mail.mailbox_messages mm ON mm.message_id = g.rowid
         WHERE mm.mailbox_id = ? AND word_grams MATCH ?`,
      )
        .pluck()
        .all(mailboxId, plan.match) as number[];
    }
    if (plan.kind === 'phrase') {
      const seq = this.usable(plan.seq);
      const tail = plan.tail && {
        ends: plan.tail.ends,
        seq: plan.tail.seq && this.usable(plan.tail.seq),
      };
      // A phrase that makes no token (symbols only) narrows nothing: every text is read.
      if (seq !== null && (tail === null || tail.ends !== null || tail.seq !== null)) {
        return this.phraseMatches(mailboxId, needle, seq, plan.exact, tail);
      }
    }
    if (plan.kind !== 'short') return this.scanned(mailboxId, needle);
    return this.shortMatches(mailboxId, needle);
  }

  /**
   * Needles under 3 characters have no trigram. LIKE over the stored text folds ASCII's case
   * alone: it answers an ASCII needle, but for the two letters outside ASCII that lower-case
   * to ASCII (U+0130 to "i" and U+0307, U+212A KELVIN SIGN to "k"), whose texts are checked
   * here too. A needle with letters outside ASCII is looked for in every text (RFC 9051
   * §6.4.4: case-insensitive, which LIKE is not for them).
   */
  private shortMatches(mailboxId: number, needle: string): number[] {
    if (!ASCII.test(needle)) return this.scanned(mailboxId, needle);
    const found = this.stmt(
      `SELECT mm.uid FROM mail.mailbox_messages mm
       JOIN doc_text t ON t.id = mm.message_id
       WHERE mm.mailbox_id = ? AND t.text LIKE ? ESCAPE '\\'`,
    )
      .pluck()
      .all(mailboxId, `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`) as number[];
    const folded = searchFold(needle);
    if (!/[ik]/.test(folded)) return found;
    const odd = this.stmt(
      `SELECT mm.uid, t.text FROM mail.mailbox_messages mm
       JOIN doc_text t ON t.id = mm.message_id
       WHERE mm.mailbox_id = ? AND t.text GLOB '*[\u0130\u212a]*'`,
    ).all(mailboxId) as { uid: number; text: string }[];
    if (odd.length === 0) return found;
    const uids = new Set(found);
    for (const r of odd) if (searchFold(r.text).includes(folded)) uids.add(r.uid);
    return [...uids].sort((a, b) => a - b);
  }

  /** The phrase's MATCH text, or null when it makes no unicode61 token (matches nothing). */
  private usable(p: SeqPhrase): string | null {
    if (p.surelyTokens) return p.match;
    // Only symbols and letters outside ASCII: ask the tokenizer, on its own text.
    this.stmt('DELETE FROM temp.token_probe').run();
    this.stmt('INSERT INTO temp.token_probe (rowid, text) VALUES (1, ?)').run(p.text);
    const hit = this.stmt('SELECT 1 FROM temp.token_probe WHERE token_probe MATCH ?').get(p.match);
    return hit === undefined ? null : p.match;
  }

  /** A needle across words (see fts-query.ts): phrase hits, and candidates checked. */
  private phraseMatches(
    mailboxId: number,
    needle: string,
    seq: string,
    exact: boolean,
    tail: { ends: EndsQuery | null; seq: string | null } | null,
  ): number[] {
    const found: number[] = [];
    /** Candidates to check: message id -> UID. */
    const check = new Map<number, number>();
    const hits = this.stmt(
      `SELECT mm.uid, c.rowid AS id, d.plain FROM word_seq c
       CROSS JOIN mail.mailbox_messages mm ON mm.message_id = c.rowid
       JOIN docs d ON d.id = c.rowid
       WHERE word_seq MATCH ? AND mm.mailbox_id = ?`,
    ).all(seq, mailboxId) as { uid: number; id: number; plain: number }[];
    for (const h of hits) {
      if (exact && h.plain === 1) found.push(h.uid);
      else check.set(h.id, h.uid);
    }
    // Most first words are the end of no longer word: then the rest's phrase (often common
    // separators) is not looked up at all. Asked of the index's terms (the first at or after
    // the key): a prefix query merges every matching term's texts before its first row.
    const noTails = tail?.ends != null && !this.hasTermWithPrefix(tail.ends.key);
    if (tail !== null && !noTails) {
      const parts: string[] = [];
      const args: string[] = [];
      if (tail.ends !== null) {
        parts.push('SELECT rowid FROM word_ends WHERE word_ends MATCH ?');
        args.push(tail.ends.match);
      }
      if (tail.seq !== null) {
        parts.push('SELECT rowid FROM word_seq WHERE word_seq MATCH ?');
        args.push(tail.seq);
      }
      const more = this.stmt(
        `SELECT mm.uid, c.rowid AS id FROM (${parts.join(' INTERSECT ')}) c
         CROSS JOIN mail.mailbox_messages mm ON mm.message_id = c.rowid
         WHERE mm.mailbox_id = ?`,
      ).all(...args, mailboxId) as { uid: number; id: number }[];
      for (const m of more) check.set(m.id, m.uid);
    }
    if (check.size === 0) return found;
    const folded = searchFold(needle);
    const text = this.stmt('SELECT text FROM doc_text WHERE id = ?').pluck();
    const done = new Set(found);
    for (const [id, uid] of check) {
      if (done.has(uid)) continue;
      const t = text.get(id) as string | undefined;
      if (t !== undefined && searchFold(t).includes(folded)) found.push(uid);
    }
    return found;
  }

  /** Some text has a key in `word_ends` that starts with `key` (or had: tombstones count). */
  private hasTermWithPrefix(key: string): boolean {
    const next = this.stmt('SELECT term FROM temp.word_ends_terms WHERE term >= ? LIMIT 1')
      .pluck()
      .get(key) as string | undefined;
    return next?.startsWith(key) === true;
  }

  /** The mailbox's messages whose stored text has the needle (a pass over all of them). */
  private scanned(mailboxId: number, needle: string): number[] {
    const rows = this.stmt(
      `SELECT mm.uid, t.text FROM mail.mailbox_messages mm
       JOIN doc_text t ON t.id = mm.message_id WHERE mm.mailbox_id = ?`,
    ).all(mailboxId) as { uid: number; text: string }[];
    const folded = searchFold(needle);
    return rows.filter((r) => searchFold(r.text).includes(folded)).map((r) => r.uid);
  }

  close(): void {
    this.commit();
    this.db.close();
    this.mark?.release();
  }

  private hashOf(id: number): string | undefined {
    return (this.stmt('SELECT hash FROM docs WHERE id = ?').get(id) as { hash: string } | undefined)
      ?.hash;
  }

  /** Drops the id's entry, which exists (hashOf). */
  private dropEntry(id: number): void {
    this.stmt('DELETE FROM word_grams WHERE rowid = ?').run(id);
    this.stmt('DELETE FROM word_ends WHERE rowid = ?').run(id);
    this.stmt('DELETE FROM word_seq WHERE rowid = ?').run(id);
    this.stmt('DELETE FROM doc_text WHERE id = ?').run(id);
    this.stmt('DELETE FROM docs WHERE id = ?').run(id);
  }

  /**
   * The message's decoded text from its blob, at most `cap` characters (as delivery extracts
   * it for the index: FTS_TEXT_MAX and one more); null when the blob is gone (deleted since).
   */
  private textFromBlob(hash: string, cap?: number): string | null {
    return this.textCutFromBlob(hash, cap)?.text ?? null;
  }

  /**
   * textFromBlob, and whether a part's bytes were cut before its end (`cut`): its text may be
   * shorter than the cap and still not whole (UTF-8 in quoted-printable, up to 9 bytes a
   * character, past the parser's 4 bytes a character of the cap).
   */
  private textCutFromBlob(hash: string, cap?: number): { text: string; cut: boolean } | null {
    this.textsReadCount++;
    let raw: Buffer;
    try {
      // A small message's bytes are a row of the mail database (message-bytes.ts), others a file.
      const row = this.stmt(BYTES_OF_HASH_ATTACHED).pluck().get(hash, hash) as Buffer | null;
      raw = row ?? readFileSync(this.blobs.pathOf(hash));
    } catch {
      return null;
    }
    try {
      // The text alone: parseMessage's ENVELOPE and search fields were made and dropped, about
      // 40% of the parse of a 10 KB message (docs/design-notes.md, eighteenth session).
      return parseTextCut(raw, cap);
    } catch {
      return null; // the parser is total; this only guards the index against a bug there
    }
  }
}

/** `unsynced`: a rollback journal without syncs (fts-marks.ts); else a WAL synced at checkpoints. */
function openIndex(file: string, unsynced: boolean): Database.Database {
  // The text of every message: 0600 whatever the umask, like the mail database.
  preparePrivateFileSync(file, sqliteCompanions(file));
  const db = new Database(file);
  try {
    // 8 KB pages with FTS5 leaves to match (`pgsz`, below): a 10 KB text costs ~10% less CPU
    // to index than with 4 KB pages and 4050-byte leaves (fewer leaves and records to write
    // and merge), searches the same (issue 19). Only a new file takes it: an existing index
    // keeps its pages, and its leaves stay FTS5's default size.
    db.pragma(`page_size = ${PAGE_SIZE}`);
    // Without syncs, a rollback journal: FTS5's new segments go to pages at the file's end or
    // freed ones, written once and not journaled, where a WAL wrote every page twice (its frame,
    // then the checkpoint's copy). A 10 KB text cost the worker 20% less (issue 19). An index a
    // WAL-mode release made is switched over here (its WAL checkpointed first) unless another
    // process holds it open in WAL mode: it then stays a WAL, synced as before.
    const mode = db.pragma(`journal_mode = ${unsynced ? 'PERSIST' : 'WAL'}`, { simple: true });
    db.pragma(`synchronous = ${mode === 'persist' ? 'OFF' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    // A transaction held open (FtsDb.index) keeps its pages in memory until the commit: a
    // spill to the file mid-transaction would need the exclusive lock, and a reader holding
    // fts.db would make a statement in it fail (SQLITE_BUSY then calls for a rollback of all
    // the transaction holds). Its size is bounded by the worker (fts-worker.ts HOLD_TEXTS).
    db.pragma('cache_spill = OFF');
    // Statement journals in memory, as the mail database's (db.ts). Each `index` call is a
    // savepoint in the held transaction, so every page of it the call changes again is copied
    // into a sub-journal first, and past 64 KiB SQLite moved that to a new temporary file (in
    // /var/tmp: created, fchown'd, written, unlinked, several a second under load: issue 19).
    // Its pages are a copy of what the held transaction keeps in memory already (cache_spill
    // off); nothing in it outlives the transaction.
    db.pragma('temp_store = MEMORY');
    if (db.pragma('user_version', { simple: true }) !== FTS_SCHEMA) {
      db.exec(`
DROP TABLE IF EXISTS message_text;
DROP TABLE IF EXISTS word_grams;
DROP TABLE IF EXISTS word_ends;
DROP TABLE IF EXISTS word_seq;
DROP TABLE IF EXISTS doc_text;
DROP TABLE IF EXISTS docs;
DROP TABLE IF EXISTS indexed_upto;
-- IMAP SEARCH's case-insensitive substring (RFC 9051 §6.4.4) from three indexes of each text
-- (fts-query.ts): its distinct words as trigrams (a substring inside a word, exactly), their
-- ends (a key per word, for a needle that starts inside a word), and its words in order
-- (unicode61, positions kept: phrases across words narrow the texts to check).
-- Contentless with contentless_delete: a deletion records a tombstone, where an index that
-- keeps its content must tokenize the old text again to find what to remove (more than
-- twice the CPU, measured on 10 KB messages: a POP3 QUIT may delete thousands).
-- deletemerge 50: a segment is rewritten once half its rows are tombstones, which bounds the
-- space deleted messages keep. 0 (only automerge drops them) cost a third less CPU per
-- deletion, but the dead rows of an old, large segment could stay for good.
CREATE VIRTUAL TABLE word_grams USING fts5(
  words, tokenize = 'trigram', content = '', contentless_delete = 1
);
INSERT INTO word_grams (word_grams, rank) VALUES ('deletemerge', 50);
-- Which texts have a word that ends with a needle's first word, nothing more: no positions.
CREATE VIRTUAL TABLE word_ends USING fts5(
  ends, tokenize = 'ascii', detail = 'none', content = '', contentless_delete = 1
);
INSERT INTO word_ends (word_ends, rank) VALUES ('deletemerge', 50);
CREATE VIRTUAL TABLE word_seq USING fts5(
  text, tokenize = 'unicode61 remove_diacritics 0', content = '', contentless_delete = 1
);
INSERT INTO word_seq (word_seq, rank) VALUES ('deletemerge', 50);
-- The indexed text itself: needles under 3 characters (LIKE; no trigram to look up), and
-- the check of the candidates of a needle across words.
CREATE TABLE doc_text (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
-- Which message (by blob hash) each index entry was made from: lets reconciliation find
-- stale entries without scanning the full-text table, and detect reused message ids.
-- truncated: only the first FTS_TEXT_MAX characters are indexed; searches read the rest.
-- plain: every character of the text is ASCII, a letter or a digit, and none that unicode61
-- splits at or folds to ASCII (fts-query.ts indexText, fts-plain.ts): a phrase hit in
-- word_seq is then a match without reading the text.
CREATE TABLE docs (
  id INTEGER PRIMARY KEY, hash TEXT NOT NULL, truncated INTEGER NOT NULL, plain INTEGER NOT NULL
);
PRAGMA user_version = ${FTS_SCHEMA};
`);
      // Leaves that fill the page, where the file has the larger pages (a leaf bigger than its
      // page spills into overflow pages: measured slower to write and to search).
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      if (pageSize >= PAGE_SIZE) {
        // A literal: FTS5 refuses a bound value for its configuration commands.
        for (const table of ['word_grams', 'word_ends', 'word_seq']) {
          db.exec(
            `INSERT INTO ${table} (${table}, rank) VALUES ('pgsz', ${pageSize - LEAF_SLACK})`,
          );
        }
      }
    }
    // Per mailbox searched with full_text_index = "on-search": the UID up to which its messages
    // are indexed, for the mailbox of that UIDVALIDITY and MAILBOXID (FtsDb.catchUp). Made
    // here, not in the schema above: an index of schema 7 without it is kept, its marks empty
    // (a mailbox's first search then goes over its rows once, indexing what is missing).
    db.exec(`CREATE TABLE IF NOT EXISTS indexed_upto (
      mailbox_id INTEGER PRIMARY KEY, uid_validity INTEGER NOT NULL, object_id TEXT,
      uid INTEGER NOT NULL
    )`);
    // The docs whose text was cut (see search): few, found without a pass over the others.
    db.exec('CREATE INDEX IF NOT EXISTS docs_truncated ON docs(id) WHERE truncated = 1');
    // word_ends' terms in order, for hasTermWithPrefix.
    db.exec('CREATE VIRTUAL TABLE temp.word_ends_terms USING fts5vocab(main, word_ends, row)');
    // A scratch table with word_seq's tokenizer: does a phrase make any token (fts-query.ts).
    db.exec(`CREATE VIRTUAL TABLE temp.token_probe USING fts5(
      text, tokenize = 'unicode61 remove_diacritics 0'
    )`);
    db.prepare('SELECT count(*) FROM docs').get();
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
