// The full-text index on its worker thread: a search sees every append that resolved before
// it, and the index reconciles with the mail database at open (lost, stale, reused ids).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { FtsIndex, INDEX_GATHER_MS } from '../../src/store/sqlite/fts.js';
import { FtsDb, type FtsRequest } from '../../src/store/sqlite/fts-db.js';
import { currentBootId } from '../../src/store/sqlite/fts-marks.js';
import { ThreadDemand } from '../../src/store/sqlite/fts-step-aside.js';
import type { SqliteStore, SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.js';
import { FTS_TEXT_MAX, type FullTextIndexMode } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage, quotedPrintableMessage, simpleIndex } from '../helpers/messages.js';
import { openAliceStore } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-fts-');

/** The mode of the describe running (set by its beforeEach): open() uses it. */
let mode: FullTextIndexMode = 'on-delivery';

function open(opts: Partial<SqliteStoreOptions> = {}) {
  return openAliceStore(dir(), {
    onFtsError: (err) => assert.fail(`index worker error: ${String(err)}`),
    fullTextIndex: mode,
    ...opts,
  });
}

/** With on-search, a search of the mailbox: its messages are then indexed, as on delivery. */
async function indexed(s: { store: SqliteStore; inbox: number }): Promise<void> {
  if (mode === 'on-search') await s.store.searchText(s.inbox, 'catch up');
}

/** Skips a test of how deliveries are posted to the index: on-delivery's alone. */
const postsAtDelivery = () => ({
  skip: mode === 'on-search' ? 'posts at delivery: on-delivery only' : false,
});

/**
 * fts.db opened to read while the worker may be writing it. Not `readonly`: fts.db keeps a
 * rollback journal (PERSIST), and a read-only connection that checks for a hot journal just
 * before the worker takes its RESERVED lock, then reads the journal's header the worker has
 * just written, takes it for hot and fails with SQLITE_READONLY_ROLLBACK (a clean-clone CI run
 * hit it). A connection that may write waits for the lock instead and checks again.
 */
function openFts(): Database.Database {
  const db = new Database(join(dir(), 'fts.db'));
  db.pragma('busy_timeout = 10000');
  return db;
}

/** Rows of fts.db's bookkeeping table (the store open or closed). */
function indexedDocs(): Array<{ id: number; hash: string }> {
  const db = openFts();
  try {
    return db.prepare('SELECT id, hash FROM docs ORDER BY id').all() as never;
  } finally {
    db.close();
  }
}

/** Ids in fts.db's text table (for short needles), the store open or closed. */
function textIds(): number[] {
  const db = openFts();
  try {
    return db.prepare('SELECT id FROM doc_text ORDER BY id').pluck().all() as number[];
  } finally {
    db.close();
  }
}

function messageRows(): Array<{ id: number; hash: string }> {
  const db = new Database(join(dir(), 'letterbox.db'), { readonly: true });
  try {
    return db.prepare('SELECT id, blob_hash AS hash FROM messages ORDER BY id').all() as never;
  } finally {
    db.close();
  }
}

async function removeFtsFiles(): Promise<void> {
  for (const s of ['', '-wal', '-shm', '-journal']) {
    await rm(join(dir(), `fts.db${s}`), { force: true });
  }
}

/** The openers' marks beside fts.db (fts-marks.ts): their contents, by file name. */
function marks(): string[] {
  return readdirSync(dir())
    .filter((n) => n.startsWith('fts.db-open-'))
    .map((n) => readFileSync(join(dir(), n), 'latin1'));
}

/** A store of one message, `alpha bravo`, closed. */
async function storeOne(): Promise<void> {
  const { store, inbox } = await open();
  try {
    await store.append(newMessage('a', 'alpha bravo\r\n'), [{ mailboxId: inbox }]);
  } finally {
    await store.close();
  }
}

/** What a torn page could leave: message `id`'s words in the index are `word` instead. */
function poison(id: number, word: string): void {
  const db = new Database(join(dir(), 'fts.db'));
  try {
    db.prepare('DELETE FROM word_grams WHERE rowid = ?').run(id);
    db.prepare('INSERT INTO word_grams (rowid, words) VALUES (?, ?)').run(id, ` ${word} `);
  } finally {
    db.close();
  }
}

/** A store made and closed, its index opened as the worker opens it. */
async function closedStoreIndex(): Promise<{ fts: FtsDb; inbox: number }> {
  const { store, inbox } = await open();
  await store.close();
  const fts = new FtsDb({
    ftsFile: join(dir(), 'fts.db'),
    mailFile: join(dir(), 'letterbox.db'),
    blobRoot: join(dir(), 'blobs'),
  });
  return { fts, inbox };
}

