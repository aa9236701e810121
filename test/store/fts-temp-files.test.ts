// The index worker's connection keeps SQLite's temporary files in memory (temp_store): a held
// index transaction grows with each `index` call's savepoint, and its sub-journal used to go
// to a new file in the temporary directory, created and unlinked several times a second under
// load (issue 19). SQLite reads SQLITE_TMPDIR when it first opens a database in this process
// (its own test file runs in a process of its own), so the variable is set before any store
// module is loaded.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const sqliteTmp = mkdtempSync(join(tmpdir(), 'lb-sqlite-tmp-'));
process.env.SQLITE_TMPDIR = sqliteTmp;
after(() => rmSync(sqliteTmp, { recursive: true, force: true }));

/** Whether an entry was made in (or removed from) SQLite's temporary directory since `reset`. */
const tmpTouched = () => statSync(sqliteTmp).mtimeMs !== 0;
/** SQLite's files there are unlinked as soon as they are open: the directory's mtime shows them. */
const reset = () => utimesSync(sqliteTmp, 0, 0);

test('a held index transaction that outgrows an in-memory sub-journal makes no temporary file', async () => {
  const { default: Database } = await import('better-sqlite3');
  const { FtsDb } = await import('../../src/store/sqlite/fts-db.js');
  const { openAliceStore } = await import('../helpers/store.js');
  const dir = mkdtempSync(join(tmpdir(), 'lb-fts-tmp-'));
  try {
    // The probe: this process's SQLite does put its temporary files in sqliteTmp, so that an
    // untouched directory below means something. A savepoint that rewrites pages the
    // transaction changed already copies them to its sub-journal: 400 KB, past 64 KiB.
    const probe = new Database(join(dir, 'probe.db'));
    probe.exec(`CREATE TABLE t (x);
      WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
      INSERT INTO t SELECT randomblob(3000) FROM n;`);
    reset();
    probe.exec(`BEGIN; UPDATE t SET x = randomblob(3000);
      SAVEPOINT s; UPDATE t SET x = randomblob(3000); RELEASE s; COMMIT;`);
    probe.close();
    assert.ok(tmpTouched(), 'the probe made no temporary file in SQLITE_TMPDIR');

    const { store } = await openAliceStore(dir);
    await store.close();
    const fts = new FtsDb({
      ftsFile: join(dir, 'fts.db'),
      mailFile: join(dir, 'letterbox.db'),
      blobRoot: join(dir, 'blobs'),
    });
    try {
      while (fts.reconcileStep()) {}
      reset();
      // Texts of many distinct words, four a call (a post), sixteen calls a transaction: each
      // call's savepoint journals the pages of FTS5's segments the earlier calls wrote; the
      // third transaction's sub-journal passed 64 KiB with a file-backed temp_store.
      let id = 1;
      for (let call = 0; call < 48; call++) {
        const items = [];
        for (let k = 0; k < 4; k++, id++) {
          const words = Array.from(
            { length: 1200 },
            (_, j) => `w${((id * 1300 + j) * 7919) % 100003}x`,
          );
          items.push({ id, hash: `h${id}`, text: words.join(' ') });
        }
        fts.index(items);
        if (call % 16 === 15) fts.commit();
      }
      fts.commit();
      assert.equal(tmpTouched(), false, 'the index worker made a temporary file');
    } finally {
      fts.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
