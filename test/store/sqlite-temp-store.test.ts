// The mail database keeps its statement journals in memory (db.ts): a savepoint that changes
// more than 64 KiB of pages (a group commit's batch of appends) must not move its sub-journal
// to a temporary file, which cost an open, an unlink and a pwrite(2) per page.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../../src/store/sqlite/db.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('letterbox-temp-store-');

/** SQLite's temporary files (`etilqs_...`, unlinked at once) this process has open. */
function openTempFiles(): string[] {
  const found: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(join('/proc/self/fd', fd));
      if (target.includes('etilqs_')) found.push(target);
    } catch {
      // Closed while we looked (readdir's own descriptor).
    }
  }
  return found;
}

test('a savepoint that changes 400 KB of pages keeps its sub-journal in memory', () => {
  const db = openDatabase(join(dir(), 'letterbox.db'));
  try {
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 100; i++) insert.run(Buffer.alloc(4000, 1));
    })();
    let during: string[] = [];
    db.transaction(() => {
      // Nested: a savepoint, as each append of a batch has (messages.ts flush).
      db.transaction(() => {
        db.prepare('UPDATE t SET v = ?').run(Buffer.alloc(4000, 2));
        during = openTempFiles();
      })();
    })();
    assert.deepEqual(during, []);
    const n = db.prepare('SELECT count(*) AS n FROM t WHERE v = ?').get(Buffer.alloc(4000, 2)) as {
      n: number;
    };
    assert.equal(n.n, 100);
  } finally {
    db.close();
  }
});