for (const m of ['on-delivery', 'on-search'] as const)
  describe(`full-text index worker (${m})`, () => {
    mode = m; // for the skips below, as the tests are made
    beforeEach(() => {
      mode = m;
    });
    test('a search right after an append resolves sees the message', async () => {
      const { store, inbox } = await open();
      try {
        // Once reconciled (searches wait for that, and writes posted meanwhile get ahead).
        assert.deepEqual(await store.searchText(inbox, 'nothing yet'), []);
        // Concurrent appends land in shared group commits; each searches at once for its word.
        const big = 'filler text '.repeat(40_000);
        const found = await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const [r] = await store.append(newMessage(`m${i}`, `${big}needle${i}zz\r\n`), [
              { mailboxId: inbox },
            ]);
            return { uid: r!.uid, hits: await store.searchText(inbox, `NEEDLE${i}ZZ`) };
          }),
        );
        for (const f of found) assert.deepEqual(f.hits, [f.uid]);
        assert.equal((await store.searchText(inbox, 'filler TEXT')).length, 20);
      } finally {
        await store.close();
      }
    });

    test(
      'index requests of separate commits are posted to the worker together',
      postsAtDelivery(),
      async () => {
        const { store, inbox } = await open();
        // What the main thread posts to its workers (the index worker is the store's only one).
        const posted: FtsRequest[] = [];
        const post = Worker.prototype.postMessage;
        Worker.prototype.postMessage = function (this: Worker, value: unknown, ...rest: never[]) {
          posted.push(value as FtsRequest);
          return post.call(this, value, ...rest);
        };
        try {
          assert.deepEqual(await store.searchText(inbox, 'nothing yet'), []);
          posted.length = 0;
          const start = performance.now();
          for (let i = 0; i < 20; i++) {
            await store.append(newMessage(`m${i}`, `word${i} common\r\n`), [{ mailboxId: inbox }]);
          }
          // The search posts what was gathered first: it sees every message.
          assert.equal((await store.searchText(inbox, 'COMMON')).length, 20);
          const elapsed = performance.now() - start;
          const index = posted.filter((r) => r.t === 'index');
          assert.equal(index.flatMap((r) => r.items).length, 20);
          // One post per gathering period at most (its timer), and the one before the search:
          // each commit posted its own when appends were not gathered.
          assert.ok(
            index.length <= 1 + Math.floor(elapsed / INDEX_GATHER_MS),
            `${index.length} index posts in ${elapsed.toFixed(0)} ms`,
          );
          assert.equal(posted.at(-1)?.t, 'search');
          // Gathered items not searched for are posted by the timer, and indexed.
          await store.append(newMessage('late', 'latecomer\r\n'), [{ mailboxId: inbox }]);
          await eventually(
            () => store.stats().ftsBacklogMessages === 0,
            'the gathered item indexed',
          );
        } finally {
          Worker.prototype.postMessage = post;
          await store.close();
        }
        assert.equal(indexedDocs().length, 21);
      },
    );

    test('close posts the index requests gathered before it', postsAtDelivery(), async () => {
      const { store, inbox } = await open();
      try {
        for (let i = 0; i < 3; i++) {
          await store.append(newMessage(`m${i}`, `word${i}\r\n`), [{ mailboxId: inbox }]);
        }
      } finally {
        await store.close();
      }
      // Indexed by this store's worker before it stopped, not left to the next start.
      assert.equal(indexedDocs().length, 3);
    });

    test('a new index has 8 KB pages with leaves to match; substrings are found as before', async () => {
      const { store, inbox } = await open();
      try {
        // Enough text for many leaves: the words below sit in the middle of long texts.
        // Under FTS_TEXT_MAX (16 K characters), so that the index alone answers.
        const filler = (i: number) =>
          Array.from({ length: 150 }, (_, k) => `line ${k} of filler text ${i}\r\n`).join('');
        for (let i = 0; i < 12; i++) {
          const mid =
            i % 3 === 0 ? 'Please Find Below the zeppelinQuartz notes\r\n' : 'nothing here\r\n';
          await store.append(newMessage(`m${i}`, `${filler(i)}${mid}${filler(i + 1)}`), [
            { mailboxId: inbox },
          ]);
        }
        assert.deepEqual(await store.searchText(inbox, 'ZEPPELINquartz'), [1, 4, 7, 10]);
        assert.deepEqual(await store.searchText(inbox, 'find below the zep'), [1, 4, 7, 10]);
        assert.deepEqual(await store.searchText(inbox, 'ppelinq'), [1, 4, 7, 10]);
        assert.deepEqual(
          await store.searchText(inbox, 'e 149 of filler'),
          [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        );
        assert.deepEqual(await store.searchText(inbox, 'find  below'), []);
      } finally {
        await store.close();
      }
      const db = new Database(join(dir(), 'fts.db'), { readonly: true });
      try {
        assert.equal(db.pragma('page_size', { simple: true }), 8192);
        for (const table of ['word_grams', 'word_seq']) {
          const pgsz = db.prepare(`SELECT v FROM ${table}_config WHERE k = 'pgsz'`).pluck().get();
          assert.equal(pgsz, 8100);
        }
      } finally {
        db.close();
      }
    });

    test('expunged messages leave the index once the worker is quiet', async () => {
      const { store, inbox } = await open();
      try {
        await store.append(newMessage('a', 'alpha words\r\n'), [{ mailboxId: inbox }]);
        await store.append(newMessage('b', 'bravo words\r\n'), [{ mailboxId: inbox }]);
        await store.expunge(inbox, { uids: [1], onlyDeleted: false });
        // At once for searches (they join the live mailbox rows) ...
        assert.deepEqual(await store.searchText(inbox, 'words'), [2]);
        // ... and from the index itself after the worker's quiet time (DELETE_IDLE_MS).
        await eventually(() => indexedDocs().length === 1, 'the deletion from the index');
      } finally {
        await store.close();
      }
      assert.deepEqual(indexedDocs(), messageRows());
      assert.equal(indexedDocs().length, 1);
      assert.deepEqual(textIds(), [indexedDocs()[0]!.id]);
    });

    test('an index an older release built (content kept in the index) is rebuilt', async () => {
      let s = await open();
      await s.store.append(newMessage('a', 'Upgrade me kindly\r\n'), [{ mailboxId: s.inbox }]);
      await s.store.append(newMessage('b', 'x9 marks\r\n'), [{ mailboxId: s.inbox }]);
      await s.store.close();
      // fts.db as schema 2 left it: a trigram index holding its own copy of the text.
      await removeFtsFiles();
      const old = new Database(join(dir(), 'fts.db'));
      old.exec(`CREATE VIRTUAL TABLE message_text USING fts5(text, tokenize = 'trigram');
              CREATE TABLE docs (id INTEGER PRIMARY KEY, hash TEXT NOT NULL,
                                 truncated INTEGER NOT NULL);
              INSERT INTO message_text (rowid, text) VALUES (1, 'stale words');
              INSERT INTO docs VALUES (1, 'not-the-hash', 0);
              PRAGMA user_version = 2;`);
      old.close();
      s = await open();
      try {
        assert.deepEqual(await s.store.searchText(s.inbox, 'KINDLY'), [1]);
        assert.deepEqual(await s.store.searchText(s.inbox, 'stale'), []);
        assert.deepEqual(await s.store.searchText(s.inbox, 'x9'), [2]); // under 3: doc_text
        await s.store.expunge(s.inbox, { uids: [1], onlyDeleted: false });
        await eventually(() => indexedDocs().length === 1, 'the deletion from the index');
        assert.deepEqual(await s.store.searchText(s.inbox, 'marks'), [2]);
      } finally {
        await s.store.close();
      }
      const db = new Database(join(dir(), 'fts.db'), { readonly: true });
      try {
        assert.equal(
          db
            .prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'message_text'`)
            .pluck()
            .get(),
          0,
        );
        // The file an older release made keeps its 4 KB pages, and FTS5's default leaves.
        assert.equal(db.pragma('page_size', { simple: true }), 4096);
        for (const table of ['word_grams', 'word_seq']) {
          const sql = db
            .prepare(`SELECT sql FROM sqlite_master WHERE name = ?`)
            .pluck()
            .get(table) as string;
          assert.match(sql, /contentless_delete = 1/);
          const config = (k: string) =>
            db.prepare(`SELECT v FROM ${table}_config WHERE k = ?`).pluck().get(k);
          assert.equal(config('deletemerge'), 50);
          assert.equal(config('pgsz'), undefined);
          // The deleted message left no postings: its words match nothing in the index itself.
          const hits = db
            .prepare(`SELECT rowid FROM ${table} WHERE ${table} MATCH '"kindly"'`)
            .pluck()
            .all();
          assert.deepEqual(hits, []);
        }
      } finally {
        db.close();
      }
      assert.deepEqual(indexedDocs(), messageRows());
      assert.deepEqual(textIds(), [2]);
    });

    test('deletions still waiting when the store closes are done at the next open', async () => {
      let s = await open();
      try {
        await s.store.append(newMessage('a', 'alpha words\r\n'), [{ mailboxId: s.inbox }]);
        await s.store.append(newMessage('b', 'bravo words\r\n'), [{ mailboxId: s.inbox }]);
        await indexed(s);
        await s.store.expunge(s.inbox, { uids: [2], onlyDeleted: false });
      } finally {
        await s.store.close();
      }
      assert.equal(indexedDocs().length, 2, 'closed before the quiet time: the entry waits');
      s = await open();
      try {
        assert.deepEqual(await s.store.searchText(s.inbox, 'words'), [1]);
      } finally {
        await s.store.close();
      }
      assert.deepEqual(indexedDocs(), messageRows());
    });

    test('a reused message id cancels its waiting deletion', async () => {
      const { store, inbox } = await open();
      try {
        const raw = newMessage('a', 'alpha words\r\n');
        await store.append(raw, [{ mailboxId: inbox }]);
        await store.expunge(inbox, { uids: [1], onlyDeleted: false });
        // The same bytes again: the same hash, and SQLite hands out the freed id once more.
        await store.append(raw, [{ mailboxId: inbox }]);
        await new Promise((r) => setTimeout(r, 700));
        assert.deepEqual(await store.searchText(inbox, 'alpha'), [2]);
      } finally {
        await store.close();
      }
      assert.deepEqual(indexedDocs(), messageRows());
    });

    test('an index left open by another boot (a machine crash may have torn it) is rebuilt', async () => {
      let s = await open();
      try {
        await s.store.append(newMessage('a', 'alpha bravo\r\n'), [{ mailboxId: s.inbox }]);
        assert.deepEqual(await s.store.searchText(s.inbox, 'bravo'), [1]);
        assert.deepEqual(marks(), [`${currentBootId()}\n${process.pid}\n`], 'open: marked');
      } finally {
        await s.store.close();
      }
      assert.deepEqual(marks(), [], 'a clean close leaves no mark');
      poison(1, 'zulu');
      // A worker of the last boot had it open, unsynced, when the machine went down.
      writeFileSync(join(dir(), 'fts.db-open-1-0-x'), 'another-boot\n1\n');
      s = await open();
      try {
        assert.deepEqual(await s.store.searchText(s.inbox, 'zulu'), []);
        assert.deepEqual(await s.store.searchText(s.inbox, 'bravo'), [1]);
        assert.equal(marks().length, 1, 'the mark of the other boot is gone');
      } finally {
        await s.store.close();
      }
      assert.deepEqual(marks(), []);
      assert.deepEqual(indexedDocs(), messageRows());
    });

    test('a mark of this boot whose process is gone: the index is kept, the mark dropped', async () => {
      await storeOne();
      const gone = spawnSync(process.execPath, ['-e', '']).pid!;
      writeFileSync(join(dir(), `fts.db-open-${gone}-0-x`), `${currentBootId()}\n${gone}\n`);
      const inode = statSync(join(dir(), 'fts.db')).ino;
      const s = await open();
      try {
        assert.deepEqual(await s.store.searchText(s.inbox, 'bravo'), [1]);
        assert.deepEqual(marks(), [`${currentBootId()}\n${process.pid}\n`]);
      } finally {
        await s.store.close();
      }
      assert.equal(statSync(join(dir(), 'fts.db')).ino, inode, 'not deleted');
      assert.deepEqual(marks(), []);
    });

    test('an index a WAL-mode release made is kept and switched to a rollback journal', async () => {
      await storeOne();
      const old = new Database(join(dir(), 'fts.db'));
      assert.equal(old.pragma('journal_mode = WAL', { simple: true }), 'wal');
      old.close();
      const inode = statSync(join(dir(), 'fts.db')).ino;
      const s = await open();
      try {
        assert.deepEqual(await s.store.searchText(s.inbox, 'bravo'), [1]);
        await s.store.append(newMessage('b', 'charlie bravo\r\n'), [{ mailboxId: s.inbox }]);
        assert.deepEqual(await s.store.searchText(s.inbox, 'bravo'), [1, 2]);
      } finally {
        await s.store.close();
      }
      assert.equal(statSync(join(dir(), 'fts.db')).ino, inode, 'not rebuilt');
      const db = new Database(join(dir(), 'fts.db'), { readonly: true });
      try {
        // No longer a WAL file: a rollback journal (a new connection names its default mode).
        assert.equal(db.pragma('journal_mode', { simple: true }), 'delete');
      } finally {
        db.close();
      }
      assert.deepEqual(indexedDocs(), messageRows());
    });

    test('a reader holding fts.db (a backup copying it) makes writes wait, not fail', async () => {
      const warnings: string[] = [];
      const { store, inbox } = await open({ onFtsError: (err) => warnings.push(String(err)) });
      await store.append(newMessage('a', 'alpha words\r\n'), [{ mailboxId: inbox }]);
      assert.deepEqual(await store.searchText(inbox, 'alpha'), [1]);
      const reader = openFts();
      try {
        // A read transaction: its lock keeps the worker's next commit out (rollback journal).
        reader.exec('BEGIN');
        reader.prepare('SELECT count(*) FROM docs').get();
        await store.append(newMessage('b', 'bravo words\r\n'), [{ mailboxId: inbox }]);
        const searching = store.searchText(inbox, 'bravo');
        await eventually(() => warnings.length > 0, 'the worker finding fts.db busy', 30_000);
        assert.match(warnings[0]!, /held by a reader/);
        reader.exec('COMMIT');
        // Answered after the write it waited for, by the same worker.
        assert.deepEqual(await searching, [2]);
        assert.deepEqual(await store.searchText(inbox, 'words'), [1, 2]);
        assert.equal(warnings.length, 1);
      } finally {
        reader.close();
        await store.close();
      }
      assert.deepEqual(indexedDocs(), messageRows());
    });

    test("the index's writes leave the mail database writable", async () => {
      // The worker's connection has the mail database attached: its write transaction must
      // lock fts.db alone, or the server's commits wait (busy_timeout) while it indexes.
      const { fts } = await closedStoreIndex();
      const mail = new Database(join(dir(), 'letterbox.db'));
      mail.pragma('busy_timeout = 0');
      const outcomes: string[] = [];
      const target = fts as unknown as { stmt(sql: string): Database.Statement };
      const stmt = target.stmt.bind(fts);
      target.stmt = (sql: string) => {
        if (sql.startsWith('INSERT INTO docs')) {
          // Inside the index's transaction: a write of the mail database's own, as the server's.
          try {
            mail.exec('BEGIN IMMEDIATE');
            mail.exec('ROLLBACK');
            outcomes.push('written');
          } catch (err) {
            outcomes.push((err as { code?: string }).code ?? String(err));
          }
        }
        return stmt(sql);
      };
      try {
        fts.index([{ id: 1_000_000, hash: 'a'.repeat(64), text: 'lock probe words' }]);
        fts.remove([{ id: 1_000_000, hash: 'a'.repeat(64) }]);
      } finally {
        mail.close();
        fts.close();
      }
      assert.deepEqual(outcomes, ['written']);
    });

    test('index writes are held in one transaction until a commit; a search commits first', async () => {
      const { fts, inbox } = await closedStoreIndex();
      const reader = new Database(join(dir(), 'fts.db'), { readonly: true });
      const committed = () =>
        reader.prepare('SELECT count(*) FROM docs WHERE id >= 1000000').pluck().get() as number;
      const item = (n: number) => ({
        id: 1_000_000 + n,
        hash: String(n).repeat(64),
        text: `held ${n}`,
      });
      const held = () => fts.held;
      try {
        fts.index([item(1)]);
        fts.index([item(2), item(3)]);
        // Another connection sees what is committed: nothing of the three posts yet.
        assert.equal(held()?.texts, 3);
        assert.equal(committed(), 0);
        fts.commit();
        assert.equal(held(), null);
        assert.equal(committed(), 3);
        fts.index([item(4)]);
        assert.equal(held()?.texts, 1);
        assert.deepEqual(fts.search(inbox, 'held'), []); // not in a mailbox
        assert.equal(held(), null);
        assert.equal(committed(), 4);
      } finally {
        reader.close();
        fts.close();
      }
    });

    test(
      'held index writes are committed by the worker with no search to ask for it',
      postsAtDelivery(),
      async () => {
        const { store, inbox } = await open();
        try {
          await store.append(newMessage('a', 'alpha words\r\n'), [{ mailboxId: inbox }]);
          // Read from another connection, which sees only what the worker committed.
          await eventually(() => {
            try {
              return indexedDocs().length === 1;
            } catch {
              return false; // fts.db locked for the worker's commit at that moment
            }
          }, 'the held transaction committed');
          await store.append(newMessage('b', 'bravo words\r\n'), [{ mailboxId: inbox }]);
          assert.deepEqual(await store.searchText(inbox, 'words'), [1, 2]);
        } finally {
          await store.close();
        }
        assert.deepEqual(indexedDocs(), messageRows());
      },
    );

    test('without text in the request (backlog full) the worker indexes from the blob', async () => {
      const { store, inbox } = await open({ ftsBacklogChars: 0 });
      try {
        await store.append(newMessage('a', 'Grüße aus München\r\n'), [{ mailboxId: inbox }]);
        assert.deepEqual(await store.searchText(inbox, 'MÜNCHEN'), [1]);
      } finally {
        await store.close();
      }
    });

    test('a deleted fts.db is rebuilt from the blobs at open', async () => {
      let s = await open();
      await s.store.append(newMessage('a', 'The Quick brown fox\r\n'), [{ mailboxId: s.inbox }]);
      await s.store.append(newMessage('b', 'lazy dog\r\n'), [{ mailboxId: s.inbox }]);
      // Enough messages that reconciliation takes several chunks, with requests in between.
      await Promise.all(
        Array.from({ length: 150 }, (_, i) =>
          s.store.append(newMessage(`f${i}`, `filler ${i}\r\n`), [{ mailboxId: s.inbox }]),
        ),
      );
      await s.store.append(newMessage('z', 'last BROWN one\r\n'), [{ mailboxId: s.inbox }]);
      await s.store.close();
      await removeFtsFiles();
      s = await open();
      try {
        // Searches and appends go on while the index is rebuilt.
        const searching = s.store.searchText(s.inbox, 'last brown');
        await s.store.append(newMessage('c', 'brown bear\r\n'), [{ mailboxId: s.inbox }]);
        assert.deepEqual(await searching, [153]);
        assert.deepEqual(await s.store.searchText(s.inbox, 'BROWN'), [1, 153, 154]);
        assert.deepEqual(await s.store.searchText(s.inbox, 'og'), [2]);
        await eventually(() => indexedDocs().length === messageRows().length, 'the rebuild');
        assert.deepEqual(await s.store.searchText(s.inbox, 'BROWN'), [1, 153, 154]);
        assert.deepEqual(await s.store.searchText(s.inbox, 'og'), [2]);
      } finally {
        await s.store.close();
      }
      assert.deepEqual(indexedDocs(), messageRows());
    });

    /** A store of `total` fillers and a last message about a Zeppelin, closed, its index gone. */
    async function fillersWithoutIndex(total: number): Promise<number> {
      const s = await open();
      for (let k = 0; k < total; k += 200) {
        await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            s.store.append(newMessage(`f${k + i}`, `filler number ${k + i}\r\n`), [
              { mailboxId: s.inbox },
            ]),
          ),
        );
      }
      await s.store.append(newMessage('z', 'the Zeppelin arrives\r\n'), [{ mailboxId: s.inbox }]);
      await s.store.close();
      await removeFtsFiles();
      return s.inbox;
    }

    test('searches while the index is rebuilt find every message', postsAtDelivery(), async () => {
      const total = 2000;
      await fillersWithoutIndex(total);
      const s = await open();
      try {
        // However far the rebuild got when each is answered (timing: not asserted).
        assert.deepEqual(await s.store.searchText(s.inbox, 'zEPPELIN'), [total + 1]);
        assert.deepEqual(await s.store.searchText(s.inbox, 'number 1999'), [2000]);
        await eventually(() => indexedDocs().length === total + 1, 'the rebuild');
        assert.deepEqual(await s.store.searchText(s.inbox, 'zeppelin'), [total + 1]);
      } finally {
        await s.store.close();
      }
    });

    test(
      'a search while the index is rebuilt reads what it lacks instead of waiting',
      postsAtDelivery(),
      async () => {
        const total = 400;
        const inbox = await fillersWithoutIndex(total);
        // The index as the worker opens it, rebuilt one chunk at a time by hand: a search
        // between two chunks answers for the messages no chunk reached yet.
        const fts = new FtsDb({
          ftsFile: join(dir(), 'fts.db'),
          mailFile: join(dir(), 'letterbox.db'),
          blobRoot: join(dir(), 'blobs'),
        });
        try {
          assert.equal(fts.reconciling, true);
          assert.ok(fts.reconcileStep(), 'more than one chunk to index');
          assert.deepEqual(fts.search(inbox, 'zEPPELIN'), [total + 1]);
          assert.deepEqual(fts.search(inbox, 'number 399'), [400]);
          assert.deepEqual(fts.search(inbox, 'number 3'), [
            4,
            ...Array.from({ length: 10 }, (_, i) => 31 + i),
            ...Array.from({ length: 100 }, (_, i) => 301 + i),
          ]);
          assert.equal(fts.reconciling, true, 'the searches did not finish the rebuild');
          fts.commit();
          assert.ok(indexedDocs().length < total, 'the rebuild had not gone past its chunks');
          while (fts.reconcileStep()) {}
          assert.deepEqual(fts.search(inbox, 'zeppelin'), [total + 1]);
        } finally {
          fts.close();
        }
        assert.equal(indexedDocs().length, total + 1);
      },
    );

    test('messages deleted and ids reused while the worker was not running', async () => {
      let s = await open();
      for (const [subject, body] of [
        ['a', 'alpha one'],
        ['b', 'bravo two'],
        ['c', 'charlie three'],
      ]) {
        await s.store.append(newMessage(subject!, `${body}\r\n`), [{ mailboxId: s.inbox }]);
      }
      await indexed(s);
      await s.store.close();
      // An index that missed what follows, as after a crash that lost its requests.
      await copyFile(join(dir(), 'fts.db'), join(dir(), 'old-fts.db'));

      s = await open();
      await s.store.expunge(s.inbox, { uids: [2, 3], onlyDeleted: false });
      // The stored messages go when the store is quiet, or at the latest when it closes.
      await s.store.close();
      s = await open();
      await s.store.append(newMessage('d', 'delta four\r\n'), [{ mailboxId: s.inbox }]);
      await s.store.close();
      // SQLite reuses the highest rowid: the new message took the id of a deleted one.
      const rows = messageRows();
      assert.deepEqual(
        rows.map((r) => r.id),
        [1, 2],
      );

      await removeFtsFiles();
      await copyFile(join(dir(), 'old-fts.db'), join(dir(), 'fts.db'));
      assert.deepEqual(
        indexedDocs().map((d) => d.id),
        [1, 2, 3],
      );
      s = await open();
      try {
        assert.deepEqual(await s.store.searchText(s.inbox, 'bravo'), []);
        assert.deepEqual(await s.store.searchText(s.inbox, 'charlie'), []);
        assert.deepEqual(await s.store.searchText(s.inbox, 'DELTA'), [4]);
        assert.deepEqual(await s.store.searchText(s.inbox, 'alpha'), [1]);
      } finally {
        await s.store.close();
      }
      assert.deepEqual(indexedDocs(), rows);
    });

    test('migration 4 drops the old in-database index; search still answers', async () => {
      let s = await open();
      // Over INLINE_MAX, so its bytes are a file, as every message's were at schema 3.
      const body = `kept through the upgrade\r\n${'filler line\r\n'.repeat(6000)}`;
      await s.store.append(newMessage('a', body), [{ mailboxId: s.inbox }]);
      await s.store.close();
      // Back to schema 3 as an older letterbox left it: the index inside letterbox.db.
      const db = new Database(join(dir(), 'letterbox.db'));
      db.exec(`DROP TRIGGER mailbox_messages_counted;
             DROP TRIGGER mailbox_messages_uncounted;
             DROP INDEX mailbox_messages_unseen;
             ALTER TABLE mailboxes DROP COLUMN message_count;
             CREATE VIRTUAL TABLE message_text USING fts5(text, tokenize = 'trigram');
             INSERT INTO message_text (rowid, text) VALUES (1, 'kept through the upgrade');
             DROP TABLE message_data;
             DROP TABLE metadata;
             DROP INDEX outbound_due;
             ALTER TABLE outbound DROP COLUMN held;
             ALTER TABLE outbound DROP COLUMN lease_until;
             ALTER TABLE outbound DROP COLUMN last_attempt_at;
             ALTER TABLE outbound DROP COLUMN delay_notified;
             ALTER TABLE outbound_recipients DROP COLUMN status;
             ALTER TABLE outbound_recipients DROP COLUMN remote_mta;
             ALTER TABLE outbound_recipients DROP COLUMN updated_at;
             ALTER TABLE messages DROP COLUMN e_from;
             ALTER TABLE messages DROP COLUMN e_to;
             ALTER TABLE messages DROP COLUMN e_cc;
             ALTER TABLE messages DROP COLUMN e_bcc;
             DROP INDEX messages_message_id;
             ALTER TABLE mailboxes DROP COLUMN object_id;
             ALTER TABLE messages DROP COLUMN email_id;
             ALTER TABLE messages DROP COLUMN thread_id;
             ALTER TABLE messages DROP COLUMN preview;
             ALTER TABLE mailbox_messages DROP COLUMN save_date;
             ALTER TABLE mailboxes DROP COLUMN first_recent_uid;
             DROP TABLE app_passwords;
             ALTER TABLE accounts DROP COLUMN unlocked_at;
             ALTER TABLE mailbox_messages DROP COLUMN internal_zone;
             ALTER TABLE accounts DROP COLUMN admin;
             PRAGMA user_version = 3;`);
      db.close();
      await removeFtsFiles();
      s = await open();
      try {
        assert.deepEqual(await s.store.searchText(s.inbox, 'UPGRADE'), [1]);
      } finally {
        await s.store.close();
      }
      const after = new Database(join(dir(), 'letterbox.db'), { readonly: true });
      try {
        assert.equal(after.pragma('user_version', { simple: true }), 19);
        const row = after
          .prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'message_text'`)
          .get() as { n: number };
        assert.equal(row.n, 0);
      } finally {
        after.close();
      }
    });

    test('small messages are rows (message_bytes); one stored as a file before still reads', async () => {
      let s = await open();
      const small = newMessage('small', 'tiny body\r\n');
      await s.store.append(small, [{ mailboxId: s.inbox }]);
      const [rec] = await s.store.listMessages(s.inbox);
      await s.store.close();
      const h = rec!.blobHash;
      assert.equal(existsSync(join(dir(), 'blobs', h.slice(0, 2), h.slice(2, 4), h)), false);
      // As a schema-4 letterbox left it: the bytes in a file, no row.
      await mkdir(join(dir(), 'blobs', h.slice(0, 2), h.slice(2, 4)), { recursive: true });
      await writeFile(join(dir(), 'blobs', h.slice(0, 2), h.slice(2, 4), h), small.raw);
      const db = new Database(join(dir(), 'letterbox.db'));
      db.exec('DELETE FROM message_bytes');
      db.close();
      await removeFtsFiles();
      s = await open();
      try {
        assert.deepEqual(await s.store.readMessage(h, small.raw.length), small.raw);
        // The index is rebuilt from the file too.
        assert.deepEqual(await s.store.searchText(s.inbox, 'TINY'), [rec!.uid]);
        await s.store.expunge(s.inbox, { onlyDeleted: false });
        await eventually(
          () => !existsSync(join(dir(), 'blobs', h.slice(0, 2), h.slice(2, 4), h)),
          'the file unlinked once the expunge is durable',
        );
      } finally {
        await s.store.close();
      }
    });

    test('text past what is indexed (FTS_TEXT_MAX) is still found, case-insensitively', async () => {
      const { store, inbox } = await open();
      try {
        const filler = 'lorem ipsum '.repeat(Math.ceil(FTS_TEXT_MAX / 12) + 10);
        await store.append(newMessage('long', `${filler}Zanzibar Tail\r\n`), [
          { mailboxId: inbox },
        ]);
        await store.append(newMessage('short', 'zanzibar head\r\n'), [{ mailboxId: inbox }]);
        await store.append(newMessage('none', `${filler}nothing here\r\n`), [{ mailboxId: inbox }]);
        assert.deepEqual(await store.searchText(inbox, 'ZANZIBAR'), [1, 2]);
        assert.deepEqual(await store.searchText(inbox, 'zanzibar tail'), [1]);
        assert.deepEqual(await store.searchText(inbox, 'lorem'), [1, 3]);
      } finally {
        await store.close();
      }
      const db = new Database(join(dir(), 'fts.db'), { readonly: true });
      try {
        const rows = db.prepare('SELECT id, truncated FROM docs ORDER BY id').all();
        assert.deepEqual(rows, [
          { id: 1, truncated: 1 },
          { id: 2, truncated: 0 },
          { id: 3, truncated: 1 },
        ]);
      } finally {
        db.close();
      }
    });

    test('the bytes of an expunged small message are purged once the store is quiet', async () => {
      const { store, inbox } = await open();
      const rows = () => {
        const db = new Database(join(dir(), 'letterbox.db'), { readonly: true });
        try {
          return (db.prepare('SELECT count(*) AS n FROM message_bytes').get() as { n: number }).n;
        } finally {
          db.close();
        }
      };
      try {
        const m = newMessage('bytes', 'small body\r\n');
        await store.append(m, [{ mailboxId: inbox }]);
        const [rec] = await store.listMessages(inbox);
        assert.equal(rows(), 1);
        await store.expunge(inbox, { onlyDeleted: false });
        // Gone from the mailbox at once; the stored message and its row wait for a quiet store.
        assert.deepEqual(await store.listMessages(inbox), []);
        assert.equal(rows(), 1);
        await eventually(() => rows() === 0, 'the purge of the row', 10_000);
        await assert.rejects(store.readMessage(rec!.blobHash, rec!.size));
        // The same bytes again are stored again.
        await store.append(m, [{ mailboxId: inbox }]);
        const [again] = await store.listMessages(inbox);
        assert.deepEqual(await store.readMessage(again!.blobHash, again!.size), m.raw);
      } finally {
        await store.close();
      }
    });
  });

