// A write batch reads the WAL index's commit counter once under its write lock and every read
// of it until its COMMIT is answered from that (wal-changes.ts `hold`): the login mix's
// APPEND, STORE and EXPUNGE each made a pread(2) of -shm of their own for their mailbox's key.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WalChanges } from '../../src/store/sqlite/wal-changes.js';

/** A wal-index header of two equal copies with iChange = `counter`. */
function header(counter: number): Buffer {
  const copy = Buffer.alloc(48);
  if (endianness() === 'LE') copy.writeUInt32LE(counter, 8);
  else copy.writeUInt32BE(counter, 8);
  copy[12] = 1;
  return Buffer.concat([copy, copy, Buffer.alloc(32)]);
}

test('while held, the counter is the one read at hold, then read again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-wal-held-'));
  const shm = join(dir, 'x.db-shm');
  try {
    await writeFile(shm, header(7));
    const changes = new WalChanges(shm);
    assert.equal(changes.counter(), 7);
    assert.equal(changes.hold(), 7);
    await writeFile(shm, header(9));
    assert.equal(changes.counter(), 7, 'held: no read of the file');
    assert.equal(changes.now()?.counter, 7);
    changes.release();
    assert.equal(changes.counter(), 9);
    // Held when the header cannot be read: null (keep nothing) until released.
    await writeFile(shm, Buffer.alloc(10));
    assert.equal(changes.hold(), null);
    await writeFile(shm, header(11));
    assert.equal(changes.counter(), null);
    changes.release();
    assert.equal(changes.counter(), 11);
    changes.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
