// SQLite's page caches (issue 14 §4: what they fill under load stays allocated): the store's
// connection at CACHE_KIB, the index worker's view of the mail database at
// ATTACHED_MAIL_CACHE_KIB, the index itself at better-sqlite3's 16,000 KiB (a large SEARCH BODY
// reads its doclists again otherwise); a caller's size (`letterbox import`) applies to all
// three, the attached database's at most its bound.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type Database from 'better-sqlite3';
import { FtsDb, type FtsPaths } from '../../src/store/sqlite/fts-db.js';
import {
  ATTACHED_MAIL_CACHE_KIB,
  CACHE_KIB,
  type SqliteStore,
} from '../../src/store/sqlite/sqlite-store.js';
import { openAliceStore } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-sqlite-cache-');

/** The store's own connection and the paths it gave its index worker. */
function insides(store: SqliteStore): { db: Database.Database; fts: FtsPaths } {
  const s = store as unknown as { db: Database.Database; fts: { paths: FtsPaths } };
  return { db: s.db, fts: s.fts.paths };
}

/** cache_size of each schema of an index opened as the worker opens it. */
function indexCaches(paths: FtsPaths): { main: number; mail: number } {
  const fts = new FtsDb(paths);
  try {
    const db = (fts as unknown as { db: Database.Database }).db;
    return {
      main: db.pragma('main.cache_size', { simple: true }) as number,
      mail: db.pragma('mail.cache_size', { simple: true }) as number,
    };
  } finally {
    fts.close();
  }
}

test("a server store bounds its connection and the worker's view of the mail database", async () => {
  assert.ok(CACHE_KIB < 16_000 && ATTACHED_MAIL_CACHE_KIB < CACHE_KIB);
  const { store } = await openAliceStore(dir());
  try {
    const { db, fts } = insides(store);
    // Negative: KiB rather than pages (SQLite's convention).
    assert.equal(db.pragma('cache_size', { simple: true }), -CACHE_KIB);
    assert.deepEqual(indexCaches(fts), { main: -16_000, mail: -ATTACHED_MAIL_CACHE_KIB });
  } finally {
    await store.close();
  }
});

test("a caller's size applies to all three, the attached database's at most its bound", async () => {
  for (const [kib, attached] of [
    [2000, ATTACHED_MAIL_CACHE_KIB],
    [500, 500],
  ] as const) {
    const { store } = await openAliceStore(join(dir(), String(kib)), { cacheKiB: kib });
    try {
      const { db, fts } = insides(store);
      assert.equal(db.pragma('cache_size', { simple: true }), -kib);
      assert.deepEqual(indexCaches(fts), { main: -kib, mail: -attached });
    } finally {
      await store.close();
    }
  }
});