/** The closed store's index, opened as its worker opens it with full_text_index = "on-search". */
function onSearchIndex(): FtsDb {
  return new FtsDb({
    ftsFile: join(dir(), 'fts.db'),
    mailFile: join(dir(), 'letterbox.db'),
    blobRoot: join(dir(), 'blobs'),
    fullTextIndex: 'on-search',
  });
}

describe('full_text_index = "on-search"', () => {
  beforeEach(() => {
    mode = 'on-search';
  });

  test('a delivery is not indexed until a search of its mailbox, which finds it', async () => {
    let s = await open();
    try {
      await s.store.append(newMessage('a', 'alpha words\r\n'), [{ mailboxId: s.inbox }]);
      await s.store.append(newMessage('b', 'Bravo words\r\n'), [{ mailboxId: s.inbox }]);
    } finally {
      await s.store.close(); // the worker has done everything posted to it
    }
    assert.deepEqual(indexedDocs(), []);
    s = await open();
    try {
      // The start indexes nothing either (no reconciliation): a search of another mailbox,
      // answered after the start's work, leaves INBOX's messages out.
      const other = await s.store.createMailbox(1, 'Other');
      assert.deepEqual(await s.store.searchText(other.id, 'words'), []);
      assert.deepEqual(indexedDocs(), []);
      assert.deepEqual(await s.store.searchText(s.inbox, 'BRAVO'), [2]);
      assert.deepEqual(indexedDocs(), messageRows());
      assert.deepEqual(await s.store.searchText(s.inbox, 'words'), [1, 2]);
    } finally {
      await s.store.close();
    }
  });

  test('a second search indexes nothing again; a copy is not indexed again', async () => {
    const s = await open();
    let archive: number;
    try {
      for (let i = 0; i < 3; i++) {
        await s.store.append(newMessage(`m${i}`, `word${i} common\r\n`), [{ mailboxId: s.inbox }]);
      }
      archive = (await s.store.createMailbox(1, 'Kept')).id;
    } finally {
      await s.store.close();
    }
    let fts = onSearchIndex();
    try {
      // Its start indexes nothing (on-delivery's would: the index lacks every message).
      assert.equal(fts.reconciling, false);
      assert.deepEqual(fts.catchUp(s.inbox).seen, [1, 2, 3]);
      assert.equal(fts.textsIndexed, 3);
      // The mark: nothing past it, and nothing read or indexed.
      assert.deepEqual(fts.catchUp(s.inbox).seen, []);
      assert.equal(fts.textsIndexed, 3);
      assert.deepEqual(fts.search(s.inbox, 'COMMON'), [1, 2, 3]);
    } finally {
      fts.close();
    }
    const again = await open();
    try {
      await again.store.append(newMessage('m3', 'word3 common\r\n'), [{ mailboxId: s.inbox }]);
      await again.store.copyMessages(s.inbox, [1, 2], archive);
    } finally {
      await again.store.close();
    }
    fts = onSearchIndex();
    try {
      // The mark kept across the restart: only the new message.
      assert.deepEqual(fts.catchUp(s.inbox).seen, [4]);
      assert.equal(fts.textsIndexed, 1);
      // The copies are the stored messages already indexed.
      assert.deepEqual(fts.catchUp(archive).seen, [1, 2]);
      assert.equal(fts.textsIndexed, 1);
      assert.deepEqual(fts.search(archive, 'word1'), [2]);
      assert.deepEqual(fts.search(s.inbox, 'word3'), [4]);
    } finally {
      fts.close();
    }
  });

  test('expunged messages are not found, before their first search or after', async () => {
    const { store, inbox } = await open();
    try {
      for (const w of ['alpha', 'bravo', 'charlie']) {
        await store.append(newMessage(w, `${w} words\r\n`), [{ mailboxId: inbox }]);
      }
      await store.expunge(inbox, { uids: [2], onlyDeleted: false });
      assert.deepEqual(await store.searchText(inbox, 'words'), [1, 3]);
      await store.expunge(inbox, { uids: [1], onlyDeleted: false });
      assert.deepEqual(await store.searchText(inbox, 'words'), [3]);
      assert.deepEqual(await store.searchText(inbox, 'alpha'), []);
      // The stored messages go when the store is quiet, and their entries with them.
      await eventually(() => {
        try {
          const rows = messageRows();
          return rows.length === 1 && JSON.stringify(indexedDocs()) === JSON.stringify(rows);
        } catch {
          return false; // fts.db locked for the worker's commit at that moment
        }
      }, 'the entries of the expunged messages dropped');
    } finally {
      await store.close();
    }
    assert.deepEqual(indexedDocs(), messageRows());
  });

  test('a mailbox deleted and made again under its id is caught up from its first UID', async () => {
    const { store } = await open();
    try {
      const box = await store.createMailbox(1, 'Box');
      for (let i = 0; i < 3; i++) {
        await store.append(newMessage(`m${i}`, `old${i} words\r\n`), [{ mailboxId: box.id }]);
      }
      assert.deepEqual(await store.searchText(box.id, 'words'), [1, 2, 3]);
      await store.deleteMailbox(box.id);
      const again = await store.createMailbox(1, 'Again');
      // SQLite hands out the freed id again: the mark of the old mailbox must not count.
      assert.equal(again.id, box.id);
      await store.append(newMessage('n', 'new words\r\n'), [{ mailboxId: again.id }]);
      assert.deepEqual(await store.searchText(again.id, 'new'), [1]);
      assert.deepEqual(await store.searchText(again.id, 'words'), [1]);
    } finally {
      await store.close();
    }
  });

  test('a search far behind reads past the mark, the index answering up to it', async () => {
    const s = await open();
    const long = `${'filler words '.repeat(Math.ceil(FTS_TEXT_MAX / 13))}tailword\r\n`;
    try {
      await s.store.append(newMessage('a', 'alpha common\r\n'), [{ mailboxId: s.inbox }]);
      await s.store.append(newMessage('b', `Bravo common ${long}`), [{ mailboxId: s.inbox }]);
    } finally {
      await s.store.close();
    }
    let fts = onSearchIndex();
    try {
      // Nothing indexed: every message is read, none indexed.
      assert.equal(fts.behind(s.inbox, 10), 2);
      assert.deepEqual(fts.search(s.inbox, 'COMMON', true), [1, 2]);
      assert.deepEqual(fts.search(s.inbox, 'tailWORD', true), [2]);
      assert.deepEqual(fts.search(s.inbox, 'alpha common', true), [1]);
      assert.equal(fts.textsIndexed, 0);
      // The text read is kept for the catch-up (a whole text the index takes whole, not the
      // cut one): it indexes it without the bytes, gone here behind its back.
      assert.equal(fts.keptText, 'alpha common\r\n'.length);
      const mail = new Database(join(dir(), 'letterbox.db'));
      try {
        assert.equal(mail.prepare('DELETE FROM message_bytes WHERE id = 1').run().changes, 1);
      } finally {
        mail.close();
      }
      fts.catchUp(s.inbox);
      assert.equal(fts.textsIndexed, 2);
      assert.equal(fts.keptText, 0);
      assert.equal(fts.behind(s.inbox, 10), 0);
      assert.deepEqual(fts.search(s.inbox, 'ALPHA'), [1]);
    } finally {
      fts.close();
    }
    const again = await open();
    try {
      await again.store.append(newMessage('c', 'charlie common\r\n'), [{ mailboxId: s.inbox }]);
    } finally {
      await again.store.close();
    }
    fts = onSearchIndex();
    try {
      // The index up to the mark (its cut text read whole), the new message past it read.
      assert.equal(fts.behind(s.inbox, 10), 1);
      assert.deepEqual(fts.search(s.inbox, 'common', true), [1, 2, 3]);
      assert.deepEqual(fts.search(s.inbox, 'tailword', true), [2]);
      assert.deepEqual(fts.search(s.inbox, 'charlie', true), [3]);
      assert.deepEqual(fts.search(s.inbox, 'bravo', true), [2]);
      assert.equal(fts.textsIndexed, 0);
    } finally {
      fts.close();
    }
  });

  test('texts kept for a mailbox are not read for another made again under its id', async () => {
    // The texts a search read past the mark are kept by UID: a UID names one message of one
    // mailbox (UIDVALIDITY, MAILBOXID), and SQLite hands a deleted mailbox's id out again.
    let s = await open();
    const box = (await s.store.createMailbox(1, 'Box')).id;
    try {
      await s.store.append(newMessage('a', 'alpha words\r\n'), [{ mailboxId: box }]);
    } finally {
      await s.store.close();
    }
    const fts = onSearchIndex();
    try {
      assert.deepEqual(fts.search(box, 'alpha', true), [1]);
      assert.equal(fts.keptText, 'alpha words\r\n'.length);
      s = await open();
      try {
        await s.store.deleteMailbox(box);
        const again = (await s.store.createMailbox(1, 'Again')).id;
        assert.equal(again, box);
        await s.store.append(newMessage('b', 'bravo words\r\n'), [{ mailboxId: again }]);
      } finally {
        await s.store.close();
      }
      assert.deepEqual(fts.search(box, 'bravo', true), [1]);
      assert.deepEqual(fts.search(box, 'alpha', true), []);
      assert.equal(fts.keptText, 'bravo words\r\n'.length);
      // The catch-up indexes the new mailbox's message, not the text kept of the old one.
      fts.catchUp(box);
      assert.equal(fts.keptText, 0);
      assert.deepEqual(fts.search(box, 'bravo'), [1]);
      assert.deepEqual(fts.search(box, 'alpha'), []);
    } finally {
      fts.close();
    }
  });

  test('texts kept past the mark: a message expunged since is not found, one new is read', async () => {
    // A search with texts kept looks for the needle in the kept texts' folded copies (one
    // string for many texts, fts-kept.ts); a kept text stays until the catch-up passes its
    // UID, so its message may be gone from the mailbox meanwhile.
    let s = await open();
    try {
      for (const w of ['alpha', 'bravo', 'charlie']) {
        await s.store.append(newMessage(w, `${w} Common\r\n`), [{ mailboxId: s.inbox }]);
      }
    } finally {
      await s.store.close();
    }
    const fts = onSearchIndex();
    try {
      assert.deepEqual(fts.search(s.inbox, 'COMMON', true), [1, 2, 3]);
      const kept = fts.keptText;
      assert.equal(kept, 'alpha Common\r\nbravo Common\r\ncharlie Common\r\n'.length);
      s = await open();
      try {
        await s.store.expunge(s.inbox, { uids: [2], onlyDeleted: false });
        await s.store.append(newMessage('delta', 'delta common\r\n'), [{ mailboxId: s.inbox }]);
      } finally {
        await s.store.close();
      }
      assert.deepEqual(fts.search(s.inbox, 'common', true), [1, 3, 4]);
      assert.deepEqual(fts.search(s.inbox, 'bravo', true), []);
      assert.deepEqual(fts.search(s.inbox, 'CHARLIE', true), [3]);
      // The new message was read once, and kept: the next search finds it without its bytes.
      assert.equal(fts.keptText, kept + 'delta common\r\n'.length);
      // Every message's bytes gone behind its back: the kept texts answer alone.
      const mail = new Database(join(dir(), 'letterbox.db'));
      try {
        assert.ok(mail.prepare('DELETE FROM message_bytes').run().changes >= 3);
      } finally {
        mail.close();
      }
      assert.deepEqual(fts.search(s.inbox, 'delta', true), [4]);
      assert.deepEqual(fts.search(s.inbox, 'common', true), [1, 3, 4]);
    } finally {
      fts.close();
    }
  });

  test('texts kept past the mark: hits in more texts than are looked up one by one', async () => {
    // Over KEPT_HITS_LOOKED_UP (256) hits, a later search checks them against every UID past
    // the mark at once: a message expunged since is left out there too.
    let s = await open();
    try {
      for (let k = 0; k < 300; k += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            s.store.append(newMessage(`m${k + i}`, `note${k + i} common\r\n`), [
              { mailboxId: s.inbox },
            ]),
          ),
        );
      }
    } finally {
      await s.store.close();
    }
    const fts = onSearchIndex();
    try {
      assert.equal(fts.search(s.inbox, 'common', true).length, 300);
      s = await open();
      try {
        await s.store.expunge(s.inbox, { uids: [7, 300], onlyDeleted: false });
      } finally {
        await s.store.close();
      }
      const found = fts.search(s.inbox, 'COMMON', true);
      assert.equal(found.length, 298);
      assert.ok(!found.includes(7) && !found.includes(300) && found.includes(299));
    } finally {
      fts.close();
    }
  });

  test('texts read past the mark and not kept: a later search reads only those whose signatures may hold the needle', async () => {
    // With no room to keep a text (KEPT_CHARS, 0 here), a search keeps its trigram signature
    // (fts-signatures.ts): without them every later search read each of those texts from its
    // bytes again until the catch-up indexed it (bench/imap's big phase: ~80,000 of 100,000).
    let s = await open();
    try {
      for (let i = 0; i < 40; i++) {
        await s.store.append(newMessage(`m${i}`, `Note${i} common words\r\n`), [
          { mailboxId: s.inbox },
        ]);
      }
    } finally {
      await s.store.close();
    }
    const fts = new FtsDb({
      ftsFile: join(dir(), 'fts.db'),
      mailFile: join(dir(), 'letterbox.db'),
      blobRoot: join(dir(), 'blobs'),
      fullTextIndex: 'on-search',
      keptChars: 0,
    });
    try {
      assert.equal(fts.search(s.inbox, 'COMMON', true).length, 40);
      assert.equal(fts.textsRead, 40);
      assert.equal(fts.keptText, 0);
      assert.ok(fts.signedText > 0);
      let read = fts.textsRead;
      assert.deepEqual(fts.search(s.inbox, 'note17 common', true), [18]);
      // The one that holds it, and a false hit or two at most: not the 40.
      assert.ok(fts.textsRead - read >= 1 && fts.textsRead - read <= 4, `${fts.textsRead - read}`);
      read = fts.textsRead;
      assert.deepEqual(fts.search(s.inbox, 'no such phrase', true), []);
      assert.ok(fts.textsRead - read <= 3, `${fts.textsRead - read}`);
      // A needle with no trigram narrows nothing: every text is read.
      read = fts.textsRead;
      assert.equal(fts.search(s.inbox, 'n', true).length, 40);
      assert.equal(fts.textsRead - read, 40);
      // A message expunged since is not found; one new past them is read and signed.
      s = await open();
      try {
        await s.store.expunge(s.inbox, { uids: [18], onlyDeleted: false });
        await s.store.append(newMessage('n', 'note17 common again\r\n'), [{ mailboxId: s.inbox }]);
      } finally {
        await s.store.close();
      }
      assert.deepEqual(fts.search(s.inbox, 'note17 common', true), [41]);
      assert.deepEqual(fts.search(s.inbox, 'NOTE17', true), [41]);
      // The catch-up indexes them from their bytes, and the signatures go with their texts.
      const signed = fts.signedText;
      const step = fts.catchUp(s.inbox, 1, () => false);
      assert.equal(step.done, true);
      assert.ok(fts.signedText < signed);
      assert.equal(fts.signedText, 0);
      assert.deepEqual(fts.search(s.inbox, 'note17 common'), [41]);
      assert.equal(fts.search(s.inbox, 'common').length, 40);
    } finally {
      fts.close();
    }
  });

  test('a catch-up chunk ends after a slice when a request waits, its mark there', async () => {
    const s = await open();
    try {
      for (let i = 0; i < 100; i++) {
        await s.store.append(newMessage(`m${i}`, `note${i} common\r\n`), [{ mailboxId: s.inbox }]);
      }
    } finally {
      await s.store.close();
    }
    const fts = onSearchIndex();
    try {
      assert.equal(fts.search(s.inbox, 'common', true).length, 100);
      const kept = fts.keptText;
      // The worker's question between slices (is a request waiting?): yes at the first.
      let asked = 0;
      const step = fts.catchUp(s.inbox, 1, () => ++asked === 1);
      assert.equal(step.done, false);
      assert.equal(step.seen.length, 32);
      assert.equal(fts.textsIndexed, 32);
      assert.equal(fts.behind(s.inbox, 1000), 68);
      assert.ok(fts.keptText > 0 && fts.keptText < kept);
      // The index up to the new mark, the kept texts past it: the same answers.
      assert.equal(fts.search(s.inbox, 'common', true).length, 100);
      assert.deepEqual(fts.search(s.inbox, 'note7 common', true), [8]);
      assert.deepEqual(fts.search(s.inbox, 'note77 common', true), [78]);
      // No request waiting: the rest in one chunk.
      const rest = fts.catchUp(s.inbox, 1, () => false);
      assert.equal(rest.done, true);
      assert.equal(rest.seen.length, 68);
      assert.equal(fts.textsIndexed, 100);
      assert.equal(fts.keptText, 0);
      assert.equal(fts.behind(s.inbox, 1000), 0);
      assert.deepEqual(fts.search(s.inbox, 'note77 common'), [78]);
      assert.equal(fts.search(s.inbox, 'common').length, 100);
    } finally {
      fts.close();
    }
  });

  test("a search between the slices of its mailbox's catch-up chunk is answered there, once", async () => {
    const s = await open();
    let other: number;
    try {
      other = (await s.store.createMailbox(1, 'Other')).id;
      await s.store.append(newMessage('o', 'note7 common\r\n'), [{ mailboxId: other }]);
      for (let i = 0; i < 100; i++) {
        await s.store.append(newMessage(`m${i}`, `note${i} common\r\n`), [{ mailboxId: s.inbox }]);
      }
    } finally {
      await s.store.close();
    }
    const fts = onSearchIndex();
    try {
      assert.equal(fts.search(s.inbox, 'common', true).length, 100);
      // No chunk being written: not answered here.
      assert.equal(fts.searchInChunk(s.inbox, 'common'), null);
      const answers: (number[] | null)[] = [];
      const step = fts.catchUp(s.inbox, 1, () => {
        if (answers.length === 0) {
          // Another mailbox's search is not answered inside this one's chunk.
          assert.equal(fts.searchInChunk(other, 'common'), null);
          // After 32 texts written, uncommitted: the kept texts answer past the mark.
          answers.push(fts.searchInChunk(s.inbox, 'note7 COMMON'));
        } else {
          // The mail database was read in this transaction: its snapshot would stand.
          answers.push(fts.searchInChunk(s.inbox, 'common'));
        }
        return false;
      });
      // The chunk went on to its end, not cut for the search.
      assert.deepEqual(answers, [[8], null, null]);
      assert.equal(step.done, true);
      assert.equal(step.seen.length, 100);
      assert.equal(fts.textsIndexed, 100);
      assert.equal(fts.keptText, 0);
      assert.equal(fts.behind(s.inbox, 1000), 0);
      assert.deepEqual(fts.search(s.inbox, 'note7 common'), [8]);
      assert.equal(fts.search(s.inbox, 'common').length, 100);
    } finally {
      fts.close();
    }
  });

  test('searches while the catch-up runs find what a search after it finds', async () => {
    const s = await open({ ftsReadPast: 0 });
    try {
      const n = 800;
      for (let i = 0; i < n; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, k) =>
            s.store.append(newMessage(`m${i + k}`, `note${i + k} common\r\n`), [
              { mailboxId: s.inbox },
            ]),
          ),
        );
      }
      assert.equal((await s.store.searchText(s.inbox, 'common')).length, n);
      // Searches one after another while the worker indexes the 800 (a chunk at a time, some
      // answered between its slices), a message delivered before each: every answer holds
      // what was there when it was asked.
      for (let added = 1; added <= 40; added++) {
        await s.store.append(newMessage(`late${added - 1}`, `late${added - 1} common\r\n`), [
          { mailboxId: s.inbox },
        ]);
        assert.deepEqual(await s.store.searchText(s.inbox, 'note7 common'), [8]);
        assert.equal((await s.store.searchText(s.inbox, 'COMMON')).length, n + added);
        assert.deepEqual(await s.store.searchText(s.inbox, `late${added - 1} common`), [n + added]);
      }
    } finally {
      await s.store.close();
    }
  });

  test('a catch-up steps aside while the main thread is busy, and ends with every message', async (t) => {
    if (!new ThreadDemand().known) {
      t.skip('no per-thread scheduler counters here (/proc/self/task/TID/schedstat)');
      return;
    }
    const s = await open();
    const n = 2000;
    for (let i = 0; i < n; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, k) =>
          s.store.append(newMessage(`m${i + k}`, `note${i + k} common\r\n`), [
            { mailboxId: s.inbox },
          ]),
        ),
      );
    }
    await s.store.close();
    const errors: unknown[] = [];
    const fts = new FtsIndex(
      {
        ftsFile: join(dir(), 'fts.db'),
        mailFile: join(dir(), 'letterbox.db'),
        blobRoot: join(dir(), 'blobs'),
        fullTextIndex: 'on-search',
        readPast: 0,
      },
      (err) => errors.push(err),
    );
    try {
      // Answered by reading; the worker then indexes the 2,000 behind it, while this thread
      // spins (a busy main thread, serving commands) on a machine with no CPU to spare (a
      // thread spinning for each): the catch-up steps aside for it.
      const stop = new Int32Array(new SharedArrayBuffer(4));
      const spinners = Array.from(
        { length: availableParallelism() },
        () =>
          new Worker(
            `const { workerData: s } = require('node:worker_threads');
             while (Atomics.load(s, 0) === 0) {}`,
            { eval: true, workerData: stop },
          ),
      );
      try {
        assert.deepEqual(await fts.search(s.inbox, 'note7 COMMON'), [8]);
        const deadline = performance.now() + 30_000;
        while (fts.stepsAside.steps === 0 && performance.now() < deadline) {
          // busy
        }
      } finally {
        Atomics.store(stop, 0, 1);
        await Promise.all(spinners.map((w) => new Promise((r) => w.once('exit', r))));
      }
      assert.ok(fts.stepsAside.steps > 0, 'the catch-up stepped aside while this thread spun');
      // It goes on once this thread lets go, and indexes every message.
      await eventually(
        () => {
          try {
            return indexedDocs().length === n;
          } catch {
            return false; // fts.db locked for the worker's commit at that moment
          }
        },
        'the mailbox indexed',
        60_000,
      );
      assert.equal((await fts.search(s.inbox, 'common')).length, n);
      assert.deepEqual(await fts.search(s.inbox, 'note1999 common'), [2000]);
    } finally {
      await fts.close();
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(indexedDocs(), messageRows());
  });

  test('a text the parser cut by its bytes (UTF-8 in quoted-printable) is found past the cut', async () => {
    // 12,000 characters of 9 encoded bytes each: the index's read of FTS_TEXT_MAX + 1
    // characters looks at 4 bytes a character, so it decodes about 7,000, fewer than it keeps.
    const raw = quotedPrintableMessage('cut', `${'日本語のテキスト'.repeat(1500)} zebramarker\n`);
    const s = await open();
    try {
      await s.store.append({ raw, index: simpleIndex('cut', '') }, [{ mailboxId: s.inbox }]);
      await s.store.append(newMessage('b', 'plain zebra\r\n'), [{ mailboxId: s.inbox }]);
      // Indexed first (a catch-up), then from the index: the cut text is read whole.
      assert.deepEqual(await s.store.searchText(s.inbox, 'ZEBRAMARKER'), [1]);
      assert.deepEqual(await s.store.searchText(s.inbox, 'zebramarker'), [1]);
      assert.deepEqual(await s.store.searchText(s.inbox, 'zebra'), [1, 2]);
    } finally {
      await s.store.close();
    }
  });

  test('a search far behind is answered without writing, its mailbox indexed after', async () => {
    // Any message past the mark is read, not indexed first.
    const warnings: string[] = [];
    const s = await open({ ftsReadPast: 0, onFtsError: (err) => warnings.push(String(err)) });
    // The worker's start made fts.db once a search is answered.
    const other = (await s.store.createMailbox(1, 'Other')).id;
    assert.deepEqual(await s.store.searchText(other, 'common'), []);
    const reader = openFts();
    try {
      for (let i = 0; i < 40; i++) {
        await s.store.append(newMessage(`m${i}`, `note${i} common\r\n`), [{ mailboxId: s.inbox }]);
      }
      // A reader holding fts.db keeps every write of the worker out (a rollback journal):
      // the search is answered all the same, by reading; a catch-up first would wait.
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM docs').get();
      const answer = await Promise.race([
        s.store.searchText(s.inbox, 'note7 COMMON'),
        eventually(() => warnings.length > 0, 'the worker finding fts.db busy', 30_000).then(
          () => 'waited for the index',
        ),
      ]);
      assert.deepEqual(answer, [8]);
      // Then the mailbox is indexed, once the reader lets go.
      await eventually(() => warnings.length > 0, 'the catch-up finding fts.db busy', 30_000);
      assert.match(warnings[0]!, /held by a reader/);
      reader.exec('COMMIT');
      await eventually(() => {
        try {
          return indexedDocs().length === 40;
        } catch {
          return false; // fts.db locked for the worker's commit at that moment
        }
      }, 'the mailbox indexed after the search');
      assert.equal((await s.store.searchText(s.inbox, 'common')).length, 40);
    } finally {
      reader.close();
      await s.store.close();
    }
    assert.deepEqual(indexedDocs(), messageRows());
    const fts = onSearchIndex();
    try {
      assert.equal(fts.behind(s.inbox, 100), 0);
    } finally {
      fts.close();
    }
  });

  test("a long catch-up does not hold up another mailbox's search", async () => {
    // Indexed before answering, however far behind (a chunk per turn).
    const s = await open({ ftsReadPast: 100_000 });
    try {
      // More than two catch-up chunks (256 texts) never searched in INBOX, one in Small.
      const n = 600;
      for (let i = 0; i < n; i += 50) {
        await Promise.all(
          Array.from({ length: Math.min(50, n - i) }, (_, k) =>
            s.store.append(newMessage(`m${i + k}`, `note ${i + k} common\r\n`), [
              { mailboxId: s.inbox },
            ]),
          ),
        );
      }
      const small = (await s.store.createMailbox(1, 'Small')).id;
      await s.store.append(newMessage('s', 'lone common\r\n'), [{ mailboxId: small }]);
      // Both posted at once, INBOX's first: the worker answers Small's between INBOX's
      // chunks, so it resolves first (with the whole catch-up in one turn it came last).
      const order: string[] = [];
      const big = s.store.searchText(s.inbox, 'COMMON').then((u) => {
        order.push('inbox');
        return u;
      });
      const lone = s.store.searchText(small, 'common').then((u) => {
        order.push('small');
        return u;
      });
      const [bigUids, loneUids] = await Promise.all([big, lone]);
      assert.equal(bigUids.length, n);
      assert.deepEqual(loneUids, [1]);
      assert.deepEqual(order, ['small', 'inbox']);
      // A search still catching up when the store closes is answered before the worker stops.
      for (let i = 0; i < 300; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, k) =>
            s.store.append(newMessage(`late${i + k}`, `late ${i + k}\r\n`), [
              { mailboxId: s.inbox },
            ]),
          ),
        );
      }
      const late = s.store.searchText(s.inbox, 'late');
      await s.store.close();
      assert.equal((await late).length, 300);
    } finally {
      await s.store.close();
    }
    assert.equal(indexedDocs().length, 901);
  });

  test('switching modes across a restart: each finds every message', async () => {
    let s = await open();
    try {
      await s.store.append(newMessage('a', 'alpha words\r\n'), [{ mailboxId: s.inbox }]);
      await s.store.append(newMessage('b', 'bravo words\r\n'), [{ mailboxId: s.inbox }]);
    } finally {
      await s.store.close();
    }
    assert.deepEqual(indexedDocs(), []);
    // on-search -> on-delivery: the start indexes what is missing, no search needed.
    s = await open({ fullTextIndex: 'on-delivery' });
    try {
      await eventually(() => {
        try {
          return indexedDocs().length === 2;
        } catch {
          return false; // fts.db locked for the worker's commit at that moment
        }
      }, 'the reconciliation');
      await s.store.append(newMessage('c', 'charlie words\r\n'), [{ mailboxId: s.inbox }]);
      assert.deepEqual(await s.store.searchText(s.inbox, 'words'), [1, 2, 3]);
    } finally {
      await s.store.close();
    }
    assert.deepEqual(indexedDocs(), messageRows());
    // on-delivery -> on-search: nothing to do; what arrives now waits for a search.
    s = await open();
    try {
      await s.store.append(newMessage('d', 'delta words\r\n'), [{ mailboxId: s.inbox }]);
      await s.store.close();
      assert.equal(indexedDocs().length, 3);
      s = await open();
      assert.deepEqual(await s.store.searchText(s.inbox, 'words'), [1, 2, 3, 4]);
      assert.deepEqual(await s.store.searchText(s.inbox, 'delta'), [4]);
    } finally {
      await s.store.close();
    }
    assert.deepEqual(indexedDocs(), messageRows());
  });
});
