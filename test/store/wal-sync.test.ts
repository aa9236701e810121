// WalSync (src/store/sqlite/wal-sync.ts): a sync asked for while one runs waits for the next
// one (the running one may have started before the caller's commit), and every caller that
// asks meanwhile shares that next one: a group commit for the WAL's fsync.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WalSync } from '../../src/store/sqlite/wal-sync.js';

test('callers during a running fsync share the next one; all resolve in order', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-wal-'));
  try {
    const file = join(dir, 'x-wal');
    await writeFile(file, 'frames');
    const wal = new WalSync(file);
    const order: string[] = [];
    const first = wal.sync().then(() => order.push('first'));
    const second = wal.sync();
    const third = wal.sync();
    assert.equal(second, third, 'one fsync after the running one serves both');
    await Promise.all([first, second.then(() => order.push('second'))]);
    assert.deepEqual(order, ['first', 'second']);
    // Idle again: a new call starts its own fsync at once.
    await wal.sync();
    await wal.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a WAL file that cannot be opened fails the sync (the write is not confirmed)', async () => {
  const wal = new WalSync(join(tmpdir(), 'no-such-dir-lb', 'x-wal'));
  await assert.rejects(wal.sync(), /ENOENT/);
});

test('WalSync.none (a database not in WAL mode) has nothing to sync', async () => {
  const wal = WalSync.none();
  await wal.sync();
  await wal.close();
});

test('close waits for the fsyncs under way: they succeed, none fails with EBADF', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-wal-'));
  try {
    const file = join(dir, 'x-wal');
    await writeFile(file, 'frames');
    // Descriptors of this process open on the WAL file (counting all descriptors instead failed
    // once: something else in the process closed one meanwhile).
    const fds = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === file;
        } catch {
          return false; // closed since the listing
        }
      }).length;
    const wal = new WalSync(file);
    // A commit's sync is running and another waits for the next one when the store closes.
    const running = wal.sync();
    const queued = wal.sync();
    const closed = wal.close();
    await Promise.all([running, queued, closed]);
    // Closed after them, not under them: no descriptor left open behind the close.
    assert.equal(fds(), 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('onGroup hears each fsync with the number of syncs it made durable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-wal-'));
  try {
    const file = join(dir, 'x-wal');
    await writeFile(file, 'frames');
    const groups: Array<[number, number]> = [];
    const wal = new WalSync(file, (commits, seconds) => groups.push([commits, seconds]));
    const first = wal.sync();
    const rest = [wal.sync(), wal.sync(), wal.sync()];
    await Promise.all([first, ...rest]);
    // One fsync for the first caller, one shared by the three that came while it ran.
    assert.deepEqual(
      groups.map(([n]) => n),
      [1, 3],
    );
    assert.ok(groups.every(([, s]) => s >= 0 && s < 60));
    await wal.sync();
    assert.deepEqual(
      groups.map(([n]) => n),
      [1, 3, 1],
    );
    await wal.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failed fsync is not reported as a group commit', async () => {
  const groups: number[] = [];
  const wal = new WalSync(join(tmpdir(), 'no-such-dir-lb', 'x-wal'), (n) => groups.push(n));
  await assert.rejects(wal.sync(), /ENOENT/);
  assert.deepEqual(groups, []);
});
