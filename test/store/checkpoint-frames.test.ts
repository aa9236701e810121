// The checkpointer's due check after a write batch takes its count of frames from the batch's
// own read of the WAL index's header (wal-changes.ts `hold`, `takeFrames`), not from a
// pread(2) of its own per batch (issue 19: one system call a commit fewer).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { CHECKPOINT_FRAMES, WalCheckpointer } from '../../src/store/sqlite/checkpointer.js';
import { WalChanges } from '../../src/store/sqlite/wal-changes.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('letterbox-checkpoint-frames-');

/** A WAL database with some frames not yet copied; no checkpoint of its own. */
function walDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (x TEXT)');
  for (let i = 0; i < 20; i++) db.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(3000));
  return db;
}

/** Counts the checkpointer's own reads of the header. */
class Probe extends WalCheckpointer {
  reads = 0;
  override pendingFrames(): number {
    this.reads++;
    return super.pendingFrames();
  }
}

test('the header read for the commit counter gives the frames not yet copied, once', () => {
  const file = join(dir(), 'mail.db');
  const db = walDatabase(file);
  const changes = new WalChanges(`${file}-shm`);
  const own = new WalCheckpointer({ mailFile: file, fallBack: () => {} });
  try {
    assert.equal(changes.takeFrames(), null, 'nothing read yet');
    assert.notEqual(changes.hold(), null);
    changes.release();
    const frames = changes.takeFrames();
    assert.ok(frames !== null && frames > 20, `frames ${frames}`);
    assert.equal(frames, own.pendingFrames(), 'the same count as the checkpointer reads');
    assert.equal(changes.takeFrames(), null, 'taken once');
    // Any whole read gives them, a read outside a batch too.
    db.prepare('INSERT INTO t VALUES (?)').run('y');
    assert.notEqual(changes.counter(), null);
    assert.equal(changes.takeFrames(), own.pendingFrames());
  } finally {
    changes.close();
    void own.close();
    db.close();
  }
});

test('due() checks the frames it is given without reading the header, else reads it', async () => {
  const file = join(dir(), 'mail.db');
  const db = walDatabase(file);
  let given: number | null = null;
  const copied: Array<[number, number]> = [];
  const probe = new Probe({
    mailFile: file,
    fallBack: () => {},
    frames: () => given,
    onCheckpoint: (log, done) => copied.push([log, done]),
  });
  try {
    // Under the mark, as given: no read of its own, no checkpoint.
    given = 30;
    assert.equal(probe.due(), undefined);
    assert.equal(probe.reads, 0);
    // None given (no batch read the header since): the header is read.
    given = null;
    assert.equal(probe.due(), undefined, 'the file holds ~25 frames');
    assert.equal(probe.reads, 1);
    // Past the mark, as given: a checkpoint, and still no read of its own.
    given = CHECKPOINT_FRAMES + 5;
    const running = probe.due();
    assert.ok(running, 'a checkpoint is due by the given count');
    await running;
    assert.equal(probe.reads, 1);
    assert.equal(copied.length, 1);
    assert.ok(copied[0]![1] > 0, `frames copied: ${JSON.stringify(copied)}`);
  } finally {
    await probe.close();
    db.close();
  }
});
